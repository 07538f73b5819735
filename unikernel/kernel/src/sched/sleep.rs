//! The kernel halves of the time syscalls: `zx_nanosleep`,
//! `zx_clock_get_monotonic` and `zx_deadline_after`.

use crate::time::{self, Time};
use abi::{Status, ZX_OK};

/// `zx_nanosleep`: sleeps until `deadline`. A deadline of zero or less
/// yields instead; any other deadline arms the timer, even one that has
/// passed (it fires at once).
pub fn nanosleep(deadline: Time) -> Status {
    if deadline <= 0 {
        super::yield_now();
        return ZX_OK;
    }
    super::wait_prepare(time::deadline_to_ticks(deadline));
    super::wait_block();
    ZX_OK
}

/// `zx_clock_get_monotonic`.
pub fn clock_get_monotonic() -> Time {
    time::now()
}

/// `zx_deadline_after`.
pub fn deadline_after(duration: time::Duration) -> Time {
    time::deadline_after(duration)
}
