//! The kernel command line (`/chosen/bootargs`, QEMU `-append`).

use crate::console::Level;

/// What this boot does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Boot, show the platform and what the built-in tasks did, power off.
    Run,
    /// Run the test suites and print a KTAP document.
    Test,
    /// Run the benchmarks.
    Bench,
}

/// A deliberate breakage, to prove the host harness catches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Break {
    /// Panic in the middle of the test run.
    Panic,
    /// Spin forever in the middle of the test run.
    Hang,
    /// Power off (status 0) in the middle of the test run.
    Early,
    /// Overflow the kernel stack in the middle of the test run.
    Overflow,
    /// Take a lock before the MMU and data cache are on, which the lock's
    /// own check must catch (real cores hang there).
    PreMmu,
    /// Take two ranked locks in the wrong order in the middle of the test
    /// run, which the lock-order check must catch (`sync::order`).
    LockOrder,
}

/// Parsed bootargs.
#[derive(Clone, Copy, Debug)]
pub struct BootArgs<'a> {
    /// `mode=run|test|bench` (default `run`).
    pub mode: Mode,
    /// `test=<substring>`: run only tests whose `suite.test` name contains it.
    pub test_filter: Option<&'a str>,
    /// `seed=<n>` for randomised tests.
    pub seed: u64,
    /// `exit=semihosting`: end the run with a semihosting exit carrying the verdict.
    pub exit_semihosting: bool,
    /// `loglevel=error|warn|info|debug`.
    pub log_level: Option<Level>,
    /// `break=panic|hang|early|overflow|premmu|lockorder`.
    pub breakage: Option<Break>,
    /// `fatal=reset`: a failed run resets the board instead of powering it
    /// off (for unattended hardware; ignored with `exit=semihosting`).
    pub reset_on_failure: bool,
    /// `churn=full`: the EL0 churn test runs at its full size.
    pub churn_full: bool,
    /// `cpus=<n>` (n ≥ 1): start at most n CPUs, the boot CPU included
    /// (default: every CPU the device tree lists).
    pub cpus: Option<usize>,
}

impl<'a> BootArgs<'a> {
    /// Parses the command line; returns the first word it did not understand
    /// beside what it did.
    pub fn parse(cmdline: &'a str) -> (Self, Option<&'a str>) {
        let mut args = Self {
            mode: Mode::Run,
            test_filter: None,
            seed: 0,
            exit_semihosting: false,
            log_level: None,
            breakage: None,
            reset_on_failure: false,
            churn_full: false,
            cpus: None,
        };
        let mut unknown = None;
        for word in cmdline.split_ascii_whitespace() {
            let (key, value) = word.split_once('=').unwrap_or((word, ""));
            let understood = match (key, value) {
                ("mode", "run") => set(&mut args.mode, Mode::Run),
                ("mode", "test") => set(&mut args.mode, Mode::Test),
                ("mode", "bench") => set(&mut args.mode, Mode::Bench),
                ("test", filter) if !filter.is_empty() => set(&mut args.test_filter, Some(filter)),
                ("seed", n) => n.parse().is_ok_and(|n| set(&mut args.seed, n)),
                ("exit", "semihosting") => set(&mut args.exit_semihosting, true),
                ("loglevel", level) => {
                    Level::parse(level).is_some_and(|l| set(&mut args.log_level, Some(l)))
                }
                ("break", "panic") => set(&mut args.breakage, Some(Break::Panic)),
                ("break", "hang") => set(&mut args.breakage, Some(Break::Hang)),
                ("break", "early") => set(&mut args.breakage, Some(Break::Early)),
                ("break", "overflow") => set(&mut args.breakage, Some(Break::Overflow)),
                ("break", "premmu") => set(&mut args.breakage, Some(Break::PreMmu)),
                ("break", "lockorder") => set(&mut args.breakage, Some(Break::LockOrder)),
                ("fatal", "reset") => set(&mut args.reset_on_failure, true),
                ("churn", "full") => set(&mut args.churn_full, true),
                ("cpus", n) => n
                    .parse()
                    .is_ok_and(|n: usize| n >= 1 && set(&mut args.cpus, Some(n))),
                _ => false,
            };
            if !understood && unknown.is_none() {
                unknown = Some(word);
            }
        }
        (args, unknown)
    }
}

/// Stores `value` in `slot`; true, for the parser's "understood" tally.
fn set<T>(slot: &mut T, value: T) -> bool {
    *slot = value;
    true
}
