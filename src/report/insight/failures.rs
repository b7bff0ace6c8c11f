//! Why a run failed: every failed threshold, baseline check and failing cell, with where it is.
//!
//! Input: a [`Summary`]. Output: [`Failure`]s in the order every page lists them (thresholds,
//! then baseline checks, then cells). Read from what the summary records, never from the plan.
//! Pure: no markup, no I/O.

use super::error_groups;
use super::label;
use crate::report::junit::{baseline_failure, baseline_value};
use crate::stats::{BaselineCheck, CellSummary, Summary, ThresholdResult};
use crate::units;

/// One reason a run failed, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The index of the scenario in the summary.
    pub scenario: usize,
    /// The index of the cell in its scenario; `None` for a baseline check of a cell this run
    /// does not have.
    pub cell: Option<usize>,
    /// `scenario · cell`.
    pub who: String,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// A threshold that did not hold, with what was observed and the limit, in its unit.
    Threshold {
        expression: String,
        observed: String,
        limit: String,
    },
    /// A metric that got worse than the baseline's tolerance allows.
    Baseline {
        metric: String,
        baseline: String,
        current: String,
        change: String,
        /// The whole check in words: `p99 regressed: 52.0ms against 40.0ms in the baseline…`.
        text: String,
    },
    /// A cell that fails the run by itself: it lost a worker or was cut short.
    Cell { why: String },
    /// A cell with errors that no `error_rate` threshold accepts, failed by the default rule
    /// (a threshold result whose unit is `errors`).
    Errors {
        /// `errors: 10 of 10 operations failed (100%), and no error_rate threshold accepts
        /// them (first: status 404)`.
        text: String,
        /// The threshold that would accept some: [`ACCEPT_SOME`].
        hint: &'static str,
    },
}

/// The threshold a plan adds to accept some errors, as the hint after a cell failed by them.
pub const ACCEPT_SOME: &str = "error_rate < 5%";

/// True for the result of the default rule that fails a cell with errors no `error_rate`
/// threshold covers (recorded by the gate with the unit `errors`).
pub fn is_error_rule(t: &ThresholdResult) -> bool {
    t.unit == "errors"
}

/// What the default error rule found in a cell: `10 of 10 operations failed (100%)`.
pub fn errors_observed(c: &CellSummary) -> String {
    format!(
        "{} of {} operations failed ({})",
        c.errors.values().fold(0u64, |a, n| a.saturating_add(*n)),
        c.operations,
        units::percent(c.error_rate)
    )
}

/// The hint after a cell failed by its errors, in words: where the threshold goes.
pub fn accept_some_hint() -> String {
    format!("to accept some, add `{ACCEPT_SOME}` to the scenario's thresholds")
}

impl Failure {
    /// The reason in one line of plain words (`who: what`), for the console.
    pub fn sentence(&self) -> String {
        match &self.reason {
            Reason::Threshold {
                expression,
                observed,
                limit,
            } => format!(
                "{}: threshold {expression}: observed {observed}, limit {limit}",
                self.who
            ),
            Reason::Baseline { text, .. } => format!("{}: {text}", self.who),
            Reason::Cell { why } => format!("{}: {why}", self.who),
            Reason::Errors { text, .. } => {
                format!("{}: {text}; {}", self.who, accept_some_hint())
            }
        }
    }
}

/// A threshold's limit in its unit, as its observed value is written.
pub fn limit_text(t: &ThresholdResult) -> String {
    let v = t.limit;
    match t.unit.as_str() {
        "us" if v.is_finite() && v >= 0.0 => units::micros(v.round() as u64),
        "fraction" => units::percent(v),
        "per_s" => format!("{}/s", units::number(v)),
        "ratio" => units::speedup(Some(v)),
        "fraction_per_h" => format!("{}/h", units::percent(v)),
        _ => units::number(v),
    }
}

/// Why a cell fails the run by itself, if it does: it lost a worker or was cut short.
fn incomplete(c: &CellSummary) -> Option<String> {
    if c.complete {
        return None;
    }
    Some(if c.notes.is_empty() {
        "did not complete".into()
    } else {
        format!("did not complete: {}", c.notes.join("; "))
    })
}

