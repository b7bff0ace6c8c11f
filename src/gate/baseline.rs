//! The baseline comparison: each cell against the same cell (scenario, model, concurrency) of an
//! earlier run's summary.json.
//!
//! Input: the current summary, the baseline summary and the plan's [`BaselineSettings`]. Output: a
//! [`BaselineReport`] with one check per compared metric and the cells missing on either side.
//! A latency percentile fails when it grew by more than the tolerance *and* by more than the
//! latency floor; throughput fails when it fell by more than the tolerance; errors fail when they
//! appeared (the baseline had none) or their rate grew by more than the tolerance. No I/O here.

use std::path::Path;

use crate::plan::BaselineSettings;
use crate::stats::{BaselineCheck, BaselineReport, CellSummary, Summary};

/// Reads a baseline summary.json; refuses one of another plan.
pub fn load(path: &Path, plan_name: &str) -> Result<Summary, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the baseline {}: {e}", path.display()))?;
    let s: Summary = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not a loadplan summary.json: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    if s.plan.name != plan_name {
        return Err(format!(
            "the baseline {} is a run of plan `{}`, not of `{plan_name}`",
            path.display(),
            s.plan.name
        ));
    }
    Ok(s)
}

fn key(scenario: &str, c: &CellSummary) -> String {
    format!("{scenario} · {}", c.label())
}

fn find<'a>(s: &'a Summary, scenario: &str, c: &CellSummary) -> Option<&'a CellSummary> {
    s.scenarios
        .iter()
        .find(|x| x.name == scenario)?
        .cells
        .iter()
        .find(|b| b.model == c.model && b.concurrency == c.concurrency)
}

pub fn compare(
    current: &Summary,
    baseline: &Summary,
    file: &Path,
    settings: BaselineSettings,
) -> BaselineReport {
    let tol = settings.tolerance;
    let floor_us = crate::units::micros_of(settings.latency_floor);
    let mut checks = Vec::new();
    let mut missing_in_baseline = Vec::new();
    for s in &current.scenarios {
        for c in &s.cells {
            let Some(b) = find(baseline, &s.name, c) else {
                missing_in_baseline.push(key(&s.name, c));
                continue;
            };
            let mut check = |metric: &str, base: f64, cur: f64, passed: bool| {
                checks.push(BaselineCheck {
                    scenario: s.name.clone(),
                    model: c.model,
                    concurrency: c.concurrency,
                    metric: metric.to_string(),
                    baseline: base,
                    current: cur,
                    change: (base != 0.0).then(|| (cur - base) / base),
                    passed,
                });
            };
            for (metric, base, cur) in [
                ("p50", b.latency_us.p50, c.latency_us.p50),
                ("p90", b.latency_us.p90, c.latency_us.p90),
                ("p99", b.latency_us.p99, c.latency_us.p99),
            ] {
                let worse =
                    cur as f64 > base as f64 * (1.0 + tol) && cur.saturating_sub(base) > floor_us;
                check(metric, base as f64, cur as f64, !worse);
            }
            let worse_throughput = c.throughput_per_s < b.throughput_per_s * (1.0 - tol);
            check(
                "throughput_per_s",
                b.throughput_per_s,
                c.throughput_per_s,
                !worse_throughput,
            );
            let base_errors: u64 = b.errors.values().sum();
            let cur_errors: u64 = c.errors.values().sum();
            let worse_errors = if base_errors == 0 {
                cur_errors > 0
            } else {
                c.error_rate > b.error_rate * (1.0 + tol)
            };
            check("error_rate", b.error_rate, c.error_rate, !worse_errors);
        }
    }
    let mut missing_in_run = Vec::new();
    for s in &baseline.scenarios {
        for b in &s.cells {
            if find(current, &s.name, b).is_none() {
                missing_in_run.push(key(&s.name, b));
            }
        }
    }
    BaselineReport {
        file: file.display().to_string(),
        run_id: baseline.run_id.clone(),
        started_at: baseline.started_at.clone(),
        tolerance: tol,
        latency_floor_us: floor_us,
        passed: checks.iter().all(|c| c.passed),
        checks,
        missing_in_baseline,
        missing_in_run,
    }
}
