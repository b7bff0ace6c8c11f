//! The baseline comparison: each cell against the same cell (scenario, model, concurrency) of
//! earlier runs: one summary.json, or the last N passing runs of the plan from a history folder.
//!
//! Input: the current summary, the earlier runs (newest first) and the plan's
//! [`BaselineSettings`]. Output: a [`BaselineReport`] with one check per compared figure and the
//! cells missing on either side. Each figure's reference is its distribution over the earlier
//! runs and their rounds, so run-to-run noise is measured, not guessed; each percentile also
//! carries its own confidence interval from its histogram (`stats::quantile`). Every check ends
//! `regressed` (beyond the tolerance *and* beyond the noise: the one outcome that fails the
//! run), `improved`, `unchanged` (shown within the tolerance) or `inconclusive`, with the
//! smallest change the data could have detected. A cell's checks are one family under Holm's
//! rule (`noise.rs`), so a cell of 17 checks has one 5 % false-alarm budget, not 17. A regression
//! measured while other load kept the machine busier than in the baseline is `inconclusive`:
//! the figures cannot tell the service from the machine. No I/O here but [`load`] and
//! [`load_history`], which read summaries through the one bounded reader.

use std::path::{Path, PathBuf};

use super::noise::{self, LogTest};
use crate::plan::BaselineSettings;
use crate::stats::{
    BaselineCheck, BaselineReport, BaselineRun, CapacityStop, CellSummary, Outcome,
    PercentileInterval, Summary, quantile, saved,
};

/// One earlier run.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    pub file: &'a Path,
    pub summary: &'a Summary,
}

/// Why an earlier run could not be used as a baseline. Names the file; never what it holds
/// beyond the checks' own words.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the baseline {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: crate::files::FileError,
    },
    #[error("the baseline {0}")]
    Saved(#[from] saved::SavedError),
    #[error("cannot read the baseline folder {}: {source}", .path.display())]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the baseline folder {} holds more than {MAX_HISTORY_FILES} summary.json files", .path.display())]
    TooMany { path: PathBuf },
}

