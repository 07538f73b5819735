//! A strict parser for the one KTAP version 1 document a test boot prints.
//!
//! The document is a top-level plan counting suites; each suite is a nested
//! document (indented more than its parent) with its own plan and one result
//! line per test, followed by the suite's own result line at the parent's
//! indentation. Lines before the first `KTAP version 1` (a boot banner) are
//! ignored; `# ...` lines are diagnostics at any indentation; blank lines are
//! ignored. Everything else must be exactly where KTAP puts it: a missing or
//! duplicate number, a short plan, a stray line or a truncated document is an
//! error.
//!
//! The parser keeps what it understood before the first error, so a run that
//! crashes midway still reports the tests that finished.

use std::fmt;

/// The line that opens a KTAP version 1 document (top-level or nested).
pub const VERSION_LINE: &str = "KTAP version 1";

/// How deep documents nest: the top level holds suites, suites hold tests.
const MAX_DEPTH: usize = 1;

/// What a test (or a suite) reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `ok N name`.
    Pass,
    /// `not ok N name # reason`; the reason may be empty.
    Fail(String),
    /// `ok N name # SKIP reason` (or `not ok ... # SKIP`).
    Skip(String),
}

/// One test's result line and the diagnostics printed while it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    /// Its number in the suite's plan, from 1.
    pub number: u32,
    /// Its name, as printed.
    pub name: String,
    /// What it reported.
    pub outcome: Outcome,
    /// The `# ...` lines between the previous result and this one.
    pub diagnostics: Vec<String>,
}

/// One suite: a nested document and the result line that closes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suite {
    /// Its number in the top-level plan, from 1.
    pub number: u32,
    /// Its name: from its result line, else from its `# Subtest:` line.
    pub name: String,
    /// The suite's own plan (`1..N`), if it got that far.
    pub plan: Option<u32>,
    /// The suite's own result line; `None` if the transcript broke off first.
    pub outcome: Option<Outcome>,
    /// The tests that reported, in order.
    pub tests: Vec<TestResult>,
}

/// What the parser understood of a document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    /// The top-level plan (number of suites), if seen.
    pub plan: Option<u32>,
    /// The suites, in order; the last one may be incomplete.
    pub suites: Vec<Suite>,
}

impl Document {
    /// Every test in the document as `<suite>.<test>`, in transcript order.
    pub fn test_ids(&self) -> Vec<String> {
        self.suites
            .iter()
            .flat_map(|s| {
                s.tests
                    .iter()
                    .map(move |t| format!("{}.{}", s.name, t.name))
            })
            .collect()
    }

    /// The test named `<suite>.<test>`, with its suite.
    pub fn find(&self, id: &str) -> Option<(&Suite, &TestResult)> {
        self.suites.iter().find_map(|s| {
            let test = id.strip_prefix(s.name.as_str())?.strip_prefix('.')?;
            s.tests.iter().find(|t| t.name == test).map(|t| (s, t))
        })
    }
}

/// Why a transcript is not a well-formed, complete KTAP document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// No `KTAP version 1` line at all.
    NoDocument,
    /// A result or subtest came before the document's `1..N` plan.
    MissingPlan,
    /// A second plan in the same document.
    DuplicatePlan,
    /// A plan after results (we require the plan first).
    PlanAfterResults,
    /// `1..` followed by something that is not a number.
    MalformedPlan,
    /// `ok`/`not ok` without a number, or with junk after it.
    MalformedResult,
    /// A result line without a name.
    MissingName,
    /// A name containing whitespace.
    InvalidName,
    /// A number that was already used (duplicate or going backwards).
    DuplicateNumber {
        /// The number the next result should have had.
        expected: u32,
        /// The number it had.
        found: u32,
    },
    /// A number that skips ahead: the ones in between are missing.
    MissingNumbers {
        /// The number the next result should have had.
        expected: u32,
        /// The number it had.
        found: u32,
    },
    /// More results than the plan announced.
    ExceedsPlan {
        /// The plan.
        plan: u32,
        /// The number that exceeds it.
        found: u32,
    },
    /// Two results with the same name in one document.
    DuplicateName(String),
    /// A nested document ended with fewer results than its plan.
    ShortPlan {
        /// The suite, if it is known.
        suite: String,
        /// The plan.
        plan: u32,
        /// How many results it had.
        results: usize,
    },
    /// The transcript ended before the document was complete.
    Truncated(String),
    /// A line indented more than its document without opening a subtest.
    BadIndentation,
    /// A tab in a line's indentation.
    TabIndentation,
    /// A line that is none of header, plan, result or diagnostic.
    UnrecognisedLine,
    /// A second `KTAP version 1` at the same level (a reboot, or two runs).
    UnexpectedHeader,
    /// Subtests nested deeper than suite/test.
    NestedTooDeep,
    /// A nested document that was not closed by a result line before the next.
    SubtestWithoutResult,
    /// A top-level result without a nested document (and not a SKIP).
    SuiteWithoutTests(String),
    /// A suite's `# Subtest:` name differs from its result line's name.
    SubtestNameMismatch {
        /// From `# Subtest:`.
        subtest: String,
        /// From the result line.
        result: String,
    },
    /// A suite reported `ok` although one of its tests failed.
    SuiteOkWithFailedTest {
        /// The suite.
        suite: String,
        /// The failed test.
        test: String,
    },
}

