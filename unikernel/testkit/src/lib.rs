//! What the kernel's test harness (`kernel/src/ktest.rs`) and the tasks'
//! (`tasks/src/harness.rs`) share: a suite of plain test functions,
//! registered by name with [`tests!`], the checks a test fails by
//! ([`check!`], [`check_eq!`], [`ok!`]), the `test=` filter over
//! `suite.test` names, and the seeded generator tests draw from.
//!
//! The harnesses differ in how they run a test (in the kernel, or in a fresh
//! task) and in where a failure's text lives (a heap `String`, or a line on
//! the stack): that text is the `R` of every type here.
#![no_std]

#[cfg(feature = "alloc")]
extern crate alloc;

use core::fmt;

/// A failure's text, made from the format arguments of a check.
pub trait Reason {
    /// The text of `args`.
    fn from_args(args: fmt::Arguments) -> Self;
}

#[cfg(feature = "alloc")]
impl Reason for alloc::string::String {
    fn from_args(args: fmt::Arguments) -> Self {
        alloc::fmt::format(args)
    }
}

/// Why a test did not pass.
#[derive(Debug)]
pub enum Failure<R> {
    /// It failed, for this reason.
    Fail(R),
    /// It does not apply here, for this reason.
    Skip(&'static str),
}

/// What a test returns.
pub type TestResult<R> = Result<(), Failure<R>>;

/// One test: a plain function.
pub struct Test<R: 'static> {
    /// Its name, unique in its suite (its function's name, through [`tests!`]).
    pub name: &'static str,
    /// The test itself.
    pub run: fn() -> TestResult<R>,
}

/// A named group of tests: one nested KTAP subtest.
pub struct Suite<R: 'static> {
    /// Its name, unique in the run.
    pub name: &'static str,
    /// Its tests, in the order they run.
    pub tests: &'static [Test<R>],
}

impl<R> Suite<R> {
    /// Whether `filter` (`test=`) selects `test` of this suite: whether it is
    /// part of `suite.test`. The empty filter selects every test.
    pub fn selects(&self, filter: &str, test: &Test<R>) -> bool {
        contains(&[self.name, ".", test.name], filter)
    }

    /// How many of this suite's tests `filter` selects.
    pub fn selected(&self, filter: &str) -> usize {
        self.tests
            .iter()
            .filter(|t| self.selects(filter, t))
            .count()
    }
}

/// How many of `suites` have a test `filter` selects.
pub fn selected_suites<R>(suites: &[&Suite<R>], filter: &str) -> usize {
    suites.iter().filter(|s| s.selected(filter) > 0).count()
}

/// Whether the concatenation of `parts` contains `needle` (without
/// allocating: neither harness may, the tasks' has no heap).
fn contains(parts: &[&str], needle: &str) -> bool {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let byte = |mut j: usize| {
        for part in parts {
            if j < part.len() {
                return part.as_bytes()[j];
            }
            j -= part.len();
        }
        unreachable!("index within the total length")
    };
    let n = needle.len();
    n <= len && (0..=len - n).any(|at| needle.bytes().enumerate().all(|(i, b)| byte(at + i) == b))
}

/// A suite's test list from its functions' names: `tests![a, b]`; each test
/// is named as its function.
#[macro_export]
macro_rules! tests {
    ($($name:ident),* $(,)?) => {
        &[$($crate::Test { name: stringify!($name), run: $name }),*]
    };
}

/// Fails the test unless `cond` holds (with a message: `check!(c, "{x}")`).
#[macro_export]
macro_rules! check {
    ($cond:expr) => {
        if !$cond {
            return Err($crate::Failure::Fail($crate::Reason::from_args(format_args!(
                "{}:{}: check failed: {}", file!(), line!(), stringify!($cond)
            ))));
        }
    };
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err($crate::Failure::Fail($crate::Reason::from_args(format_args!(
                "{}:{}: {}", file!(), line!(), format_args!($($arg)+)
            ))));
        }
    };
}

/// Fails the test unless the two values are equal (with a message after).
#[macro_export]
macro_rules! check_eq {
    ($left:expr, $right:expr $(,)?) => {
        $crate::check_eq!($left, $right, "")
    };
    ($left:expr, $right:expr, $($arg:tt)+) => {
        match (&$left, &$right) {
            (l, r) => {
                if l != r {
                    return Err($crate::Failure::Fail($crate::Reason::from_args(
                        format_args!(
                            "{}:{}: {} == {}: {:?} != {:?}{}",
                            file!(),
                            line!(),
                            stringify!($left),
                            stringify!($right),
                            l,
                            r,
                            $crate::Note(format_args!($($arg)+))
                        ),
                    )));
                }
            }
        }
    };
}

