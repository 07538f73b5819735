//! The kernel halves of the port calls (`zx_port_create`, `zx_port_queue`,
//! `zx_port_wait`, `zx_port_cancel`) and of `zx_object_wait_async`; the
//! queue and the async waits are the object layer's (`object::port`).
//!
//! `port_wait` blocks as `object_wait_one` does: the scheduler's wait slot
//! plus a registration with the port, which the object layer's waker ends
//! (one reader per packet) when a packet is queued. A woken reader takes
//! the oldest packet under the object lock; if another took it first it
//! waits again, to the same deadline.

use crate::objects;
use crate::sched;
use crate::time::{self, Time};
use abi::*;
use object::{PortStart, TableId};

/// `zx_port_create`.
pub fn create(table: TableId, options: u32) -> Result<Handle, Status> {
    objects::with(|s| s.port_create(table, options))
}

/// `zx_port_queue` of a packet already copied in.
pub fn queue(table: TableId, handle: Handle, packet: &PortPacket) -> Result<(), Status> {
    objects::with(|s| s.port_queue(table, handle, packet))
}

/// `zx_port_cancel`.
pub fn cancel(table: TableId, handle: Handle, source: Handle, key: u64) -> Result<(), Status> {
    objects::with(|s| s.port_cancel(table, handle, source, key))
}

/// `zx_object_wait_async`.
pub fn wait_async(
    table: TableId,
    handle: Handle,
    port: Handle,
    key: u64,
    signals: Signals,
    options: u32,
) -> Result<(), Status> {
    objects::with(|s| s.wait_async(table, handle, port, key, signals, options))
}

/// `zx_port_wait`: the oldest packet into `out`, waiting until
/// `deadline` for one (`ZX_TIME_INFINITE`: forever; a deadline passed:
/// only a packet already there). `ZX_ERR_CANCELED` if the handle is
/// closed during the wait; a killed thread's wait ends at once (it never
/// returns to its task).
///
/// A packet already there costs one hold of the object lock and no
/// scheduler work; otherwise the scheduler's wait is prepared in the same
/// hold (object lock, then the scheduler's, the kernel's order) and the
/// thread registers and blocks. Woken for a packet, it takes it from the
/// port it waited on in one more hold, or registers again if another
/// reader took it first.
pub fn wait(
    table: TableId,
    handle: Handle,
    deadline: Time,
    out: &mut PortPacket,
) -> Result<(), Status> {
    let deadline_ticks = time::deadline_to_ticks(deadline);
    let poll = deadline_ticks.is_some_and(|t| t <= crate::arch::timer::now());
    loop {
        let start = objects::with(|s| {
            s.port_wait_begin(table, handle, out, || {
                (!poll).then(|| sched::wait_prepare(deadline_ticks).raw())
            })
        })?;
        let token = match start {
            PortStart::Packet => return Ok(()),
            PortStart::Empty => return Err(ZX_ERR_TIMED_OUT),
            PortStart::Pending(token) => token,
        };
        let outcome = sched::wait_block_for_signals();
        match outcome.signals {
            Some(s) if s & ZX_SIGNAL_HANDLE_CLOSED != 0 => return Err(ZX_ERR_CANCELED),
            // A packet came (the registration is gone): take it, or wait
            // again if another reader took it first.
            Some(_) if !outcome.killed => {
                if objects::with(|s| s.port_take(token, out)) {
                    return Ok(());
                }
                continue;
            }
            _ => {}
        }
        // The deadline passed or the thread was killed: end the
        // registration (passing on a wake-up it may have used).
        objects::with(|s| s.port_wait_cancel(token));
        sched::wait_abandon();
        if outcome.killed {
            return Err(ZX_ERR_CANCELED);
        }
        // One last look: a packet that came with the deadline.
        return match objects::with(|s| s.port_wait_begin(table, handle, out, || None))? {
            PortStart::Packet => Ok(()),
            _ => Err(ZX_ERR_TIMED_OUT),
        };
    }
}