/// A [`ErrorKind`] and where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number in the transcript; `None` at end of transcript.
    pub line: Option<usize>,
    /// The offending line, as printed (without indentation).
    pub text: String,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoDocument => write!(f, "no `{VERSION_LINE}` line in the transcript"),
            Self::MissingPlan => write!(f, "result or subtest before the plan (`1..N`)"),
            Self::DuplicatePlan => write!(f, "second plan in the same document"),
            Self::PlanAfterResults => write!(f, "plan after results (the plan must come first)"),
            Self::MalformedPlan => write!(f, "malformed plan"),
            Self::MalformedResult => write!(f, "malformed result line"),
            Self::MissingName => write!(f, "result line without a name"),
            Self::InvalidName => write!(f, "test name contains whitespace"),
            Self::DuplicateNumber { expected, found } => {
                write!(
                    f,
                    "duplicate or out-of-order number {found} (expected {expected})"
                )
            }
            Self::MissingNumbers { expected, found } => {
                write!(
                    f,
                    "number {found} skips ahead: missing {expected}..{}",
                    found - 1
                )
            }
            Self::ExceedsPlan { plan, found } => {
                write!(f, "result {found} exceeds the plan 1..{plan}")
            }
            Self::DuplicateName(name) => write!(f, "duplicate name `{name}`"),
            Self::ShortPlan {
                suite,
                plan,
                results,
            } => {
                write!(
                    f,
                    "suite `{suite}` planned 1..{plan} but reported {results} result(s)"
                )
            }
            Self::Truncated(what) => write!(f, "transcript ended {what}"),
            Self::BadIndentation => write!(f, "unexpected indentation"),
            Self::TabIndentation => write!(f, "tab in indentation"),
            Self::UnrecognisedLine => write!(f, "unrecognised line inside the document"),
            Self::UnexpectedHeader => write!(f, "second `{VERSION_LINE}` at the same level"),
            Self::NestedTooDeep => write!(f, "subtests nested deeper than suite/test"),
            Self::SubtestWithoutResult => write!(f, "subtest not closed by a result line"),
            Self::SuiteWithoutTests(name) => {
                write!(
                    f,
                    "top-level result `{name}` has no subtests and is not a SKIP"
                )
            }
            Self::SubtestNameMismatch { subtest, result } => {
                write!(
                    f,
                    "`# Subtest: {subtest}` closed by a result named `{result}`"
                )
            }
            Self::SuiteOkWithFailedTest { suite, test } => {
                write!(
                    f,
                    "suite `{suite}` reported ok but its test `{test}` failed"
                )
            }
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "KTAP line {line}: {}: `{}`", self.kind, self.text),
            None => write!(f, "KTAP: {}", self.kind),
        }
    }
}

impl std::error::Error for ParseError {}

/// The document as far as it parsed, and the first error if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// What was understood before the first error (everything, if none).
    pub document: Document,
    /// The first error; `None` means a well-formed, complete document.
    pub error: Option<ParseError>,
}

impl Parsed {
    /// The document if it is well-formed and complete.
    pub fn into_result(self) -> Result<Document, ParseError> {
        match self.error {
            None => Ok(self.document),
            Some(e) => Err(e),
        }
    }
}

