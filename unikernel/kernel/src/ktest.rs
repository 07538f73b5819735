//! The in-kernel test runner: suites of plain functions (registered with
//! `tests!`, checked with `check!`, from `testkit`, which the tasks' harness
//! shares), reported as one KTAP version 1 document with a nested subtest
//! per suite.

use crate::bootargs::{BootArgs, Break};
use crate::console::set_ktap_depth;
use crate::println;
use alloc::string::String;

/// Why a test did not pass: it failed (the text says why) or was skipped.
pub type Failure = testkit::Failure<String>;

/// What a test returns.
pub type TestResult = testkit::TestResult<String>;

/// A named group of tests (`tests![…]`): one nested KTAP subtest.
pub type Suite = testkit::Suite<String>;

/// The check that closes every suite.
const LEAK_CHECK: &str = "no_frames_leaked";

/// Runs the selected tests of `suites`, printing KTAP, then `el0_suites`
/// more suites through `el0` (given the number of its first suite); true
/// if none failed.
pub fn run(suites: &[&Suite], args: &BootArgs, el0_suites: u64, el0: &dyn Fn(u64) -> bool) -> bool {
    let filter = args.test_filter.unwrap_or("");
    let chosen = suites.iter().filter(|s| s.selected(filter) > 0);

    println!("KTAP version 1");
    let kernel_suites = chosen.clone().count();
    println!("1..{}", kernel_suites as u64 + el0_suites);
    let mut all_ok = true;
    for (i, suite) in chosen.enumerate() {
        if i == 1 {
            apply_breakage(args.breakage);
        }
        set_ktap_depth(Some(1));
        println!("    KTAP version 1");
        println!("    # Subtest: {}", suite.name);
        // Every suite ends with a check that it gave back every frame it
        // took (page-table pages included).
        println!("    1..{}", suite.selected(filter) + 1);
        // Stacks of threads that ended on other CPUs (the boot's first
        // task's, an earlier suite's) are given back there a moment later:
        // not the suite's.
        let frames_before = quiet_free_frames();
        let mut suite_ok = true;
        let mut n = 0;
        let tests = suite.tests.iter().filter(|t| suite.selects(filter, t));
        for test in tests {
            n += 1;
            match (test.run)() {
                Ok(()) => println!("    ok {n} {}", test.name),
                Err(Failure::Skip(why)) => println!("    ok {n} {} # SKIP {why}", test.name),
                Err(Failure::Fail(why)) => {
                    suite_ok = false;
                    println!("    not ok {n} {} # {}", test.name, why.replace('\n', " "));
                }
            }
        }
        let frames_after = frames_back_to(frames_before);
        if frames_after == frames_before {
            println!("    ok {} {LEAK_CHECK}", n + 1);
        } else {
            suite_ok = false;
            println!(
                "    not ok {} {LEAK_CHECK} # {} frames free before the suite, {} after",
                n + 1,
                frames_before,
                frames_after
            );
        }
        set_ktap_depth(Some(0));
        let verdict = if suite_ok { "ok" } else { "not ok" };
        println!("{verdict} {} {}", i + 1, suite.name);
        all_ok &= suite_ok;
    }
    if el0_suites > 0 {
        // Task output arrives as whole lines already at the nested depth;
        // the kernel's diagnostics meanwhile (a death test's fault report)
        // belong inside the EL0 suite's test that caused them.
        set_ktap_depth(Some(1));
        all_ok &= el0(kernel_suites as u64 + 1);
    }
    set_ktap_depth(None);
    all_ok
}

/// The free frames once they hold still: five readings 2 ms apart agree
/// (or a second has passed). With the host running other work, a CPU that
/// still has frames to give back may not run for a while.
fn quiet_free_frames() -> usize {
    let mut last = crate::mm::frame::free_frames();
    let mut same = 1;
    for _ in 0..500 {
        crate::sched::sleep::nanosleep(crate::time::now() + crate::time::msec(2));
        let now = crate::mm::frame::free_frames();
        same = if now == last { same + 1 } else { 1 };
        last = now;
        if same == 5 {
            break;
        }
    }
    last
}

/// The free frames, once they are `before` again or a second has passed: a
/// thread that ended on another CPU gives its stack back there, a moment
/// after whoever joined it has gone on.
fn frames_back_to(before: usize) -> usize {
    for _ in 0..1000 {
        let now = crate::mm::frame::free_frames();
        if now == before {
            return now;
        }
        crate::sched::sleep::nanosleep(crate::time::now() + crate::time::msec(1));
    }
    crate::mm::frame::free_frames()
}

/// `break=`: fail on purpose, in the middle of the document.
fn apply_breakage(breakage: Option<Break>) {
    match breakage {
        None => {}
        Some(Break::Panic) => panic!("break=panic: deliberate panic in the middle of the test run"),
        Some(Break::Hang) => {
            crate::warn!("break=hang: spinning forever");
            loop {
                core::hint::spin_loop();
            }
        }
        Some(Break::Overflow) => {
            crate::warn!("break=overflow: recursing until the stack runs out");
            core::hint::black_box(recurse(0));
        }
        Some(Break::Early) => {
            crate::warn!("break=early: powering off before the tests are done");
            crate::power::power_off();
        }
        // Applied at boot, before the MMU is on (`kernel_entry`).
        Some(Break::PreMmu) => {}
        Some(Break::LockOrder) => {
            crate::warn!("break=lockorder: taking locks in the wrong order");
            crate::sync::order::break_on_purpose();
        }
    }
}

/// Uses a kilobyte of stack per level, without end.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 128]);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + frame[1]
}
