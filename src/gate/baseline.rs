//! The baseline comparison: each cell against the same cell (scenario, model, concurrency) of an
//! earlier run's summary.json.
//!
//! Input: the current summary, the baseline summary and the plan's [`BaselineSettings`]. Output: a
//! [`BaselineReport`] with one check per compared metric and the cells missing on either side.
//! A latency percentile fails when it grew by more than the tolerance *and* by more than the
//! latency floor; throughput fails when it fell by more than the tolerance; errors fail when they
//! appeared (the baseline had none) or their rate grew by more than the tolerance. When both runs
//! have at least 3 rounds, latency percentiles are compared as the medians of the rounds' own,
//! and a change beyond those limits must also be beyond the noise the rounds show (`noise.rs`:
//! an exact Mann–Whitney U test of the rounds' values); otherwise the check passes and says
//! "within noise". No I/O here but [`load`], which reads the baseline file and hands its bytes to
//! the saved-results loader.

use std::path::Path;

use super::noise;
use crate::plan::BaselineSettings;
use crate::stats::{BaselineCheck, BaselineReport, CellSummary, NoiseCheck, Summary, saved};

/// Reads a baseline summary.json, checked as every saved summary is
/// ([`saved::parse_summary`]: one version rule, every field in range); refuses one of another
/// plan. The one function here that reads a file.
pub fn load(path: &Path) -> Result<Summary, String> {
    let bytes = crate::files::read_saved(path)
        .map_err(|e| format!("cannot read the baseline {}: {e}", path.display()))?;
    saved::parse_summary(&path.display().to_string(), &bytes)
        .map_err(|e| format!("the baseline {e}"))
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

/// The metric's values round by round, when the cell ran at least [`noise::MIN_ROUNDS`] rounds.
fn per_round<'a>(c: &'a CellSummary, metric: &str) -> Option<&'a [f64]> {
    let r = c.rounds.as_ref().filter(|r| r.count >= noise::MIN_ROUNDS)?;
    let spread = match metric {
        "p50" => &r.p50_us,
        "p90" => &r.p90_us,
        "p99" => &r.p99_us,
        "throughput_per_s" => &r.throughput_per_s,
        "error_rate" => &r.error_rate,
        _ => return None,
    };
    Some(&spread.values)
}