/// Parses the first KTAP document in `transcript`, strictly.
pub fn parse(transcript: &str) -> Parsed {
    let lines: Vec<Line<'_>> = transcript
        .lines()
        .enumerate()
        .map(|(i, raw)| Line::new(i + 1, raw))
        .collect();
    let Some(start) = lines.iter().position(|l| l.text == VERSION_LINE && !l.tab) else {
        return Parsed {
            document: Document::default(),
            error: Some(ParseError {
                line: None,
                text: String::new(),
                kind: ErrorKind::NoDocument,
            }),
        };
    };
    let mut top = RawDoc::new(lines[start].indent);
    let mut parser = Parser {
        lines,
        pos: start + 1,
    };
    let error = parser
        .parse_doc(&mut top, 0)
        .and_then(|()| parser.finish_top(&top))
        .err();
    Parsed {
        document: top.into_document(),
        error,
    }
}

/// One transcript line, split into indentation and text.
struct Line<'a> {
    number: usize,
    indent: usize,
    /// A tab somewhere in the indentation.
    tab: bool,
    text: &'a str,
}

impl<'a> Line<'a> {
    fn new(number: usize, raw: &'a str) -> Self {
        // Serial output may carry `\r\n`; trailing whitespace means nothing.
        let raw = raw.trim_end();
        let text = raw.trim_start();
        let lead = &raw[..raw.len() - text.len()];
        Line {
            number,
            indent: lead.chars().filter(|&c| c == ' ').count(),
            tab: lead.contains('\t'),
            text,
        }
    }

    fn error(&self, kind: ErrorKind) -> ParseError {
        ParseError {
            line: Some(self.number),
            text: self.text.to_string(),
            kind,
        }
    }
}

/// A document being parsed: the top level or one suite.
struct RawDoc {
    indent: usize,
    subtest_name: Option<String>,
    plan: Option<u32>,
    results: Vec<RawResult>,
    /// A nested document whose closing result line has not come yet.
    open: Option<Box<RawDoc>>,
    /// Diagnostics waiting for the next result line.
    pending: Vec<String>,
}

struct RawResult {
    number: u32,
    name: String,
    outcome: Outcome,
    diagnostics: Vec<String>,
    child: Option<Box<RawDoc>>,
}

impl RawDoc {
    fn new(indent: usize) -> Self {
        RawDoc {
            indent,
            subtest_name: None,
            plan: None,
            results: Vec::new(),
            open: None,
            pending: Vec::new(),
        }
    }

    fn failed_result(&self) -> Option<&RawResult> {
        self.results
            .iter()
            .find(|r| matches!(r.outcome, Outcome::Fail(_)))
    }

    fn tests(&self) -> Vec<TestResult> {
        self.results
            .iter()
            .map(|r| TestResult {
                number: r.number,
                name: r.name.clone(),
                outcome: r.outcome.clone(),
                diagnostics: r.diagnostics.clone(),
            })
            .collect()
    }

    fn into_document(self) -> Document {
        let mut suites: Vec<Suite> = self
            .results
            .iter()
            .map(|r| Suite {
                number: r.number,
                name: r.name.clone(),
                plan: r.child.as_ref().and_then(|c| c.plan),
                outcome: Some(r.outcome.clone()),
                tests: r.child.as_ref().map(|c| c.tests()).unwrap_or_default(),
            })
            .collect();
        if let Some(open) = &self.open {
            let number = self.results.len() as u32 + 1;
            suites.push(Suite {
                number,
                name: open
                    .subtest_name
                    .clone()
                    .unwrap_or_else(|| format!("<unnamed suite {number}>")),
                plan: open.plan,
                outcome: None,
                tests: open.tests(),
            });
        }
        Document {
            plan: self.plan,
            suites,
        }
    }
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
}

