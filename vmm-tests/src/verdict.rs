//! Judging a boot: the run as a whole (`<config>::ktap_document`) and each
//! guest test on its own.

use crate::expected;
use crate::ktap::{self, Outcome, Parsed};
use crate::qemu::{self, BootError, Config, Exit, Transcript};
use crate::Settings;

/// How many serial lines a failure message shows.
pub const TAIL_LINES: usize = 40;

/// How many lines of QEMU's stderr a failure message shows.
const STDERR_LINES: usize = 20;

/// One boot in test mode: how it was started, what it printed, and the
/// document parsed from it.
#[derive(Debug, Clone)]
pub struct Run {
    /// The configuration's name.
    pub config: String,
    /// The bootargs it was given.
    pub bootargs: String,
    /// What it printed and how it ended.
    pub transcript: Transcript,
    /// The KTAP document in the transcript.
    pub parsed: Parsed,
}

/// What became of one guest test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestVerdict {
    /// It reported `ok`.
    Pass,
    /// It reported `# SKIP` with this reason.
    Skip(String),
    /// It failed, or never reported; the message says why and shows context.
    Fail(String),
}

impl Run {
    /// Parses `transcript`, a boot of `config` with `bootargs`.
    pub fn new(config: &str, bootargs: &str, transcript: Transcript) -> Self {
        Run {
            config: config.to_string(),
            bootargs: bootargs.to_string(),
            parsed: ktap::parse(&transcript.stdout),
            transcript,
        }
    }

    /// Boots `config` in test mode (bootargs [`qemu::TEST_BOOTARGS`] plus
    /// `extra`, without `exit=semihosting` where the configuration or the
    /// accelerator has none) on `settings.accel` and parses what it printed.
    pub fn boot(config: &Config, settings: &Settings, extra: &str) -> Result<Run, BootError> {
        let bootargs = config.test_bootargs(settings.accel, extra);
        let transcript = qemu::boot_on(
            settings.accel,
            config,
            settings.image_for(config),
            &bootargs,
            &[],
            settings.timeout,
        )?;
        Ok(Run::new(config.name, &bootargs, transcript))
    }

    /// The last `n` lines of the serial transcript.
    pub fn tail(&self, n: usize) -> String {
        tail(&self.transcript.stdout, n)
    }

    /// How the run went and the tail of its transcript, for failure messages.
    pub fn context(&self) -> String {
        let t = &self.transcript;
        let total = t.stdout.lines().count();
        let mut out = format!(
            "--- {} (bootargs `{}`): {}, ran {:.1} s; last {} of {} serial lines ---\n",
            self.config,
            self.bootargs,
            t.exit,
            t.elapsed.as_secs_f64(),
            TAIL_LINES.min(total),
            total,
        );
        // Code addresses named (symbolize.rs).
        let serial = self.tail(TAIL_LINES);
        out.push_str(&crate::symbolize::annotate_for_config(
            &self.config,
            &serial,
        ));
        out.push_str("--- end of serial output ---\n");
        if !t.stderr.trim().is_empty() {
            out.push_str("--- QEMU stderr ---\n");
            out.push_str(&tail(&t.stderr, STDERR_LINES));
        }
        out
    }

