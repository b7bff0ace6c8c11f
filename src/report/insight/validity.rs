//! Why a run is invalid: the validity rules it broke (`summary.validity`, decided by
//! `gate/validity.rs`), each as a line every page shows first, above the gates' results, with
//! its measured value, its bound, the reason and the fix. Rules a plan turned into warnings come
//! after the ones that made the run invalid.
//!
//! Input: a [`Summary`]. Output: [`ValidityLine`]s and a headline. Pure: no markup, no I/O.

use crate::plan::validity::ValidityAction;
use crate::stats::{Summary, ValidityFinding};
use crate::units;

/// One broken rule, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidityLine {
    /// The rule's name (`dropped_arrivals`), as a plan's `validity:` key.
    pub rule: String,
    /// `scenario · cell`.
    pub who: String,
    /// `84 of 300 arrivals dropped …`.
    pub reason: String,
    /// What was measured against its bound: `28.0% (bound 1.00%)`.
    pub measured: String,
    pub fix: String,
    /// The plan turned this rule into a warning: it did not make the run invalid.
    pub warning: bool,
}

impl ValidityLine {
    /// The whole line, for the console and Markdown.
    pub fn sentence(&self) -> String {
        format!(
            "{}: {}: {} [{}]; fix: {}",
            self.who, self.rule, self.reason, self.measured, self.fix
        )
    }
}

/// Every broken rule, those that made the run invalid first.
pub fn validity(s: &Summary) -> Vec<ValidityLine> {
    let mut lines: Vec<ValidityLine> = s.validity.iter().map(line).collect();
    lines.sort_by_key(|l| l.warning);
    lines
}

/// `the run did not measure what it asked: 2 validity rules broken`, for invalid runs.
pub fn headline(s: &Summary) -> String {
    let broken = s
        .validity
        .iter()
        .filter(|f| f.action == ValidityAction::Fail)
        .count();
    format!(
        "the run did not measure what it asked: {} broken; its numbers are not to be trusted, whatever the gates say",
        units::count(broken, "validity rule")
    )
}

fn line(f: &ValidityFinding) -> ValidityLine {
    ValidityLine {
        rule: f.rule.clone(),
        who: format!("{} · {}", f.scenario, f.cell),
        reason: f.reason.clone(),
        measured: format!(
            "measured {}, bound {}",
            value(f.measured, &f.unit),
            value(f.bound, &f.unit)
        ),
        fix: f.fix.clone(),
        warning: f.action == ValidityAction::Warn,
    }
}

fn value(v: f64, unit: &str) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    match unit {
        "fraction" => units::percent(v),
        "us" => units::micros(v.max(0.0).round() as u64),
        "cores" => format!("{} cores", units::number(v)),
        "ratio" => format!("{v:.2}×"),
        "per_s" => format!("{}/s", units::number(v)),
        _ => units::number(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::healthy;

    fn finding(rule: &str, action: ValidityAction) -> ValidityFinding {
        ValidityFinding {
            rule: rule.into(),
            action,
            scenario: "api".into(),
            cell: "async c=4 w=1".into(),
            measured: 0.28,
            bound: 0.01,
            unit: "fraction".into(),
            reason: "84 of 300 arrivals dropped".into(),
            fix: "raise concurrency to ≥ 14".into(),
        }
    }

    #[test]
    fn broken_rules_come_before_warnings_with_their_numbers() {
        let mut s = healthy();
        s.validity = vec![
            finding("cpu_drift", ValidityAction::Warn),
            finding("dropped_arrivals", ValidityAction::Fail),
        ];
        let lines = validity(&s);
        assert_eq!(lines[0].rule, "dropped_arrivals");
        assert!(!lines[0].warning);
        assert!(lines[1].warning);
        assert_eq!(
            lines[0].sentence(),
            "api · async c=4 w=1: dropped_arrivals: 84 of 300 arrivals dropped [measured 28.0%, bound 1.00%]; fix: raise concurrency to ≥ 14"
        );
        assert!(
            headline(&s).contains("1 validity rule broken"),
            "{}",
            headline(&s)
        );
    }
}
