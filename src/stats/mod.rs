//! The stats stage: per-worker recorders in, the [`Summary`] out.
//!
//! Input: the plan and the run's [`CellResult`]s (each already merged from its workers). Output: a
//! summary with latency percentiles, throughput, cores busy, speedups and each scenario's measured
//! bound. Must not do I/O or decide the verdict (the gate does).

mod recorder;
mod results;
pub mod rusage;
pub mod saved;
mod summary;

use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

pub use recorder::{
    MAX_LATENCY_US, Recorder, RecorderWire, TimelinePoint, histogram_from_base64,
    histogram_to_base64, new_histogram,
};
pub use results::{
    CellPartWire, Part, RESULTS_FORMAT, Results, Shard, merge_parts, merge_results, split,
    to_results,
};
pub use summary::*;

use crate::plan::{Cell, Model, Plan, Workload};
use crate::workload::ErrorKind;

/// One cell's measurements, merged from all its workers.
#[derive(Debug, Clone)]
pub struct CellResult {
    pub cell: Cell,
    pub recorder: Recorder,
    /// Measured phase: from the start signal to the last operation's end.
    pub wall: Duration,
    /// The runner's CPU over the measured phase, workers included.
    pub cpu: Duration,
    pub peak_rss_bytes: u64,
    pub complete: bool,
    pub notes: Vec<String>,
    /// When the cell began, since the run started (its warm-up included).
    pub offset: Duration,
}

/// Everything the run stage hands over.
#[derive(Debug, Clone)]
pub struct RunResults {
    pub run_id: String,
    pub started_at: SystemTime,
    pub finished_at: SystemTime,
    pub cells: Vec<CellResult>,
    pub interrupted: bool,
    pub cores: usize,
}

/// A scenario is CPU-bound when the runner kept at least this share of its usable cores busy.
const CPU_BOUND_FRACTION: f64 = 0.5;

pub fn summarize(plan: &Plan, run: &RunResults) -> Summary {
    let scenarios = plan
        .scenarios
        .iter()
        .enumerate()
        .filter_map(|(si, s)| {
            let results: Vec<&CellResult> =
                run.cells.iter().filter(|c| c.cell.scenario == si).collect();
            if results.is_empty() {
                return None; // not reached before an interrupt, or filtered out by --only
            }
            let seq_throughput = results
                .iter()
                .find(|c| c.cell.model == Model::Sequential)
                .map(|c| throughput(c));
            let planned = s.load.planned_time();
            let cells: Vec<CellSummary> = results
                .iter()
                .map(|c| cell_summary(c, seq_throughput, planned))
                .collect();
            let (busy_fraction, bound_cell) = bound_evidence(&results, run.cores);
            Some(ScenarioSummary {
                name: s.name.clone(),
                description: s.description.clone(),
                kind: match s.workload {
                    Workload::Http { .. } => Bound::Io,
                    Workload::Cpu(_) => Bound::Cpu,
                },
                bound: if busy_fraction >= CPU_BOUND_FRACTION {
                    Bound::Cpu
                } else {
                    Bound::Io
                },
                busy_fraction,
                bound_cell,
                workload: match &s.workload {
                    Workload::Http { requests, .. } => requests
                        .iter()
                        .map(|r| {
                            if r.method == "GET" {
                                r.display.clone()
                            } else {
                                format!("{} {}", r.method, r.display)
                            }
                        })
                        .collect(),
                    Workload::Cpu(k) => vec![k.to_string()],
                },
                load: s.load.describe(),
                cells,
            })
        })
        .collect();
    let elapsed = run
        .finished_at
        .duration_since(run.started_at)
        .unwrap_or_default();
    Summary {
        schema_version: SCHEMA_VERSION,
        plan: PlanInfo {
            name: plan.name.clone(),
            file: plan.file.display().to_string(),
            description: plan.description.clone(),
            source: plan.source.clone(),
        },
        run_id: run.run_id.clone(),
        started_at: humantime::format_rfc3339_seconds(run.started_at).to_string(),
        finished_at: humantime::format_rfc3339_seconds(run.finished_at).to_string(),
        duration_seconds: elapsed.as_secs_f64(),
        loadplan_version: env!("CARGO_PKG_VERSION").to_string(),
        host: Host {
            cores: run.cores,
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
        },
        ci: ci_info(|k| std::env::var(k).ok()),
        verdict: if run.interrupted {
            Verdict::Interrupted
        } else {
            Verdict::Passed
        },
        scenarios,
        baseline: None,
    }
}

fn throughput(c: &CellResult) -> f64 {
    let secs = c.wall.as_secs_f64();
    if secs > 0.0 {
        c.recorder.operations as f64 / secs
    } else {
        0.0
    }
}

/// Cores the cell could have kept busy at most: its parallel units, capped by the machine.
fn usable_cores(cell: &Cell, cores: usize) -> usize {
    let slots = match cell.model {
        Model::Sequential => 1,
        Model::Threads => cell.concurrency.get(),
        Model::Async | Model::Processes => cell.workers.get(),
    };
    slots.min(cores.max(1))
}

fn busy_fraction(c: &CellResult, cores: usize) -> f64 {
    let wall = c.wall.as_secs_f64();
    if wall <= 0.0 {
        return 0.0;
    }
    c.cpu.as_secs_f64() / wall / usable_cores(&c.cell, cores) as f64
}

