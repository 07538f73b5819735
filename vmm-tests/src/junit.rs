//! JUnit XML reports of guest tests, for CI dashboards, and the console
//! transcript beside them.
//!
//! Each configuration's boot writes `target/vmm-tests/junit-<config>.xml`:
//! one `<testsuite name="<config>">` with one `<testcase>` per guest test
//! (`classname="<config>::<suite>"`, `name="<test>"`, as the host trial
//! `<config>::<suite>::<test>`), plus one for the run as a whole
//! (`classname="<config>"`, `name="ktap_document"`). A failed or unreported
//! test has a `<failure>` whose text ends with the console tail; a KTAP
//! `# SKIP` is `<skipped>`. The whole console goes to
//! `target/vmm-tests/ktap-<config>.txt`.

use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::verdict::{Run, TestVerdict};

/// What became of one test case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseResult {
    /// It passed.
    Pass,
    /// It was skipped, for this reason.
    Skip(String),
    /// It failed: a one-line summary and the full text.
    Fail {
        /// The first line of the failure (the `message` attribute).
        message: String,
        /// Everything, the console tail included (the element's text).
        text: String,
    },
}

/// One `<testcase>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// `<config>::<suite>` (or `<config>` for the run as a whole).
    pub classname: String,
    /// The test's name within its suite.
    pub name: String,
    /// Its result.
    pub result: CaseResult,
}

/// One `<testsuite>`: a configuration's boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suite {
    /// The configuration's name.
    pub name: String,
    /// How long the boot took.
    pub time: Duration,
    /// Its cases, in order.
    pub cases: Vec<Case>,
}

/// The directory reports and transcripts go to.
pub fn dir() -> PathBuf {
    crate::workspace_root().join("target/vmm-tests")
}

/// The JUnit report of `config`.
pub fn path(config: &str) -> PathBuf {
    dir().join(format!("junit-{config}.xml"))
}

/// The console transcript of `config`'s test run.
pub fn transcript_path(config: &str) -> PathBuf {
    dir().join(format!("ktap-{config}.txt"))
}

impl Case {
    fn fail(classname: &str, name: &str, text: String) -> Case {
        Case {
            classname: classname.to_string(),
            name: name.to_string(),
            result: CaseResult::Fail {
                message: text.lines().next().unwrap_or_default().to_string(),
                text,
            },
        }
    }
}

/// The cases of `run` judged against `expected` (the configuration's list):
/// every expected test, then any test the guest ran that is not listed,
/// then the run as a whole. Each verdict is the host trial's.
pub fn cases(run: &Run, expected: &[String]) -> Vec<Case> {
    let config = run.config.as_str();
    let with_tail = |message: String| {
        if message.contains("--- end of serial output ---") {
            message
        } else {
            format!("{message}{}", run.context())
        }
    };
    let seen = run.parsed.document.test_ids();
    let unlisted = seen.iter().filter(|id| !expected.contains(id));
    let mut cases: Vec<Case> = expected
        .iter()
        .map(|id| {
            let (classname, name) = split(config, id);
            let result = match run.test_verdict(id) {
                TestVerdict::Pass => CaseResult::Pass,
                TestVerdict::Skip(reason) => CaseResult::Skip(reason),
                TestVerdict::Fail(message) => {
                    return Case::fail(&classname, &name, with_tail(message))
                }
            };
            Case {
                classname,
                name,
                result,
            }
        })
        .collect();
    cases.extend(unlisted.map(|id| {
        let (classname, name) = split(config, id);
        let why = format!(
            "guest test {id} ran but is not in {} (new test? run `just bless`)\n",
            crate::expected::display_path(config)
        );
        Case::fail(&classname, &name, with_tail(why))
    }));
    cases.push(match run.document_verdict(expected) {
        Ok(()) => Case {
            classname: config.to_string(),
            name: "ktap_document".into(),
            result: CaseResult::Pass,
        },
        Err(message) => Case::fail(config, "ktap_document", message),
    });
    cases
}

/// The cases of a configuration that could not boot at all: each fails with
/// `error`.
pub fn cases_of_error(config: &str, expected: &[String], error: &str) -> Vec<Case> {
    expected
        .iter()
        .map(|id| split(config, id))
        .chain(std::iter::once((
            config.to_string(),
            "ktap_document".into(),
        )))
        .map(|(classname, name)| Case::fail(&classname, &name, format!("{config}: {error}")))
        .collect()
}

/// `(<config>::<suite>, <test>)` for the guest test `<suite>.<test>`.
fn split(config: &str, id: &str) -> (String, String) {
    match id.split_once('.') {
        Some((suite, test)) => (format!("{config}::{suite}"), test.to_string()),
        None => (config.to_string(), id.to_string()),
    }
}

