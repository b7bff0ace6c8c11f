//! Raw, mergeable results: what a shard (`loadplan run --shard I/N --results FILE`) writes and what
//! `loadplan report` merges, and the one merge that the `processes` model uses for its workers too.
//!
//! A [`Part`] is one worker's or one shard's share of a cell; [`merge_parts`] adds shares exactly
//! (HdrHistograms and counters add bucket by bucket). [`merge_results`] checks that shard files
//! belong together (same resolved plan, same shard count) and says which shards are missing.
//! No I/O here; the CLI reads and writes the files.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::recorder::{Recorder, RecorderWire};
use super::saved;
use super::{CellResult, PlanInfo, RunResults};
use crate::plan::{Cell, Model, Plan};

pub const RESULTS_FORMAT: &str = "loadplan-results";
pub const RESULTS_VERSION: u32 = 1;

/// One share of a cell.
#[derive(Debug, Clone, Default)]
pub struct Part {
    pub recorder: Recorder,
    pub wall: Duration,
    pub cpu: Duration,
    pub peak_rss_bytes: u64,
    pub complete: bool,
    pub notes: Vec<String>,
}

/// Adds shares that ran side by side: counts and histograms add, the wall clock is the longest
/// share's, CPU adds up, peak memory is the largest process's.
pub fn merge_parts(parts: impl IntoIterator<Item = Part>) -> Part {
    let mut all = Part {
        complete: true,
        ..Part::default()
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

/// Splits `total` into shares proportional to `weights`; the remainder goes one by one to the
/// first shares with a weight, so the shares always add up to `total` exactly.
pub fn split(total: u64, weights: &[usize]) -> Vec<u64> {
    let sum: u64 = weights.iter().map(|w| *w as u64).sum::<u64>().max(1);
    let mut shares: Vec<u64> = weights
        .iter()
        .map(|w| (u128::from(total) * *w as u128 / u128::from(sum)) as u64)
        .collect();
    let mut left = total - shares.iter().sum::<u64>();
    for (s, _) in shares.iter_mut().zip(weights).filter(|(_, w)| **w > 0) {
        if left == 0 {
            break;
        }
        *s += 1;
        left -= 1;
    }
    shares
}

/// Which part of every cell a shard ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 0-based.
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// `I/N` with 1 ≤ I ≤ N, as people number shards (Kubernetes' completion index + 1).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not I/N, e.g. 2/4"))?;
        let (i, n) = (
            i.trim()
                .parse::<usize>()
                .map_err(|_| format!("`{i}` is not a shard number"))?,
            n.trim()
                .parse::<usize>()
                .map_err(|_| format!("`{n}` is not a shard count"))?,
        );
        if n == 0 || i == 0 || i > n || n > 10_000 {
            return Err(format!("shard {i}/{n}: want 1 ≤ I ≤ N ≤ 10000"));
        }
        Ok(Shard {
            index: i - 1,
            count: n,
        })
    }

    /// This shard's share of `total` split over the whole cell's `concurrency` users: users go to
    /// shards round-robin, the work follows the users. Shares of all shards add up to `total`.
    pub fn share(&self, concurrency: usize, total: u64) -> (usize, u64) {
        let users: Vec<usize> = (0..self.count)
            .map(|k| concurrency / self.count + usize::from(k < concurrency % self.count))
            .collect();
        let work = split(total, &users);
        (users[self.index], work[self.index])
    }

    /// The first operation number of this shard's share (so target lists keep rotating).
    pub fn first_op(&self, concurrency: usize, total: u64) -> u64 {
        let users: Vec<usize> = (0..self.count)
            .map(|k| concurrency / self.count + usize::from(k < concurrency % self.count))
            .collect();
        split(total, &users)[..self.index].iter().sum()
    }
}

/// A shard's results file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    /// Always [`RESULTS_FORMAT`]: tells a results file from a summary.json.
    pub format: String,
    pub version: u32,
    pub plan: PlanInfo,
    /// Hash of the resolved plan: shards of different plans or plan versions never merge.
    pub plan_hash: String,
    pub shard: Shard,
    pub run_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub interrupted: bool,
    pub cores: usize,
    pub cells: Vec<CellPartWire>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellPartWire {
    pub scenario: usize,
    pub scenario_name: String,
    pub model: Model,
    /// The whole cell's concurrency and workers (not this shard's share).
    pub concurrency: usize,
    pub workers: usize,
    pub recorder: RecorderWire,
    pub wall_us: u64,
    pub cpu_us: u64,
    pub peak_rss_bytes: u64,
    pub complete: bool,
    pub notes: Vec<String>,
    pub offset_us: u64,
}

