//! The EL0 test runner: each test runs in a fresh task, started and awaited
//! here, and is reported as one KTAP line (DESIGN.md's test contract). A
//! test that faults fails alone; the next one runs. Suites, `tests!` and
//! the checks come from `testkit`, which the kernel's harness shares.

use crate::out::{format, Line};
use crate::println;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use zx::{AsHandleRef, Handle, Rights, Task, TaskEnd, Vmo};

/// `seed=` from the bootargs, stored by the runner before any test starts.
/// It lives in the image's shared `.data`, so every test task reads it.
static SEED: AtomicU64 = AtomicU64::new(0);

/// Makes the boot seed available to test tasks (the runner calls this once).
pub fn set_seed(seed: u64) {
    SEED.store(seed, Ordering::Relaxed);
}

/// The boot seed (`seed=` in the bootargs; 0 if none was given).
pub fn seed() -> u64 {
    SEED.load(Ordering::Relaxed)
}

/// Whether tests print their own diagnostics (`mode=test`'s KTAP document);
/// `mode=run` shows one line per suite instead.
static DIAGNOSTICS: AtomicBool = AtomicBool::new(true);

/// Turns tests' own diagnostic lines on or off (the runner, before any test).
pub fn set_diagnostics(on: bool) {
    DIAGNOSTICS.store(on, Ordering::Relaxed);
}

/// Whether a test should print its diagnostic lines (KTAP `#` lines).
pub fn diagnostics() -> bool {
    DIAGNOSTICS.load(Ordering::Relaxed)
}

/// `abi::el0::FLAG_*` from the bootargs, stored like [`SEED`].
static FLAGS: AtomicU64 = AtomicU64::new(0);

/// Makes the boot flags available to test tasks (the runner calls this once).
pub fn set_flags(flags: u64) {
    FLAGS.store(flags, Ordering::Relaxed);
}

/// Whether `churn=full` was given: the churn test runs at its full size.
pub fn churn_full() -> bool {
    FLAGS.load(Ordering::Relaxed) & abi::el0::FLAG_CHURN_FULL != 0
}

/// Why a test did not pass: it failed (the line says why) or does not apply here.
pub type Failure = testkit::Failure<Line>;

/// What a test returns.
pub type TestResult = testkit::TestResult<Line>;

/// One test: a function run in a fresh task.
pub type Test = testkit::Test<Line>;

/// A suite (`tests![…]`): one nested KTAP subtest.
pub type Suite = testkit::Suite<Line>;

impl testkit::Reason for Line {
    fn from_args(args: core::fmt::Arguments) -> Self {
        format(args)
    }
}

/// Exit codes of a test task.
const PASSED: i64 = 0;
const FAILED: i64 = 1;
const SKIPPED: i64 = 2;
/// Bytes of the reason a test task leaves in its result VMO.
const REASON_MAX: usize = 200;

/// Runs the selected suites, numbering them from `first`; true if none failed.
pub fn run(suites: &'static [&'static Suite], filter: &str, first: u64) -> bool {
    let mut all_ok = true;
    let mut number = first;
    let mut index = 0u64;
    for suite in suites {
        let n = suite.selected(filter);
        if n == 0 {
            index += suite.tests.len() as u64;
            continue;
        }
        println!("    KTAP version 1");
        println!("    # Subtest: {}", suite.name);
        println!("    1..{}", n);
        let mut suite_ok = true;
        let mut k = 0;
        for test in suite.tests {
            let this = index;
            index += 1;
            if !suite.selects(filter, test) {
                continue;
            }
            k += 1;
            match run_one(this) {
                Verdict::Pass => println!("    ok {} {}", k, test.name),
                Verdict::Skip(why) => {
                    println!("    ok {} {} # SKIP {}", k, test.name, why.as_str())
                }
                Verdict::Fail(why) => {
                    suite_ok = false;
                    println!("    not ok {} {} # {}", k, test.name, why.as_str());
                }
            }
        }
        println!(
            "{} {} {}",
            if suite_ok { "ok" } else { "not ok" },
            number,
            suite.name
        );
        all_ok &= suite_ok;
        number += 1;
    }
    all_ok
}

/// What `mode=run` counted over the suites.
#[derive(Clone, Copy, Default)]
pub struct Totals {
    /// Suites run.
    pub suites: usize,
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed.
    pub failed: usize,
    /// Tests that did not apply here.
    pub skipped: usize,
}

