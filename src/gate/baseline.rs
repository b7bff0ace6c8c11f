//! The baseline comparison: each cell against the same cell (scenario, model, concurrency) of an
//! earlier run's summary.json.
//!
//! Input: the current summary, the baseline summary and the plan's [`BaselineSettings`]. Output: a
//! [`BaselineReport`] with one check per compared metric and the cells missing on either side.
//! A latency percentile fails when it grew by more than the tolerance *and* by more than the
//! latency floor; throughput fails when it fell by more than the tolerance; errors fail when they
//! appeared (the baseline had none) or their rate grew by more than the tolerance. No I/O here
//! but [`load`], which reads the baseline file and hands its bytes to the saved-results loader.

use std::io::Read;
use std::path::Path;

use crate::plan::{BaselineSettings, cell_label};
use crate::stats::{BaselineCheck, BaselineReport, CellSummary, Summary, saved};

/// Reads a baseline summary.json, checked as every saved summary is
/// ([`saved::parse_summary`]: one version rule, every field in range); refuses one of another
/// plan. The one function here that reads a file.
pub fn load(path: &Path, plan_name: &str) -> Result<Summary, String> {
    // One byte past the limit is enough for the loader to refuse it (a pipe or /dev/zero has
    // no size to check first).
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(saved::MAX_SAVED_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(|e| format!("cannot read the baseline {}: {e}", path.display()))?;
    let s = saved::parse_summary(&path.display().to_string(), &bytes)
        .map_err(|e| format!("the baseline {e}"))?;
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
    format!(
        "{scenario} · {}",
        cell_label(c.model, c.concurrency, c.workers)
    )
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
