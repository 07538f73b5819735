//! Ports: `zx_port_packet_t` and the options of `zx_port_create` and
//! `zx_object_wait_async`, the era's values.

use crate::{Signals, Status};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `zx_port_create` option: the port may be bound to interrupts (there
/// are no interrupt objects here, so it changes nothing).
pub const ZX_PORT_BIND_TO_INTERRUPT: u32 = 1;

/// `zx_object_wait_async` option: one packet, then the wait ends.
pub const ZX_WAIT_ASYNC_ONCE: u32 = 0;
/// `zx_object_wait_async` option: packets until canceled, at most one in
/// the queue at a time.
pub const ZX_WAIT_ASYNC_REPEATING: u32 = 1;

/// Most user packets queued on one port at once (ours; `zx_port_queue`
/// past it: `ZX_ERR_SHOULD_WAIT`, as the page allows).
pub const PORT_MAX_USER_PACKETS: u32 = 2048;
/// Most async waits one task has at once, armed or with a packet queued
/// (ours; past it: `ZX_ERR_NO_MEMORY`).
pub const ASYNC_WAITS_PER_TASK_MAX: u32 = 1024;
/// Most async waits armed on one object at once (ours; past it:
/// `ZX_ERR_NO_MEMORY`).
pub const ASYNC_WAITS_PER_OBJECT_MAX: usize = 64;

/// Packet type: queued by `zx_port_queue`.
pub const ZX_PKT_TYPE_USER: u32 = 0;
/// Packet type: from a `ZX_WAIT_ASYNC_ONCE` wait.
pub const ZX_PKT_TYPE_SIGNAL_ONE: u32 = 1;
/// Packet type: from a `ZX_WAIT_ASYNC_REPEATING` wait.
pub const ZX_PKT_TYPE_SIGNAL_REP: u32 = 2;

/// `zx_port_packet_t`: 48 bytes, the union as four words.
#[repr(C)]
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct PortPacket {
    /// The key: the caller's for user packets, the registration's for signals.
    pub key: u64,
    /// `ZX_PKT_TYPE_*`.
    pub packet_type: u32,
    /// `ZX_OK` for kernel packets; the caller's for user packets.
    pub status: i32,
    /// `zx_packet_user_t`, or `zx_packet_signal_t` in its first 16 bytes.
    pub payload: [u64; 4],
}

const _: () = assert!(core::mem::size_of::<PortPacket>() == 48);

impl PortPacket {
    /// A signal packet (`zx_packet_signal_t`: trigger, observed, count).
    pub const fn signal(
        key: u64,
        packet_type: u32,
        trigger: Signals,
        observed: Signals,
        count: u64,
    ) -> Self {
        PortPacket {
            key,
            packet_type,
            status: 0,
            payload: [trigger as u64 | (observed as u64) << 32, count, 0, 0],
        }
    }

    /// A user packet's status as a [`Status`].
    pub const fn status(&self) -> Status {
        Status(self.status)
    }

    /// `signal.trigger`.
    pub const fn trigger(&self) -> Signals {
        self.payload[0] as u32
    }

    /// `signal.observed`.
    pub const fn observed(&self) -> Signals {
        (self.payload[0] >> 32) as u32
    }

    /// `signal.count`.
    pub const fn count(&self) -> u64 {
        self.payload[1]
    }

    /// Adds `signals` to `signal.observed` (a REPEATING packet still queued).
    pub fn observe_more(&mut self, signals: Signals) {
        self.payload[0] |= (signals as u64) << 32;
    }

    /// Copies `src` into `self` as six word loads and stores. (A plain
    /// assignment of this 48-byte record becomes a call of the kernel's
    /// generic `memcpy`, some 50 instructions; ports copy packets on their
    /// fast path.)
    #[inline(always)]
    pub fn copy_from(&mut self, src: &PortPacket) {
        let from = (src as *const Self).cast::<u64>();
        let to = (self as *mut Self).cast::<u64>();
        for i in 0..6 {
            // SAFETY: both are 48-byte, 8-aligned records of plain integers
            // (six words, no padding); volatile keeps the compiler from
            // turning the loop back into a `memcpy` call.
            unsafe { to.add(i).write_volatile(from.add(i).read_volatile()) };
        }
    }
}
