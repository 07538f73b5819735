//! Monotonic time and durations, in nanoseconds.

use crate::sys;
use abi::Syscall;

/// A point on the monotonic clock (`zx_time_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time(i64);

/// A span of time in nanoseconds (`zx_duration_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(i64);

impl Time {
    /// `ZX_TIME_INFINITE`.
    pub const INFINITE: Time = Time(abi::ZX_TIME_INFINITE);
    /// `ZX_TIME_INFINITE_PAST`.
    pub const INFINITE_PAST: Time = Time(0);

    /// `zx_clock_get_monotonic`.
    pub fn get_monotonic() -> Time {
        // SAFETY: no arguments.
        Time(unsafe { sys::call(Syscall::ClockGetMonotonic, [0; 8]) } as i64)
    }

    /// `zx_deadline_after`: now plus `d`, saturating.
    pub fn after(d: Duration) -> Time {
        Time(Self::get_monotonic().0.saturating_add(d.0))
    }

    /// From nanoseconds.
    pub const fn from_nanos(ns: i64) -> Time {
        Time(ns)
    }

    /// In nanoseconds.
    pub const fn into_nanos(self) -> i64 {
        self.0
    }

    /// `zx_nanosleep` until this time.
    pub fn sleep(self) {
        // SAFETY: only a value is passed.
        unsafe { sys::call(Syscall::Nanosleep, [self.0 as u64, 0, 0, 0, 0, 0, 0, 0]) };
    }
}

impl core::ops::Sub for Time {
    type Output = Duration;
    fn sub(self, rhs: Time) -> Duration {
        Duration(self.0.saturating_sub(rhs.0))
    }
}

impl core::ops::Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(d.0))
    }
}

impl Duration {
    /// From nanoseconds.
    pub const fn from_nanos(ns: i64) -> Duration {
        Duration(ns)
    }
    /// From microseconds.
    pub const fn from_micros(us: i64) -> Duration {
        Duration(us.saturating_mul(1_000))
    }
    /// From milliseconds.
    pub const fn from_millis(ms: i64) -> Duration {
        Duration(ms.saturating_mul(1_000_000))
    }
    /// From seconds.
    pub const fn from_seconds(s: i64) -> Duration {
        Duration(s.saturating_mul(1_000_000_000))
    }
    /// In nanoseconds.
    pub const fn into_nanos(self) -> i64 {
        self.0
    }
    /// Sleeps for this long.
    pub fn sleep(self) {
        Time::after(self).sleep();
    }
}