    /// The verdict on the run as a whole: it must exit 0 within its timeout,
    /// print one complete, well-formed document whose suites agree with their
    /// tests, and run exactly the tests in `expected`.
    pub fn document_verdict(&self, expected: &[String]) -> Result<(), String> {
        let mut problems = Vec::new();
        let doc = &self.parsed.document;
        let failed: Vec<String> = doc
            .suites
            .iter()
            .flat_map(|s| {
                s.tests
                    .iter()
                    .filter(|t| matches!(t.outcome, Outcome::Fail(_)))
                    .map(move |t| format!("{}.{}", s.name, t.name))
            })
            .collect();
        match self.end_status() {
            Ok(0) if !failed.is_empty() => problems.push(format!(
                "{} although {} guest test(s) failed: {}",
                self.status_words(0),
                failed.len(),
                failed.join(", ")
            )),
            Ok(0) => {}
            Ok(status) if !failed.is_empty() => problems.push(format!(
                "{} ({} guest test(s) failed: {})",
                self.status_words(status),
                failed.len(),
                failed.join(", ")
            )),
            Ok(status) => problems.push(self.status_words(status)),
            Err(why) => problems.push(why),
        }
        if let Some(error) = &self.parsed.error {
            problems.push(format!("malformed or incomplete KTAP document: {error}"));
        }
        for suite in &doc.suites {
            let has_failure = suite
                .tests
                .iter()
                .any(|t| matches!(t.outcome, Outcome::Fail(_)));
            if matches!(suite.outcome, Some(Outcome::Fail(_))) && !has_failure {
                problems.push(format!(
                    "suite `{}` reported not ok although none of its tests failed",
                    suite.name
                ));
            }
        }
        let seen = doc.test_ids();
        let unexpected = not_in(&seen, expected);
        if !unexpected.is_empty() {
            problems.push(format!(
                "{} test(s) not in {}: {} (new tests? run `just bless`)",
                unexpected.len(),
                expected::display_path(&self.config),
                unexpected.join(", ")
            ));
        }
        let missing = not_in(expected, &seen);
        if !missing.is_empty() {
            problems.push(format!(
                "{} expected test(s) missing from the transcript: {}",
                missing.len(),
                missing.join(", ")
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{}: the test run failed:\n  - {}\n{}",
                self.config,
                problems.join("\n  - "),
                self.context()
            ))
        }
    }

    /// Whether the run was asked to end with a semihosting exit, whose
    /// status is then QEMU's.
    pub fn semihosting_exit(&self) -> bool {
        self.bootargs
            .split_whitespace()
            .any(|w| w == "exit=semihosting")
    }

    /// The status the guest ended its run with. With a semihosting exit it
    /// is QEMU's exit status. Without one (PSCI SYSTEM_OFF, which carries no
    /// status, so QEMU exits 0) it is the number on the kernel's last
    /// `run ended with status N` line: a guest that powers off without that
    /// line stopped early.
    pub fn end_status(&self) -> Result<i32, String> {
        let exit = self.transcript.exit;
        if self.semihosting_exit() {
            return match exit {
                Exit::Code(status) => Ok(status),
                exit => Err(exit.to_string()),
            };
        }
        match exit {
            Exit::Code(0) => {}
            Exit::Code(status) => {
                return Err(format!(
                    "QEMU exited with status {status}, not 0 as after PSCI SYSTEM_OFF \
                     (a run without semihosting carries its status on the console)"
                ))
            }
            exit => return Err(exit.to_string()),
        }
        let said = self.transcript.stdout.lines().rev().find_map(|line| {
            let (_, rest) = line.split_once(qemu::END_LINE)?;
            rest.trim().parse::<i32>().ok()
        });
        said.ok_or_else(|| {
            format!(
                "the guest powered off (QEMU exited with status 0) without printing \
                 `{}N`: it stopped before the end of the run",
                qemu::END_LINE
            )
        })
    }

    /// `status` in words, as the run carried it.
    fn status_words(&self, status: i32) -> String {
        if self.semihosting_exit() {
            Exit::Code(status).to_string()
        } else {
            format!("the guest said `{}{status}`", qemu::END_LINE)
        }
    }

    /// The verdict on the guest test `id` (`<suite>.<test>`).
    pub fn test_verdict(&self, id: &str) -> TestVerdict {
        let Some((_, test)) = self.parsed.document.find(id) else {
            let why = match &self.parsed.error {
                Some(error) => format!("{error}; {}", self.transcript.exit),
                None => format!(
                    "the document is complete; {} (if the test was removed, run `just bless`)",
                    self.transcript.exit
                ),
            };
            return TestVerdict::Fail(format!(
                "guest test {id} is not in the transcript: {why}\n{}",
                self.context()
            ));
        };
        match &test.outcome {
            Outcome::Pass => TestVerdict::Pass,
            Outcome::Skip(reason) => TestVerdict::Skip(reason.clone()),
            Outcome::Fail(reason) => {
                let reason = if reason.is_empty() {
                    "(no reason given)"
                } else {
                    reason
                };
                let mut message = format!("guest test {id} failed on {}: {reason}\n", self.config);
                for line in &test.diagnostics {
                    message.push_str(line);
                    message.push('\n');
                }
                TestVerdict::Fail(crate::symbolize::annotate_for_config(
                    &self.config,
                    &message,
                ))
            }
        }
    }
}

