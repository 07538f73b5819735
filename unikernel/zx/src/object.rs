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
