//! The kernel halves of `zx_object_wait_one` and `zx_object_wait_many`:
//! the object layer's observers plus the scheduler's wait slot. Each takes
//! the caller's handle table, as the syscall layer passes it; kernel
//! threads pass a table of their own.
//!
//! [`sched::wait_prepare`] clears the slot and arms the deadline, the
//! object layer registers the waiter (or reports the signals already
//! active), and [`sched::wait_block`] sleeps only while the slot is empty.
//! `zx_object_wait_one` prepares inside the registration's hold of the
//! object lock, and only when it registers (`wait_begin_with`).
//! The object layer calls its waker (`KernelPlatform`'s, which fills the
//! slot through [`sched::wake_with_signals`]) under its lock when a signal
//! change matches the mask or the handle is closed; the timer fills the
//! slot when the deadline passes. Afterwards `wait_cancel` tells which came
//! first: a registration still present means the waker never ran.
//!
//! The calls that only change signals or handles (`zx_object_signal`,
//! `zx_event_create`, `zx_handle_close`) block nobody: they are one call
//! into the object layer, with no part here.

use crate::objects;
use crate::sched;
use crate::time::{self, Time};
use abi::{
    Handle, Signals, Status, WaitItem, ZX_ERR_CANCELED, ZX_ERR_TIMED_OUT, ZX_OK,
    ZX_SIGNAL_HANDLE_CLOSED, ZX_WAIT_MANY_MAX_ITEMS,
};
use object::{TableId, WaitStart, WaitToken};

/// `zx_object_wait_one`: waits until the object `handle` names asserts one
/// of `signals`, or `deadline` passes. Returns the status and the signals
/// observed: `ZX_OK` with the object's signals; `ZX_ERR_TIMED_OUT` with the
/// signals at the deadline; `ZX_ERR_CANCELED` with
/// `ZX_SIGNAL_HANDLE_CLOSED` if the handle was closed meanwhile; the object
/// layer's error (bad handle, no WAIT right, not waitable) with none.
/// [`time::ZX_TIME_INFINITE_PAST`], or any deadline already passed, polls.
pub fn object_wait_one(
    table: TableId,
    handle: Handle,
    signals: Signals,
    deadline: Time,
) -> (Status, Signals) {
    let deadline_ticks = time::deadline_to_ticks(deadline);
    let poll = deadline_ticks.is_some_and(|t| t <= crate::arch::timer::now());
    // The wait is prepared only when it is registered, in the same hold of
    // the object lock (no waker can come between the two; IRQs are masked
    // there already, so the scheduler's lock adds no interval of its own):
    // an error or signals already active leave nothing to abandon.
    let prepare = || sched::wait_prepare(if poll { None } else { deadline_ticks }).raw();
    let token = match objects::with(|space| space.wait_begin_with(table, handle, signals, prepare))
    {
        Err(status) => return (status, 0),
        Ok(WaitStart::Satisfied(observed)) => return (ZX_OK, observed),
        Ok(WaitStart::Pending(token)) => token,
    };
    if !poll {
        // The waker ran (it removed the registration under the object lock
        // before filling our slot): no need to ask the object layer again.
        if let Some(observed) = sched::wait_block_for_signals().signals {
            return if observed & ZX_SIGNAL_HANDLE_CLOSED != 0 {
                (ZX_ERR_CANCELED, observed)
            } else {
                (ZX_OK, observed)
            };
        }
    }
    // Still registered: the waker never ran, so the deadline ended it.
    if let Some(observed) = objects::with(|space| space.wait_cancel(token)) {
        sched::wait_abandon();
        return (ZX_ERR_TIMED_OUT, observed);
    }
    // The waker ran (under the object lock, before `wait_cancel` got it), so
    // the slot holds its signals.
    let observed = sched::wait_outcome()
        .signals
        .expect("a finished registration has called the waker");
    sched::wait_abandon();
    if observed & ZX_SIGNAL_HANDLE_CLOSED != 0 {
        (ZX_ERR_CANCELED, observed)
    } else {
        (ZX_OK, observed)
    }
}

/// `zx_object_wait_many`: waits until one of `items` (at most
/// [`abi::ZX_WAIT_MANY_MAX_ITEMS`]) asserts one of its signals, or
/// `deadline` passes. Each item is registered with the object layer under
/// its own hold of the object lock (so IRQs are masked for one
/// registration at a time); a registration error cancels the ones made
/// and returns it, with `pending` untouched. Afterwards every
/// registration still present is cancelled and each item's `pending` is
/// its object's signals then, in one hold of the lock (bounded by the
/// item count); an item whose handle was closed meanwhile gets
/// `ZX_SIGNAL_HANDLE_CLOSED` and the call `ZX_ERR_CANCELED`.
pub fn object_wait_many(table: TableId, items: &mut [WaitItem], deadline: Time) -> Status {
    let mut tokens: [Option<WaitToken>; ZX_WAIT_MANY_MAX_ITEMS] = [None; ZX_WAIT_MANY_MAX_ITEMS];
    let deadline_ticks = time::deadline_to_ticks(deadline);
    let poll = deadline_ticks.is_some_and(|t| t <= crate::arch::timer::now());
    let me = sched::wait_prepare(if poll { None } else { deadline_ticks });
    let mut satisfied = false;
    let mut failed = None;
    for (i, item) in items.iter().enumerate() {
        match objects::with(|space| space.wait_begin(table, item.handle, item.waitfor, me.raw())) {
            Err(status) => {
                failed = Some(status);
                break;
            }
            // Go on: every item's handle is checked, whatever comes first.
            Ok(WaitStart::Satisfied(_)) => satisfied = true,
            Ok(WaitStart::Pending(token)) => tokens[i] = Some(token),
        }
    }
    if failed.is_none() && !satisfied && !poll {
        sched::wait_block();
    }
    sched::wait_abandon();
    // One hold of the lock: cancel what is left and read every item.
    objects::with(|space| {
        for token in tokens.iter().take(items.len()).flatten() {
            space.wait_cancel(*token);
        }
        if let Some(status) = failed {
            return status;
        }
        let mut canceled = false;
        let mut any = false;
        for item in items.iter_mut() {
            item.pending = match space.signals(table, item.handle) {
                Ok(signals) => signals,
                Err(_) => {
                    canceled = true;
                    ZX_SIGNAL_HANDLE_CLOSED
                }
            };
            any |= item.pending & item.waitfor != 0;
        }
        if canceled {
            ZX_ERR_CANCELED
        } else if any {
            ZX_OK
        } else {
            ZX_ERR_TIMED_OUT
        }
    })
}