/// `mode=run`: runs every test like [`run`], but prints one line per suite
/// with its counts, and under it each failed test's name and reason.
pub fn summarize(suites: &'static [&'static Suite]) -> Totals {
    let mut totals = Totals::default();
    let mut index = 0u64;
    let width = suites.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for suite in suites {
        let mut counts = Totals {
            suites: 1,
            ..Totals::default()
        };
        let mut failures = [const { None }; MAX_LISTED_FAILURES];
        for test in suite.tests {
            match run_one(index) {
                Verdict::Pass => counts.passed += 1,
                Verdict::Skip(_) => counts.skipped += 1,
                Verdict::Fail(why) => {
                    if let Some(slot) = failures.get_mut(counts.failed) {
                        *slot = Some((test.name, why));
                    }
                    counts.failed += 1;
                }
            }
            index += 1;
        }
        let mut line = format(format_args!(
            "  {:<width$} {:>3} passed",
            suite.name, counts.passed
        ));
        if counts.skipped > 0 {
            let _ = write!(line, ", {} skipped", counts.skipped);
        }
        if counts.failed > 0 {
            let _ = write!(line, ", {} FAILED", counts.failed);
        }
        line.emit();
        for (name, why) in failures.iter().flatten() {
            println!("    FAILED {name}: {}", why.as_str());
        }
        if counts.failed > MAX_LISTED_FAILURES {
            println!(
                "    … and {} more (mode=test lists every test)",
                counts.failed - MAX_LISTED_FAILURES
            );
        }
        totals.suites += 1;
        totals.passed += counts.passed;
        totals.failed += counts.failed;
        totals.skipped += counts.skipped;
    }
    totals
}

/// How many failures of one suite `mode=run` names.
const MAX_LISTED_FAILURES: usize = 8;

enum Verdict {
    Pass,
    Fail(Line),
    Skip(Line),
}

/// Runs test number `index` (in suite order) in a fresh task.
fn run_one(index: u64) -> Verdict {
    let Ok(result) = Vmo::create(REASON_MAX as u64) else {
        return Verdict::Fail(format(format_args!("runner: no VMO for the result")));
    };
    let Ok(dup) = result.duplicate_handle(Rights::SAME_RIGHTS) else {
        return Verdict::Fail(format(format_args!(
            "runner: cannot duplicate the result VMO"
        )));
    };
    let task = match Task::create(test_entry, index, &mut [dup]) {
        Ok(t) => t,
        Err(e) => return Verdict::Fail(format(format_args!("runner: task_create: {e:?}"))),
    };
    let end = match task.join() {
        Ok(end) => end,
        Err(e) => return Verdict::Fail(format(format_args!("runner: join: {e:?}"))),
    };
    let mut reason = [0u8; REASON_MAX];
    let _ = result.read(&mut reason, 0);
    let len = reason.iter().position(|&b| b == 0).unwrap_or(REASON_MAX);
    let text = core::str::from_utf8(&reason[..len]).unwrap_or("<invalid utf-8>");
    match end {
        TaskEnd::Exited(PASSED) => Verdict::Pass,
        TaskEnd::Exited(SKIPPED) => Verdict::Skip(format(format_args!("{text}"))),
        TaskEnd::Exited(FAILED) => Verdict::Fail(format(format_args!("{text}"))),
        TaskEnd::Exited(code) => Verdict::Fail(format(format_args!("exited with {code}: {text}"))),
        TaskEnd::Faulted { esr, far, elr } => Verdict::Fail(format(format_args!(
            "faulted: {} (ESR {esr:#x}, FAR {far:#x}) at ELR {elr:#x}",
            fault_in_words(esr, far).as_str()
        ))),
        TaskEnd::Killed => Verdict::Fail(format(format_args!("killed: {text}"))),
        TaskEnd::Running => Verdict::Fail(format(format_args!(
            "runner: task still running after join"
        ))),
    }
}

/// What a fault's syndrome says, in words (the common exception classes).
fn fault_in_words(esr: u64, far: u64) -> Line {
    let class = (esr >> 26) & 0x3f;
    let write = esr & (1 << 6) != 0;
    match class {
        0x24 if write => format(format_args!("data abort on a write to {far:#x}")),
        0x24 => format(format_args!("data abort on a read of {far:#x}")),
        0x20 => format(format_args!("instruction abort fetching {far:#x}")),
        0x00 => format(format_args!("undefined instruction")),
        0x22 => format(format_args!("misaligned PC {far:#x}")),
        0x26 => format(format_args!("misaligned SP")),
        0x3c => format(format_args!("breakpoint (brk)")),
        _ => format(format_args!("exception class {class:#04x}")),
    }
}