/// Unwraps a `Result<T, E: Debug>`, failing the test with the error.
#[macro_export]
macro_rules! ok {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => {
                return Err($crate::Failure::Fail($crate::Reason::from_args(
                    format_args!(
                        "{}:{}: {} failed: {:?}",
                        file!(),
                        line!(),
                        stringify!($e),
                        e
                    ),
                )));
            }
        }
    };
}

/// A check's own message, shown in parentheses after its values (nothing
/// if it is empty).
#[doc(hidden)]
pub struct Note<'a>(pub fmt::Arguments<'a>);

impl fmt::Display for Note<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.0.as_str() {
            Some("") => Ok(()),
            _ => write!(f, " ({})", self.0),
        }
    }
}

/// splitmix64 (Steele, Lea and Flood): a seeded generator whose sequences are
/// reproducible from their seed, and whose every output depends on every bit
/// of it (so it also scrambles a seed for another generator).
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;

    /// A failure text on the host.
    #[derive(Debug, PartialEq)]
    struct Text(String);
    impl Reason for Text {
        fn from_args(args: fmt::Arguments) -> Self {
            Text(std::fmt::format(args))
        }
    }

    fn passes() -> TestResult<Text> {
        Ok(())
    }
    fn unequal() -> TestResult<Text> {
        check_eq!(1 + 1, 3);
        Ok(())
    }
    fn unequal_with_note() -> TestResult<Text> {
        let why = "because";
        check_eq!(2, 3, "{why}");
        Ok(())
    }
    fn fails_check() -> TestResult<Text> {
        check!(1 > 2);
        Ok(())
    }
    fn fails_ok() -> TestResult<Text> {
        let _: u8 = ok!(Err::<u8, _>("broken"));
        Ok(())
    }

    static SUITE: Suite<Text> = Suite {
        name: "vmo",
        tests: tests![passes, unequal, unequal_with_note, fails_check, fails_ok],
    };

    fn failure(name: &str) -> String {
        let test = SUITE.tests.iter().find(|t| t.name == name).unwrap();
        match (test.run)() {
            Err(Failure::Fail(Text(why))) => why,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn tests_are_named_as_their_functions_in_order() {
        let names: std::vec::Vec<_> = SUITE.tests.iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            [
                "passes",
                "unequal",
                "unequal_with_note",
                "fails_check",
                "fails_ok"
            ]
        );
        assert!((SUITE.tests[0].run)().is_ok());
    }

    #[test]
    fn checks_say_where_and_what() {
        let unequal = failure("unequal");
        let (place, what) = unequal.split_once(": ").unwrap();
        assert!(place.starts_with(file!()), "{place}");
        assert_eq!(what, "1 + 1 == 3: 2 != 3");
        assert!(failure("unequal_with_note").ends_with(": 2 == 3: 2 != 3 (because)"));
        assert!(failure("fails_check").ends_with(": check failed: 1 > 2"));
        assert!(failure("fails_ok").ends_with(": Err::<u8, _>(\"broken\") failed: \"broken\""));
    }

    #[test]
    fn the_filter_matches_anywhere_in_suite_dot_test() {
        let t = &SUITE.tests[1];
        for f in ["", "vmo", "vmo.unequal", "o.une", ".", "unequal", "l"] {
            assert!(SUITE.selects(f, t), "{f:?}");
        }
        for f in ["vmo.passes", "vmounequal", "unequal.", "vmo.unequal_", "x"] {
            assert!(!SUITE.selects(f, t), "{f:?}");
        }
        assert_eq!(SUITE.selected("vmo.unequal"), 2);
        assert_eq!(SUITE.selected("fails_"), 2);
        assert_eq!(selected_suites(&[&SUITE, &SUITE], "nothing"), 0);
        assert_eq!(selected_suites(&[&SUITE, &SUITE], ""), 2);
    }

    #[test]
    fn splitmix64_gives_the_reference_sequence() {
        // The reference implementation's first outputs from seed 0.
        let mut rng = SplitMix64(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }
}
