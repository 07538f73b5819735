//! The in-kernel test runner: suites of plain functions, reported as one
//! KTAP version 1 document with a nested subtest per suite.

use crate::bootargs::{BootArgs, Break};
use crate::console::set_ktap_depth;
use crate::println;
use alloc::string::String;

/// Why a test did not pass.
#[derive(Debug)]
pub enum Failure {
    /// It failed, for this reason.
    Fail(String),
    /// It does not apply here, for this reason.
    Skip(&'static str),
}

/// What a test returns.
pub type TestResult = Result<(), Failure>;

/// One test.
pub struct Test {
    /// Its name, unique in its suite.
    pub name: &'static str,
    /// The test itself.
    pub run: fn() -> TestResult,
}

/// A named group of tests: one nested KTAP subtest.
pub struct Suite {
    /// Its name, unique in the run.
    pub name: &'static str,
    /// Its tests, in the order they run.
    pub tests: &'static [Test],
}

/// The check that closes every suite.
const LEAK_CHECK: &str = "no_frames_leaked";

/// Fails the test unless `cond` holds.
#[macro_export]
macro_rules! check {
    ($cond:expr) => {
        if !$cond {
            return Err($crate::ktest::Failure::Fail(alloc::format!(
                "{}:{}: check failed: {}", file!(), line!(), stringify!($cond)
            )));
        }
    };
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err($crate::ktest::Failure::Fail(alloc::format!(
                "{}:{}: {}", file!(), line!(), format_args!($($arg)+)
            )));
        }
    };
}

/// Fails the test unless the two values are equal.
#[macro_export]
macro_rules! check_eq {
    ($left:expr, $right:expr) => {
        match (&$left, &$right) {
            (l, r) => {
                if l != r {
                    return Err($crate::ktest::Failure::Fail(alloc::format!(
                        "{}:{}: {} == {} failed: {:?} != {:?}",
                        file!(),
                        line!(),
                        stringify!($left),
                        stringify!($right),
                        l,
                        r
                    )));
                }
            }
        }
    };
}

/// Whether the test named `suite.test` is selected by the filter.
fn selected(filter: Option<&str>, suite: &Suite, test: &Test) -> bool {
    filter.is_none_or(|f| {
        let full_len = suite.name.len() + 1 + test.name.len();
        // Match `f` against "suite.test" without allocating.
        (0..=full_len.saturating_sub(f.len())).any(|at| {
            f.bytes().enumerate().all(|(i, b)| {
                let j = at + i;
                let c = if j < suite.name.len() {
                    suite.name.as_bytes()[j]
                } else if j == suite.name.len() {
                    b'.'
                } else {
                    test.name.as_bytes()[j - suite.name.len() - 1]
                };
                b == c
            })
        })
    })
}

/// Runs the selected tests of `suites`, printing KTAP, then `el0_suites`
/// more suites through `el0` (given the number of its first suite); true
/// if none failed.
pub fn run(suites: &[&Suite], args: &BootArgs, el0_suites: u64, el0: &dyn Fn(u64) -> bool) -> bool {
    let filter = args.test_filter;
    let count = |s: &Suite| s.tests.iter().filter(|t| selected(filter, s, t)).count();
    let chosen = suites.iter().filter(|s| count(s) > 0);

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
        println!("    1..{}", count(suite) + 1);
        let frames_before = crate::mm::frame::free_frames();
        let mut suite_ok = true;
        let mut n = 0;
        let tests = suite.tests.iter().filter(|t| selected(filter, suite, t));
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
        let frames_after = crate::mm::frame::free_frames();
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
