//! What the conformance suites share: one [`Outcome`] per rule and a
//! [`Report`] of them, for any seam's rules ([`SuiteRule`]): the `Transport` suite
//! ([`crate::transport`]) and the `Sink` and `Queue` suites of the workspace's test kit.

use std::fmt;

/// A rule of a seam's contract, as a suite checks it.
pub trait SuiteRule: Copy + PartialEq + fmt::Display + fmt::Debug {
    /// What breaks the rules, for the failure message: "the transport", "the sink".
    const SUBJECT: &'static str;
    /// Where the rules are written: "the Transport docs", "the Sink contract".
    const SOURCE: &'static str;
}

/// A check's result: `Err` says what was seen.
pub type Check = Result<(), String>;

/// `Ok` when `ok`, else the failure `why` describes.
pub fn ensure(ok: bool, why: impl FnOnce() -> String) -> Check {
    if ok {
        Ok(())
    } else {
        Err(why())
    }
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The implementation keeps the rule.
    Passed,
    /// The implementation breaks the rule: what was seen.
    Failed(String),
    /// The rule cannot be exercised on this implementation: why.
    NotApplicable(&'static str),
}

impl From<Result<(), String>> for Outcome {
    fn from(r: Result<(), String>) -> Self {
        match r {
            Ok(()) => Outcome::Passed,
            Err(why) => Outcome::Failed(why),
        }
    }
}

/// Every rule's outcome.
#[derive(Debug, Clone)]
pub struct Report<R> {
    /// One entry per rule checked, in order.
    pub outcomes: Vec<(R, Outcome)>,
}

impl<R> Default for Report<R> {
    fn default() -> Self {
        Self {
            outcomes: Vec::new(),
        }
    }
}

impl<R: SuiteRule> Report<R> {
    /// The outcome for `rule`, when it was checked.
    pub fn outcome(&self, rule: R) -> Option<&Outcome> {
        self.outcomes
            .iter()
            .find(|(r, _)| *r == rule)
            .map(|(_, o)| o)
    }

    /// The rules that failed.
    pub fn failed(&self) -> Vec<R> {
        self.outcomes
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
            .map(|(r, _)| *r)
            .collect()
    }

    /// The rules that passed.
    pub fn passed(&self) -> Vec<R> {
        self.outcomes
            .iter()
            .filter(|(_, o)| *o == Outcome::Passed)
            .map(|(r, _)| *r)
            .collect()
    }

    /// Panics, listing every failed rule with what was seen, unless none failed.
    pub fn assert_conforms(&self) {
        let failed = self.failed();
        assert!(
            failed.is_empty(),
            "{} breaks {} rule(s) of {}:\n{self}",
            R::SUBJECT,
            failed.len(),
            R::SOURCE
        );
    }
}

impl<R: SuiteRule> fmt::Display for Report<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (rule, outcome) in &self.outcomes {
            match outcome {
                Outcome::Passed => writeln!(f, "  ok      {rule}")?,
                Outcome::Failed(why) => writeln!(f, "  FAILED  {rule}: {why}")?,
                Outcome::NotApplicable(why) => writeln!(f, "  n/a     {rule}: {why}")?,
            }
        }
        Ok(())
    }
}
