//! The gate stage: a summary (plus the plan's thresholds and an optional baseline) in, the verdict
//! out.
//!
//! Thresholds are checked on every cell they apply to and their results stored in the summary; a
//! baseline comparison is stored beside them. Errors fail by default: a cell with any error that
//! no `error_rate` threshold covers gets a failed entry of its own among its threshold results
//! (unit `errors`), so that every output names the cell and says why. An `error_rate` threshold
//! of one category (`error_rate{category=protocol} < 1%`) covers that category's errors only. The
//! verdict alone decides the exit code: a run stopped by a signal is `interrupted`; a run that did
//! not measure what it asked (`validity.rs`: arrivals dropped, the generator or the machine limited
//! it, a CPU comparison under a drifting CPU) is `invalid`; a failed threshold (the default error
//! rule included), a regression against the baseline, or a cell that lost part of its work (a dead
//! worker) make it `failed`. Precedence: interrupted > invalid > failed > passed: an invalid run's
//! numbers are not to be trusted, so its gates decide nothing (their results are still listed).
//! Must not do I/O.

pub mod baseline;
pub mod noise;
pub mod validity;
pub mod window;

use crate::plan::threshold::{Metric, Phase, Stat};
use crate::plan::{BaselineSettings, Plan, Threshold};
use crate::stats::{CellSummary, Summary, ThresholdResult, Verdict, WindowOutcome};
use crate::units;

/// Exit codes are API, documented in the README.
pub mod exit {
    /// The run passed every gate.
    pub const PASSED: u8 = 0;
    /// A gate failed: a threshold, a baseline comparison, an incomplete cell, or errors in a cell
    /// that no `error_rate` threshold covers.
    pub const GATE_FAILED: u8 = 1;
    /// The plan or the command line is invalid; nothing was sent.
    pub const INVALID: u8 = 2;
    /// The run could not be carried out (output folder, built-in server, runtime).
    pub const RUN_FAILED: u8 = 3;
    /// The run is invalid: it did not measure what it asked (arrivals dropped, the generator or
    /// the machine limited it, a CPU comparison under a drifting CPU). Wins over a failed gate.
    pub const RUN_INVALID: u8 = 4;
    /// Interrupted by Ctrl-C or SIGTERM; partial results were written and marked so.
    pub const INTERRUPTED: u8 = 130;
}

/// The earlier runs to compare with: one summary.json, or a plan's history.
pub struct Baseline<'a> {
    pub runs: Vec<baseline::Run<'a>>,
    pub settings: BaselineSettings,
}

/// Checks the plan's thresholds and the baseline, and stores results and verdict in the summary.
pub fn evaluate(plan: &Plan, summary: &mut Summary, baseline: Option<Baseline>) -> Verdict {
    for s in &mut summary.scenarios {
        let Some(planned) = plan.scenarios.iter().find(|p| p.name == s.name) else {
            continue;
        };
        for c in &mut s.cells {
            let applying = applying(&planned.thresholds, c);
            c.thresholds = checked(&applying, c);
            let rates = || applying.iter().filter(|t| t.metric == Metric::ErrorRate);
            if !rates().any(|t| t.category.is_none()) {
                let accepted: Vec<&str> = rates()
                    .filter_map(|t| t.category.map(|k| k.as_str()))
                    .collect();
                c.thresholds.extend(errors_by_default(c, &accepted));
            }
        }
    }
    // A group's own thresholds, on its combined cells; errors already fail (or not) each member
    // by the default rule, so a group has only the thresholds it names.
    for g in &mut summary.groups {
        let Some(planned) = plan.groups.iter().find(|p| p.name == g.name) else {
            continue;
        };
        for c in &mut g.cells {
            c.thresholds = checked(&applying(&planned.thresholds, c), c);
        }
    }
    summary.baseline = baseline.map(|b| baseline::compare(summary, &b.runs, b.settings));
    summary.validity = validity::check(summary, &|name| {
        plan.scenarios
            .iter()
            .find(|p| p.name == name)
            .map_or(plan.validity, |p| p.validity)
    });
    decide(summary)
}

