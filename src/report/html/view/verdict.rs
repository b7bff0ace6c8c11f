//! The view of why a run is invalid (the validity rules it broke), why it failed, and of its
//! comparison with a baseline: every failure and every
//! baseline check worth a row, each linked to its cell's row.
//!
//! Input: the failures of `insight/` and the summary's baseline report. Output: serialisable
//! structs for the template. Must not format markup.

use serde::Serialize;

use super::{anchor, cell_anchor};
use crate::report::insight::{self, Failure, Reason};
use crate::report::junit::baseline_value;
use crate::stats::{BaselineCheck, BaselineReport, Outcome, Summary};

/// The validity rules the run broke (see [`insight::validity`]), first on the page.
#[derive(Serialize)]
pub(super) struct WhyInvalid {
    /// True when they made the run invalid; false when all were set to `warn` by the plan.
    invalid: bool,
    headline: String,
    rules: Vec<BrokenRule>,
}

#[derive(Serialize)]
struct BrokenRule {
    rule: String,
    who: String,
    reason: String,
    measured: String,
    fix: String,
    warning: bool,
}

/// The broken validity rules, or nothing when every rule held.
pub(super) fn why_invalid(s: &Summary) -> Option<WhyInvalid> {
    let lines = insight::validity(s);
    (!lines.is_empty()).then(|| WhyInvalid {
        invalid: s.verdict == crate::stats::Verdict::Invalid,
        headline: insight::validity_headline(s),
        rules: lines
            .into_iter()
            .map(|l| BrokenRule {
                rule: l.rule,
                who: l.who,
                reason: l.reason,
                measured: l.measured,
                fix: l.fix,
                warning: l.warning,
            })
            .collect(),
    })
}

/// Every reason the run failed, each linked to its cell (see [`insight::failures`]).
#[derive(Serialize)]
pub(super) struct WhyFailed {
    /// `2 thresholds and 1 cell`.
    count: String,
    fail_mark: &'static str,
    thresholds: Vec<FailedThreshold>,
    baseline: Vec<FailedCheck>,
    cells: Vec<FailedCell>,
    /// Said when the verdict is failed and the summary names no reason.
    unexplained: Option<&'static str>,
}

#[derive(Serialize)]
struct FailedThreshold {
    anchor: String,
    who: String,
    expression: String,
    observed: String,
    limit: String,
}

#[derive(Serialize)]
struct FailedCheck {
    anchor: String,
    who: String,
    metric: String,
    baseline: String,
    current: String,
    change: String,
}

#[derive(Serialize)]
struct FailedCell {
    anchor: String,
    who: String,
    why: String,
    /// For a cell failed by its errors: the threshold that would accept some.
    accept: Option<&'static str>,
}

/// The comparison with an earlier run: the checks beyond the tolerance are listed one by one,
/// those that failed and those the rounds found within the noise.
#[derive(Serialize)]
pub(super) struct BaselineView<'a> {
    file: &'a str,
    run_id: &'a str,
    started_at: String,
    #[serde(flatten)]
    head: insight::BaselineHead<'a>,
    /// Earlier runs compared besides the newest (a history).
    earlier: usize,
    /// Every check not shown unchanged: regressed, improved or inconclusive.
    failed: Vec<BaselineRow>,
}

#[derive(Serialize)]
struct BaselineRow {
    /// The cell's row in its scenario's table, or the scenario when this run lacks the cell.
    anchor: String,
    /// `failed` (regressed), `passed` (improved) or `noise` (inconclusive): the mark's class.
    result: &'static str,
    /// `✘ regressed`, `✔ improved` or `? inconclusive`.
    mark: String,
    /// The evidence in words: the change's interval, what the data could detect, why not.
    noise: Option<String>,
    cell: String,
    metric: String,
    baseline: String,
    current: String,
    change: String,
}

/// The failures of `insight`, grouped by kind, each linked to its cell.
pub(super) fn why_failed(failures: &[Failure]) -> WhyFailed {
    let mut why = WhyFailed {
        count: insight::failure_count(failures),
        fail_mark: insight::mark(false),
        thresholds: Vec::new(),
        baseline: Vec::new(),
        cells: Vec::new(),
        unexplained: failures.is_empty().then_some(insight::UNEXPLAINED),
    };
    for f in failures {
        let anchor = failure_anchor(f);
        let who = f.who.clone();
        match &f.reason {
            Reason::Threshold {
                expression,
                observed,
                limit,
            } => why.thresholds.push(FailedThreshold {
                anchor,
                who,
                expression: expression.clone(),
                observed: observed.clone(),
                limit: limit.clone(),
            }),
            Reason::Baseline {
                metric,
                baseline,
                current,
                change,
                ..
            } => why.baseline.push(FailedCheck {
                anchor,
                who,
                metric: metric.clone(),
                baseline: baseline.clone(),
                current: current.clone(),
                change: change.clone(),
            }),
            Reason::Cell { why: text } => why.cells.push(FailedCell {
                anchor,
                who,
                why: text.clone(),
                accept: None,
            }),
            Reason::Errors { text, hint } => why.cells.push(FailedCell {
                anchor,
                who,
                why: text.clone(),
                accept: Some(hint),
            }),
        }
    }
    why
}

/// The row of a failure's cell, or its scenario's section when this run lacks the cell.
pub(super) fn failure_anchor(f: &Failure) -> String {
    f.cell
        .map_or_else(|| anchor(f.scenario), |c| cell_anchor(f.scenario, c))
}

pub(super) fn baseline_view<'a>(s: &Summary, b: &'a BaselineReport) -> BaselineView<'a> {
    BaselineView {
        file: &b.file,
        run_id: &b.run_id,
        started_at: b.started_at.to_string(),
        head: insight::baseline_head(b),
        earlier: b.runs.len().saturating_sub(1),
        failed: b
            .checks
            .iter()
            .filter(|c| c.outcome != Outcome::Unchanged)
            .map(|c: &BaselineCheck| {
                let (scenario, cell, who) = insight::locate(s, c);
                // A scenario this run lacks has nowhere to link to.
                let known = s
                    .scenarios
                    .get(scenario)
                    .is_some_and(|x| x.name == c.scenario);
                let anchor = match (known, cell) {
                    (false, _) => String::new(),
                    (true, None) => anchor(scenario),
                    (true, Some(ci)) => cell_anchor(scenario, ci),
                };
                let evidence = insight::evidence_words(c);
                let noise = (!evidence.is_empty()).then_some(evidence);
                let (result, mark) = match c.outcome {
                    Outcome::Regressed => ("failed", "✘ regressed".to_string()),
                    Outcome::Improved => ("passed", "✔ improved".to_string()),
                    _ => ("noise", "? inconclusive".to_string()),
                };
                BaselineRow {
                    anchor,
                    result,
                    mark,
                    noise,
                    cell: who,
                    metric: c.metric.clone(),
                    baseline: baseline_value(&c.metric, c.baseline),
                    current: baseline_value(&c.metric, c.current),
                    change: c
                        .change
                        .map_or_else(|| "-".into(), |x| format!("{:+.1}%", x * 100.0)),
                }
            })
            .collect(),
    }
}
