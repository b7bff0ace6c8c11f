//! The stats stage: per-worker recorders in, the [`Summary`] out.
//!
//! Input: the plan and the run's [`CellResult`]s (each already merged from its workers, one per
//! cell per round). Output: a summary with latency percentiles, throughput (successful operations
//! per second) beside the attempt rate, cores busy, speedups, each scenario's measured bound, the
//! rounds' medians and spread (`rounds.rs`) and the machine checks (`machine.rs`). Must not do
//! I/O or decide the verdict (the gate does).

pub mod change;
mod connections;
pub mod distribution;
mod group;
pub mod machine;
pub mod quantile;
mod recorder;
mod results;
mod rounds;
pub mod rusage;
pub mod saved;
mod summary;
pub mod usl;
pub mod window;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

pub use connections::ConnectionsSummary;
pub use recorder::{
    MAX_LATENCY_US, MESSAGES_PER_KIND, OpenStats, Recorder, RecorderWire, TimelinePoint, WireError,
    histogram_from_base64, histogram_to_base64, new_histogram,
};
pub use results::{
    CellPartWire, Difference, MergeError, RESULTS_FORMAT, Results, Shard, ShardError,
    merge_results, to_results,
};
pub use rounds::Progress;
pub use rounds::median as rounds_median;
pub use summary::*;

use crate::plan::{Cell, Plan, Workload};
use rounds::Figures;

/// What a cell, or one share of it (a worker process, a shard), measured.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub recorder: Recorder,
    /// Measured phase: from the start signal to the last operation's end.
    pub wall: Duration,
    /// The runner's CPU over the measured phase, workers included.
    pub cpu: Duration,
    pub peak_rss_bytes: u64,
    /// False when a part of the cell is missing (a lost worker, a missing shard, an interrupt).
    pub complete: bool,
    pub notes: Vec<String>,
}

impl Measured {
    /// Adds shares that ran side by side: counts and histograms add, the wall clock is the
    /// longest share's, CPU adds up, peak memory is the largest process's.
    pub fn merge(parts: impl IntoIterator<Item = Measured>) -> Measured {
        let mut all = Measured {
            complete: true,
            ..Measured::default()
        };
        for p in parts {
            all.recorder.merge(&p.recorder);
            all.wall = all.wall.max(p.wall);
            all.cpu += p.cpu;
            all.peak_rss_bytes = all.peak_rss_bytes.max(p.peak_rss_bytes);
            all.complete &= p.complete;
            all.notes.extend(p.notes);
        }
        all
    }
}

/// One cell's measurements in one round, merged from all its workers.
#[derive(Debug, Clone)]
pub struct CellResult {
    pub cell: Cell,
    pub measured: Measured,
    /// When the cell began, since the run started (its warm-up included).
    pub offset: Duration,
    /// Which round of the cell this is, from 0.
    pub round: usize,
    /// The machine around the whole cell (warm-up included); `None` where it cannot be read.
    pub machine: Option<MachineUse>,
    /// A capacity search's outcome (its probes, the rate found); `measured` is then the probe
    /// at that rate. `None` for other loads.
    pub capacity: Option<CapacitySummary>,
}

/// The whole machine over one cell, from the first sample to the second.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MachineUse {
    pub wall: Duration,
    /// All cores' busy time (user, nice, system, irq, softirq), from `/proc/stat`.
    pub busy: Duration,
    /// Time the hypervisor ran something else while a core of ours wanted to run.
    pub steal: Duration,
    /// The runner's CPU, its worker processes included.
    pub runner_cpu: Duration,
    /// The built-in target server's CPU, when it runs.
    pub target_cpu: Option<Duration>,
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
    /// The seed of each scenario's random choices, in plan order.
    pub seeds: Vec<u64>,
    /// `before:` and `after:`'s requests (`("before", …)`), each recorder by statistics index.
    pub once: Vec<(String, Recorder)>,
}

/// A scenario is CPU-bound when the runner kept at least this share of its usable cores busy.
const CPU_BOUND_FRACTION: f64 = 0.5;