/// The thresholds that apply to cell `c`: those of every model and those of its own.
fn applying<'t>(thresholds: &'t [Threshold], c: &CellSummary) -> Vec<&'t Threshold> {
    thresholds
        .iter()
        .filter(|t| t.applies_to().is_none_or(|m| m == c.model))
        .collect()
}

/// Each threshold checked on cell `c`: over its windows when it names a time (`over 1m`,
/// `drift`), else on the whole cell.
fn checked(thresholds: &[&Threshold], c: &CellSummary) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|t| {
            if window::is_timed(t) {
                window::check(t, c)
            } else {
                check(t, c)
            }
        })
        .collect()
}

/// The verdict from what the summary already holds (also used when re-rendering saved results).
pub fn decide(summary: &mut Summary) -> Verdict {
    let cells = || {
        summary
            .scenarios
            .iter()
            .flat_map(|s| &s.cells)
            .chain(summary.groups.iter().flat_map(|g| &g.cells))
    };
    let failed = cells().any(|c| !c.complete || c.thresholds.iter().any(|t| !t.passed))
        || summary.baseline.as_ref().is_some_and(|b| !b.passed);
    let verdict = if summary.verdict == Verdict::Interrupted {
        Verdict::Interrupted
    } else if validity::invalidates(&summary.validity) {
        Verdict::Invalid
    } else if failed {
        Verdict::Failed
    } else {
        Verdict::Passed
    };
    summary.verdict = verdict;
    verdict
}

fn check(t: &Threshold, c: &CellSummary) -> ThresholdResult {
    // A request's own figures, when the threshold names one.
    let request = t
        .request
        .as_ref()
        .map(|name| c.requests.iter().find(|r| r.name == *name));
    if let Some(None) = request {
        return result(
            t,
            None,
            "us",
            "the cell has no request of that name".into(),
            None,
        );
    }
    let request = request.flatten();
    let l = match t.phase {
        None => Some(request.map_or(&c.latency_us, |r| &r.latency_us)),
        Some(p) => c.connections.as_ref().map(|cs| match p {
            Phase::Dns => &cs.dns_us,
            Phase::Connect => &cs.connect_us,
            Phase::Tls => &cs.tls_us,
            Phase::Ttfb => &cs.ttfb_us,
            Phase::FirstEvent => &cs.first_event_us,
            Phase::EventGap => &cs.event_gap_us,
            Phase::Upgrade => &cs.upgrade_us,
        }),
    };
    // A phase that never happened (no TLS on http://, no DNS for an address) has no figure.
    let l = l.filter(|l| l.count > 0 || t.phase.is_none());
    let (observed, unit) = match (t.metric, l) {
        (Metric::Latency(_), None) => (None, "us"),
        (Metric::Latency(stat), Some(l)) => (
            Some(match stat {
                Stat::Min => l.min as f64,
                Stat::Mean => l.mean,
                Stat::P50 => l.p50 as f64,
                Stat::P90 => l.p90 as f64,
                Stat::P99 => l.p99 as f64,
                Stat::P999 => l.p999 as f64,
                Stat::Max => l.max as f64,
                Stat::Quantile(ppm) => {
                    let label = crate::plan::threshold::percentile_label(ppm);
                    match l.percentiles.get(&label) {
                        Some(v) => *v as f64,
                        None => {
                            // A summary saved before the plan named it: its histogram has it.
                            let mut filled = l.clone();
                            let histogram = request.map_or(&c.histogram, |r| &r.histogram);
                            crate::stats::fill_percentiles(&mut filled, histogram, &[ppm]);
                            match filled.percentiles.get(&label) {
                                Some(v) => *v as f64,
                                None => f64::NAN,
                            }
                        }
                    }
                }
            }),
            "us",
        ),
        (Metric::ErrorRate, _) => (
            Some(match t.category {
                None => request.map_or(c.error_rate, |r| r.error_rate),
                Some(k) => {
                    let (errors, operations) = match request {
                        Some(r) => (&r.errors, r.operations),
                        None => (&c.errors, c.operations),
                    };
                    let n = errors.get(k.as_str()).copied().unwrap_or(0);
                    if operations > 0 {
                        n as f64 / operations as f64
                    } else {
                        0.0
                    }
                }
            }),
            "fraction",
        ),
        (Metric::Throughput, _) => (
            Some(match request {
                Some(r) if c.wall_seconds > 0.0 => r.successes as f64 / c.wall_seconds,
                Some(_) => 0.0,
                None => c.throughput_per_s,
            }),
            "per_s",
        ),
        (Metric::Speedup(_), _) => (c.speedup, "ratio"),
        // Checked by `window::check`; never reaches here.
        (Metric::Drift(_), _) => (None, "fraction_per_h"),
        (Metric::Capacity, _) => (c.capacity.as_ref().and_then(|x| x.capacity_per_s), "per_s"),
    };
    // A cell that measured nothing cannot pass a threshold.
    let observed = observed.filter(|v| c.operations > 0 && !v.is_nan());
    let text = |v: f64| match unit {
        "us" => units::micros(v.round() as u64),
        "fraction" => units::percent(v),
        "per_s" => format!("{}/s", units::number(v)),
        _ => units::speedup(Some(v)),
    };
    let observed_text = match (observed, t.metric) {
        (Some(v), _) => text(v),
        (None, _) if c.operations == 0 => "no operations were measured".into(),
        (None, Metric::Capacity) => match &c.capacity {
            Some(x) => format!("no capacity: the search stopped {}", x.stopped.as_str()),
            None => "not a capacity search: `capacity` needs a `capacity:` load".into(),
        },
        (None, Metric::Latency(_)) => match t.phase {
            Some(p) => format!("no {} phase was measured", p.as_str()),
            None => "no latency was measured".into(),
        },
        (None, _) if c.successes == 0 => "no operation succeeded: no speedup".into(),
        (None, _) => "no sequential cell with successes to compare with".into(),
    };
    result(t, observed, unit, observed_text, None)
}