/// The entry of a test task: runs test `index`, leaves the reason in the
/// result VMO (`h0`), exits with the verdict.
extern "C" fn test_entry(
    index: u64,
    h0: abi::Handle,
    _: abi::Handle,
    _: abi::Handle,
    _: abi::Handle,
) -> ! {
    let result = Vmo::from(Handle::from_raw(h0));
    let Some(test) = crate::suites::nth_test(index) else {
        zx::exit(FAILED);
    };
    let (code, reason) = match (test.run)() {
        Ok(()) => (PASSED, Line::new()),
        Err(Failure::Fail(line)) => (FAILED, line),
        Err(Failure::Skip(why)) => (SKIPPED, format(format_args!("{why}"))),
    };
    let bytes = reason.as_str().as_bytes();
    let _ = result.write(&bytes[..bytes.len().min(REASON_MAX - 1)], 0);
    zx::exit(code)
}

/// Runs `f` in a helper task and says how that task ended (for tests that
/// expect a fault, like Zircon's death tests).
pub fn run_in_task(f: fn()) -> Result<TaskEnd, zx::Status> {
    let task = Task::create(helper_entry, f as usize as u64, &mut [])?;
    task.join()
}

/// Starts `f(handles)` in a helper task, moving `handles` (each needs
/// TRANSFER) into it; their values there are what `f` receives (unused
/// slots are `ZX_HANDLE_INVALID`). The task is not awaited.
pub fn spawn_with(f: fn([abi::Handle; 4]), handles: &mut [Handle]) -> Result<Task, zx::Status> {
    Task::create(helper_entry_with, f as usize as u64, handles)
}

/// Runs `f(handles)` in a helper task (see [`spawn_with`]) and says how it ended.
pub fn run_in_task_with(
    f: fn([abi::Handle; 4]),
    handles: &mut [Handle],
) -> Result<TaskEnd, zx::Status> {
    spawn_with(f, handles)?.join()
}

extern "C" fn helper_entry_with(
    f: u64,
    h0: abi::Handle,
    h1: abi::Handle,
    h2: abi::Handle,
    h3: abi::Handle,
) -> ! {
    // SAFETY: `spawn_with` passed a `fn([Handle; 4])` pointer of this same image.
    let f: fn([abi::Handle; 4]) = unsafe { core::mem::transmute(f as usize) };
    f([h0, h1, h2, h3]);
    zx::exit(0)
}

extern "C" fn helper_entry(
    f: u64,
    _: abi::Handle,
    _: abi::Handle,
    _: abi::Handle,
    _: abi::Handle,
) -> ! {
    // SAFETY: `run_in_task` passed a `fn()` pointer of this same image.
    let f: fn() = unsafe { core::mem::transmute(f as usize) };
    f();
    zx::exit(0)
}

/// Runs `f(arg)` in a helper task and says how it ended.
pub fn run_in_task_arg(f: fn(u64), arg: u64) -> Result<TaskEnd, zx::Status> {
    spawn_arg(f, arg)?.join()
}

/// Starts `f(arg)` in a helper task (the argument travels in a VMO: a
/// task's entry has room for one word, the function).
pub fn spawn_arg(f: fn(u64), arg: u64) -> Result<Task, zx::Status> {
    let vmo = Vmo::create(8)?;
    vmo.write(&arg.to_le_bytes(), 0)?;
    Task::create(helper_entry_arg, f as usize as u64, &mut [vmo.into()])
}

extern "C" fn helper_entry_arg(
    f: u64,
    h0: abi::Handle,
    _: abi::Handle,
    _: abi::Handle,
    _: abi::Handle,
) -> ! {
    // SAFETY: `run_in_task_arg` passed a `fn(u64)` pointer of this same image.
    let f: fn(u64) = unsafe { core::mem::transmute(f as usize) };
    let mut arg = [0u8; 8];
    if Vmo::from(Handle::from_raw(h0)).read(&mut arg, 0).is_err() {
        zx::exit(FAILED);
    }
    f(u64::from_le_bytes(arg));
    zx::exit(0)
}
