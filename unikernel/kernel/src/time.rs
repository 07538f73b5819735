//! Monotonic time in nanoseconds (`zx_time_t`), from the virtual counter.
//!
//! Conversions split ticks into whole seconds and a remainder, so they are
//! exact (floor of `ticks × 10⁹ / f`) in 64-bit arithmetic for any counter
//! below 18 GHz and any time `i64` nanoseconds can hold (292 years), without
//! 128-bit division. Deadlines convert with the ceiling, so a timer that
//! fires at the converted tick never fires before the deadline.

use crate::arch;
pub use abi::{Time, ZX_TIME_INFINITE};
use core::sync::atomic::{AtomicU64, Ordering};

/// A deadline that has always passed (`ZX_TIME_INFINITE_PAST`): a wait
/// with it polls. (Not in `abi` yet.)
pub const ZX_TIME_INFINITE_PAST: Time = i64::MIN;

/// A span of time in nanoseconds (`zx_duration_t`).
pub type Duration = i64;

/// Nanoseconds per second.
pub const NS_PER_SEC: u64 = 1_000_000_000;
/// Nanoseconds per microsecond.
pub const NS_PER_US: i64 = 1_000;
/// Nanoseconds per millisecond.
pub const NS_PER_MS: i64 = 1_000_000;

/// `ZX_USEC(n)`.
pub const fn usec(n: i64) -> Duration {
    n * NS_PER_US
}

/// `ZX_MSEC(n)`.
pub const fn msec(n: i64) -> Duration {
    n * NS_PER_MS
}

static FREQUENCY: AtomicU64 = AtomicU64::new(0);

/// Reads the counter frequency once; conversions use it from then on.
pub fn init() {
    let hz = arch::counter_frequency();
    assert!(hz != 0, "CNTFRQ_EL0 is zero: firmware did not set it");
    FREQUENCY.store(hz, Ordering::Relaxed);
}

fn frequency() -> u64 {
    match FREQUENCY.load(Ordering::Relaxed) {
        0 => arch::counter_frequency(),
        hz => hz,
    }
}

/// Nanoseconds in `ticks` of a counter at `hz`, rounded down.
pub const fn ticks_to_ns(ticks: u64, hz: u64) -> u64 {
    let secs = ticks / hz;
    let rem = ticks % hz;
    // rem < hz, so rem × 10⁹ fits in 64 bits for hz < 18.4 GHz.
    secs.saturating_mul(NS_PER_SEC)
        .saturating_add(rem * NS_PER_SEC / hz)
}

/// The first tick of a counter at `hz` at or after `ns` nanoseconds.
pub const fn ns_to_ticks_ceil(ns: u64, hz: u64) -> u64 {
    let secs = ns / NS_PER_SEC;
    let rem = ns % NS_PER_SEC;
    // rem < 10⁹, so rem × hz fits in 64 bits for hz < 18.4 GHz.
    secs.saturating_mul(hz)
        .saturating_add((rem * hz).div_ceil(NS_PER_SEC))
}

/// `zx_clock_get_monotonic`: nanoseconds since the counter started.
pub fn now() -> Time {
    ticks_to_time(arch::timer::now())
}

/// The monotonic time at counter value `ticks`.
pub fn ticks_to_time(ticks: u64) -> Time {
    ticks_to_ns(ticks, frequency()).min(i64::MAX as u64) as Time
}

/// The counter value at which `deadline` has passed (0 for any time at or
/// before boot); `None` for [`ZX_TIME_INFINITE`]. Inlined: the wait
/// paths call it once per wait.
#[inline]
pub fn deadline_to_ticks(deadline: Time) -> Option<u64> {
    match deadline {
        ZX_TIME_INFINITE => None,
        d if d <= 0 => Some(0),
        d => Some(ns_to_ticks_ceil(d as u64, frequency())),
    }
}

/// `zx_deadline_after`: now plus `duration`, clamped to [`ZX_TIME_INFINITE`].
pub fn deadline_after(duration: Duration) -> Time {
    now().saturating_add(duration)
}

/// The counter ticks in `duration` (rounded up; 0 for negative spans).
pub fn duration_to_ticks(duration: Duration) -> u64 {
    ns_to_ticks_ceil(duration.max(0) as u64, frequency())
}