pub fn summarize(plan: &Plan, run: &RunResults) -> Summary {
    let scenarios = plan
        .scenarios
        .iter()
        .enumerate()
        .filter_map(|(si, s)| {
            let cells = rounds::group(run.cells.iter().filter(|c| c.cell.scenario == si));
            if cells.is_empty() {
                return None; // not reached before an interrupt, or filtered out by --only
            }
            let figures: Vec<Vec<Figures>> = cells
                .iter()
                .map(|c| c.iter().map(|r| Figures::of(r)).collect())
                .collect();
            let sequential = cells
                .iter()
                .position(|c| c[0].cell.model.is_baseline())
                .map(|i| figures[i].as_slice());
            let planned = s.load.planned_time();
            let mut summaries: Vec<CellSummary> = cells
                .iter()
                .zip(&figures)
                .map(|(c, f)| {
                    // A capacity search's figures are one probe's: its hold is the plan.
                    let planned = planned.or_else(|| {
                        let cap = c[0].capacity.as_ref()?;
                        let p = cap.probes.get(cap.shown_probe)?;
                        Some(Duration::from_secs_f64(p.hold_seconds.max(0.0)))
                    });
                    cell_summary(
                        c,
                        f,
                        sequential,
                        planned,
                        request_names(&s.workload),
                        is_flow(&s.workload),
                    )
                })
                .collect();
            let kind = match s.workload {
                Workload::Http(_) => Bound::Io,
                Workload::Cpu(_) => Bound::Cpu,
            };
            let extra = extra_percentiles(plan);
            for c in &mut summaries {
                fill_percentiles(&mut c.latency_us, &c.histogram, &extra);
                for r in &mut c.requests {
                    fill_percentiles(&mut r.latency_us, &r.histogram, &extra);
                }
            }
            let seq_summary = summaries.iter().find(|c| c.model.is_baseline()).cloned();
            for c in &mut summaries {
                c.machine = machine::check(c, seq_summary.as_ref(), kind == Bound::Cpu, run.cores);
            }
            let evidence = bound_evidence(&summaries, run.cores);
            Some(ScenarioSummary {
                name: s.name.clone(),
                description: s.description.clone(),
                kind,
                bound: match evidence {
                    Some((busy, _)) if busy >= CPU_BOUND_FRACTION => Bound::Cpu,
                    Some(_) => Bound::Io,
                    None => kind,
                },
                busy_fraction: evidence.as_ref().map_or(0.0, |e| e.0),
                bound_cell: evidence.map(|e| e.1).unwrap_or_default(),
                classified: summaries.iter().any(|c| !c.machine.too_short),
                seed: match &s.workload {
                    Workload::Http(h) if h.random_choices() => run.seeds.get(si).copied(),
                    _ => None,
                },
                tls_insecure: matches!(&s.workload, Workload::Http(h) if h.settings.tls.insecure),
                workload: match &s.workload {
                    Workload::Http(h) => h
                        .requests
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
                cells: summaries,
            })
        })
        .collect();
    let elapsed = run
        .finished_at
        .duration_since(run.started_at)
        .unwrap_or_default();
    Summary {
        schema_version: SCHEMA_VERSION,
        plan: plan_info(plan),
        run_id: run.run_id.clone(),
        started_at: Timestamp::from_system(run.started_at),
        finished_at: Timestamp::from_system(run.finished_at),
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
        groups: group::summaries(plan, run, &extra_percentiles(plan)),
        once: once_summaries(plan, run),
        scenarios,
        baseline: None,
        validity: Vec::new(),
        export: Vec::new(),
    }
}

/// The share of the cores it could use that a cell kept busy.
fn busy_fraction(c: &CellSummary, cores: usize) -> f64 {
    // Cores the cell could have kept busy at most: its parallel units, capped by the machine.
    let usable = c
        .model
        .parallel_slots(c.concurrency, c.workers)
        .min(cores.max(1));
    if c.wall_seconds <= 0.0 {
        return 0.0;
    }
    c.cpu_seconds / c.wall_seconds / usable as f64
}

/// The sequential cell is the cleanest evidence (one unit at a time: the share of its time spent
/// computing); without one, the busiest cell. A cell too short to classify is never evidence;
/// `None` when every cell is.
fn bound_evidence(cells: &[CellSummary], cores: usize) -> Option<(f64, String)> {
    let long = || cells.iter().filter(|c| !c.machine.too_short);
    let pick = long().find(|c| c.model.is_baseline()).or_else(|| {
        long().max_by(|a, b| busy_fraction(a, cores).total_cmp(&busy_fraction(b, cores)))
    })?;
    Some((
        busy_fraction(pick, cores),
        pick.model.label(pick.concurrency, pick.workers),
    ))
}

/// The names requests keep statistics under, for an HTTP scenario.
fn request_names(w: &Workload) -> &[String] {
    match w {
        Workload::Http(h) => &h.names,
        Workload::Cpu(_) => &[],
    }
}

/// Whether an operation of the workload is an iteration of a flow (several requests), not one
/// request.
fn is_flow(w: &Workload) -> bool {
    matches!(w, Workload::Http(h) if matches!(h.mix, crate::plan::requests::Mix::Flow(_)))
}

/// `before:` and `after:`'s requests, per request name: what they did, apart from every cell.
fn once_summaries(plan: &Plan, run: &RunResults) -> Vec<OnceSummary> {
    run.once
        .iter()
        .filter_map(|(key, r)| {
            let steps = match key.as_str() {
                "before" => plan.before.as_ref(),
                _ => plan.after.as_ref(),
            }?;
            let mut requests = requests_summary(r, &steps.names, &[]);
            for q in &mut requests {
                q.timeline.clear();
            }
            Some(OnceSummary {
                key: key.clone(),
                requests,
            })
        })
        .collect()
}

/// Statistics per request name. With one name and no flow, the cell's statistics are the
/// request's (recorded once, not twice).
fn requests_summary(r: &Recorder, names: &[String], ends: &[Duration]) -> Vec<RequestSummary> {
    let one = |name: &String, r: &Recorder, own: bool| RequestSummary {
        name: name.clone(),
        operations: r.operations,
        successes: r.successes,
        errors: r.errors_by_name(),
        retried: r.retried,
        error_rate: r.error_rate(),
        status_codes: r.statuses_by_code(),
        error_messages: r.messages_by_name(),
        bytes: r.bytes,
        latency_us: latency_summary(&r.latency),
        histogram: histogram_to_base64(&r.latency),
        timeline: if own {
            r.timeline.points(ends)
        } else {
            Vec::new()
        },
    };
    match (names, r.requests.is_empty()) {
        ([name], true) => vec![one(name, r, false)],
        _ => names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let own = r.requests.get(i);
                one(
                    n,
                    own.unwrap_or(&Recorder::default()),
                    own.is_some() && names.len() > 1,
                )
            })
            .collect(),
    }
}

