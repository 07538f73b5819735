//! Monotonic time: exact conversions between counter ticks and nanoseconds,
//! deadlines that never fire early, and a clock that never runs backwards.

use crate::ktest::{Suite, TestResult};
use crate::sched::sleep;
use crate::time::{self, ZX_TIME_INFINITE, ZX_TIME_INFINITE_PAST};
use crate::{arch, check, check_eq, tests};

pub static SUITE: Suite = Suite {
    name: "time",
    tests: tests![
        ticks_to_ns_is_exact_for_a_century,
        deadline_ticks_are_the_first_tick_not_before_it,
        monotonic_clock_never_runs_backwards,
        clock_follows_the_virtual_counter,
        deadline_after_clamps_to_infinite,
        infinite_deadlines_have_no_tick,
    ],
};

/// Counter frequencies we run on or may: QEMU cortex-a72, the Pi 4, QEMU
/// `-cpu max`, a common SoC crystal, and a deliberately awkward prime.
const FREQUENCIES: [u64; 5] = [
    62_500_000,
    54_000_000,
    1_000_000_000,
    19_200_000,
    24_000_017,
];
/// Seconds in 100 years of 365.25 days (36,525 days).
const CENTURY_SECS: u64 = 36_525 * 86_400;

/// A small deterministic generator for sample points.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn ticks_to_ns_is_exact_for_a_century() -> TestResult {
    for hz in FREQUENCIES {
        let limit = CENTURY_SECS * hz;
        let mut seed = 0x9e37_79b9_7f4a_7c15 ^ hz;
        let samples = (0..1000).map(|_| xorshift(&mut seed) % limit);
        let edges = [0, 1, hz - 1, hz, hz + 1, limit - 1, limit];
        for ticks in samples.chain(edges) {
            let exact = (ticks as u128 * time::NS_PER_SEC as u128 / hz as u128) as u64;
            check_eq!(time::ticks_to_ns(ticks, hz), exact);
        }
    }
    Ok(())
}

fn deadline_ticks_are_the_first_tick_not_before_it() -> TestResult {
    for hz in FREQUENCIES {
        let limit = CENTURY_SECS * time::NS_PER_SEC;
        let mut seed = 0x2545_f491_4f6c_dd1d ^ hz;
        for _ in 0..1000 {
            let ns = xorshift(&mut seed) % limit;
            let ticks = time::ns_to_ticks_ceil(ns, hz);
            check!(
                time::ticks_to_ns(ticks, hz) >= ns,
                "{ns} ns -> tick {ticks} at {hz} Hz is early"
            );
            check!(
                ticks == 0 || time::ticks_to_ns(ticks - 1, hz) < ns,
                "{ns} ns -> tick {ticks} at {hz} Hz is not the first"
            );
        }
    }
    Ok(())
}

fn monotonic_clock_never_runs_backwards() -> TestResult {
    let mut last = time::now();
    for _ in 0..10_000 {
        let now = time::now();
        check!(now >= last, "{now} after {last}");
        last = now;
    }
    Ok(())
}

fn clock_follows_the_virtual_counter() -> TestResult {
    let before = arch::counter();
    let now = sleep::clock_get_monotonic();
    let after = arch::counter();
    let hz = arch::counter_frequency();
    check!(time::ticks_to_ns(before, hz) as i64 <= now);
    check!(now <= time::ticks_to_ns(after, hz) as i64);
    Ok(())
}

fn deadline_after_clamps_to_infinite() -> TestResult {
    check_eq!(sleep::deadline_after(ZX_TIME_INFINITE), ZX_TIME_INFINITE);
    check_eq!(
        sleep::deadline_after(ZX_TIME_INFINITE - 1),
        ZX_TIME_INFINITE
    );
    let now = time::now();
    let d = sleep::deadline_after(time::msec(1));
    check!(d >= now + time::msec(1));
    Ok(())
}

fn infinite_deadlines_have_no_tick() -> TestResult {
    check_eq!(time::deadline_to_ticks(ZX_TIME_INFINITE), None);
    check_eq!(time::deadline_to_ticks(ZX_TIME_INFINITE_PAST), Some(0));
    check_eq!(time::deadline_to_ticks(0), Some(0));
    Ok(())
}
