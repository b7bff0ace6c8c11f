//! What the numbers say, in words: health warnings (can these numbers be trusted?), findings
//! (what the run shows: the fastest cell, I/O- or CPU-bound and the evidence for it), why a run
//! failed (every failed threshold, baseline check and failing cell, with where it is), why it is
//! invalid (the validity rules it broke, `validity.rs`), and each
//! cell's errors with their messages, and a cell's figures with their spread over rounds. One
//! file per topic: `health.rs`, `findings.rs`, `failures.rs`, `errors.rs`, `numbers.rs`,
//! `validity.rs`.
//!
//! Input: a [`Summary`] (or one scenario of it). Output: plain data (text with a severity, the
//! cells concerned) for every page to show its own way: the HTML report, `summary.md` and the
//! console. Pure functions: no formatting beyond words and numbers, no markup, no I/O, and the
//! same summary always gives the same words in the same order.
//!
//! [`Summary`]: crate::stats::Summary

mod errors;
mod failures;
mod findings;
mod health;
pub mod numbers;
mod validity;

use crate::stats::CellSummary;

pub use errors::{ErrorGroup, error_groups};
pub use failures::{
    ACCEPT_SOME, Failure, Reason, UNEXPLAINED, accept_some_hint, errors_observed, failure_count,
    failures, is_error_rule, locate,
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

/// What the rounds say of a baseline check's change: `within noise (p = 0.21)` (not a
/// regression, however far beyond the tolerance), `beyond noise (p = 0.01)`; `None` without
/// rounds on both sides.
pub fn noise_words(k: &crate::stats::BaselineCheck) -> Option<String> {
    let n = k.noise.as_ref()?;
    let p = if n.p_value >= 0.01 {
        format!("p = {:.2}", n.p_value)
    } else if n.p_value >= 0.0 {
        "p < 0.01".to_string()
    } else {
        "p = -".to_string()
    };
    Some(if n.within_noise {
        format!("within noise ({p})")
    } else {
        format!("beyond noise ({p})")
    })
}

/// `, N within noise` when the baseline had rounds to tell noise by; empty otherwise.
pub fn within_noise(checks: &[crate::stats::BaselineCheck]) -> String {
    if checks.iter().all(|c| c.noise.is_none()) {
        return String::new();
    }
    let n = checks
        .iter()
        .filter(|c| c.noise.as_ref().is_some_and(|n| n.within_noise))
        .count();
    format!(", {n} within noise")
}