/// A threshold's result: it passes when its observed value holds against the limit (nothing
/// observed never passes). `windows` only for a windowed threshold (`window.rs`).
fn result(
    t: &Threshold,
    observed: Option<f64>,
    unit: &str,
    observed_text: String,
    windows: Option<WindowOutcome>,
) -> ThresholdResult {
    ThresholdResult {
        expression: t.text.clone(),
        passed: observed.is_some_and(|v| t.op.holds(v, t.limit)),
        observed,
        limit: t.limit,
        unit: unit.into(),
        observed_text,
        windows,
    }
}

/// What a failed default error rule says it checked.
pub const DEFAULT_ERROR_RULE: &str =
    "no errors (the rule when no `error_rate` threshold covers the cell)";

/// The default rule for a cell no `error_rate` threshold covers: any error fails it, but those of
/// the `accepted` categories (which `error_rate{category=…}` thresholds cover). Recorded only
/// when it fails, as a threshold result whose unit is `errors` (observed: the count, limit 0).
fn errors_by_default(c: &CellSummary, accepted: &[&str]) -> Option<ThresholdResult> {
    let counted = || {
        c.errors
            .iter()
            .filter(|(k, n)| **n > 0 && !accepted.contains(&k.as_str()))
    };
    let errors: u64 = counted().map(|(_, n)| n).sum();
    if errors == 0 {
        return None;
    }
    let mut kinds: Vec<(&String, &u64)> = counted().collect();
    kinds.sort_by_key(|(k, _)| crate::stats::category_rank(k));
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    Some(ThresholdResult {
        expression: DEFAULT_ERROR_RULE.into(),
        observed: Some(errors as f64),
        passed: false,
        limit: 0.0,
        unit: "errors".into(),
        observed_text: format!(
            "{errors} of {} operations failed ({}): {}; add e.g. `error_rate < 5%` to accept some",
            c.operations,
            units::percent(c.error_rate),
            kinds.join(", ")
        ),
        windows: None,
    })
}

