//! Events.

use crate::handle::handle_type;
use crate::sys;
use crate::{Handle, Status};
use abi::Syscall;

handle_type!(
    /// An event: an object with only user signals and `ZX_EVENT_SIGNALED`.
    Event
);

impl Event {
    /// `zx_event_create`.
    pub fn create() -> Result<Event, Status> {
        let mut out = 0;
        // SAFETY: `out` is a valid place for the handle.
        let st = unsafe {
            sys::status(
                Syscall::EventCreate,
                [0, &raw mut out as u64, 0, 0, 0, 0, 0, 0],
            )
        };
        Status::ok(st).map(|()| Event(Handle::from_raw(out)))
    }
}

/// One item of [`object_wait_many`] (`zx_wait_item_t`).
pub struct WaitItem<'a> {
    /// The object to wait on.
    pub handle: &'a dyn crate::AsHandleRef,
    /// The signals to wait for.
    pub waitfor: crate::Signals,
    /// Written back: the object's signals when the wait ended.
    pub pending: crate::Signals,
}

/// `zx_object_wait_many`: waits until one of `items` (at most
/// [`abi::ZX_WAIT_MANY_MAX_ITEMS`]) asserts one of its signals or
/// `deadline` passes; every item's `pending` is filled in. `Ok(false)`:
/// some signal came; `Ok(true)`: a handle was closed during the wait
/// (`ZX_ERR_CANCELED`, that item's `pending` has `HANDLE_CLOSED`), as
/// fuchsia-zircon has it; `Err(TIMED_OUT)` with `pending` filled too.
pub fn object_wait_many(items: &mut [WaitItem<'_>], deadline: crate::Time) -> Result<bool, Status> {
    if items.len() > abi::ZX_WAIT_MANY_MAX_ITEMS {
        return Err(Status::OUT_OF_RANGE);
    }
    let mut raw = [abi::WaitItem::default(); abi::ZX_WAIT_MANY_MAX_ITEMS];
    for (r, item) in raw.iter_mut().zip(items.iter()) {
        r.handle = item.handle.raw_handle();
        r.waitfor = item.waitfor.bits();
    }
    // SAFETY: `raw` holds `items.len()` records the kernel reads and writes.
    let st = unsafe { object_wait_many_raw(raw.as_mut_ptr() as u64, items.len() as u64, deadline) };
    if matches!(st, Status::OK | Status::TIMED_OUT | Status::CANCELED) {
        for (r, item) in raw.iter().zip(items.iter_mut()) {
            item.pending = crate::Signals(r.pending);
        }
    }
    match st {
        Status::CANCELED => Ok(true),
        s => Status::ok(s.0).map(|()| false),
    }
}

/// `zx_object_wait_many` with a raw pointer and count (for tests).
///
/// # Safety
/// The kernel reads and writes `count` `zx_wait_item_t` at `items`.
pub unsafe fn object_wait_many_raw(items: u64, count: u64, deadline: crate::Time) -> Status {
    // SAFETY: the caller's promise.
    Status(unsafe {
        crate::sys::status(
            abi::Syscall::ObjectWaitMany,
            [items, count, deadline.into_nanos() as u64, 0, 0, 0, 0, 0],
        )
    })
}