/// Reads a baseline summary.json, checked as every saved summary is
/// ([`saved::parse_summary`]: one version rule, every field in range).
pub fn load(path: &Path) -> Result<Summary, LoadError> {
    let bytes = crate::files::read_saved(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(saved::parse_summary(&path.display().to_string(), &bytes)?)
}

/// More summaries than this in one history folder is not a history but a mistake.
const MAX_HISTORY_FILES: usize = 10_000;
/// Folders deeper than this are not searched (reports/<plan>/<run-id>/ is 2 deep).
const MAX_HISTORY_DEPTH: usize = 8;

/// Every `summary.json` under `dir` (folders searched recursively, symbolic links to folders not
/// followed), each read with [`load`], in path order.
pub fn load_history(dir: &Path) -> Result<Vec<(PathBuf, Summary)>, LoadError> {
    let mut files = Vec::new();
    let mut folders = vec![(dir.to_path_buf(), 0)];
    while let Some((folder, depth)) = folders.pop() {
        let unreadable = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LoadError::Folder { path, source }
        };
        for entry in std::fs::read_dir(&folder).map_err(unreadable(&folder))? {
            let entry = entry.map_err(unreadable(&folder))?;
            let kind = entry.file_type().map_err(unreadable(&entry.path()))?;
            if kind.is_dir() && depth < MAX_HISTORY_DEPTH {
                folders.push((entry.path(), depth + 1));
            } else if entry.file_name() == "summary.json" && !kind.is_dir() {
                files.push(entry.path());
            }
        }
        if files.len() > MAX_HISTORY_FILES {
            return Err(LoadError::TooMany {
                path: dir.to_path_buf(),
            });
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|f| load(&f).map(|s| (f, s)))
        .collect()
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

/// A cell as the plan will run it: scenario, model, concurrency, workers.
pub type PlannedCell<'a> = (&'a str, crate::plan::Model, usize, usize);

/// When none of the cells about to run is in any of the earlier runs, what differs, in words
/// (which cells, which concurrency); None when at least one cell will be compared.
pub fn nothing_compared(planned: &[PlannedCell], runs: &[Run]) -> Option<String> {
    let in_runs = |(scenario, model, concurrency, _): &PlannedCell| {
        runs.iter().any(|r| {
            r.summary.scenarios.iter().any(|s| {
                s.name == *scenario
                    && s.cells
                        .iter()
                        .any(|c| c.model == *model && c.concurrency == *concurrency)
            })
        })
    };
    if planned.is_empty() || runs.is_empty() || planned.iter().any(in_runs) {
        return None;
    }
    let label = |(s, m, c, w): &PlannedCell| format!("{s} · {}", m.label(*c, *w));
    let mut theirs: Vec<String> = Vec::new();
    let mut differs: Vec<String> = Vec::new();
    for r in runs {
        for s in &r.summary.scenarios {
            for c in &s.cells {
                let k = key(&s.name, c);
                if !theirs.contains(&k) {
                    theirs.push(k);
                }
                for p in planned.iter().filter(|p| p.0 == s.name && p.1 == c.model) {
                    let d = format!(
                        "{} {}: concurrency {} here, {} in the baseline",
                        s.name,
                        c.model.as_str(),
                        p.2,
                        c.concurrency
                    );
                    if !differs.contains(&d) {
                        differs.push(d);
                    }
                }
            }
        }
    }
    let ours: Vec<String> = planned.iter().map(label).collect();
    let mut text = format!(
        "the baseline compares nothing: none of this run's cells ({}) is in it (it has {})",
        ours.join(", "),
        if theirs.is_empty() {
            "no cells".to_string()
        } else {
            theirs.join(", ")
        }
    );
    if !differs.is_empty() {
        text.push_str(&format!("; {}", differs.join("; ")));
    }
    text.push_str(
        ": run the same cells as the baseline, or run without --baseline to start a new one",
    );
    Some(text)
}

/// Compares every cell of `current` with the same cell of the newest `settings.runs` earlier
/// runs that have it.
pub fn compare(current: &Summary, runs: &[Run], settings: BaselineSettings) -> BaselineReport {
    let mut runs: Vec<Run> = runs.to_vec();
    runs.sort_by(|a, b| b.summary.started_at.cmp(&a.summary.started_at));
    let floor_us = crate::units::micros_of(settings.latency_floor);
    let mut used = vec![false; runs.len()];
    let mut checks = Vec::new();
    let mut missing_in_baseline = Vec::new();
    for s in &current.scenarios {
        for c in &s.cells {
            let history: Vec<(usize, &CellSummary)> = runs
                .iter()
                .enumerate()
                .filter_map(|(i, r)| find(r.summary, &s.name, c).map(|b| (i, b)))
                .take(settings.runs.get())
                .collect();
            if history.is_empty() {
                missing_in_baseline.push(key(&s.name, c));
                continue;
            }
            for (i, _) in &history {
                used[*i] = true;
            }
            let bs: Vec<&CellSummary> = history.iter().map(|h| h.1).collect();
            checks.extend(cell_checks(&s.name, c, &bs, &settings, floor_us));
        }
    }
    let mut missing_in_run = Vec::new();
    if let Some(newest) = runs.first() {
        for s in &newest.summary.scenarios {
            for b in &s.cells {
                if find(current, &s.name, b).is_none() {
                    missing_in_run.push(key(&s.name, b));
                }
            }
        }
    }
    let used_runs: Vec<BaselineRun> = runs
        .iter()
        .zip(&used)
        .filter(|(_, u)| **u)
        .map(|(r, _)| BaselineRun {
            file: r.file.display().to_string(),
            run_id: r.summary.run_id.clone(),
            started_at: r.summary.started_at.clone(),
        })
        .collect();
    let newest = runs.first();
    BaselineReport {
        file: newest.map_or_else(String::new, |r| r.file.display().to_string()),
        run_id: newest.map_or_else(String::new, |r| r.summary.run_id.clone()),
        started_at: newest.map_or_else(
            || current.started_at.clone(),
            |r| r.summary.started_at.clone(),
        ),
        tolerance: settings.tolerance.p50,
        latency_floor_us: floor_us,
        passed: checks.iter().all(|c| c.outcome != Outcome::Regressed),
        runs: used_runs,
        alpha: noise::ALPHA,
        checks,
        missing_in_baseline,
        missing_in_run,
    }
}

/// How a figure is tested.
enum Test {
    /// Timings and throughput, on a log scale.
    Log(Option<LogTest>),
    /// Error counts: (errors, operations) of the baseline runs pooled, and of this run.
    Count {
        base: (u64, u64),
        cur: (u64, u64),
        t: noise::CountTest,
    },
}

impl Test {
    fn p_worse(&self) -> f64 {
        match self {
            Test::Log(t) => t.map_or(1.0, |t| t.p_worse),
            Test::Count { t, .. } => t.p_worse,
        }
    }
    fn p_better(&self) -> f64 {
        match self {
            Test::Log(t) => t.map_or(1.0, |t| t.p_better),
            Test::Count { t, .. } => t.p_better,
        }
    }
}

/// One check before the family's error budget is shared out.
struct Pending {
    check: BaselineCheck,
    test: Test,
    /// A latency: changes within the floor never count.
    latency: bool,
    /// A percentile that either side's histogram bounds only by an edge of its sample (a p99 of
    /// 20 operations is their maximum): that side's operation count. One operation moves such
    /// a figure and its spread across runs is an extreme value's, far from normal, so it never
    /// regresses or improves on its own.
    edge: Option<u64>,
}

/// The values of a figure, one per round (or the one value without rounds).
fn values(c: &CellSummary, metric: &str) -> Vec<f64> {
    if let Some(r) = c.rounds.as_ref().filter(|r| r.count >= 2) {
        let spread = match metric {
            "p50" => Some(&r.p50_us),
            "p90" => Some(&r.p90_us),
            "p99" => Some(&r.p99_us),
            "throughput_per_s" => Some(&r.throughput_per_s),
            _ => None,
        };
        if let Some(s) = spread.filter(|s| !s.values.is_empty()) {
            return s.values.clone();
        }
    }
    vec![match metric {
        "p50" => c.latency_us.p50 as f64,
        "p90" => c.latency_us.p90 as f64,
        "p99" => c.latency_us.p99 as f64,
        _ => c.throughput_per_s,
    }]
}

/// The other percentiles this run's `current` carries (those the plan's thresholds name:
/// `p95`), each as (name, the baseline's values, its one value, its quantile). The baseline's
/// are kept in its summary, or read from its histogram when it ran without that threshold; a
/// baseline value that is neither is left out, and a percentile with none is not compared.
fn other_percentiles<'a>(
    current: &crate::stats::LatencySummary,
    baseline: impl Iterator<Item = (&'a crate::stats::LatencySummary, &'a str)> + Clone,
) -> Vec<(String, Vec<f64>, Vec<f64>, f64)> {
    current
        .percentiles
        .iter()
        .filter_map(|(name, cur)| {
            let ppm = crate::plan::threshold::percentile_of(name)?.ok()?;
            let base: Vec<f64> = baseline
                .clone()
                .filter_map(|(l, histogram)| match l.percentiles.get(name) {
                    Some(v) => Some(*v as f64),
                    None => {
                        let mut filled = l.clone();
                        crate::stats::fill_percentiles(&mut filled, histogram, &[ppm]);
                        filled.percentiles.get(name).map(|v| *v as f64)
                    }
                })
                .collect();
            let q = f64::from(ppm) / 1e6;
            (!base.is_empty()).then(|| (name.clone(), base, vec![*cur as f64], q))
        })
        .collect()
}