/// The bootargs of a test run with `extra` words appended.
pub fn test_bootargs(extra: &str) -> String {
    let extra = extra.trim();
    if extra.is_empty() {
        qemu::TEST_BOOTARGS.to_string()
    } else {
        format!("{} {extra}", qemu::TEST_BOOTARGS)
    }
}

/// The ids of `ids` that `other` does not hold, in order.
fn not_in<'a>(ids: &'a [String], other: &[String]) -> Vec<&'a str> {
    ids.iter()
        .filter(|id| !other.contains(id))
        .map(String::as_str)
        .collect()
}

/// The last `n` lines of `text`, each ending in a newline.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const PASSING: &str = "\
unikernel booting
KTAP version 1
1..2
    KTAP version 1
    # Subtest: heap
    1..2
    ok 1 box_alloc
    ok 2 vec_grows
ok 1 heap
    KTAP version 1
    # Subtest: timer
    1..1
    ok 1 frequency # SKIP not here
ok 2 timer
";

    fn expected() -> Vec<String> {
        ["heap.box_alloc", "heap.vec_grows", "timer.frequency"]
            .map(String::from)
            .to_vec()
    }

    fn run(stdout: &str, exit: Exit) -> Run {
        Run::new(
            "virt-gicv2",
            qemu::TEST_BOOTARGS,
            Transcript {
                stdout: stdout.to_string(),
                stderr: String::new(),
                exit,
                elapsed: Duration::from_millis(1500),
            },
        )
    }

    fn failure(r: Result<(), String>) -> String {
        r.expect_err("expected the run to fail")
    }

    /// [`PASSING`] up to (not including) the first `line`.
    fn passing_until(line: &str) -> &'static str {
        &PASSING[..PASSING.find(line).expect("a line of PASSING")]
    }

    /// The timer suite's first line: cut there, the heap suite is complete.
    const TIMER_SUITE: &str = "    KTAP version 1\n    # Subtest: timer";

    /// [`PASSING`] with `heap.vec_grows` (and so its suite) not ok, the test
    /// line ending in `note`.
    fn vec_grows_fails(note: &str) -> String {
        PASSING
            .replace(
                "    ok 2 vec_grows",
                &format!("    not ok 2 vec_grows{note}"),
            )
            .replace("ok 1 heap", "not ok 1 heap")
    }

    /// Checks that `r`'s document verdict against [`expected`] is a failure
    /// whose message says each of `says`.
    fn fails_saying(r: &Run, says: &[&str]) {
        let msg = failure(r.document_verdict(&expected()));
        for said in says {
            assert!(msg.contains(said), "no {said:?} in: {msg}");
        }
    }

    #[test]
    fn clean_run_passes() {
        let r = run(PASSING, Exit::Code(0));
        assert_eq!(r.document_verdict(&expected()), Ok(()));
        assert_eq!(r.test_verdict("heap.box_alloc"), TestVerdict::Pass);
        assert_eq!(
            r.test_verdict("timer.frequency"),
            TestVerdict::Skip("not here".into())
        );
    }

    #[test]
    fn nonzero_exit_fails_the_run() {
        fails_saying(
            &run(PASSING, Exit::Code(1)),
            &["QEMU exited with status 1", "ok 2 timer"],
        );
    }

    #[test]
    fn failed_test_reports_reason_and_diagnostics() {
        let text = PASSING
            .replace(
                "    ok 2 vec_grows",
                "    # at heap.rs:3\n    not ok 2 vec_grows # too small",
            )
            .replace("ok 1 heap", "not ok 1 heap");
        let r = run(&text, Exit::Code(1));
        let TestVerdict::Fail(msg) = r.test_verdict("heap.vec_grows") else {
            panic!("expected failure");
        };
        assert!(
            msg.contains("too small") && msg.contains("# at heap.rs:3"),
            "{msg}"
        );
        fails_saying(&r, &["1 guest test(s) failed: heap.vec_grows"]);
    }

    #[test]
    fn exit_zero_with_failed_tests_fails_the_run() {
        let text = vec_grows_fails("");
        fails_saying(&run(&text, Exit::Code(0)), &["status 0 although"]);
    }

    #[test]
    fn crash_fails_the_run_and_the_tests_that_did_not_report() {
        // `break=panic`: a panic message, then semihosting exit 1.
        let cut = passing_until("    ok 2 vec_grows");
        let text = format!("{}panicked at kernel/src/test.rs:9: boom\n", cut);
        let r = run(&text, Exit::Code(1));
        fails_saying(
            &r,
            &[
                "status 1",
                "malformed or incomplete",
                "panicked at kernel/src/test.rs:9: boom",
            ],
        );
        assert_eq!(r.test_verdict("heap.box_alloc"), TestVerdict::Pass);
        let TestVerdict::Fail(msg) = r.test_verdict("heap.vec_grows") else {
            panic!("expected failure");
        };
        assert!(msg.contains("not in the transcript"), "{msg}");
        assert!(msg.contains("boom"), "{msg}");
    }

    #[test]
    fn hang_fails_the_run_with_the_timeout() {
        let cut = passing_until("    ok 2 vec_grows");
        let r = run(cut, Exit::TimedOut(Duration::from_secs(10)));
        fails_saying(&r, &["timed out after 10 s", "ok 1 box_alloc"]);
    }

    #[test]
    fn early_stop_with_status_zero_fails_the_run() {
        stopped_after_heap(
            run(passing_until(TIMER_SUITE), Exit::Code(0)),
            "missing from the transcript: timer.frequency",
        );
    }

    /// Checks a run that stopped after the heap suite, with QEMU's status 0:
    /// it fails saying so and `says`, and fails the timer suite's test.
    fn stopped_after_heap(r: Run, says: &str) {
        fails_saying(&r, &["transcript ended after 1 of 2 suites", says]);
        assert!(matches!(
            r.test_verdict("timer.frequency"),
            TestVerdict::Fail(_)
        ));
    }

    #[test]
    fn unlisted_test_asks_for_bless() {
        let mut listed = expected();
        listed.retain(|id| id != "heap.vec_grows");
        let msg = failure(run(PASSING, Exit::Code(0)).document_verdict(&listed));
        assert!(
            msg.contains("heap.vec_grows") && msg.contains("just bless"),
            "{msg}"
        );
    }

    #[test]
    fn listed_test_missing_from_a_complete_run_fails() {
        let mut listed = expected();
        listed.push("heap.gone".into());
        let r = run(PASSING, Exit::Code(0));
        assert!(failure(r.document_verdict(&listed)).contains("heap.gone"));
        let TestVerdict::Fail(msg) = r.test_verdict("heap.gone") else {
            panic!("expected failure");
        };
        assert!(msg.contains("not in the transcript") && msg.contains("just bless"));
    }

    #[test]
    fn suite_not_ok_without_failed_test_fails_the_run() {
        let text = PASSING.replace("ok 1 heap", "not ok 1 heap # setup failed");
        fails_saying(
            &run(&text, Exit::Code(1)),
            &["suite `heap` reported not ok"],
        );
    }

    #[test]
    fn empty_transcript_fails_everything() {
        let r = run("", Exit::Code(0));
        fails_saying(&r, &["no `KTAP version 1`"]);
        assert!(matches!(
            r.test_verdict("heap.box_alloc"),
            TestVerdict::Fail(_)
        ));
    }

    #[test]
    fn context_shows_only_the_tail_and_stderr() {
        let long: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let mut r = run(&long, Exit::Code(3));
        r.transcript.stderr = "qemu: warning\n".into();
        let ctx = r.context();
        assert!(ctx.contains("line 99") && ctx.contains("line 60") && !ctx.contains("line 59\n"));
        assert!(ctx.contains("last 40 of 100 serial lines"), "{ctx}");
        assert!(ctx.contains("qemu: warning"));
    }

    #[test]
    fn tail_strips_carriage_returns() {
        assert_eq!(tail("a\r\nb\r\nc\r\n", 2), "b\nc\n");
        assert_eq!(tail("", 5), "");
    }

    /// A run of `virt-nosemi`: bootargs without `exit=semihosting`.
    fn nosemi(stdout: &str, exit: Exit) -> Run {
        let mut r = run(stdout, exit);
        r.config = "virt-nosemi".into();
        r.bootargs = qemu::TEST_BOOTARGS_NO_SEMIHOSTING.into();
        r
    }

    #[test]
    fn without_semihosting_the_end_line_carries_the_status() {
        let clean = format!("{PASSING}# run ended with status 0\n");
        let r = nosemi(&clean, Exit::Code(0));
        assert!(!r.semihosting_exit());
        assert_eq!(r.end_status(), Ok(0));
        assert_eq!(r.document_verdict(&expected()), Ok(()));
        assert_eq!(r.test_verdict("heap.vec_grows"), TestVerdict::Pass);
        assert_eq!(
            r.test_verdict("timer.frequency"),
            TestVerdict::Skip("not here".into())
        );
        // The logged form of a failed run's line.
        let r = nosemi(
            &format!("{PASSING}# run ended with status 3\n"),
            Exit::Code(0),
        );
        fails_saying(&r, &["the guest said `run ended with status 3`"]);
    }

    #[test]
    fn without_semihosting_a_failed_test_fails_although_qemu_exits_zero() {
        let text = vec_grows_fails(" # too small");
        let r = nosemi(&format!("{text}# run ended with status 1\n"), Exit::Code(0));
        fails_saying(&r, &["1 guest test(s) failed: heap.vec_grows"]);
        assert!(
            matches!(r.test_verdict("heap.vec_grows"), TestVerdict::Fail(m) if m.contains("too small"))
        );
        // Even a kernel that claimed success cannot hide a failed test.
        let r = nosemi(&format!("{text}# run ended with status 0\n"), Exit::Code(0));
        fails_saying(&r, &["status 0` although 1 guest test(s) failed"]);
    }

    #[test]
    fn without_semihosting_an_early_power_off_fails() {
        // `break=early`: PSCI SYSTEM_OFF mid-run, QEMU exits 0, no end line.
        stopped_after_heap(
            nosemi(passing_until(TIMER_SUITE), Exit::Code(0)),
            "without printing `run ended with status N`",
        );
        // A complete document is not enough without the end line.
        fails_saying(
            &nosemi(PASSING, Exit::Code(0)),
            &["stopped before the end of the run"],
        );
    }

    #[test]
    fn without_semihosting_a_panic_or_hang_fails() {
        let cut = passing_until("    ok 2 vec_grows");
        let panicked = format!("{}kernel panic: boom\n# run ended with status 3\n", cut);
        let r = nosemi(&panicked, Exit::Code(0));
        let msg = failure(r.document_verdict(&expected()));
        assert!(
            msg.contains("status 3") && msg.contains("malformed or incomplete"),
            "{msg}"
        );
        let r = nosemi(cut, Exit::TimedOut(Duration::from_secs(10)));
        fails_saying(&r, &["timed out after 10 s"]);
        // QEMU failing on its own is not a power-off.
        fails_saying(
            &nosemi(PASSING, Exit::Code(1)),
            &["QEMU exited with status 1, not 0"],
        );
    }

    #[test]
    fn the_end_line_does_not_disturb_the_document() {
        let r = nosemi(
            &format!("{PASSING}# run ended with status 0\n"),
            Exit::Code(0),
        );
        assert_eq!(r.parsed.error, None);
    }

    #[test]
    fn test_bootargs_append_extra_words() {
        assert_eq!(test_bootargs(""), "mode=test exit=semihosting");
        assert_eq!(
            test_bootargs(" break=hang "),
            "mode=test exit=semihosting break=hang"
        );
    }
}