impl Parser<'_> {
    /// Parses the lines of `doc` (its header already consumed) until the end
    /// of the transcript or a line that belongs to an enclosing document.
    fn parse_doc(&mut self, doc: &mut RawDoc, depth: usize) -> Result<(), ParseError> {
        while let Some(line) = self.lines.get(self.pos) {
            if line.text.is_empty() {
                self.pos += 1;
                continue;
            }
            if line.tab {
                return Err(line.error(ErrorKind::TabIndentation));
            }
            if line.text.starts_with('#') {
                // Diagnostics belong to the innermost open document, whatever
                // their indentation (kernel log lines are printed flush left).
                self.pos += 1;
                match line.text.strip_prefix("# Subtest:") {
                    Some(name)
                        if line.indent == doc.indent
                            && doc.subtest_name.is_none()
                            && doc.plan.is_none() =>
                    {
                        doc.subtest_name = Some(name.trim().to_string());
                    }
                    _ => doc.pending.push(line.text.to_string()),
                }
                continue;
            }
            if line.indent < doc.indent {
                return Ok(());
            }
            if line.text == VERSION_LINE {
                if line.indent == doc.indent {
                    return Err(line.error(ErrorKind::UnexpectedHeader));
                }
                self.open_subtest(doc, depth)?;
                continue;
            }
            if line.indent > doc.indent {
                return Err(line.error(ErrorKind::BadIndentation));
            }
            if let Some(plan) = parse_plan(line.text) {
                let plan = plan.map_err(|kind| line.error(kind))?;
                if !doc.results.is_empty() {
                    return Err(line.error(ErrorKind::PlanAfterResults));
                }
                if doc.plan.is_some() {
                    return Err(line.error(ErrorKind::DuplicatePlan));
                }
                doc.plan = Some(plan);
                doc.pending.clear();
                self.pos += 1;
                continue;
            }
            if let Some(result) = parse_result(line.text) {
                let result = result.map_err(|kind| line.error(kind))?;
                self.add_result(doc, depth, result)?;
                continue;
            }
            return Err(line.error(ErrorKind::UnrecognisedLine));
        }
        Ok(())
    }

    /// Opens the nested document whose header is the current line and parses
    /// it to its end.
    fn open_subtest(&mut self, doc: &mut RawDoc, depth: usize) -> Result<(), ParseError> {
        let line = &self.lines[self.pos];
        if depth >= MAX_DEPTH {
            return Err(line.error(ErrorKind::NestedTooDeep));
        }
        let Some(plan) = doc.plan else {
            return Err(line.error(ErrorKind::MissingPlan));
        };
        if doc.open.is_some() {
            return Err(line.error(ErrorKind::SubtestWithoutResult));
        }
        if doc.results.len() >= plan as usize {
            return Err(line.error(ErrorKind::ExceedsPlan {
                plan,
                found: doc.results.len() as u32 + 1,
            }));
        }
        let indent = line.indent;
        self.pos += 1;
        let child = doc.open.insert(Box::new(RawDoc::new(indent)));
        self.parse_doc(child, depth + 1)?;
        let suite = child.subtest_name.clone().unwrap_or_default();
        let at_end = self.pos >= self.lines.len();
        let eof = |what: String| ParseError {
            line: None,
            text: String::new(),
            kind: ErrorKind::Truncated(what),
        };
        let here = |kind| self.lines[self.pos].error(kind);
        match child.plan {
            None if at_end => Err(eof(format!("before suite `{suite}` printed its plan"))),
            None => Err(here(ErrorKind::MissingPlan)),
            Some(plan) if child.results.len() < plan as usize => {
                if at_end {
                    Err(eof(format!(
                        "inside suite `{suite}` after {} of {plan} tests",
                        child.results.len()
                    )))
                } else {
                    Err(here(ErrorKind::ShortPlan {
                        suite,
                        plan,
                        results: child.results.len(),
                    }))
                }
            }
            Some(_) if at_end => Err(eof(format!("before suite `{suite}` printed its result"))),
            Some(_) => Ok(()),
        }
    }

    fn add_result(
        &mut self,
        doc: &mut RawDoc,
        depth: usize,
        (number, name, outcome): (u32, String, Outcome),
    ) -> Result<(), ParseError> {
        let line = &self.lines[self.pos];
        let Some(plan) = doc.plan else {
            return Err(line.error(ErrorKind::MissingPlan));
        };
        let expected = doc.results.len() as u32 + 1;
        if number < expected {
            return Err(line.error(ErrorKind::DuplicateNumber {
                expected,
                found: number,
            }));
        }
        if number > plan {
            return Err(line.error(ErrorKind::ExceedsPlan {
                plan,
                found: number,
            }));
        }
        if number > expected {
            return Err(line.error(ErrorKind::MissingNumbers {
                expected,
                found: number,
            }));
        }
        if doc.results.iter().any(|r| r.name == name) {
            return Err(line.error(ErrorKind::DuplicateName(name)));
        }
        let child = doc.open.take();
        match &child {
            Some(child) => {
                if let Some(subtest) = &child.subtest_name {
                    if *subtest != name {
                        return Err(line.error(ErrorKind::SubtestNameMismatch {
                            subtest: subtest.clone(),
                            result: name,
                        }));
                    }
                }
                if let (Outcome::Pass, Some(failed)) = (&outcome, child.failed_result()) {
                    return Err(line.error(ErrorKind::SuiteOkWithFailedTest {
                        suite: name,
                        test: failed.name.clone(),
                    }));
                }
            }
            // A suite is a nested document; a top-level line without one is
            // only acceptable as a suite skipped as a whole.
            None if depth < MAX_DEPTH && !matches!(outcome, Outcome::Skip(_)) => {
                return Err(line.error(ErrorKind::SuiteWithoutTests(name)));
            }
            None => {}
        }
        doc.results.push(RawResult {
            number,
            name,
            outcome,
            diagnostics: std::mem::take(&mut doc.pending),
            child,
        });
        self.pos += 1;
        Ok(())
    }

    /// Checks that the top-level document is complete at the end of input.
    fn finish_top(&self, top: &RawDoc) -> Result<(), ParseError> {
        if let Some(line) = self.lines.get(self.pos) {
            // Only a line less indented than the top-level header stops it.
            return Err(line.error(ErrorKind::BadIndentation));
        }
        let eof = |what: String| {
            Err(ParseError {
                line: None,
                text: String::new(),
                kind: ErrorKind::Truncated(what),
            })
        };
        match top.plan {
            None => eof("before the top-level plan".into()),
            Some(_) if top.open.is_some() => eof("inside a suite".into()),
            Some(plan) if top.results.len() < plan as usize => {
                eof(format!("after {} of {plan} suites", top.results.len()))
            }
            Some(_) => Ok(()),
        }
    }
}