/// Renders `suite` as a JUnit XML document.
pub fn render(suite: &Suite) -> String {
    let count = |f: fn(&CaseResult) -> bool| suite.cases.iter().filter(|c| f(&c.result)).count();
    let failures = count(|r| matches!(r, CaseResult::Fail { .. }));
    let skipped = count(|r| matches!(r, CaseResult::Skip(_)));
    let time = format!("{:.3}", suite.time.as_secs_f64());
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"vmm-tests\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time}\">",
        suite.cases.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time}\">",
        escape(&suite.name),
        suite.cases.len()
    );
    for case in &suite.cases {
        let open = format!(
            "    <testcase classname=\"{}\" name=\"{}\"",
            escape(&case.classname),
            escape(&case.name)
        );
        match &case.result {
            CaseResult::Pass => {
                let _ = writeln!(out, "{open}/>");
            }
            CaseResult::Skip(reason) => {
                let _ = writeln!(
                    out,
                    "{open}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                    escape(reason)
                );
            }
            CaseResult::Fail { message, text } => {
                let _ = writeln!(
                    out,
                    "{open}>\n      <failure message=\"{}\" type=\"failure\">{}</failure>\n    </testcase>",
                    escape(message),
                    escape(text)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Escapes `text` for XML text and attribute values. Characters XML 1.0
/// cannot hold at all (most C0 controls, such as a console's escape
/// sequences) become U+FFFD; tabs and newlines in attributes become
/// character references so they survive attribute normalisation.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if allowed_in_xml(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// XML 1.0's `Char` production (tab, newline and carriage return handled
/// by the caller).
fn allowed_in_xml(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Writes `run`'s JUnit report (judged against `expected`) and its console
/// transcript; returns the report's path.
pub fn write_run(run: &Run, expected: &[String]) -> io::Result<PathBuf> {
    let suite = Suite {
        name: run.config.clone(),
        time: run.transcript.elapsed,
        cases: cases(run, expected),
    };
    std::fs::create_dir_all(dir())?;
    std::fs::write(transcript_path(&run.config), &run.transcript.stdout)?;
    let path = path(&run.config);
    std::fs::write(&path, render(&suite))?;
    Ok(path)
}

/// Writes the report of a configuration that could not boot.
pub fn write_error(config: &str, expected: &[String], error: &str) -> io::Result<PathBuf> {
    let suite = Suite {
        name: config.to_string(),
        time: Duration::ZERO,
        cases: cases_of_error(config, expected, error),
    };
    std::fs::create_dir_all(dir())?;
    let path = path(config);
    std::fs::write(&path, render(&suite))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qemu::{Exit, Transcript};

    const TRANSCRIPT: &str = "\
unikernel booting \x1b[1mbold\x1b[0m
KTAP version 1
1..2
    KTAP version 1
    # Subtest: heap
    1..2
    ok 1 box_alloc
    # want <4 & \"x\" 'y'
    not ok 2 vec_grows # too small
not ok 1 heap
    KTAP version 1
    # Subtest: timer
    1..2
    ok 1 frequency # SKIP no <timer>
    ok 2 stray
ok 2 timer
";

    fn run(stdout: &str, exit: Exit) -> Run {
        Run::new(
            "virt-gicv2",
            "mode=test exit=semihosting",
            Transcript {
                stdout: stdout.to_string(),
                stderr: String::new(),
                exit,
                elapsed: Duration::from_millis(2500),
            },
        )
    }

    fn expected() -> Vec<String> {
        [
            "heap.box_alloc",
            "heap.vec_grows",
            "timer.frequency",
            "timer.gone",
        ]
        .map(String::from)
        .to_vec()
    }

    /// `(classname, name, kind, message, text)` of every testcase, read
    /// back with a strict XML parser.
    fn read_back(xml: &str) -> Vec<(String, String, &'static str, String, String)> {
        let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
        assert_eq!(suites.len(), 1);
        let suite = suites[0];
        assert_eq!(suite.tag_name().name(), "testsuite");
        let cases: Vec<_> = suite.children().filter(|n| n.is_element()).collect();
        assert!(cases.iter().all(|c| c.tag_name().name() == "testcase"));
        let attr = |n: roxmltree::Node, a: &str| n.attribute(a).unwrap_or_default().to_string();
        assert_eq!(attr(suite, "tests"), cases.len().to_string());
        cases
            .iter()
            .map(|c| {
                let child = c.children().find(|n| n.is_element());
                let (kind, message, text) = match child {
                    None => ("pass", String::new(), String::new()),
                    Some(n) => (
                        match n.tag_name().name() {
                            "skipped" => "skip",
                            "failure" => "fail",
                            other => panic!("unexpected <{other}>"),
                        },
                        attr(n, "message"),
                        n.text().unwrap_or_default().to_string(),
                    ),
                };
                (attr(*c, "classname"), attr(*c, "name"), kind, message, text)
            })
            .collect()
    }

    #[test]
    fn every_guest_test_is_a_testcase_with_its_verdict() {
        let r = run(TRANSCRIPT, Exit::Code(1));
        let suite = Suite {
            name: "virt-gicv2".into(),
            time: r.transcript.elapsed,
            cases: cases(&r, &expected()),
        };
        let xml = render(&suite);
        let cases = read_back(&xml);
        let names: Vec<(&str, &str, &str)> = cases
            .iter()
            .map(|(c, n, k, _, _)| (c.as_str(), n.as_str(), *k))
            .collect();
        assert_eq!(
            names,
            [
                ("virt-gicv2::heap", "box_alloc", "pass"),
                ("virt-gicv2::heap", "vec_grows", "fail"),
                ("virt-gicv2::timer", "frequency", "skip"),
                ("virt-gicv2::timer", "gone", "fail"),
                ("virt-gicv2::timer", "stray", "fail"),
                ("virt-gicv2", "ktap_document", "fail"),
            ]
        );
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        assert_eq!(suite.attribute("name"), Some("virt-gicv2"));
        assert_eq!(suite.attribute("failures"), Some("4"));
        assert_eq!(suite.attribute("skipped"), Some("1"));
        assert_eq!(suite.attribute("time"), Some("2.500"));

        // The skip keeps its reason; a failure its reason, the diagnostics
        // (escaped and back) and the console tail.
        assert_eq!(cases[2].3, "no <timer>");
        let (_, _, _, message, text) = &cases[1];
        assert_eq!(
            message,
            "guest test heap.vec_grows failed on virt-gicv2: too small"
        );
        assert!(text.contains("# want <4 & \"x\" 'y'"), "{text}");
        assert!(text.contains("--- end of serial output ---") && text.contains("ok 2 timer"));
        // An unreported test and an unlisted one say so, with the tail.
        assert!(cases[3].4.contains("not in the transcript") && cases[3].4.contains("ok 2 timer"));
        assert!(cases[4].4.contains("just bless"), "{}", cases[4].4);
        assert!(cases[5].4.contains("QEMU exited with status 1"));
    }

    #[test]
    fn console_control_characters_do_not_break_the_xml() {
        let r = run(TRANSCRIPT, Exit::Code(1));
        let xml = render(&Suite {
            name: "virt-gicv2".into(),
            time: Duration::ZERO,
            cases: cases(&r, &expected()),
        });
        assert!(!xml.contains('\x1b'));
        let cases = read_back(&xml);
        assert!(
            cases[5].4.contains("unikernel booting \u{FFFD}[1mbold"),
            "{}",
            cases[5].4
        );
        assert_eq!(escape("a\tb\r\n\0<"), "a&#9;b&#13;&#10;\u{FFFD}&lt;");
    }

    #[test]
    fn a_clean_run_has_only_passes_and_skips() {
        let clean = TRANSCRIPT
            .replace("    not ok 2 vec_grows # too small", "    ok 2 vec_grows")
            .replace("not ok 1 heap", "ok 1 heap");
        let mut listed = expected();
        listed.retain(|id| id != "timer.gone");
        listed.push("timer.stray".into());
        let r = run(&clean, Exit::Code(0));
        let cases = read_back(&render(&Suite {
            name: "virt-gicv2".into(),
            time: Duration::ZERO,
            cases: cases(&r, &listed),
        }));
        assert_eq!(cases.len(), 5);
        assert!(cases.iter().all(|c| c.2 != "fail"), "{cases:?}");
        assert_eq!(cases.iter().filter(|c| c.2 == "skip").count(), 1);
    }

    #[test]
    fn a_boot_that_could_not_start_fails_every_case() {
        let xml = render(&Suite {
            name: "raspi4b".into(),
            time: Duration::ZERO,
            cases: cases_of_error("raspi4b", &expected(), "device tree missing"),
        });
        let cases = read_back(&xml);
        assert_eq!(cases.len(), 5);
        assert!(cases
            .iter()
            .all(|c| c.2 == "fail" && c.4 == "raspi4b: device tree missing"));
        assert_eq!(cases[4].1, "ktap_document");
    }

    #[test]
    fn reports_go_under_the_target_directory() {
        assert!(path("virt-gicv3").ends_with("target/vmm-tests/junit-virt-gicv3.xml"));
        assert!(transcript_path("raspi4b").ends_with("target/vmm-tests/ktap-raspi4b.txt"));
    }
}