/// The verdict of several runs together: interrupted beats invalid beats failed beats passed.
pub fn worst(a: Verdict, b: Verdict) -> Verdict {
    let rank = |v: Verdict| match v {
        Verdict::Passed => 0,
        Verdict::Failed => 1,
        Verdict::Invalid => 2,
        Verdict::Interrupted => 3,
    };
    if rank(b) > rank(a) { b } else { a }
}

pub fn exit_code(v: Verdict) -> u8 {
    match v {
        Verdict::Passed => exit::PASSED,
        Verdict::Failed => exit::GATE_FAILED,
        Verdict::Invalid => exit::RUN_INVALID,
        Verdict::Interrupted => exit::INTERRUPTED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Model;
    use crate::stats::{CapacityStop, LatencySummary};

    #[test]
    fn capacity_thresholds_read_the_search() {
        let search = |capacity: Option<f64>, stopped| crate::stats::CapacitySummary {
            slo: vec!["p99 < 50ms".into()],
            capacity_per_s: capacity,
            good_per_s: capacity,
            bad_per_s: None,
            from_per_s: 100.0,
            to_per_s: 1000.0,
            precision: 0.05,
            stopped,
            probes: Vec::new(),
            shown_probe: 0,
        };
        let t = crate::plan::threshold::parse("capacity > 300/s").expect("parses");
        let mut c = CellSummary {
            operations: 100,
            ..CellSummary::empty(Model::Async, 32, 1)
        };
        let table = [
            (
                Some(search(Some(400.0), CapacityStop::SloBroken)),
                true,
                Some(400.0),
            ),
            (
                Some(search(Some(250.0), CapacityStop::SloBroken)),
                false,
                Some(250.0),
            ),
            (
                Some(search(None, CapacityStop::GeneratorLimited)),
                false,
                None,
            ),
            (None, false, None),
        ];
        for (capacity, passed, observed) in table {
            c.capacity = capacity;
            let r = check(&t, &c);
            assert_eq!((r.passed, r.observed), (passed, observed), "{r:?}");
        }
        c.capacity = None;
        assert!(
            check(&t, &c)
                .observed_text
                .contains("not a capacity search")
        );
    }

    fn cell(model: Model, p99: u64, error_rate: f64, speedup: Option<f64>) -> CellSummary {
        CellSummary {
            operations: 100,
            successes: 100,
            error_rate,
            wall_seconds: 1.0,
            throughput_per_s: 100.0,
            attempts_per_s: 0.0,
            latency_us: LatencySummary {
                count: 100,
                p99,
                ..LatencySummary::default()
            },
            cpu_seconds: 0.1,
            cores_busy: 0.1,
            speedup,
            ..CellSummary::empty(model, 4, 1)
        }
    }

    #[test]
    fn thresholds_pass_and_fail_on_observed_values() {
        let t = |s: &str| crate::plan::threshold::parse(s).expect(s);
        let cases = [
            (
                t("p99 < 250ms"),
                cell(Model::Async, 249_999, 0.0, None),
                true,
                "250ms",
            ),
            (
                t("p99 < 250ms"),
                cell(Model::Async, 250_000, 0.0, None),
                false,
                "250ms",
            ),
            (
                t("error_rate < 1%"),
                cell(Model::Async, 0, 0.02, None),
                false,
                "2.00%",
            ),
            (
                t("throughput >= 100/s"),
                cell(Model::Async, 0, 0.0, None),
                true,
                "100/s",
            ),
            (
                t("speedup(async) > 5"),
                cell(Model::Async, 0, 0.0, Some(14.0)),
                true,
                "14.0×",
            ),
            (
                t("speedup(async) > 5"),
                cell(Model::Async, 0, 0.0, None),
                false,
                "no sequential",
            ),
        ];
        for (th, c, pass, shown) in cases {
            let r = check(&th, &c);
            assert_eq!(r.passed, pass, "{}", th.text);
            assert!(
                r.observed_text.contains(shown) || shown == "250ms",
                "{}: {}",
                th.text,
                r.observed_text
            );
        }
        let mut empty = cell(Model::Async, 0, 0.0, None);
        empty.operations = 0;
        let r = check(&t("p99 < 1s"), &empty);
        assert!(!r.passed, "nothing measured is not a pass");
        assert_eq!(r.observed, None);
    }

    /// Errors fail a cell unless an `error_rate` threshold applying to it decides instead.
    #[test]
    fn errors_fail_by_default_unless_an_error_rate_threshold_covers_the_cell() {
        let plan = |thresholds: &str| {
            let text = format!(
                "version: 1\nname: t\nbase: builtin\nscenarios:\n  - name: a\n    targets: [/x]\n    repeat: 1\n    models: [sequential, async]\n    thresholds: [{thresholds}]\n"
            );
            crate::plan::parse(std::path::Path::new("t.yaml"), &text).expect("plan")
        };
        // (thresholds, errors in the async cell, default entry added, verdict)
        let cases = [
            ("", 0, false, Verdict::Passed),
            ("", 3, true, Verdict::Failed),
            ("\"p99 < 1s\"", 3, true, Verdict::Failed),
            ("\"error_rate < 50%\"", 3, false, Verdict::Passed),
            ("\"error_rate < 1%\"", 3, false, Verdict::Failed),
            // A threshold for another model does not cover this cell.
            ("\"error_rate{sequential} < 50%\"", 3, true, Verdict::Failed),
            // A category's threshold covers that category (the errors here are `connect`)...
            (
                "\"error_rate{category=connect} < 50%\"",
                3,
                false,
                Verdict::Passed,
            ),
            (
                "\"error_rate{category=connect} < 1%\"",
                3,
                false,
                Verdict::Failed,
            ),
            // ...and no other.
            (
                "\"error_rate{category=protocol} < 50%\"",
                3,
                true,
                Verdict::Failed,
            ),
        ];
        for (thresholds, errors, default, verdict) in cases {
            let mut c = cell(Model::Async, 1, errors as f64 / 100.0, None);
            c.errors.insert("connect".into(), errors);
            c.successes = 100 - errors;
            let mut summary: Summary = serde_json::from_value(serde_json::json!({
                "schema_version": 1, "plan": {"name": "t", "file": "t.yaml"}, "run_id": "r",
                "started_at": "2026-11-28T16:00:00Z", "finished_at": "2026-11-28T16:00:01Z", "duration_seconds": 1.0,
                "loadplan_version": "0", "host": {"cores": 2, "os": "linux", "arch": "x"},
                "verdict": "passed", "scenarios": [{"name": "a", "kind": "io", "bound": "io",
                "busy_fraction": 0.0, "bound_cell": "", "workload": [], "load": "", "cells": []}]
            }))
            .expect("summary");
            summary.scenarios[0].cells.push(c);
            let got = evaluate(&plan(thresholds), &mut summary, None);
            let entries = &summary.scenarios[0].cells[0].thresholds;
            let rule = entries.iter().find(|t| t.unit == "errors");
            assert_eq!(rule.is_some(), default, "{thresholds}: {entries:?}");
            assert_eq!(got, verdict, "{thresholds} with {errors} errors");
            if let Some(r) = rule {
                assert!(!r.passed);
                assert_eq!(r.expression, DEFAULT_ERROR_RULE);
                assert!(
                    r.observed_text.starts_with("3 of 100 operations failed"),
                    "{}",
                    r.observed_text
                );
                assert!(r.observed_text.contains("3 connect"), "{}", r.observed_text);
            }
        }
    }
}