/// One cell from all its rounds: pooled counts, merged histograms, and the medians of the rounds'
/// own throughput, attempt rate and speedup (with one round, simply its figures).
fn cell_summary(
    rounds: &[&CellResult],
    figures: &[Figures],
    sequential: Option<&[Figures]>,
    planned: Option<Duration>,
    names: &[String],
    flow: bool,
) -> CellSummary {
    let first = rounds[0];
    let m = rounds::pool(rounds);
    let r = &m.recorder;
    let wall = m.wall.as_secs_f64();
    let cpu = m.cpu.as_secs_f64();
    let speedups = sequential.map_or_else(Vec::new, |seq| rounds::speedups(figures, seq));
    let median = |f: fn(&Figures) -> f64| {
        rounds::median(&figures.iter().map(f).collect::<Vec<_>>()).unwrap_or(0.0)
    };
    // Each round's measured phase ends at its planned time (an open run's last arrival may be
    // done before it), or when it was cut short, or for a counted load when its last operation
    // ends: the timeline's seconds are as long as the rounds made them.
    let ends: Vec<Duration> = rounds
        .iter()
        .map(|c| {
            let m = &c.measured;
            planned.map_or(m.wall, |p| if m.complete { p } else { p.min(m.wall) })
        })
        .collect();
    CellSummary {
        model: first.cell.model,
        concurrency: first.cell.concurrency.get(),
        workers: first.cell.workers.get(),
        operations: r.operations,
        successes: r.successes,
        errors: r.errors_by_name(),
        retried: r.retried,
        status_codes: r.statuses_by_code(),
        error_rate: r.error_rate(),
        bytes: r.bytes,
        wall_seconds: wall,
        throughput_per_s: median(|f| f.throughput),
        attempts_per_s: median(|f| f.attempts),
        requests_per_s: flow.then(|| median(|f| f.requests)),
        latency_us: latency_summary(&r.latency),
        latency_out_of_range: r.out_of_range,
        cpu_seconds: cpu,
        cores_busy: if wall > 0.0 { cpu / wall } else { 0.0 },
        peak_rss_bytes: m.peak_rss_bytes,
        speedup: rounds::median(&speedups),
        complete: m.complete,
        notes: m.notes.clone(),
        start_offset_seconds: first.offset.as_secs_f64(),
        thresholds: Vec::new(),
        timeline: timeline(r, &ends, flow),
        histogram: histogram_to_base64(&r.latency),
        connections: r.connections.as_ref().map(|c| c.summary()),
        error_messages: r.messages_by_name(),
        requests: requests_summary(r, names, &ends),
        think_us: r.think.as_deref().map(latency_summary),
        open: r.open.as_ref().map(|o| {
            let secs = planned.map_or(0.0, |p| p.as_secs_f64()) * rounds.len() as f64;
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
        rounds: (rounds.len() > 1).then(|| rounds::summary(figures, &speedups)),
        machine: MachineCheck {
            sample: rounds::machine(rounds),
            ..MachineCheck::default()
        },
        capacity: capacity_of(rounds),
    }
}

/// With rounds, each ran its own search: the most conservative one stands.
fn capacity_of(rounds: &[&CellResult]) -> Option<CapacitySummary> {
    most_conservative(rounds.iter().filter_map(|r| r.capacity.as_ref())).cloned()
}

/// Of several searches of one cell (rounds, shards), the one a reviewer can count on: an invalid
/// one first (the run did not measure what it asked), then the lowest capacity.
fn most_conservative<'a>(
    searches: impl Iterator<Item = &'a CapacitySummary>,
) -> Option<&'a CapacitySummary> {
    searches.min_by(|a, b| {
        let key = |c: &CapacitySummary| {
            (
                c.stopped != CapacityStop::GeneratorLimited,
                c.capacity_per_s.unwrap_or(f64::INFINITY),
            )
        };
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    })
}