/// The sequential cell is the cleanest evidence (one unit at a time: the share of its time spent
/// computing); without one, the busiest cell.
fn bound_evidence(results: &[&CellResult], cores: usize) -> (f64, String) {
    let pick = results
        .iter()
        .find(|c| c.cell.model == Model::Sequential)
        .or_else(|| {
            results
                .iter()
                .max_by(|a, b| busy_fraction(a, cores).total_cmp(&busy_fraction(b, cores)))
        });
    match pick {
        Some(c) => (
            busy_fraction(c, cores),
            crate::plan::cell_label(c.cell.model, c.cell.concurrency.get(), c.cell.workers.get()),
        ),
        None => (0.0, String::new()),
    }
}

fn cell_summary(
    c: &CellResult,
    seq_throughput: Option<f64>,
    planned: Option<Duration>,
) -> CellSummary {
    let r = &c.recorder;
    let wall = c.wall.as_secs_f64();
    let tput = throughput(c);
    let cpu = c.cpu.as_secs_f64();
    CellSummary {
        model: c.cell.model,
        concurrency: c.cell.concurrency.get(),
        workers: c.cell.workers.get(),
        operations: r.operations,
        successes: r.successes,
        errors: ErrorKind::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), r.error(*k)))
            .collect(),
        status_codes: r
            .statuses
            .iter()
            .map(|(s, n)| (s.to_string(), *n))
            .collect(),
        error_rate: if r.operations > 0 {
            r.error_count() as f64 / r.operations as f64
        } else {
            0.0
        },
        bytes: r.bytes,
        wall_seconds: wall,
        throughput_per_s: tput,
        latency_us: latency_summary(&r.latency),
        latency_out_of_range: r.out_of_range,
        cpu_seconds: cpu,
        cores_busy: if wall > 0.0 { cpu / wall } else { 0.0 },
        peak_rss_bytes: c.peak_rss_bytes,
        speedup: seq_throughput.filter(|s| *s > 0.0).map(|s| tput / s),
        complete: c.complete,
        notes: c.notes.clone(),
        start_offset_seconds: c.offset.as_secs_f64(),
        thresholds: Vec::new(),
        timeline: r.timeline.points(),
        histogram: histogram_to_base64(&r.latency),
        open: r.open.as_ref().map(|o| {
            let secs = planned.map_or(0.0, |p| p.as_secs_f64());
            let per_s = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
            OpenSummary {
                scheduled: o.scheduled,
                dropped: o.dropped,
                target_rate_per_s: per_s(o.scheduled),
                achieved_rate_per_s: per_s(r.operations),
                latency_uncorrected_us: latency_summary(&o.uncorrected),
                send_lag_us: latency_summary(&o.lag),
                rate_not_reached: o.dropped > 0
                    || (r.operations as f64) < 0.95 * o.scheduled as f64,
            }
        }),
    }
}

pub fn latency_summary(h: &Histogram<u64>) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        count: h.len(),
        min: h.min(),
        mean: h.mean(),
        p50: h.value_at_quantile(0.5),
        p90: h.value_at_quantile(0.9),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
        stdev: h.stdev(),
    }
}

/// CI metadata from the variables GitHub Actions, GitLab CI and Jenkins set.
pub fn ci_info(var: impl Fn(&str) -> Option<String>) -> Option<CiInfo> {
    if var("GITHUB_ACTIONS").is_some() {
        let job_url = match (
            var("GITHUB_SERVER_URL"),
            var("GITHUB_REPOSITORY"),
            var("GITHUB_RUN_ID"),
        ) {
            (Some(s), Some(r), Some(id)) => Some(format!("{s}/{r}/actions/runs/{id}")),
            _ => None,
        };
        return Some(CiInfo {
            system: "github-actions".into(),
            commit: var("GITHUB_SHA"),
            branch: var("GITHUB_HEAD_REF")
                .filter(|b| !b.is_empty())
                .or_else(|| var("GITHUB_REF_NAME")),
            job_url,
        });
    }
    if var("GITLAB_CI").is_some() {
        return Some(CiInfo {
            system: "gitlab-ci".into(),
            commit: var("CI_COMMIT_SHA"),
            branch: var("CI_COMMIT_REF_NAME"),
            job_url: var("CI_JOB_URL"),
        });
    }
    if var("JENKINS_URL").is_some() {
        return Some(CiInfo {
            system: "jenkins".into(),
            commit: var("GIT_COMMIT"),
            branch: var("BRANCH_NAME").or_else(|| var("GIT_BRANCH")),
            job_url: var("BUILD_URL"),
        });
    }
    if var("CI").is_some_and(|v| v == "true" || v == "1") {
        return Some(CiInfo {
            system: "ci".into(),
            ..CiInfo::default()
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_metadata_from_github() {
        let env = |k: &str| {
            let v = match k {
                "GITHUB_ACTIONS" => "true",
                "GITHUB_SERVER_URL" => "https://github.com",
                "GITHUB_REPOSITORY" => "acme/shop",
                "GITHUB_RUN_ID" => "42",
                "GITHUB_SHA" => "abc123",
                "GITHUB_REF_NAME" => "main",
                _ => return None,
            };
            Some(v.to_string())
        };
        let ci = ci_info(env).expect("github");
        assert_eq!(
            ci.job_url.as_deref(),
            Some("https://github.com/acme/shop/actions/runs/42")
        );
        assert_eq!(ci.branch.as_deref(), Some("main"));
        assert!(ci_info(|_| None).is_none());
    }

    #[test]
    fn latency_summary_reads_quantiles() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v).expect("in range");
        }
        let s = latency_summary(&h);
        assert_eq!((s.count, s.min, s.max), (1000, 1, 1000));
        assert_eq!((s.p50, s.p90, s.p99, s.p999), (500, 900, 990, 999));
    }
}
