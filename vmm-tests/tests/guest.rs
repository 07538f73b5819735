//! Guest tests as host tests.
//!
//! For every configuration in `qemu::CONFIGS`: one trial per line of its
//! expected list, named `<config>::<suite>::<test>`, and one trial
//! `<config>::ktap_document` for the run as a whole. Each configuration
//! boots at most once per process, lazily, when the first of its trials
//! runs, so `cargo test -p vmm-tests -- virt-gicv3` boots only that one.
//!
//! `harness::*` trials boot deliberately broken runs (`break=panic|hang|early|overflow`)
//! and check that each is judged a failure that shows the transcript's tail.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use vmm_tests::expected;
use vmm_tests::qemu::{self, Config, Exit, CONFIGS};
use vmm_tests::verdict::{Run, TestVerdict};
use vmm_tests::Settings;

/// The timeout of the deliberately hanging run.
const HANG_TIMEOUT: Duration = Duration::from_secs(10);

/// The configuration the harness self-tests boot.
const SELF_TEST_CONFIG: &str = "virt-gicv2";

/// One configuration's boot, done by whichever trial needs it first.
struct LazyRun {
    config: &'static Config,
    run: OnceLock<Result<Run, String>>,
}

impl LazyRun {
    fn get(&self) -> Result<&Run, Failed> {
        self.run
            .get_or_init(|| {
                let settings = Settings::from_env()?;
                Run::boot(self.config, &settings, "").map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| Failed::from(format!("{}: {e}", self.config.name)))
    }
}

fn main() {
    let args = Arguments::from_args();
    let mut documents = Vec::new();
    let mut guest = Vec::new();
    for config in CONFIGS {
        let lazy = Arc::new(LazyRun {
            config,
            run: OnceLock::new(),
        });
        let (ids, list_error) = match expected::read(config.name) {
            Ok(ids) => (ids, None),
            Err(e) => (
                Vec::new(),
                Some(format!(
                    "cannot read {}: {e}",
                    expected::path(config.name).display()
                )),
            ),
        };
        documents.push(Trial::test(format!("{}::ktap_document", config.name), {
            let lazy = Arc::clone(&lazy);
            let ids = ids.clone();
            move || {
                if let Some(e) = list_error {
                    return Err(e.into());
                }
                lazy.get()?.document_verdict(&ids).map_err(Failed::from)
            }
        }));
        for id in ids {
            let lazy = Arc::clone(&lazy);
            guest.push(Trial::ignorable_test(
                trial_name(config.name, &id),
                move || match lazy.get()?.test_verdict(&id) {
                    TestVerdict::Pass => Ok(Completion::Completed),
                    TestVerdict::Skip(reason) => Ok(Completion::ignored_with(reason)),
                    TestVerdict::Fail(message) => Err(message.into()),
                },
            ));
        }
    }
    // Whole-run trials first, so parallel test threads start the boots of
    // different configurations instead of queueing behind one.
    let mut trials = documents;
    trials.push(Trial::test("harness::panic_is_a_failure", || {
        broken_run("break=panic", None, |run| match run.transcript.exit {
            Exit::Code(0) => Err("a panicking guest exited with status 0".into()),
            _ => Ok(()),
        })
    }));
    trials.push(Trial::test("harness::hang_is_a_failure", || {
        broken_run("break=hang", Some(HANG_TIMEOUT), |run| {
            match run.transcript.exit {
                Exit::TimedOut(_) => Ok(()),
                exit => Err(format!("a hanging guest was not killed: {exit}")),
            }
        })
    }));
    trials.push(Trial::test("harness::early_stop_is_a_failure", || {
        broken_run("break=early", None, |run| match run.transcript.exit {
            Exit::Code(0) => Ok(()),
            exit => Err(format!(
                "a guest that powers off early should exit with status 0, not: {exit}"
            )),
        })
    }));
    trials.push(Trial::test("harness::stack_overflow_is_reported", || {
        broken_run("break=overflow", None, |run| {
            if !run.transcript.stdout.contains("kernel stack overflow") {
                return Err("the guest did not report the overflow".into());
            }
            match run.transcript.exit {
                Exit::Code(0) => Err("an overflowing guest exited with status 0".into()),
                _ => Ok(()),
            }
        })
    }));
    trials.extend(guest);
    libtest_mimic::run(&args, trials).exit();
}

/// `<config>::<suite>::<test>` for the guest test `<suite>.<test>`.
fn trial_name(config: &str, id: &str) -> String {
    match id.split_once('.') {
        Some((suite, test)) => format!("{config}::{suite}::{test}"),
        None => format!("{config}::{id}"),
    }
}

/// Boots the self-test configuration with `extra` bootargs and checks that
/// the run is judged a failure within its timeout, whose message (and that
/// of every expected test that did not report) shows the transcript's tail;
/// `check` checks how the run ended.
fn broken_run(
    extra: &str,
    timeout_cap: Option<Duration>,
    check: impl FnOnce(&Run) -> Result<(), String>,
) -> Result<(), Failed> {
    let config = qemu::config(SELF_TEST_CONFIG).ok_or("self-test configuration is missing")?;
    let mut settings = Settings::from_env()?;
    if let Some(cap) = timeout_cap {
        settings = settings.with_timeout_at_most(cap);
    }
    let run = Run::boot(config, &settings, extra)?;
    let fail = |why: String| Failed::from(format!("`{extra}`: {why}\n{}", run.context()));

    check(&run).map_err(fail)?;
    if run.transcript.elapsed > settings.timeout + Duration::from_secs(5) {
        return Err(fail(format!(
            "judging took {:.1} s, beyond the {} s timeout",
            run.transcript.elapsed.as_secs_f64(),
            settings.timeout.as_secs()
        )));
    }
    let last_line = run
        .transcript
        .stdout
        .lines()
        .rev()
        .map(str::trim_end)
        .find(|l| !l.is_empty())
        .ok_or_else(|| fail("the guest printed nothing, so nothing shows it broke mid-run".into()))?
        .to_string();
    if run.parsed.document.test_ids().is_empty() {
        return Err(fail(
            "no test reported before the break: it should come mid-run".into(),
        ));
    }
    let expected_ids = expected::read(config.name).map_err(|e| fail(e.to_string()))?;
    let message = match run.document_verdict(&expected_ids) {
        Ok(()) => return Err(fail("the broken run was judged a success".into())),
        Err(message) => message,
    };
    if !message.contains(&last_line) {
        return Err(fail(format!(
            "the run's failure message lacks the transcript tail:\n{message}"
        )));
    }
    if let Exit::TimedOut(after) = run.transcript.exit {
        let said = format!("timed out after {} s", after.as_secs());
        if !message.contains(&said) {
            return Err(fail(format!("the failure message does not say `{said}`")));
        }
    }
    // Expected tests the broken run never reached fail too, with the tail.
    for id in &expected_ids {
        if run.parsed.document.find(id).is_some() {
            continue;
        }
        match run.test_verdict(id) {
            TestVerdict::Fail(m) if m.contains(&last_line) => {}
            other => {
                return Err(fail(format!(
                    "unreached test {id} was judged {other:?}, not a failure showing the tail"
                )))
            }
        }
    }
    Ok(())
}