fn quantile_of(metric: &str) -> f64 {
    match metric {
        "p50" => 0.5,
        "p90" => 0.9,
        _ => 0.99,
    }
}

/// A percentile's interval from its histogram, its sampling variance on a log scale, and the
/// operation count when the interval is cut at the data's edge: then no variance (a p99 of 100
/// values is the maximum: nothing bounds it, so its histogram cannot say how far it could move).
fn sampling(histogram: &str, q: f64) -> (Option<PercentileInterval>, Option<f64>, Option<u64>) {
    let Some(i) = quantile::interval_of_saved(histogram, q, noise::CONFIDENCE) else {
        return (None, None, None);
    };
    let edge = (i.upper_is_max || i.lower_is_min).then_some(i.count);
    let var = if edge.is_some() {
        None
    } else {
        noise::se_of_interval(i.low.max(1) as f64, i.high.max(1) as f64).map(|se| se * se)
    };
    let shown = PercentileInterval {
        low: i.low as f64,
        high: i.high as f64,
        confidence: noise::CONFIDENCE,
        count: i.count,
        upper_is_max: i.upper_is_max,
    };
    (Some(shown), var, edge)
}

fn median(v: &[f64]) -> f64 {
    crate::stats::rounds_median(v).unwrap_or(0.0)
}

/// Why a slower figure may be the machine's: other load (or the hypervisor) took more of it than
/// during the baseline.
fn busier(c: &CellSummary, bs: &[&CellSummary]) -> Option<String> {
    let base = |f: fn(&CellSummary) -> Option<f64>| {
        let v: Vec<f64> = bs.iter().filter_map(|b| f(b)).collect();
        if v.is_empty() { 0.0 } else { median(&v) }
    };
    let other = |x: &CellSummary| x.machine.other_cores;
    let steal = |x: &CellSummary| x.machine.steal_share;
    if let Some(cur) = other(c) {
        let was = base(other);
        if cur - was >= 0.5 {
            return Some(format!(
                "other load kept {cur:.1} cores busy during this cell against {was:.1} in the \
                 baseline: a slower figure may be the machine's"
            ));
        }
    }
    if let Some(cur) = steal(c) {
        let was = base(steal);
        if cur - was >= 0.1 {
            return Some(format!(
                "the hypervisor took {:.0}% of the machine during this cell against {:.0}% in the \
                 baseline",
                cur * 100.0,
                was * 100.0
            ));
        }
    }
    None
}

/// A check of `metric` on cell `c` of `scenario` before anything is compared: no figures, no
/// change, inconclusive (and so passed).
pub fn unchecked(scenario: &str, c: &CellSummary, metric: String, tolerance: f64) -> BaselineCheck {
    BaselineCheck {
        scenario: scenario.to_string(),
        model: c.model,
        concurrency: c.concurrency,
        workers: c.workers,
        metric,
        baseline: 0.0,
        current: 0.0,
        change: None,
        outcome: Outcome::Inconclusive,
        passed: true,
        tolerance,
        baseline_values: Vec::new(),
        current_values: Vec::new(),
        current_interval: None,
        change_low: None,
        change_high: None,
        p_value: None,
        alpha: None,
        detectable: None,
        detectable_change: None,
        reason: None,
        noise: None,
    }
}