/// `errors: 2 of 4 operations failed (50.0%), and no error_rate threshold accepts them (first:
/// status 503 on `GET /orders`)`. A message that starts with its category's word is not given
/// it twice; the request is named when the cell sends more than one.
fn errors_failure(c: &CellSummary) -> String {
    let first = error_groups(c)
        .into_iter()
        .find_map(|g| {
            let m = g.messages.first()?;
            let message = if m.starts_with(g.category.as_str()) {
                m.clone()
            } else {
                format!("{}: {m}", g.category)
            };
            let on = c
                .requests
                .iter()
                .find(|r| {
                    r.error_messages
                        .get(&g.category)
                        .is_some_and(|l| l.contains(m))
                })
                .filter(|_| c.requests.len() > 1)
                .map(|r| format!(" on `{}`", r.name))
                .unwrap_or_default();
            Some(format!(" (first: {message}{on})"))
        })
        .unwrap_or_default();
    format!(
        "errors: {}, and no error_rate threshold accepts them{first}",
        errors_observed(c)
    )
}

/// Why the run failed: every failed threshold, then every failed baseline check, then every
/// cell that fails by itself (lost a worker or cut short; errors no `error_rate` threshold
/// accepts, as the gate's default rule recorded), each with where it is. Read from what the
/// summary records (results, `complete`, notes, errors), never from the plan, and only what
/// the gate counted: errors fail a cell where the gate recorded the default rule, nowhere
/// else. Empty for a run with nothing failed; shown when the verdict is `failed`.
/// A threshold that did not hold, of cell `cell` of scenario `scenario` (`who` names it).
fn threshold_failure(
    scenario: usize,
    cell: Option<usize>,
    who: String,
    t: &crate::stats::ThresholdResult,
) -> Failure {
    Failure {
        scenario,
        cell,
        who,
        reason: Reason::Threshold {
            expression: t.expression.clone(),
            observed: if t.observed_text.is_empty() {
                t.observed.map_or_else(|| "-".into(), units::number)
            } else {
                t.observed_text.clone()
            },
            limit: limit_text(t),
        },
    }
}

pub fn failures(s: &Summary) -> Vec<Failure> {
    let mut thresholds = Vec::new();
    let mut cells = Vec::new();
    for (si, sc) in s.scenarios.iter().enumerate() {
        for (ci, c) in sc.cells.iter().enumerate() {
            let who = format!("{} · {}", sc.name, label(c));
            for t in c
                .thresholds
                .iter()
                .filter(|t| !t.passed && !is_error_rule(t))
            {
                thresholds.push(threshold_failure(si, Some(ci), who.clone(), t));
            }
            if let Some(why) = incomplete(c) {
                cells.push(Failure {
                    scenario: si,
                    cell: Some(ci),
                    who: who.clone(),
                    reason: Reason::Cell { why },
                });
            }
            if c.thresholds.iter().any(|t| !t.passed && is_error_rule(t)) {
                cells.push(Failure {
                    scenario: si,
                    cell: Some(ci),
                    who,
                    reason: Reason::Errors {
                        text: errors_failure(c),
                        hint: ACCEPT_SOME,
                    },
                });
            }
        }
    }
    // A group's thresholds, on its combined cells; shown with its first member.
    for g in &s.groups {
        let si = s
            .scenarios
            .iter()
            .position(|sc| g.members.first() == Some(&sc.name))
            .unwrap_or(0);
        for c in &g.cells {
            for t in c.thresholds.iter().filter(|t| !t.passed) {
                let who = format!("group {} · {}", g.name, label(c));
                thresholds.push(threshold_failure(si, None, who, t));
            }
        }
    }
    let mut out = thresholds;
    if let Some(b) = &s.baseline {
        for k in b.checks.iter().filter(|k| !k.passed) {
            let (scenario, cell, who) = locate(s, k);
            out.push(Failure {
                scenario,
                cell,
                who,
                reason: Reason::Baseline {
                    metric: k.metric.clone(),
                    baseline: baseline_value(&k.metric, k.baseline),
                    current: baseline_value(&k.metric, k.current),
                    change: k
                        .change
                        .filter(|x| x.is_finite())
                        .map_or_else(|| "-".into(), |x| format!("{:+.1}%", x * 100.0)),
                    text: baseline_failure(k, b.tolerance),
                },
            });
        }
    }
    out.extend(cells);
    out
}

/// Where a baseline check's cell is in this run: (scenario index, cell index, `scenario · cell`
/// by the cell's one label). A cell this run lacks points at its scenario (or the first), by
/// the label the baseline knew it by.
pub fn locate(s: &Summary, k: &BaselineCheck) -> (usize, Option<usize>, String) {
    let scenario = s.scenarios.iter().position(|sc| sc.name == k.scenario);
    let cell = scenario.and_then(|si| {
        s.scenarios[si]
            .cells
            .iter()
            .position(|c| c.model == k.model && c.concurrency == k.concurrency)
    });
    let who = match (scenario, cell) {
        (Some(si), Some(ci)) => format!("{} · {}", k.scenario, label(&s.scenarios[si].cells[ci])),
        _ => format!("{} · {}", k.scenario, k.label()),
    };
    (scenario.unwrap_or(0), cell, who)
}

