//! What the numbers say, in words: health warnings (can these numbers be trusted?), findings
//! (what the run shows: the fastest cell, I/O- or CPU-bound and the evidence for it), why a run
//! failed (every failed threshold, baseline check and failing cell, with where it is), why it is
//! invalid (the validity rules it broke, `validity.rs`), and each
//! cell's errors with their messages, and a cell's figures with their spread over rounds. One
//! file per topic: `health.rs`, `findings.rs`, `failures.rs`, `errors.rs`, `numbers.rs`,
//! `validity.rs`; a capacity search's outcome and probes in `capacity.rs`; each model's
//! Universal Scalability Law fit in `scalability.rs`.
//!
//! Input: a [`Summary`] (or one scenario of it). Output: plain data (text with a severity, the
//! cells concerned) for every page to show its own way: the HTML report, `summary.md` and the
//! console. Pure functions: no formatting beyond words and numbers, no markup, no I/O, and the
//! same summary always gives the same words in the same order.
//!
//! [`Summary`]: crate::stats::Summary

pub mod capacity;
mod errors;
mod failures;
mod findings;
mod health;
pub mod numbers;
pub mod scalability;
mod validity;

use crate::stats::CellSummary;

pub use errors::{ErrorGroup, error_groups};
pub use failures::{
    ACCEPT_SOME, Failure, Reason, UNEXPLAINED, accept_some_hint, errors_observed, failure_count,
    failures, is_error_rule, limit_text, locate,
};
pub use findings::{Findings, bound_words, fastest_index, findings};
pub use health::{Concern, Flag, HealthItem, cell_flags, health, health_criteria};
pub use validity::{ValidityLine, headline as validity_headline, validity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The numbers may not mean what they seem.
    Warning,
    /// Worth knowing; the numbers stand.
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }

    /// `Warning` or `Note`, printed before a title.
    pub fn word(self) -> &'static str {
        match self {
            Severity::Warning => "Warning",
            Severity::Note => "Note",
        }
    }
}

fn label(c: &CellSummary) -> String {
    c.label()
}

/// A pass or a fail, as every page marks it: an icon and a word (and, where the page has
/// colour, a colour), so it reads in greyscale and without colour vision.
pub fn mark(passed: bool) -> &'static str {
    if passed { "✔ passed" } else { "✘ failed" }
}

/// The evidence behind a baseline check's outcome, in words: why it is not a regression, the
/// 95 % interval of the change, and the smallest change the data could have detected:
/// `beyond the tolerance, but not beyond the noise; change -40.0% to +10.0% (95%); could detect
/// ≤ 9.80/s (-42.0%)`. Empty for a summary written before outcomes existed.
pub fn evidence_words(k: &crate::stats::BaselineCheck) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(r) = &k.reason {
        parts.push(r.clone());
    }
    if let Some(i) = k.current_interval.filter(|i| i.upper_is_max) {
        parts.push(format!(
            "this {} of {} values is bounded only by the maximum",
            crate::report::junit::metric_words(&k.metric),
            i.count
        ));
    }
    if let (Some(lo), Some(hi)) = (k.change_low, k.change_high) {
        parts.push(format!(
            "change {:+.1}% to {:+.1}% (95%)",
            lo * 100.0,
            hi * 100.0
        ));
    }
    if let Some(v) = k.detectable {
        let sign = if k.metric == "throughput_per_s" {
            "≤"
        } else {
            "≥"
        };
        let change = k
            .detectable_change
            .filter(|x| x.is_finite())
            .map_or_else(String::new, |x| format!(" ({:+.1}%)", x * 100.0));
        parts.push(format!(
            "could detect {sign} {}{change}",
            crate::report::junit::baseline_value(&k.metric, v)
        ));
    }
    parts.join("; ")
}

/// What a comparison with a baseline says first, on the report's page and on the comparison
/// page alike (each flattens it into its own view): the outcome, how many checks with which
/// outcomes, the tolerance and the false-alarm budget, and the cells only one side has.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BaselineHead<'a> {
    /// `passed` (no check regressed) or `failed`.
    pub result: &'static str,
    /// `✔ passed` or `✘ failed`.
    pub mark: &'static str,
    pub checked: usize,
    /// `1 regressed, 2 inconclusive, 14 unchanged`.
    pub outcomes: String,
    pub tolerance: String,
    pub alpha: f64,
    pub missing_in_baseline: &'a [String],
    pub missing_in_run: &'a [String],
}

/// The head of the gate's comparison `b`.
pub fn baseline_head(b: &crate::stats::BaselineReport) -> BaselineHead<'_> {
    BaselineHead {
        result: if b.passed { "passed" } else { "failed" },
        mark: mark(b.passed),
        checked: b.checks.len(),
        outcomes: outcome_counts(&b.checks),
        tolerance: crate::units::percent(b.tolerance),
        alpha: b.alpha,
        missing_in_baseline: &b.missing_in_baseline,
        missing_in_run: &b.missing_in_run,
    }
}

/// `1 regressed, 2 inconclusive, 14 unchanged`: the checks by outcome, those with none left out.
pub fn outcome_counts(checks: &[crate::stats::BaselineCheck]) -> String {
    use crate::stats::Outcome;
    let parts: Vec<String> = [
        Outcome::Regressed,
        Outcome::Inconclusive,
        Outcome::Improved,
        Outcome::Unchanged,
    ]
    .iter()
    .filter_map(|o| {
        let n = checks.iter().filter(|c| c.outcome == *o).count();
        (n > 0).then(|| format!("{n} {}", o.word()))
    })
    .collect();
    parts.join(", ")
}