fn cell_checks(
    scenario: &str,
    c: &CellSummary,
    bs: &[&CellSummary],
    settings: &BaselineSettings,
    floor_us: u64,
) -> Vec<BaselineCheck> {
    let tol = |metric: &str| settings.tolerance.of(metric);
    let blank = |metric: String, tolerance: f64| unchecked(scenario, c, metric, tolerance);
    // A timing or throughput from its values on both sides (newest baseline run first).
    let log_check = |metric: String,
                     base: Vec<f64>,
                     cur: Vec<f64>,
                     hist: Option<(&str, &str, f64)>,
                     lower_is_worse: bool| {
        let t = tol(&metric);
        // The histograms' own uncertainty: a floor under the measured noise, and the only noise
        // known with one value a side; none when either percentile is bounded only by an edge.
        let (interval, var, edge) = match hist {
            Some((bh, ch, q)) => {
                let (_, vb, eb) = sampling(bh, q);
                let (ic, vc, ec) = sampling(ch, q);
                (ic, vb.zip(vc).map_or(0.0, |(b, c)| b + c), ec.or(eb))
            }
            None => (None, 0.0, None),
        };
        let test = noise::log_test(&base, &cur, var, t, lower_is_worse);
        let mut check = blank(metric, t);
        check.baseline = median(&base);
        check.current = median(&cur);
        check.baseline_values = base;
        check.current_values = cur;
        check.current_interval = interval;
        Pending {
            check,
            test: Test::Log(test),
            latency: !lower_is_worse,
            edge,
        }
    };
    let count_check = |metric: String, base: (u64, u64), cur: (u64, u64)| {
        let t = tol(&metric);
        let rate = |(k, n): (u64, u64)| if n > 0 { k as f64 / n as f64 } else { 0.0 };
        let mut check = blank(metric, t);
        check.baseline = rate(base);
        check.current = rate(cur);
        Pending {
            check,
            test: Test::Count {
                base,
                cur,
                t: noise::count_test(base, cur, t),
            },
            latency: false,
            edge: None,
        }
    };
    let mut family = Vec::new();
    for metric in ["p50", "p90", "p99"] {
        let base: Vec<f64> = bs.iter().flat_map(|b| values(b, metric)).collect();
        let hist = Some((
            bs[0].histogram.as_str(),
            c.histogram.as_str(),
            quantile_of(metric),
        ));
        family.push(log_check(
            metric.into(),
            base,
            values(c, metric),
            hist,
            false,
        ));
    }
    // The other percentiles the plan's thresholds name (`p95`): one value a side, the noise
    // from the histograms.
    let theirs = bs.iter().map(|b| (&b.latency_us, b.histogram.as_str()));
    for (name, base, cur, q) in other_percentiles(&c.latency_us, theirs) {
        let hist = (bs[0].histogram.as_str(), c.histogram.as_str(), q);
        family.push(log_check(name, base, cur, Some(hist), false));
    }
    let base: Vec<f64> = bs
        .iter()
        .flat_map(|b| values(b, "throughput_per_s"))
        .collect();
    family.push(log_check(
        "throughput_per_s".into(),
        base,
        values(c, "throughput_per_s"),
        None,
        true,
    ));
    let errors = |x: &CellSummary| (x.errors.values().sum::<u64>(), x.operations);
    let pooled = bs
        .iter()
        .map(|b| errors(b))
        .fold((0, 0), |a, e| (a.0 + e.0, a.1 + e.1));
    family.push(count_check("error_rate".into(), pooled, errors(c)));
    // Each request of a mix or a flow, by name, against the same request of the baseline cells.
    if c.requests.len() > 1 {
        for r in &c.requests {
            let brs: Vec<_> = bs
                .iter()
                .filter_map(|b| b.requests.iter().find(|x| x.name == r.name))
                .collect();
            let Some(newest) = brs.first() else { continue };
            for (stat, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
                let pick = |l: &crate::stats::LatencySummary| match stat {
                    "p50" => l.p50 as f64,
                    "p90" => l.p90 as f64,
                    _ => l.p99 as f64,
                };
                let base: Vec<f64> = brs.iter().map(|b| pick(&b.latency_us)).collect();
                family.push(log_check(
                    format!("{stat}{{request={}}}", r.name),
                    base,
                    vec![pick(&r.latency_us)],
                    Some((newest.histogram.as_str(), r.histogram.as_str(), q)),
                    false,
                ));
            }
            let theirs = brs.iter().map(|b| (&b.latency_us, b.histogram.as_str()));
            for (name, base, cur, q) in other_percentiles(&r.latency_us, theirs) {
                let hist = (newest.histogram.as_str(), r.histogram.as_str(), q);
                let name = format!("{name}{{request={}}}", r.name);
                family.push(log_check(name, base, cur, Some(hist), false));
            }
            let errs =
                |x: &crate::stats::RequestSummary| (x.errors.values().sum::<u64>(), x.operations);
            let pooled = brs
                .iter()
                .map(|b| errs(b))
                .fold((0, 0), |a, e| (a.0 + e.0, a.1 + e.1));
            family.push(count_check(
                format!("error_rate{{request={}}}", r.name),
                pooled,
                errs(r),
            ));
        }
    }
    let machine = busier(c, bs);
    let mut checks = decide(family, floor_us as f64, machine.as_deref());
    checks.extend(capacity_check(c, bs, tol("capacity_per_s"), &blank));
    checks
}

