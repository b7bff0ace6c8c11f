//! The gate stage: a summary (plus the plan's thresholds and an optional baseline) in, the verdict
//! out.
//!
//! Thresholds are checked on every cell they apply to and their results stored in the summary; a
//! baseline comparison is stored beside them. The verdict alone decides the exit code: a run
//! stopped by a signal is `interrupted`; a failed threshold, a regression against the baseline, or
//! a cell that lost part of its work (a dead worker) make it `failed`. Must not do I/O.

pub mod baseline;

use crate::plan::threshold::{Metric, Phase, Stat};
use crate::plan::{BaselineSettings, Plan, Threshold};
use crate::stats::{CellSummary, Summary, ThresholdResult, Verdict};
use crate::units;

/// Exit codes are API, documented in the README.
pub mod exit {
    /// The run passed every gate.
    pub const PASSED: u8 = 0;
    /// A gate failed: a threshold, a baseline comparison, or an incomplete cell.
    pub const GATE_FAILED: u8 = 1;
    /// The plan or the command line is invalid; nothing was sent.
    pub const INVALID: u8 = 2;
    /// The run could not be carried out (output folder, built-in server, runtime).
    pub const RUN_FAILED: u8 = 3;
    /// Interrupted by Ctrl-C or SIGTERM; partial results were written and marked so.
    pub const INTERRUPTED: u8 = 130;
}

/// An earlier run to compare with.
pub struct Baseline<'a> {
    pub summary: &'a Summary,
    pub file: &'a std::path::Path,
    pub settings: BaselineSettings,
}

/// Checks the plan's thresholds and the baseline, and stores results and verdict in the summary.
pub fn evaluate(plan: &Plan, summary: &mut Summary, baseline: Option<Baseline>) -> Verdict {
    for s in &mut summary.scenarios {
        let Some(planned) = plan.scenarios.iter().find(|p| p.name == s.name) else {
            continue;
        };
        for c in &mut s.cells {
            c.thresholds = planned
                .thresholds
                .iter()
                .filter(|t| t.applies_to().is_none_or(|m| m == c.model))
                .map(|t| check(t, c))
                .collect();
        }
    }
    summary.baseline = baseline.map(|b| baseline::compare(summary, b.summary, b.file, b.settings));
    decide(summary)
}

/// The verdict from what the summary already holds (also used when re-rendering saved results).
pub fn decide(summary: &mut Summary) -> Verdict {
    let cells = || summary.scenarios.iter().flat_map(|s| &s.cells);
    let failed = cells().any(|c| !c.complete || c.thresholds.iter().any(|t| !t.passed))
        || summary.baseline.as_ref().is_some_and(|b| !b.passed);
    let verdict = if summary.verdict == Verdict::Interrupted {
        Verdict::Interrupted
    } else if failed {
        Verdict::Failed
    } else {
        Verdict::Passed
    };
    summary.verdict = verdict;
    verdict
}

fn check(t: &Threshold, c: &CellSummary) -> ThresholdResult {
    let l = match t.phase {
        None => Some(&c.latency_us),
        Some(p) => c.connections.as_ref().map(|cs| match p {
            Phase::Dns => &cs.dns_us,
            Phase::Connect => &cs.connect_us,
            Phase::Tls => &cs.tls_us,
            Phase::Ttfb => &cs.ttfb_us,
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
            }),
            "us",
        ),
        (Metric::ErrorRate, _) => (Some(c.error_rate), "fraction"),
        (Metric::Throughput, _) => (Some(c.throughput_per_s), "per_s"),
        (Metric::Speedup(_), _) => (c.speedup, "ratio"),
    };
    // A cell that measured nothing cannot pass a threshold.
    let observed = observed.filter(|_| c.operations > 0);
    let text = |v: f64| match unit {
        "us" => units::micros(v.round() as u64),
        "fraction" => units::percent(v),
        "per_s" => format!("{}/s", units::number(v)),
        _ => units::speedup(Some(v)),
    };
    let observed_text = match (observed, t.metric) {
        (Some(v), _) => text(v),
        (None, _) if c.operations == 0 => "no operations were measured".into(),
        (None, Metric::Latency(_)) => match t.phase {
            Some(p) => format!("no {} phase was measured", p.as_str()),
            None => "no latency was measured".into(),
        },
        (None, _) => "no sequential cell to compare with".into(),
    };
    ThresholdResult {
        expression: t.text.clone(),
        passed: observed.is_some_and(|v| t.op.holds(v, t.limit)),
        observed,
        limit: t.limit,
        unit: unit.into(),
        observed_text,
    }
}

/// The verdict of several runs together: interrupted beats failed beats passed.
pub fn worst(a: Verdict, b: Verdict) -> Verdict {
    let rank = |v: Verdict| match v {
        Verdict::Passed => 0,
        Verdict::Failed => 1,
        Verdict::Interrupted => 2,
    };
    if rank(b) > rank(a) { b } else { a }
}

pub fn exit_code(v: Verdict) -> u8 {
    match v {
        Verdict::Passed => exit::PASSED,
        Verdict::Failed => exit::GATE_FAILED,
        Verdict::Interrupted => exit::INTERRUPTED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Model;
    use crate::stats::LatencySummary;

    fn cell(model: Model, p99: u64, error_rate: f64, speedup: Option<f64>) -> CellSummary {
        CellSummary {
            model,
            concurrency: 4,
            workers: 1,
            operations: 100,
            successes: 100,
            errors: Default::default(),
            status_codes: Default::default(),
            error_rate,
            bytes: 0,
            wall_seconds: 1.0,
            throughput_per_s: 100.0,
            latency_us: LatencySummary {
                count: 100,
                p99,
                ..LatencySummary::default()
            },
            latency_out_of_range: 0,
            cpu_seconds: 0.1,
            cores_busy: 0.1,
            peak_rss_bytes: 0,
            speedup,
            complete: true,
            start_offset_seconds: 0.0,
            notes: vec![],
            thresholds: vec![],
            timeline: vec![],
            histogram: String::new(),
            open: None,
            connections: None,
            error_messages: Default::default(),
            requests: Vec::new(),
            think_us: None,
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
}