/// A shard's run as a results file.
pub fn to_results(plan: &Plan, run: &RunResults, shard: Shard) -> Results {
    Results {
        format: RESULTS_FORMAT.into(),
        version: RESULTS_VERSION,
        plan: PlanInfo {
            name: plan.name.clone(),
            file: plan.file.display().to_string(),
            description: plan.description.clone(),
            source: plan.source.clone(),
        },
        plan_hash: plan.hash(),
        shard,
        run_id: run.run_id.clone(),
        started_at: humantime::format_rfc3339_seconds(run.started_at).to_string(),
        finished_at: humantime::format_rfc3339_seconds(run.finished_at).to_string(),
        interrupted: run.interrupted,
        cores: run.cores,
        cells: run
            .cells
            .iter()
            .map(|c| CellPartWire {
                scenario: c.cell.scenario,
                scenario_name: plan.scenarios[c.cell.scenario].name.clone(),
                model: c.cell.model,
                concurrency: c.cell.concurrency.get(),
                workers: c.cell.workers.get(),
                recorder: RecorderWire::from(&c.recorder),
                wall_us: crate::units::micros_of(c.wall),
                cpu_us: crate::units::micros_of(c.cpu),
                peak_rss_bytes: c.peak_rss_bytes,
                complete: c.complete,
                notes: c.notes.clone(),
                offset_us: crate::units::micros_of(c.offset),
            })
            .collect(),
    }
}