/// `Some` if `text` is a plan line (`1..N`, optionally `# comment`).
fn parse_plan(text: &str) -> Option<Result<u32, ErrorKind>> {
    let first_dots = text.find("..")?;
    if first_dots == 0 || !text[..first_dots].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let Some(rest) = text.strip_prefix("1..") else {
        return Some(Err(ErrorKind::MalformedPlan));
    };
    let count = rest.split('#').next().unwrap_or_default().trim_end();
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Err(ErrorKind::MalformedPlan));
    }
    Some(count.parse().map_err(|_| ErrorKind::MalformedPlan))
}

/// `Some` if `text` is a result line (`ok`/`not ok`).
fn parse_result(text: &str) -> Option<Result<(u32, String, Outcome), ErrorKind>> {
    let (ok, rest) = if let Some(rest) = text.strip_prefix("not ok") {
        (false, rest)
    } else {
        (true, text.strip_prefix("ok")?)
    };
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    Some(parse_result_body(ok, rest.trim_start()))
}

fn parse_result_body(ok: bool, rest: &str) -> Result<(u32, String, Outcome), ErrorKind> {
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let after = &rest[digits..];
    if digits == 0 || !(after.is_empty() || after.starts_with(' ')) {
        return Err(ErrorKind::MalformedResult);
    }
    let number: u32 = rest[..digits]
        .parse()
        .map_err(|_| ErrorKind::MalformedResult)?;
    let (description, directive) = match after.split_once('#') {
        Some((d, dir)) => (d, Some(dir.trim())),
        None => (after, None),
    };
    let description = description.trim();
    // TAP allows `ok 1 - name`.
    let name = description.strip_prefix("- ").unwrap_or(description).trim();
    if name.is_empty() {
        return Err(ErrorKind::MissingName);
    }
    if name.contains(char::is_whitespace) {
        return Err(ErrorKind::InvalidName);
    }
    let skip = directive.and_then(|d| {
        let word = d.get(..4)?;
        let tail = &d[4..];
        (word.eq_ignore_ascii_case("SKIP") && (tail.is_empty() || tail.starts_with(' ')))
            .then(|| tail.trim().to_string())
    });
    let outcome = match (skip, ok) {
        (Some(reason), _) => Outcome::Skip(reason),
        (None, true) => Outcome::Pass,
        (None, false) => Outcome::Fail(directive.unwrap_or_default().to_string()),
    };
    Ok((number, name.to_string(), outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
boot banner: unikernel 0.1
KTAP version 1
1..3
    KTAP version 1
    # Subtest: heap
    1..2
    ok 1 box_alloc_and_free
    # some diagnostic
    not ok 2 vec_grows # reason text
not ok 1 heap
    KTAP version 1
    # Subtest: timer
    1..1
    ok 1 frequency_nonzero # SKIP not on this board
ok 2 timer
    KTAP version 1
    # Subtest: vmo
    1..1
    ok 1 create
ok 3 vmo
";

    fn error_kind(text: &str) -> ErrorKind {
        parse(text).error.expect("expected a parse error").kind
    }

    /// Builds a document from `body` lines placed after a header.
    fn doc(body: &str) -> String {
        format!("KTAP version 1\n{body}")
    }

    #[test]
    fn well_formed_document_parses() {
        let d = parse(GOOD).into_result().unwrap();
        assert_eq!(d.plan, Some(3));
        assert_eq!(d.suites.len(), 3);
        assert_eq!(d.suites[0].name, "heap");
        assert_eq!(d.suites[0].outcome, Some(Outcome::Fail(String::new())));
        assert_eq!(
            d.test_ids(),
            [
                "heap.box_alloc_and_free",
                "heap.vec_grows",
                "timer.frequency_nonzero",
                "vmo.create"
            ]
        );
    }

    #[test]
    fn failure_keeps_reason_and_diagnostics() {
        let d = parse(GOOD).into_result().unwrap();
        let (_, t) = d.find("heap.vec_grows").unwrap();
        assert_eq!(t.outcome, Outcome::Fail("reason text".into()));
        assert_eq!(t.diagnostics, ["# some diagnostic"]);
    }

    #[test]
    fn skip_directive_is_a_skip_with_reason() {
        let d = parse(GOOD).into_result().unwrap();
        let (_, t) = d.find("timer.frequency_nonzero").unwrap();
        assert_eq!(t.outcome, Outcome::Skip("not on this board".into()));
    }

    #[test]
    fn crlf_and_two_space_indentation_parse() {
        let text = "KTAP version 1\r\n1..1\r\n  KTAP version 1\r\n  1..1\r\n  ok 1 a\r\nok 1 s\r\n";
        let d = parse(text).into_result().unwrap();
        assert_eq!(d.test_ids(), ["s.a"]);
    }

    #[test]
    fn subtest_line_is_optional_and_dash_is_allowed() {
        let text = doc("1..1\n    KTAP version 1\n    1..1\n    ok 1 - a\nok 1 - s\n");
        assert_eq!(parse(&text).into_result().unwrap().test_ids(), ["s.a"]);
    }

    #[test]
    fn empty_suite_and_skipped_suite_parse() {
        let text = doc("1..2\n    KTAP version 1\n    1..0\nok 1 empty\nok 2 gone # SKIP no pi\n");
        let d = parse(&text).into_result().unwrap();
        assert_eq!(d.suites.len(), 2);
        assert_eq!(d.suites[1].outcome, Some(Outcome::Skip("no pi".into())));
        assert!(d.test_ids().is_empty());
    }

    #[test]
    fn flush_left_diagnostics_inside_a_suite_attach_to_the_next_test() {
        let text =
            doc("1..1\n    KTAP version 1\n    1..1\n# kernel: log\n    not ok 1 a\nnot ok 1 s\n");
        let d = parse(&text).into_result().unwrap();
        assert_eq!(d.suites[0].tests[0].diagnostics, ["# kernel: log"]);
    }

    #[test]
    fn trailing_diagnostics_and_blank_lines_are_fine() {
        let text = format!("{GOOD}\n# all done\n\n");
        assert!(parse(&text).error.is_none());
    }

    #[test]
    fn empty_transcript_has_no_document() {
        assert_eq!(error_kind(""), ErrorKind::NoDocument);
        assert_eq!(error_kind("booting...\npanicked\n"), ErrorKind::NoDocument);
    }

    #[test]
    fn missing_top_level_plan_is_an_error() {
        let text = doc("    KTAP version 1\n    1..1\n    ok 1 a\nok 1 s\n");
        assert_eq!(error_kind(&text), ErrorKind::MissingPlan);
    }

    #[test]
    fn missing_suite_plan_is_an_error() {
        let text = doc("1..1\n    KTAP version 1\n    ok 1 a\nok 1 s\n");
        assert_eq!(error_kind(&text), ErrorKind::MissingPlan);
    }

    #[test]
    fn duplicate_plan_is_an_error() {
        assert_eq!(error_kind(&doc("1..1\n1..1\n")), ErrorKind::DuplicatePlan);
    }

    #[test]
    fn plan_after_results_is_an_error() {
        let text = doc("1..1\n    KTAP version 1\n    1..1\n    ok 1 a\n    1..1\nok 1 s\n");
        assert_eq!(error_kind(&text), ErrorKind::PlanAfterResults);
    }

    #[test]
    fn malformed_plan_is_an_error() {
        assert_eq!(error_kind(&doc("1..x\n")), ErrorKind::MalformedPlan);
        assert_eq!(error_kind(&doc("0..3\n")), ErrorKind::MalformedPlan);
        assert_eq!(error_kind(&doc("1..\n")), ErrorKind::MalformedPlan);
    }

    #[test]
    fn duplicate_number_is_an_error() {
        let text = doc("1..1\n    KTAP version 1\n    1..2\n    ok 1 a\n    ok 1 b\nok 1 s\n");
        assert_eq!(
            error_kind(&text),
            ErrorKind::DuplicateNumber {
                expected: 2,
                found: 1
            }
        );
    }

    #[test]
    fn out_of_order_numbers_are_an_error() {
        let text =
            doc("1..1\n    KTAP version 1\n    1..3\n    ok 1 a\n    ok 3 c\n    ok 2 b\nok 1 s\n");
        assert_eq!(
            error_kind(&text),
            ErrorKind::MissingNumbers {
                expected: 2,
                found: 3
            }
        );
    }

    #[test]
    fn number_beyond_plan_is_an_error() {
        let text = doc("1..1\n    KTAP version 1\n    1..1\n    ok 1 a\n    ok 2 b\nok 1 s\n");
        assert_eq!(
            error_kind(&text),
            ErrorKind::ExceedsPlan { plan: 1, found: 2 }
        );
    }

    #[test]
    fn extra_suite_beyond_plan_is_an_error() {
        let text = format!("{GOOD}    KTAP version 1\n    1..0\nok 4 extra\n");
        assert!(matches!(
            error_kind(&text),
            ErrorKind::ExceedsPlan { plan: 3, .. }
        ));
    }

    #[test]
    fn short_suite_plan_is_an_error() {
        let text =
            doc("1..1\n    KTAP version 1\n    # Subtest: s\n    1..3\n    ok 1 a\nok 1 s\n");
        assert_eq!(
            error_kind(&text),
            ErrorKind::ShortPlan {
                suite: "s".into(),
                plan: 3,
                results: 1
            }
        );
    }

    #[test]
    fn short_top_level_plan_is_truncation() {
        let text = doc("1..2\n    KTAP version 1\n    1..1\n    ok 1 a\nok 1 s\n");
        assert!(matches!(error_kind(&text), ErrorKind::Truncated(_)));
    }

    #[test]
    fn truncated_inside_a_suite_keeps_finished_tests() {
        let cut = GOOD.find("    not ok 2").unwrap();
        let parsed = parse(&GOOD[..cut]);
        assert!(matches!(
            parsed.error.as_ref().unwrap().kind,
            ErrorKind::Truncated(_)
        ));
        let d = &parsed.document;
        assert_eq!(d.test_ids(), ["heap.box_alloc_and_free"]);
        assert_eq!(d.suites[0].outcome, None);
        assert_eq!(d.suites[0].name, "heap");
    }

    #[test]
    fn truncated_before_suite_result_is_an_error() {
        let cut = GOOD.find("ok 3 vmo").unwrap();
        assert!(matches!(error_kind(&GOOD[..cut]), ErrorKind::Truncated(_)));
    }

    #[test]
    fn header_only_is_truncation() {
        assert!(matches!(
            error_kind("KTAP version 1\n"),
            ErrorKind::Truncated(_)
        ));
    }

    #[test]
    fn garbage_line_inside_is_an_error() {
        let text = GOOD.replace(
            "    # some diagnostic\n",
            "    panicked at kernel/src/heap.rs:12\n",
        );
        let parsed = parse(&text);
        let err = parsed.error.unwrap();
        assert_eq!(err.kind, ErrorKind::UnrecognisedLine);
        assert_eq!(err.line, Some(8));
        assert_eq!(parsed.document.test_ids(), ["heap.box_alloc_and_free"]);
    }

    #[test]
    fn flush_left_garbage_inside_a_suite_cuts_it_short() {
        let text = GOOD.replace(
            "    # some diagnostic\n",
            "panicked at kernel/src/heap.rs:12\n",
        );
        let err = parse(&text).error.unwrap();
        assert_eq!(err.line, Some(8));
        assert!(matches!(
            err.kind,
            ErrorKind::ShortPlan {
                plan: 2,
                results: 1,
                ..
            }
        ));
        assert!(err.to_string().contains("panicked at"));
    }

    #[test]
    fn garbage_after_the_document_is_an_error() {
        let text = format!("{GOOD}Powering off\n");
        assert_eq!(error_kind(&text), ErrorKind::UnrecognisedLine);
    }

    #[test]
    fn indented_garbage_is_bad_indentation() {
        let text = doc("1..1\n    KTAP version 1\n    1..1\n        ok 1 a\nok 1 s\n");
        assert_eq!(error_kind(&text), ErrorKind::BadIndentation);
    }

    #[test]
    fn suite_line_at_wrong_indentation_is_an_error() {
        // The suite's result line indented like its tests reads as a second
        // test numbered 1.
        let text = doc("1..1\n    KTAP version 1\n    1..1\n    ok 1 a\n    ok 1 s\n");
        assert!(matches!(
            error_kind(&text),
            ErrorKind::DuplicateNumber { .. }
        ));
    }

    #[test]
    fn tab_indentation_is_an_error() {
        let text = doc("1..1\n\tKTAP version 1\n");
        assert_eq!(error_kind(&text), ErrorKind::TabIndentation);
    }

    #[test]
    fn suite_ok_with_failed_test_is_an_error() {
        let text = GOOD.replace("not ok 1 heap", "ok 1 heap");
        assert_eq!(
            error_kind(&text),
            ErrorKind::SuiteOkWithFailedTest {
                suite: "heap".into(),
                test: "vec_grows".into()
            }
        );
    }

    #[test]
    fn subtest_name_mismatch_is_an_error() {
        let text = GOOD.replace("ok 2 timer", "ok 2 clock");
        assert!(matches!(
            error_kind(&text),
            ErrorKind::SubtestNameMismatch { .. }
        ));
    }

    #[test]
    fn duplicate_test_name_is_an_error() {
        let text = doc("1..1\n    KTAP version 1\n    1..2\n    ok 1 a\n    ok 2 a\nok 1 s\n");
        assert_eq!(error_kind(&text), ErrorKind::DuplicateName("a".into()));
    }

    #[test]
    fn top_level_result_without_subtests_is_an_error() {
        assert_eq!(
            error_kind(&doc("1..1\nok 1 lonely\n")),
            ErrorKind::SuiteWithoutTests("lonely".into())
        );
    }

    #[test]
    fn nesting_deeper_than_suites_is_an_error() {
        let text = doc("1..1\n  KTAP version 1\n  1..1\n    KTAP version 1\n");
        assert_eq!(error_kind(&text), ErrorKind::NestedTooDeep);
    }

    #[test]
    fn second_subtest_without_result_is_an_error() {
        let text = doc("1..2\n    KTAP version 1\n    1..0\n  KTAP version 1\n");
        // The second header is less indented than the first suite but more
        // than the top: the first suite never got its result line.
        assert_eq!(error_kind(&text), ErrorKind::SubtestWithoutResult);
    }

    #[test]
    fn second_top_level_header_is_an_error() {
        let text = format!("{GOOD}{GOOD}");
        // The banner line of the second copy comes first.
        assert_eq!(error_kind(&text), ErrorKind::UnrecognisedLine);
        let text = format!("{GOOD}KTAP version 1\n");
        assert_eq!(error_kind(&text), ErrorKind::UnexpectedHeader);
    }

    #[test]
    fn malformed_result_lines_are_errors() {
        let base = "1..1\n    KTAP version 1\n    1..1\n";
        assert_eq!(
            error_kind(&doc(&format!("{base}    ok a\n"))),
            ErrorKind::MalformedResult
        );
        assert_eq!(
            error_kind(&doc(&format!("{base}    ok 1x a\n"))),
            ErrorKind::MalformedResult
        );
        assert_eq!(
            error_kind(&doc(&format!("{base}    ok 1\n"))),
            ErrorKind::MissingName
        );
        assert_eq!(
            error_kind(&doc(&format!("{base}    ok 1 # SKIP\n"))),
            ErrorKind::MissingName
        );
        assert_eq!(
            error_kind(&doc(&format!("{base}    ok 1 a b\n"))),
            ErrorKind::InvalidName
        );
        assert_eq!(
            error_kind(&doc(&format!("{base}    okay 1 a\n"))),
            ErrorKind::UnrecognisedLine
        );
    }

    #[test]
    fn result_before_plan_is_an_error() {
        let text = doc("1..1\n    KTAP version 1\n    ok 1 a\n    1..1\nok 1 s\n");
        assert_eq!(error_kind(&text), ErrorKind::MissingPlan);
    }

    #[test]
    fn lines_before_the_header_are_ignored() {
        let text = format!("garbage\n  more garbage 1..9\nok 7 x\n{GOOD}");
        assert!(parse(&text).error.is_none());
    }

    #[test]
    fn errors_report_line_and_text() {
        let err = parse(&doc("1..1\nwhat\n")).error.unwrap();
        assert_eq!(
            err.to_string(),
            "KTAP line 3: unrecognised line inside the document: `what`"
        );
    }
}