/// Where error category `name` comes among an exchange's phases (dns first, expectation last),
/// for pages that list categories; a name this version does not know comes after them all.
pub fn category_rank(name: &str) -> usize {
    crate::workload::ErrorKind::BY_PHASE
        .iter()
        .position(|k| k.as_str() == name)
        .unwrap_or(usize::MAX)
}

/// The cell's per-second points; a flow's with the requests its iterations sent beside them.
fn timeline(r: &Recorder, ends: &[Duration], flow: bool) -> Vec<TimelinePoint> {
    let mut points = r.timeline.points(ends);
    if flow {
        let mut requests = BTreeMap::<u32, u64>::new();
        for per_name in &r.requests {
            for (s, n) in per_name.timeline.operations_by_second() {
                *requests.entry(s).or_default() += n;
            }
        }
        for p in &mut points {
            p.requests = Some(requests.get(&p.second).copied().unwrap_or(0));
        }
    }
    points
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
        percentiles: BTreeMap::new(),
    }
}

/// The percentiles (parts per million) that the plan's thresholds name beyond the fixed ones,
/// each once, in order: `p95 < 200ms` adds 950000.
pub fn extra_percentiles(plan: &Plan) -> Vec<u32> {
    let mut out: Vec<u32> = plan
        .scenarios
        .iter()
        .flat_map(|s| &s.thresholds)
        .chain(plan.groups.iter().flat_map(|g| &g.thresholds))
        .filter_map(|t| match t.metric {
            crate::plan::threshold::Metric::Latency(crate::plan::threshold::Stat::Quantile(q)) => {
                Some(q)
            }
            _ => None,
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Fills `percentiles` of a latency summary from its saved histogram.
pub fn fill_percentiles(l: &mut LatencySummary, histogram: &str, ppms: &[u32]) {
    if ppms.is_empty() || l.count == 0 {
        return;
    }
    let Ok(h) = histogram_from_base64(histogram) else {
        return;
    };
    for &ppm in ppms {
        let label = crate::plan::threshold::percentile_label(ppm);
        l.percentiles
            .insert(label, h.value_at_quantile(f64::from(ppm) / 1e6));
    }
}

/// What a summary and a shard's results file say of the plan they ran: its text as written and
/// the load values from outside it, never a variable's value.
fn plan_info(plan: &Plan) -> PlanInfo {
    PlanInfo {
        name: plan.name.clone(),
        file: plan.file.display().to_string(),
        description: plan.description.clone(),
        source: plan.source.clone(),
        effective: plan.effective.clone(),
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
    fn a_flows_timeline_counts_its_requests_beside_its_iterations() {
        let ok = crate::workload::Outcome::default();
        let ms = Duration::from_millis;
        let mut r = Recorder::default();
        // Two iterations in second 0, one in second 1; three steps each, one a second late.
        for at in [ms(100), ms(600), ms(1_200)] {
            r.record(at, ms(10), &ok);
        }
        r.requests = vec![
            Recorder::default(),
            Recorder::default(),
            Recorder::default(),
        ];
        for at in [ms(100), ms(600), ms(1_200)] {
            for step in &mut r.requests {
                step.record(at, ms(3), &ok);
            }
        }
        let ends = [ms(1_500)];
        let flow = timeline(&r, &ends, true);
        let got: Vec<(u32, u64, Option<u64>)> = flow
            .iter()
            .map(|p| (p.second, p.operations, p.requests))
            .collect();
        assert_eq!(got, vec![(0, 2, Some(6)), (1, 1, Some(3))]);
        // Not a flow: an operation is one request, and no point says otherwise.
        assert!(
            timeline(&r, &ends, false)
                .iter()
                .all(|p| p.requests.is_none())
        );
    }

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