/// Whether a change the limits call a regression is beyond the noise of the rounds, when both
/// sides have enough of them. `lower_is_worse` for throughput.
fn noise_check(
    b: &CellSummary,
    c: &CellSummary,
    metric: &str,
    lower_is_worse: bool,
    worse: bool,
) -> Option<NoiseCheck> {
    let (base, cur) = (per_round(b, metric)?, per_round(c, metric)?);
    let orient = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .map(|x| if lower_is_worse { -x } else { *x })
            .collect()
    };
    let p_value = noise::worse_p_value(&orient(base), &orient(cur));
    Some(NoiseCheck {
        method: "mann_whitney_u".into(),
        p_value,
        alpha: noise::ALPHA,
        baseline_rounds: base.len(),
        current_rounds: cur.len(),
        within_noise: worse && p_value > noise::ALPHA,
    })
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
            // `worse`: beyond the tolerance (and floor). With rounds on both sides it must be
            // beyond their noise too before it fails.
            let mut check = |metric: &str, base: f64, cur: f64, worse: bool| {
                let noise = noise_check(b, c, metric, metric == "throughput_per_s", worse);
                let passed = !worse || noise.as_ref().is_some_and(|n| n.within_noise);
                checks.push(BaselineCheck {
                    scenario: s.name.clone(),
                    model: c.model,
                    concurrency: c.concurrency,
                    workers: c.workers,
                    metric: metric.to_string(),
                    baseline: base,
                    current: cur,
                    change: (base != 0.0).then(|| (cur - base) / base),
                    passed,
                    noise,
                });
            };
            for (metric, base, cur) in [
                ("p50", b.latency_us.p50, c.latency_us.p50),
                ("p90", b.latency_us.p90, c.latency_us.p90),
                ("p99", b.latency_us.p99, c.latency_us.p99),
            ] {
                // With rounds on both sides the medians of the rounds' percentiles are compared:
                // the merged histogram's tail is the worst round's, and one noisy round must not
                // read as a regression.
                let (base, cur) = match (per_round(b, metric), per_round(c, metric)) {
                    (Some(bs), Some(cs)) => (
                        crate::stats::rounds_median(bs).unwrap_or(base as f64),
                        crate::stats::rounds_median(cs).unwrap_or(cur as f64),
                    ),
                    _ => (base as f64, cur as f64),
                };
                let worse = cur > base * (1.0 + tol) && cur - base > floor_us as f64;
                check(metric, base, cur, worse);
            }
            let worse_throughput = c.throughput_per_s < b.throughput_per_s * (1.0 - tol);
            check(
                "throughput_per_s",
                b.throughput_per_s,
                c.throughput_per_s,
                worse_throughput,
            );
            let base_errors: u64 = b.errors.values().sum();
            let cur_errors: u64 = c.errors.values().sum();
            let worse_errors = if base_errors == 0 {
                cur_errors > 0
            } else {
                c.error_rate > b.error_rate * (1.0 + tol)
            };
            check("error_rate", b.error_rate, c.error_rate, worse_errors);
            // Each request of a mix or a flow, by name, against the same request of the baseline
            // cell (rounds pool into one histogram per request: no noise test for them).
            if c.requests.len() > 1 {
                for r in &c.requests {
                    let Some(br) = b.requests.iter().find(|x| x.name == r.name) else {
                        continue;
                    };
                    for (stat, base, cur) in [
                        ("p50", br.latency_us.p50, r.latency_us.p50),
                        ("p90", br.latency_us.p90, r.latency_us.p90),
                        ("p99", br.latency_us.p99, r.latency_us.p99),
                    ] {
                        let (base, cur) = (base as f64, cur as f64);
                        let worse = cur > base * (1.0 + tol) && cur - base > floor_us as f64;
                        check(&format!("{stat}{{request={}}}", r.name), base, cur, worse);
                    }
                    let errors_appeared = br.error_rate == 0.0 && r.error_rate > 0.0;
                    let worse = errors_appeared || r.error_rate > br.error_rate * (1.0 + tol);
                    check(
                        &format!("error_rate{{request={}}}", r.name),
                        br.error_rate,
                        r.error_rate,
                        worse,
                    );
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A one-cell summary whose p50 is `p50s` round by round (one value: no rounds).
    fn summary(p50s: &[f64]) -> Summary {
        let median = crate::stats::rounds_median(p50s).unwrap_or(0.0);
        let spread = |v: &[f64]| serde_json::json!({"median": crate::stats::rounds_median(v), "min": 0.0, "max": 0.0, "values": v});
        let flat = vec![100.0; p50s.len()];
        let zeros = vec![0.0; p50s.len()];
        let rounds = (p50s.len() > 1).then(|| {
            serde_json::json!({
                "count": p50s.len(), "throughput_per_s": spread(&flat), "attempts_per_s": spread(&flat),
                "error_rate": spread(&zeros), "speedup": null, "p50_us": spread(p50s),
                "p90_us": spread(p50s), "p99_us": spread(p50s), "cores_busy": spread(&zeros),
                "wall_seconds": spread(&flat)
            })
        });
        serde_json::from_value(serde_json::json!({
            "schema_version": 1, "plan": {"name": "t", "file": "t.yaml"}, "run_id": "r",
            "started_at": "2026-11-28T16:00:00Z", "finished_at": "2026-11-28T16:00:01Z", "duration_seconds": 1.0,
            "loadplan_version": "0", "host": {"cores": 2, "os": "linux", "arch": "x"},
            "verdict": "passed",
            "scenarios": [{"name": "a", "kind": "io", "bound": "io", "busy_fraction": 0.0,
                "bound_cell": "", "workload": [], "load": "", "cells": [{
                    "model": "async", "concurrency": 4, "workers": 1, "operations": 100,
                    "successes": 100, "errors": {}, "error_rate": 0.0, "wall_seconds": 1.0,
                    "throughput_per_s": 100.0,
                    "latency_us": {"count": 100, "min": 1, "mean": median, "p50": median as u64,
                        "p90": median as u64, "p99": median as u64, "p999": median as u64,
                        "max": median as u64, "stdev": 0.0},
                    "cpu_seconds": 0.1, "cores_busy": 0.1, "speedup": null, "rounds": rounds
                }]}]
        }))
        .expect("summary")
    }

    fn p50_check(baseline: &[f64], current: &[f64]) -> BaselineCheck {
        let settings = BaselineSettings {
            tolerance: 0.1,
            latency_floor: Duration::from_micros(100),
        };
        let report = compare(
            &summary(current),
            &summary(baseline),
            Path::new("b.json"),
            settings,
        );
        report
            .checks
            .into_iter()
            .find(|c| c.metric == "p50")
            .expect("p50 check")
    }

    /// `summary(&[20_000.0])` with two named requests whose p50s are `login` and `search`.
    fn with_requests(login: u64, search: u64, search_errors: f64) -> Summary {
        let mut s = serde_json::to_value(summary(&[20_000.0])).expect("to json");
        let request = |name: &str, p50: u64, error_rate: f64| {
            serde_json::json!({"name": name, "operations": 50, "successes": 50, "errors": {},
                "error_rate": error_rate, "status_codes": {"200": 50}, "bytes": 0,
                "latency_us": {"count": 50, "min": 1, "mean": p50 as f64, "p50": p50, "p90": p50,
                    "p99": p50, "p999": p50, "max": p50, "stdev": 0.0},
                "histogram": ""})
        };
        s["scenarios"][0]["cells"][0]["requests"] = serde_json::json!([
            request("login", login, 0.0),
            request("search", search, search_errors)
        ]);
        serde_json::from_value(s).expect("summary with requests")
    }

    #[test]
    fn each_request_of_a_mix_is_held_to_its_own_baseline() {
        let settings = BaselineSettings {
            tolerance: 0.1,
            latency_floor: Duration::from_micros(100),
        };
        let base = with_requests(5_000, 30_000, 0.0);
        let current = with_requests(5_100, 60_000, 0.02);
        let report = compare(&current, &base, Path::new("b.json"), settings);
        let check = |metric: &str| {
            report
                .checks
                .iter()
                .find(|c| c.metric == metric)
                .unwrap_or_else(|| panic!("no {metric} check in {:?}", report.checks))
        };
        assert!(check("p50{request=login}").passed);
        assert!(!check("p50{request=search}").passed);
        assert!(check("error_rate{request=login}").passed);
        assert!(!check("error_rate{request=search}").passed);
        // The cell's own p50 did not move: only the per-request checks catch the regression.
        assert!(check("p50").passed);
    }

    #[test]
    fn with_rounds_a_regression_must_be_beyond_the_noise() {
        // (baseline rounds, current rounds, passed, within noise, tested)
        type Case<'a> = (&'a [f64], &'a [f64], bool, bool, bool);
        let cases: &[Case] = &[
            // One round: today's rule, +20% fails.
            (&[20_000.0], &[24_000.0], false, false, false),
            // Five rounds, all slower: beyond the noise.
            (
                &[20_000.0, 20_100.0, 19_900.0, 20_050.0, 19_950.0],
                &[40_000.0, 40_100.0, 39_900.0, 40_050.0, 39_950.0],
                false,
                false,
                true,
            ),
            // Median up 20%, but the rounds overlap: within noise.
            (
                &[20_000.0, 30_000.0, 19_000.0, 26_000.0, 18_000.0],
                &[24_000.0, 19_500.0, 31_000.0, 18_500.0, 27_000.0],
                true,
                true,
                true,
            ),
            // Within the tolerance: passes whatever the rounds say.
            (
                &[20_000.0, 20_100.0, 19_900.0],
                &[21_000.0, 21_100.0, 20_900.0],
                true,
                false,
                true,
            ),
            // Two rounds are too few to judge noise: today's rule.
            (
                &[20_000.0, 20_000.0],
                &[30_000.0, 30_000.0],
                false,
                false,
                false,
            ),
        ];
        for (base, cur, passed, within, tested) in cases {
            let c = p50_check(base, cur);
            assert_eq!(c.passed, *passed, "{base:?} → {cur:?}: {c:?}");
            assert_eq!(c.noise.is_some(), *tested, "{base:?} → {cur:?}");
            assert_eq!(
                c.noise.as_ref().is_some_and(|n| n.within_noise),
                *within,
                "{base:?} → {cur:?}: {c:?}"
            );
        }
    }
}