/// Merges shard results of one plan into one run. `plan` is the plan they ran (re-read from the
/// source they carry). Missing shards are named in every cell's notes and make the cells
/// incomplete; results of different plans are refused. Nothing in the files is taken on trust:
/// each is checked as [`saved::check_results`] does (so counters add without overflow), shard
/// indices and scenario indices are bounds-checked, and a cell the plan does not have is an
/// error, never dropped.
pub fn merge_results(plan: &Plan, files: &[(String, Results)]) -> Result<RunResults, String> {
    let Some((first_name, first)) = files.first() else {
        return Err("no results to merge".into());
    };
    let hash = |h: &str| h.chars().take(12).collect::<String>();
    for (name, r) in files {
        saved::check_results(name, r).map_err(|e| e.to_string())?;
        if r.plan_hash != first.plan_hash {
            return Err(format!(
                "{name} is a run of plan `{}` ({}), {first_name} of plan `{}` ({}): results of different plans or plan versions cannot be merged",
                r.plan.name,
                hash(&r.plan_hash),
                first.plan.name,
                hash(&first.plan_hash)
            ));
        }
        if r.shard.count != first.shard.count {
            return Err(format!(
                "{name} is shard {} of {}, {first_name} of {}: the shard counts differ",
                r.shard.index + 1,
                r.shard.count,
                first.shard.count
            ));
        }
    }
    let mut seen = vec![false; first.shard.count];
    for (name, r) in files {
        let Some(slot) = seen.get_mut(r.shard.index) else {
            return Err(format!(
                "{name}: shard.index: {} is out of range for {} shards",
                r.shard.index, r.shard.count
            ));
        };
        if std::mem::replace(slot, true) {
            return Err(format!(
                "{name}: shard {} of {} is given twice",
                r.shard.index + 1,
                r.shard.count
            ));
        }
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| !**s)
        .map(|(i, _)| format!("{}", i + 1))
        .collect();
    // Cells in plan order, as a single run would list them.
    let cores = files.iter().map(|(_, r)| r.cores).max().unwrap_or(1);
    let planned = plan.cells(cores);
    // (scenario, model, concurrency) → the shares, the cell's workers, its earliest start.
    type Shares = (Vec<Part>, usize, Duration);
    let mut groups: BTreeMap<(usize, Model, usize), Shares> = BTreeMap::new();
    for (name, r) in files {
        for (i, c) in r.cells.iter().enumerate() {
            let Some(scenario) = plan.scenarios.get(c.scenario) else {
                return Err(format!(
                    "{name}: cells[{i}].scenario: {} is out of range (the plan it carries has {} scenarios)",
                    c.scenario,
                    plan.scenarios.len()
                ));
            };
            if scenario.name != c.scenario_name {
                return Err(format!(
                    "{name}: cells[{i}].scenario_name: `{}`, but scenario {} of the plan is `{}`",
                    c.scenario_name, c.scenario, scenario.name
                ));
            }
            let key = (c.scenario, c.model, c.concurrency);
            if !planned
                .iter()
                .any(|p| (p.scenario, p.model, p.concurrency.get()) == key)
            {
                return Err(format!(
                    "{name}: cells[{i}]: `{} · {}` is not a cell of the plan it carries",
                    c.scenario_name,
                    crate::plan::cell_label(c.model, c.concurrency, c.workers)
                ));
            }
            let recorder =
                Recorder::try_from(c.recorder.clone()).map_err(|e| format!("{name}: {e}"))?;
            let entry = groups
                .entry(key)
                .or_insert_with(|| (Vec::new(), c.workers, Duration::MAX));
            entry.2 = entry.2.min(Duration::from_micros(c.offset_us));
            entry.0.push(Part {
                recorder,
                wall: Duration::from_micros(c.wall_us),
                cpu: Duration::from_micros(c.cpu_us),
                peak_rss_bytes: c.peak_rss_bytes,
                complete: c.complete,
                notes: c.notes.clone(),
            });
        }
    }
    let mut cells = Vec::new();
    for cell in planned {
        let Some((parts, workers, offset)) =
            groups.remove(&(cell.scenario, cell.model, cell.concurrency.get()))
        else {
            continue;
        };
        let mut merged = merge_parts(parts);
        if !missing.is_empty() {
            merged.complete = false;
            merged.notes.push(format!(
                "shard {} of {} missing: its share of the load is not in these numbers",
                missing.join(", "),
                first.shard.count
            ));
        }
        cells.push(CellResult {
            cell: Cell {
                workers: std::num::NonZeroUsize::new(workers).unwrap_or(cell.workers),
                ..cell
            },
            recorder: merged.recorder,
            wall: merged.wall,
            cpu: merged.cpu,
            peak_rss_bytes: merged.peak_rss_bytes,
            complete: merged.complete,
            notes: merged.notes,
            offset,
        });
    }
    // Checked above: every time parses.
    let time = |s: &str| saved::parse_time(s).unwrap_or(SystemTime::UNIX_EPOCH);
    let started_at = files
        .iter()
        .flat_map(|(_, r)| [time(&r.started_at), time(&r.finished_at)])
        .min()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let finished_at = files
        .iter()
        .flat_map(|(_, r)| [time(&r.started_at), time(&r.finished_at)])
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let span = finished_at
        .duration_since(started_at)
        .unwrap_or_default()
        .as_secs_f64();
    if span > saved::MAX_SECONDS {
        return Err(format!(
            "the shards' start and end times span {} days: they are not shards of one run",
            (span / 86_400.0).round()
        ));
    }
    Ok(RunResults {
        run_id: first.run_id.clone(),
        started_at,
        finished_at,
        cells,
        interrupted: files.iter().any(|(_, r)| r.interrupted),
        cores,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_exactly() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 1, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "x/2", "3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        for (c, total, n) in [(16usize, 160u64, 4usize), (3, 10, 4), (1, 7, 3), (5, 0, 2)] {
            let shards: Vec<Shard> = (0..n).map(|index| Shard { index, count: n }).collect();
            let shares: Vec<(usize, u64)> = shards.iter().map(|s| s.share(c, total)).collect();
            assert_eq!(shares.iter().map(|s| s.0).sum::<usize>(), c, "users add up");
            assert_eq!(
                shares.iter().map(|s| s.1).sum::<u64>(),
                total,
                "work adds up"
            );
            for (s, (users, work)) in shards.iter().zip(&shares) {
                assert!(*users > 0 || *work == 0, "no work without users");
                let before: u64 = shares[..s.index].iter().map(|x| x.1).sum();
                assert_eq!(s.first_op(c, total), before);
            }
        }
    }
}