/// How many of each kind of failure, in words: `2 thresholds, 1 baseline check and 1 cell`.
pub fn failure_count(f: &[Failure]) -> String {
    let n = |want: fn(&Reason) -> bool| f.iter().filter(|x| want(&x.reason)).count();
    let parts: Vec<String> = [
        (n(|r| matches!(r, Reason::Threshold { .. })), "threshold"),
        (
            n(|r| matches!(r, Reason::Baseline { .. })),
            "baseline check",
        ),
        (
            n(|r| matches!(r, Reason::Cell { .. } | Reason::Errors { .. })),
            "cell",
        ),
    ]
    .into_iter()
    .filter(|(k, _)| *k > 0)
    .map(|(k, word)| crate::units::count(k, word))
    .collect();
    match parts.as_slice() {
        [] => "nothing".into(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Said when the verdict is `failed` but [`failures`] found no reason in the summary.
pub const UNEXPLAINED: &str = "The verdict is failed, but this summary names no failed threshold, baseline check or failing cell: see each scenario's cells and notes.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::insight::mark;
    use crate::report::sample::{error_rule, healthy, hostile, sample};

    /// A healthy run without a baseline: nothing fails until a case spoils it.
    fn clean() -> Summary {
        let mut s = healthy();
        s.baseline = None;
        s
    }

    #[test]
    fn the_first_error_names_its_request_when_there_are_several() {
        let s = sample();
        let with_errors = s.scenarios[0]
            .cells
            .iter()
            .find(|c| c.requests.len() > 1 && c.requests[0].errors.values().any(|n| *n > 0))
            .expect("a flow cell with errors on its first step");
        let mut c = with_errors.clone();
        c.error_messages
            .insert("status".into(), vec!["status 401".into()]);
        assert!(
            errors_failure(&c).ends_with("(first: status 401 on `login`)"),
            "{}",
            errors_failure(&c)
        );
        // One request: the cell is the request, nothing to add.
        c.requests.truncate(1);
        assert!(errors_failure(&c).ends_with("(first: status 401)"));
    }

    #[test]
    fn failures_say_what_failed_where_thresholds_first() {
        type Spoil = fn(&mut Summary);
        let uncovered: Spoil = |s| {
            let c = &mut s.scenarios[1].cells[2];
            c.errors.insert("status".into(), 2);
            c.operations = 10;
            c.error_rate = 0.2;
            c.error_messages.insert(
                "status".into(),
                vec!["status 503".into(), "status 502".into()],
            );
            // As the gate records it when no error_rate threshold covers the cell.
            c.thresholds.push(error_rule(c));
        };
        /// (scenario, cell, the failure in words).
        type Want = &'static [(usize, Option<usize>, &'static str)];
        let table: [(&str, Spoil, Want); 8] = [
            ("nothing", |_| {}, &[]),
            (
                "a threshold",
                |s| s.scenarios[0].cells[1].thresholds[0].passed = false,
                &[(
                    0,
                    Some(1),
                    "sample · async c=2 w=1: threshold p99 < 100ms: observed 52.0ms, limit 100.0ms",
                )],
            ),
            (
                "a lost worker",
                |s| {
                    let c = &mut s.scenarios[1].cells[0];
                    c.complete = false;
                    c.notes = vec!["worker 2 exited".into()];
                },
                &[(
                    1,
                    Some(0),
                    "sample · sequential: did not complete: worker 2 exited",
                )],
            ),
            (
                "errors no threshold accepts: the default rule, as what it is",
                uncovered,
                &[(
                    1,
                    Some(2),
                    "sample · async c=4 w=1: errors: 2 of 10 operations failed (20.0%), and no error_rate threshold accepts them (first: status 503); to accept some, add `error_rate < 5%` to the scenario's thresholds",
                )],
            ),
            (
                // The gate recorded no rule (a threshold covered them): a health warning only.
                "errors the gate did not fail the cell on",
                |s| {
                    let c = &mut s.scenarios[1].cells[2];
                    c.errors.insert("status".into(), 2);
                },
                &[],
            ),
            (
                "errors an error_rate threshold accepts",
                |s| {
                    let c = &mut s.scenarios[1].cells[2];
                    c.errors.insert("status".into(), 2);
                    c.thresholds.push(ThresholdResult {
                        expression: "error_rate < 50%".into(),
                        observed: Some(0.2),
                        passed: true,
                        limit: 0.5,
                        unit: "fraction".into(),
                        observed_text: "20.0%".into(),
                        windows: None,
                    });
                },
                &[],
            ),
            (
                "a baseline check, named by the cell's one label",
                |s| s.baseline = sample().baseline,
                &[(
                    0,
                    Some(1),
                    "sample · async c=2 w=1: p99 regressed: 52.0ms against 40.0ms in the baseline (+30.0%), tolerance 10.0%",
                )],
            ),
            (
                "all at once, thresholds first and cells last",
                |s| {
                    s.baseline = sample().baseline;
                    s.scenarios[1].cells[0].complete = false;
                    s.scenarios[1].cells[1].thresholds[0].passed = false;
                },
                &[
                    (
                        1,
                        Some(1),
                        "sample · async c=2 w=1: threshold p99 < 100ms: observed 52.0ms, limit 100.0ms",
                    ),
                    (
                        0,
                        Some(1),
                        "sample · async c=2 w=1: p99 regressed: 52.0ms against 40.0ms in the baseline (+30.0%), tolerance 10.0%",
                    ),
                    (1, Some(0), "sample · sequential: did not complete"),
                ],
            ),
        ];
        for (case, spoil, want) in table {
            let mut s = clean();
            spoil(&mut s);
            let got: Vec<(usize, Option<usize>, String)> = failures(&s)
                .iter()
                .map(|f| (f.scenario, f.cell, f.sentence()))
                .collect();
            let want: Vec<(usize, Option<usize>, String)> = want
                .iter()
                .map(|(a, b, c)| (*a, *b, (*c).to_string()))
                .collect();
            assert_eq!(got, want, "{case}");
        }
        // A cell cut short and failed by its errors: both, the rule never as a threshold.
        let mut s = clean();
        uncovered(&mut s);
        s.scenarios[1].cells[2].complete = false;
        let f = failures(&s);
        assert!(
            matches!(
                f.as_slice(),
                [
                    Failure {
                        reason: Reason::Cell { .. },
                        ..
                    },
                    Failure {
                        reason: Reason::Errors {
                            hint: ACCEPT_SOME,
                            ..
                        },
                        ..
                    }
                ]
            ),
            "{f:?}"
        );
        assert_eq!(failure_count(&f), "2 cells");
        // A baseline check of a cell this run lacks points at its scenario, by its old name.
        let mut s = clean();
        s.baseline = sample().baseline;
        if let Some(b) = &mut s.baseline {
            b.checks[0].concurrency = 64;
        }
        let f = &failures(&s)[0];
        assert_eq!((f.scenario, f.cell), (0, None));
        assert!(f.who.starts_with("sample · async c=64"), "{}", f.who);
        // Odd numbers still give words.
        let _ = failures(&hostile());
    }

    #[test]
    fn failure_counts_and_limits_read_as_words() {
        let f = |reason: Reason| Failure {
            scenario: 0,
            cell: None,
            who: String::new(),
            reason,
        };
        let t = || {
            f(Reason::Threshold {
                expression: String::new(),
                observed: String::new(),
                limit: String::new(),
            })
        };
        let c = || f(Reason::Cell { why: String::new() });
        let b = || {
            f(Reason::Baseline {
                metric: String::new(),
                baseline: String::new(),
                current: String::new(),
                change: String::new(),
                text: String::new(),
            })
        };
        for (list, want) in [
            (vec![], "nothing"),
            (vec![t()], "1 threshold"),
            (vec![t(), t(), c()], "2 thresholds and 1 cell"),
            (
                vec![c(), b(), t()],
                "1 threshold, 1 baseline check and 1 cell",
            ),
        ] {
            assert_eq!(failure_count(&list), want);
        }
        let limit = |limit: f64, unit: &str| {
            limit_text(&ThresholdResult {
                expression: String::new(),
                observed: None,
                passed: false,
                limit,
                unit: unit.into(),
                observed_text: String::new(),
                windows: None,
            })
        };
        for (v, unit, want) in [
            (250_000.0, "us", "250.0ms"),
            (0.01, "fraction", "1.00%"),
            (100.0, "per_s", "100/s"),
            (1.5, "ratio", "1.50×"),
            (f64::NAN, "us", "-"),
            (-3.0, "us", "-3.00"),
            (7.0, "furlongs", "7.00"),
        ] {
            assert_eq!(limit(v, unit), want, "{v} {unit}");
        }
        assert_eq!((mark(true), mark(false)), ("✔ passed", "✘ failed"));
    }
}