/// A capacity search against the baseline's: regressed when the capacity fell by more than the
/// tolerance *and* beyond the searches' own uncertainty, their brackets: the highest rate this
/// run could have kept (its first bad rate) is still below the lowest the baseline kept (its
/// capacity) less the tolerance. A search with no capacity on either side compares nothing; a
/// capacity at the ceiling only says "at least" and never regresses.
fn capacity_check(
    c: &CellSummary,
    bs: &[&CellSummary],
    tolerance: f64,
    blank: &dyn Fn(String, f64) -> BaselineCheck,
) -> Option<BaselineCheck> {
    let cur = c.capacity.as_ref()?;
    let base: Vec<f64> = bs
        .iter()
        .filter_map(|b| b.capacity.as_ref()?.capacity_per_s)
        .collect();
    if base.is_empty() {
        return None;
    }
    let mut check = blank("capacity_per_s".into(), tolerance);
    {
        let b = median(&base);
        check.baseline = b;
        check.baseline_values = base;
        let Some(now) = cur.capacity_per_s else {
            check.outcome = Outcome::Inconclusive;
            check.reason = Some(format!(
                "this run's search found no capacity (it stopped {})",
                cur.stopped.as_str()
            ));
            return Some(check);
        };
        check.current = now;
        check.current_values = vec![now];
        check.change = (b != 0.0).then(|| (now - b) / b);
        // The most this run's target could have kept: its first bad rate, or "unbounded".
        let upper = match cur.stopped {
            CapacityStop::Ceiling => f64::INFINITY,
            _ => cur.bad_per_s.unwrap_or(now * (1.0 + cur.precision)),
        };
        let floor = b * (1.0 - tolerance);
        let (outcome, reason) = if upper < floor {
            (Outcome::Regressed, None)
        } else if now < floor {
            (
                Outcome::Inconclusive,
                Some("beyond the tolerance, but not beyond the search's bracket".to_string()),
            )
        } else if now > b * (1.0 + tolerance) && cur.stopped != CapacityStop::Ceiling {
            (Outcome::Improved, None)
        } else {
            (Outcome::Unchanged, None)
        };
        check.outcome = outcome;
        check.passed = outcome != Outcome::Regressed;
        check.reason = reason;
    }
    Some(check)
}

/// Shares the family's error budget out (Holm) and gives every check its outcome. A percentile
/// bounded by its sample's edge takes no part: it can show no change.
fn decide(family: Vec<Pending>, floor_us: f64, machine: Option<&str>) -> Vec<BaselineCheck> {
    // Holm over the checks that can show a change; the others keep the family's α, unused.
    let shared = |f: fn(&Test) -> f64| -> Vec<(f64, bool)> {
        let p: Vec<f64> = family
            .iter()
            .filter(|p| p.edge.is_none())
            .map(|p| f(&p.test))
            .collect();
        let mut held = noise::holm(&p, noise::ALPHA).into_iter();
        family
            .iter()
            .map(|p| match p.edge {
                Some(_) => (noise::ALPHA, false),
                None => held.next().unwrap_or((noise::ALPHA, false)),
            })
            .collect()
    };
    let worse = shared(Test::p_worse);
    let better = shared(Test::p_better);
    family
        .into_iter()
        .zip(worse.into_iter().zip(better))
        .map(|(p, ((level, worse), (_, better)))| {
            finish(p, level, worse, better, floor_us, machine)
        })
        .collect()
}

fn finish(
    p: Pending,
    level: f64,
    worse: bool,
    better: bool,
    floor_us: f64,
    machine: Option<&str>,
) -> BaselineCheck {
    let Pending {
        mut check,
        test,
        latency,
        edge,
    } = p;
    let (base, cur) = (check.baseline, check.current);
    check.change = (base != 0.0).then(|| (cur - base) / base);
    let tolerance = check.tolerance;
    let beyond_tolerance = match &test {
        Test::Log(_) if latency => cur > base * (1.0 + tolerance),
        Test::Log(_) => cur < base * (1.0 - tolerance),
        Test::Count { .. } => (base == 0.0 && cur > 0.0) || cur > base * (1.0 + tolerance),
    };
    let within_floor = latency && (cur - base).abs() <= floor_us;
    let measured;
    match &test {
        Test::Log(t) => {
            measured = t.and_then(|t| t.se).is_some();
            if let Some(t) = t.filter(|t| t.se.is_some()) {
                check.p_value = Some(t.p_worse);
                let rel = |d: f64| {
                    if latency {
                        d.exp() - 1.0
                    } else {
                        (-d).exp() - 1.0
                    }
                };
                if let Some((lo, hi)) = t.interval() {
                    let (a, b) = (rel(lo), rel(hi));
                    check.change_low = Some(a.min(b));
                    check.change_high = Some(a.max(b));
                }
                if let Some(d) = t.detectable(level).filter(|_| edge.is_none()) {
                    let mut value = base * (1.0 + rel(d));
                    if latency {
                        value = value.max(base + floor_us);
                    }
                    check.detectable = Some(value);
                    check.detectable_change = (base != 0.0).then(|| value / base - 1.0);
                }
            }
        }
        Test::Count { base: b, cur: c, t } => {
            measured = c.1 > 0 && b.1 > 0;
            check.p_value = Some(t.p_worse);
            if let Some(k) = noise::detectable_errors(*b, c.1, check.tolerance, level) {
                let value = k as f64 / c.1 as f64;
                check.detectable = Some(value);
                check.detectable_change = (base != 0.0).then(|| value / base - 1.0);
            }
        }
    }
    // A t quantile at few degrees of freedom can put a bound beyond any number: say nothing.
    for x in [
        &mut check.change_low,
        &mut check.change_high,
        &mut check.detectable,
        &mut check.detectable_change,
    ] {
        *x = x.filter(|v| v.is_finite());
    }
    check.alpha = Some(level);
    let equivalent = match &test {
        Test::Log(t) => t.is_some_and(|t| t.equivalent),
        Test::Count { t, .. } => t.equivalent,
    };
    let (outcome, reason) = if worse && !within_floor {
        match machine {
            Some(why) => (Outcome::Inconclusive, Some(why.to_string())),
            None => (Outcome::Regressed, None),
        }
    } else if better && !within_floor {
        (Outcome::Improved, None)
    } else if let Some(n) = edge.filter(|_| !within_floor) {
        (
            Outcome::Inconclusive,
            Some(format!(
                "bounded only by the fastest or slowest of {n} operations: one operation moves \
                 it, so it shows no change on its own (the other checks, or more operations, do)"
            )),
        )
    } else if equivalent {
        (Outcome::Unchanged, None)
    } else if within_floor {
        (
            Outcome::Unchanged,
            Some("within the latency floor, where changes never count".to_string()),
        )
    } else if !measured {
        if beyond_tolerance {
            (
                Outcome::Inconclusive,
                Some(
                    "one value on each side and no bound from the histograms: the noise is not \
                     measured (use rounds or a history of runs)"
                        .to_string(),
                ),
            )
        } else {
            (
                Outcome::Unchanged,
                Some("within the tolerance; the noise is not measured".to_string()),
            )
        }
    } else if beyond_tolerance {
        (
            Outcome::Inconclusive,
            Some("beyond the tolerance, but not beyond the noise".to_string()),
        )
    } else {
        (
            Outcome::Inconclusive,
            Some("too noisy to show it within the tolerance".to_string()),
        )
    };
    check.outcome = outcome;
    check.passed = outcome != Outcome::Regressed;
    check.reason = reason;
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Model, Tolerances};
    use std::num::NonZeroUsize;
    use std::time::Duration;

    fn settings(runs: usize) -> BaselineSettings {
        BaselineSettings {
            tolerance: Tolerances::all(0.1),
            latency_floor: Duration::from_micros(100),
            runs: NonZeroUsize::new(runs).expect("runs"),
        }
    }

    /// A one-cell summary (async c=4) whose p50 is `p50s` round by round (one value: no
    /// rounds), started at second `at`, with `other_cores` of other load on the machine.
    fn summary(p50s: &[f64], at: u64, other_cores: f64) -> Summary {
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
        let started = format!("2026-11-28T16:00:{:02}Z", at % 60);
        serde_json::from_value(serde_json::json!({
            "schema_version": 1, "plan": {"name": "t", "file": "t.yaml"}, "run_id": format!("r{at}"),
            "started_at": started, "finished_at": "2026-11-28T17:00:01Z", "duration_seconds": 1.0,
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
        .map(|mut s: Summary| {
            s.scenarios[0].cells[0].machine.other_cores = Some(other_cores);
            s
        })
        .expect("summary")
    }

    fn check<'a>(report: &'a BaselineReport, metric: &str) -> &'a BaselineCheck {
        report
            .checks
            .iter()
            .find(|c| c.metric == metric)
            .unwrap_or_else(|| panic!("no {metric} check in {:?}", report.checks))
    }

    fn compare_p50(history: &[Summary], current: &Summary, runs: usize) -> BaselineCheck {
        let file = Path::new("b.json");
        let runs_: Vec<Run> = history.iter().map(|s| Run { file, summary: s }).collect();
        let report = compare(current, &runs_, settings(runs));
        check(&report, "p50").clone()
    }

    #[test]
    fn outcomes_follow_tolerance_and_measured_noise() {
        let quiet = [20_000.0, 20_200.0, 19_800.0, 20_100.0, 19_900.0];
        let noisy = [16_000.0, 24_000.0, 19_000.0, 26_000.0, 18_000.0];
        // (history p50 per run, current p50 rounds, other load now, outcome)
        let cases: &[(&[f64], &[f64], f64, Outcome)] = &[
            // Five quiet runs; today 50 % slower: regressed.
            (&quiet, &[30_000.0], 0.0, Outcome::Regressed),
            // Today the same: unchanged.
            (&quiet, &[20_050.0], 0.0, Outcome::Unchanged),
            // 15 % slower against a history that moves ±30 %: inconclusive, not regressed.
            (&noisy, &[23_000.0], 0.0, Outcome::Inconclusive),
            // Today 40 % faster: improved.
            (&quiet, &[12_000.0], 0.0, Outcome::Improved),
            // 50 % slower while other load kept 1.8 cores busy: the machine, not the service.
            (&quiet, &[30_000.0], 1.8, Outcome::Inconclusive),
        ];
        for (history, current, other, want) in cases {
            let runs: Vec<Summary> = history
                .iter()
                .enumerate()
                .map(|(i, p)| summary(&[*p], i as u64, 0.0))
                .collect();
            let c = compare_p50(&runs, &summary(current, 50, *other), 5);
            assert_eq!(c.outcome, *want, "{history:?} → {current:?}: {c:?}");
            assert_eq!(c.passed, *want != Outcome::Regressed);
            assert_eq!(c.baseline_values.len(), history.len());
        }
    }

    #[test]
    fn rounds_on_both_sides_measure_the_noise_of_a_single_baseline() {
        // (baseline rounds, current rounds, outcome)
        let cases: &[(&[f64], &[f64], Outcome)] = &[
            (
                &[20_000.0, 20_100.0, 19_900.0, 20_050.0, 19_950.0],
                &[25_000.0, 25_100.0, 24_900.0, 25_050.0, 24_950.0],
                Outcome::Regressed,
            ),
            // Median up 20 %, but the rounds overlap: not beyond the noise.
            (
                &[20_000.0, 30_000.0, 19_000.0, 26_000.0, 18_000.0],
                &[24_000.0, 19_500.0, 31_000.0, 18_500.0, 27_000.0],
                Outcome::Inconclusive,
            ),
            (
                &[20_000.0, 20_100.0, 19_900.0],
                &[20_050.0, 19_950.0, 20_000.0],
                Outcome::Unchanged,
            ),
        ];
        for (base, cur, want) in cases {
            let c = compare_p50(&[summary(base, 1, 0.0)], &summary(cur, 2, 0.0), 5);
            assert_eq!(c.outcome, *want, "{base:?} → {cur:?}: {c:?}");
            if c.outcome == Outcome::Regressed {
                assert!(c.detectable_change.is_some_and(|d| d > 0.1), "{c:?}");
                assert!(c.change_low.is_some_and(|l| l > 0.1), "{c:?}");
            }
        }
    }

    #[test]
    fn a_history_uses_only_its_newest_runs() {
        // Ten runs: the five oldest slow, the five newest quiet; today quiet.
        let runs: Vec<Summary> = (0..10)
            .map(|i| {
                summary(
                    &[if i < 5 { 40_000.0 } else { 20_000.0 + i as f64 }],
                    i,
                    0.0,
                )
            })
            .collect();
        let file = Path::new("b.json");
        let history: Vec<Run> = runs.iter().map(|s| Run { file, summary: s }).collect();
        let report = compare(&summary(&[20_003.0], 30, 0.0), &history, settings(5));
        assert_eq!(report.runs.len(), 5);
        assert_eq!(report.run_id, "r9", "the newest run names the report");
        assert!(
            check(&report, "p50")
                .baseline_values
                .iter()
                .all(|v| *v < 21_000.0)
        );
    }

    #[test]
    fn a_cells_checks_share_one_error_budget() {
        let runs: Vec<Summary> = (0..5)
            .map(|i| summary(&[20_000.0 + 50.0 * i as f64], i, 0.0))
            .collect();
        let file = Path::new("b.json");
        let history: Vec<Run> = runs.iter().map(|s| Run { file, summary: s }).collect();
        let report = compare(&summary(&[20_000.0], 30, 0.0), &history, settings(5));
        let levels: Vec<f64> = report.checks.iter().filter_map(|c| c.alpha).collect();
        assert_eq!(levels.len(), report.checks.len());
        // Holm: the levels run from α/k up to α, once each.
        let k = report.checks.len() as f64;
        assert!(
            levels.iter().any(|l| (l - 0.05 / k).abs() < 1e-12),
            "{levels:?}"
        );
        assert!(levels.iter().all(|l| *l <= 0.05 + 1e-12));
    }

    #[test]
    fn a_percentile_bounded_only_by_an_edge_has_no_sampling_noise_to_lean_on() {
        let saved = |n: u64| {
            let mut h = crate::stats::new_histogram();
            for v in 1..=n {
                h.record(1_000 + v).expect("in range");
            }
            crate::stats::histogram_to_base64(&h)
        };
        // (values, quantile, an interval, a sampling variance)
        let cases = [
            (1_000, 0.5, true, true),
            (1_000, 0.99, true, true),
            (20, 0.99, true, false),
            (20, 0.9, true, false),
            (0, 0.5, false, false),
        ];
        for (n, q, interval, var) in cases {
            let (i, v, edge) = sampling(&saved(n), q);
            assert_eq!(i.is_some(), interval, "{n} values, q {q}");
            assert_eq!(v.is_some(), var, "{n} values, q {q}: {v:?}");
            assert_eq!(edge.is_some(), interval && !var, "{n} values, q {q}");
        }
    }

    /// The false alarm this guards against: five runs of 20 operations whose maxima (their p90
    /// and p99) happened to lie within 2 % of each other, then an identical rerun with one slow
    /// operation: its p99 is 24 % higher. A maximum's spread across runs is an extreme value's,
    /// so the history's tight five do not say how far the next one may land.
    #[test]
    fn a_percentile_bounded_by_the_maximum_never_regresses_on_its_own() {
        // `n` latencies of about 20 ms, the slowest `max` us.
        let cell = |n: u64, max: u64, at: u64| {
            let mut h = crate::stats::new_histogram();
            for v in 0..n - 1 {
                h.record(20_000 + v % 200).expect("in range");
            }
            h.record(max).expect("in range");
            let mut s = summary(&[20_100.0], at, 0.0);
            let c = &mut s.scenarios[0].cells[0];
            c.operations = n;
            c.successes = n;
            c.histogram = crate::stats::histogram_to_base64(&h);
            c.latency_us.count = n;
            (c.latency_us.p90, c.latency_us.p99) = (max, max);
            s
        };
        let file = Path::new("b.json");
        // (operations per run, outcome of the slow rerun's p99)
        for (n, want) in [(20, Outcome::Inconclusive), (1_000, Outcome::Regressed)] {
            let runs: Vec<Summary> = (0..5).map(|i| cell(n, 20_000 + 100 * i, i)).collect();
            let history: Vec<Run> = runs.iter().map(|s| Run { file, summary: s }).collect();
            let report = compare(&cell(n, 24_700, 30), &history, settings(5));
            let p99 = check(&report, "p99");
            assert_eq!(p99.outcome, want, "{n} operations: {p99:?}");
            if n == 20 {
                assert!(
                    p99.reason
                        .as_ref()
                        .is_some_and(|r| r.contains("of 20 operations"))
                );
                assert!(p99.detectable.is_none(), "{p99:?}");
                // p90 and p99 take no share of the budget: the other three split α.
                let edge = |c: &&BaselineCheck| c.metric == "p90" || c.metric == "p99";
                let held: Vec<f64> = report
                    .checks
                    .iter()
                    .filter(|c| !edge(c))
                    .filter_map(|c| c.alpha)
                    .collect();
                assert_eq!(held.len(), 3, "{:?}", report.checks);
                let least = held.iter().copied().fold(1.0, f64::min);
                assert!((least - 0.05 / 3.0).abs() < 1e-12, "{held:?}");
                assert!(
                    report.checks.iter().all(|c| c.passed),
                    "{:?}",
                    report.checks
                );
            }
        }
    }

    #[test]
    fn a_percentile_the_thresholds_name_is_compared_even_when_the_baseline_did_not_keep_it() {
        // 1,000 latencies from `from` to `from + 999` us: p95 is about `from + 950`.
        let cell = |from: u64, keep: bool| {
            let mut h = crate::stats::new_histogram();
            for v in from..from + 1_000 {
                h.record(v).expect("in range");
            }
            let mut s = summary(&[(from + 500) as f64], from, 0.0);
            let c = &mut s.scenarios[0].cells[0];
            c.histogram = crate::stats::histogram_to_base64(&h);
            if keep {
                crate::stats::fill_percentiles(&mut c.latency_us, &c.histogram, &[950_000]);
            }
            s
        };
        let file = Path::new("b.json");
        // (baseline keeps p95, current from, outcome)
        let cases = [
            (true, 10_000, Outcome::Unchanged),
            (false, 10_000, Outcome::Unchanged),
            (false, 20_000, Outcome::Regressed),
        ];
        for (keep, from, outcome) in cases {
            let base = cell(10_000, keep);
            let history = [Run {
                file,
                summary: &base,
            }];
            let report = compare(&cell(from, true), &history, settings(1));
            let p95 = check(&report, "p95");
            assert!((p95.baseline - 10_950.0).abs() < 20.0, "{p95:?}");
            assert_eq!(p95.outcome, outcome, "keep {keep}, from {from}: {p95:?}");
        }
        // Without a threshold naming it, no p95 check.
        let plain = summary(&[10_500.0], 1, 0.0);
        let history = [Run {
            file,
            summary: &plain,
        }];
        let report = compare(&plain, &history, settings(1));
        assert!(report.checks.iter().all(|c| c.metric != "p95"));
    }

    #[test]
    fn a_baseline_that_matches_no_cell_says_what_differs() {
        let base = summary(&[20_000.0], 1, 0.0);
        let file = Path::new("b.json");
        let runs = [Run {
            file,
            summary: &base,
        }];
        let why = nothing_compared(&[("a", Model::Async, 16, 1)], &runs).expect("nothing compared");
        assert!(why.contains("async c=16 w=1"), "{why}");
        assert!(
            why.contains("concurrency 16 here, 4 in the baseline"),
            "{why}"
        );
        assert_eq!(nothing_compared(&[("a", Model::Async, 4, 1)], &runs), None);
        assert!(nothing_compared(&[("b", Model::Async, 4, 1)], &runs).is_some());
    }
}
