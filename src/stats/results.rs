//! Raw, mergeable results: what a shard (`loadplan run --shard I/N --results FILE`) writes and what
//! `loadplan report` merges, and the one merge that the `processes` model uses for its workers too.
//!
//! A shard's share of a cell is a [`Measured`], and shares add exactly with [`Measured::merge`]
//! (HdrHistograms and counters add bucket by bucket), as worker processes' shares do. [`merge_results`] checks that shard files
//! belong together (same resolved plan, same shard count) and says which shards are missing.
//! No I/O here; the CLI reads and writes the files.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::recorder::{Recorder, RecorderWire, WireError};
use super::saved;
use super::summary::Timestamp;
use super::{CapacityProbe, CapacitySummary, CellResult, Measured, PlanInfo, RunResults};
use crate::plan::{Cell, Model, Plan};

pub const RESULTS_FORMAT: &str = "loadplan-results";
pub const RESULTS_VERSION: u32 = 1;

/// Which part of every cell a shard ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 0-based.
    pub index: usize,
    pub count: usize,
}

/// Why `--shard` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("`{0}` is not I/N, e.g. 2/4")]
    Form(String),
    #[error("`{0}` is not a shard number")]
    Index(String),
    #[error("`{0}` is not a shard count")]
    Count(String),
    #[error("shard {index}/{count}: want 1 ≤ I ≤ N ≤ 10000")]
    Range { index: usize, count: usize },
}

impl Shard {
    /// `I/N` with 1 ≤ I ≤ N, as people number shards (Kubernetes' completion index + 1).
    pub fn parse(s: &str) -> Result<Shard, ShardError> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| ShardError::Form(s.to_string()))?;
        let (i, n) = (
            i.trim()
                .parse::<usize>()
                .map_err(|_| ShardError::Index(i.to_string()))?,
            n.trim()
                .parse::<usize>()
                .map_err(|_| ShardError::Count(n.to_string()))?,
        );
        if n == 0 || i == 0 || i > n || n > 10_000 {
            return Err(ShardError::Range { index: i, count: n });
        }
        Ok(Shard {
            index: i - 1,
            count: n,
        })
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
    /// Each part of the resolved plan with its digest ([`Plan::part_digests`]), so that a refused
    /// merge names the part that differs. Absent from files written before the parts were
    /// kept: shards of those that differ are refused without naming the part.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub plan_parts: BTreeMap<String, String>,
    pub shard: Shard,
    pub run_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub interrupted: bool,
    pub cores: usize,
    /// The seed of each scenario's random choices, in plan order.
    #[serde(default)]
    pub seeds: Vec<u64>,
    pub cells: Vec<CellPartWire>,
    /// `before:` and `after:`'s requests in this shard (each shard runs them once); absent
    /// without them, and from files written before they were kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub once: Vec<OncePartWire>,
}

/// `before:` or `after:` in one shard: its key and its requests' recorder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OncePartWire {
    pub key: String,
    pub recorder: RecorderWire,
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
    /// Which round of the cell (`rounds: N`), from 0.
    #[serde(default)]
    pub round: usize,
    /// This shard's capacity search (it probed its share of each rate); absent for other
    /// loads, and from files written before searches were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacitySummary>,
}

/// A shard's run as a results file.
pub fn to_results(plan: &Plan, run: &RunResults, shard: Shard) -> Results {
    let parts = plan.part_digests();
    Results {
        format: RESULTS_FORMAT.into(),
        version: RESULTS_VERSION,
        plan: super::plan_info(plan),
        plan_hash: Plan::hash_of(&parts),
        plan_parts: parts,
        shard,
        run_id: run.run_id.clone(),
        started_at: Timestamp::from_system(run.started_at).to_string(),
        finished_at: Timestamp::from_system(run.finished_at).to_string(),
        interrupted: run.interrupted,
        cores: run.cores,
        seeds: run.seeds.clone(),
        cells: run
            .cells
            .iter()
            .map(|c| CellPartWire {
                scenario: c.cell.scenario,
                scenario_name: plan.scenarios[c.cell.scenario].name.clone(),
                model: c.cell.model,
                concurrency: c.cell.concurrency.get(),
                workers: c.cell.workers.get(),
                recorder: RecorderWire::from(&c.measured.recorder),
                wall_us: crate::units::micros_of(c.measured.wall),
                cpu_us: crate::units::micros_of(c.measured.cpu),
                peak_rss_bytes: c.measured.peak_rss_bytes,
                complete: c.measured.complete,
                notes: c.measured.notes.clone(),
                offset_us: crate::units::micros_of(c.offset),
                round: c.round,
                capacity: c.capacity.clone(),
            })
            .collect(),
        once: run
            .once
            .iter()
            .map(|(key, r)| OncePartWire {
                key: key.clone(),
                recorder: RecorderWire::from(r),
            })
            .collect(),
    }
}

/// The shards' capacity searches of one cell as one. Each shard probed its share of the same
/// rates: when all of them probed the same rates in the same order, their probes add up
/// (operations, successes per second, errors, drops, runner cores) and keep the worst shard's
/// latency (a probe keeps percentiles, not histograms), a probe kept only when every shard kept
/// it. The bracket and the capacity are the most conservative shard's, as for rounds
/// ([`super::most_conservative`]): an invalid search first, then the lowest rate found. When the
/// shards probed different rates, that shard's search stands alone and `notes` says so.
fn merge_searches(
    searches: &[CapacitySummary],
    notes: &mut Vec<String>,
) -> Option<CapacitySummary> {
    let mut merged = super::most_conservative(searches.iter())?.clone();
    let rates =
        |c: &CapacitySummary| -> Vec<f64> { c.probes.iter().map(|p| p.rate_per_s).collect() };
    if searches.iter().all(|c| rates(c) == rates(&merged)) {
        for (i, probe) in merged.probes.iter_mut().enumerate() {
            let mut each = searches.iter().map(|c| &c.probes[i]);
            if let Some(first) = each.next() {
                *probe = first.clone();
            }
            for p in each {
                add_probe(probe, p);
            }
        }
    } else {
        notes.push(format!(
            "the {} shards' capacity searches probed different rates: the capacity, its bracket and the probes are those of the shard with the lowest capacity, its share alone",
            searches.len()
        ));
    }
    Some(merged)
}

/// Adds a shard's probe of one rate to the others' (see [`merge_searches`]).
fn add_probe(a: &mut CapacityProbe, p: &CapacityProbe) {
    a.achieved_per_s += p.achieved_per_s;
    a.operations += p.operations;
    a.errors += p.errors;
    a.error_rate = if a.operations > 0 {
        a.errors as f64 / a.operations as f64
    } else {
        0.0
    };
    a.dropped += p.dropped;
    a.p50_us = a.p50_us.max(p.p50_us);
    a.p99_us = a.p99_us.max(p.p99_us);
    a.p99_uncorrected_us = a.p99_uncorrected_us.max(p.p99_uncorrected_us);
    a.cores_busy += p.cores_busy;
    a.kept &= p.kept;
    a.generator_limited |= p.generator_limited;
    for b in &p.broken {
        if !a.broken.contains(b) {
            a.broken.push(b.clone());
        }
    }
}

/// Why shard results do not merge; every message names the file (or both files).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("no results to merge")]
    Empty,
    #[error(transparent)]
    Invalid(#[from] saved::SavedError),
    /// `files`: which files ran which plan, in words.
    #[error("{files}, but {why}: results of different plans or plan versions cannot be merged")]
    DifferentPlans { files: String, why: Difference },
    #[error("{name} is shard {} of {count}, {first} of {first_count}: the shard counts differ", index + 1)]
    ShardCounts {
        name: String,
        first: String,
        index: usize,
        count: usize,
        first_count: usize,
    },
    #[error("{name}: shard.index: {index} is out of range for {count} shards")]
    ShardOutOfRange {
        name: String,
        index: usize,
        count: usize,
    },
    #[error("{name}: shard {} of {count} is given twice", index + 1)]
    ShardTwice {
        name: String,
        index: usize,
        count: usize,
    },
    /// A cell that does not fit the plan the file carries: `what` starts with the field.
    #[error("{name}: cells[{index}]{what}")]
    Cell {
        name: String,
        index: usize,
        what: String,
    },
    #[error("{name}: {reason}")]
    Recorder { name: String, reason: WireError },
    #[error("the shards' start and end times span {days} days: they are not shards of one run")]
    Span { days: f64 },
}

/// What differs between the plans of two shards, by name, never by value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Difference {
    #[error("the shards differ in {0}")]
    Part(String),
    #[error("they were run by different versions of loadplan")]
    Version,
    #[error("the plans differ (a file from an older loadplan does not say where)")]
    Unknown,
}

/// Why two shards of different plans refuse to merge: the first part of the plan that differs,
/// by name (never its value), when both files carry their parts.
fn different_plans(a: (&str, &Results), b: (&str, &Results)) -> MergeError {
    let ((a_name, a), (b_name, b)) = (a, b);
    let files = if a.plan.name == b.plan.name {
        format!("{b_name} and {a_name} are runs of plan `{}`", a.plan.name)
    } else {
        format!(
            "{b_name} is a run of plan `{}`, {a_name} of plan `{}`",
            b.plan.name, a.plan.name
        )
    };
    let differs = a
        .plan_parts
        .keys()
        .chain(b.plan_parts.keys())
        .filter(|k| a.plan_parts.get(*k) != b.plan_parts.get(*k))
        .min();
    let why = match differs {
        _ if a.plan_parts.is_empty() || b.plan_parts.is_empty() => Difference::Unknown,
        Some(part) => Difference::Part(part.clone()),
        None => Difference::Version,
    };
    MergeError::DifferentPlans { files, why }
}

/// Merges shard results of one plan into one run. `plan` is the plan they ran (re-read from the
/// source they carry). Missing shards are named in every cell's notes and make the cells
/// incomplete; results of different plans are refused.
pub fn merge_results(plan: &Plan, files: &[(String, Results)]) -> Result<RunResults, MergeError> {
    let Some((first_name, first)) = files.first() else {
        return Err(MergeError::Empty);
    };
    for (name, r) in files {
        saved::check_results(name, r)?;
        if r.plan_hash != first.plan_hash {
            return Err(different_plans((first_name, first), (name, r)));
        }
        if r.shard.count != first.shard.count {
            return Err(MergeError::ShardCounts {
                name: name.clone(),
                first: first_name.clone(),
                index: r.shard.index,
                count: r.shard.count,
                first_count: first.shard.count,
            });
        }
    }
    let mut seen = vec![false; first.shard.count];
    for (name, r) in files {
        let Some(slot) = seen.get_mut(r.shard.index) else {
            return Err(MergeError::ShardOutOfRange {
                name: name.clone(),
                index: r.shard.index,
                count: r.shard.count,
            });
        };
        if std::mem::replace(slot, true) {
            return Err(MergeError::ShardTwice {
                name: name.clone(),
                index: r.shard.index,
                count: r.shard.count,
            });
        }
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| !**s)
        .map(|(i, _)| format!("{}", i + 1))
        .collect();
    let cores = files.iter().map(|(_, r)| r.cores).max().unwrap_or(1);
    let planned = plan.cells(cores);
    let rounds = plan.rounds.get();
    // (scenario, model, concurrency, round) → the shares, the cell's workers, its earliest start.
    type Shares = (Vec<Measured>, usize, Duration, Vec<CapacitySummary>);
    let mut groups: BTreeMap<(usize, Model, usize, usize), Shares> = BTreeMap::new();
    for (name, r) in files {
        for (i, c) in r.cells.iter().enumerate() {
            let cell = |what: String| MergeError::Cell {
                name: name.clone(),
                index: i,
                what,
            };
            let Some(scenario) = plan.scenarios.get(c.scenario) else {
                return Err(cell(format!(
                    ".scenario: {} is out of range (the plan it carries has {} scenarios)",
                    c.scenario,
                    plan.scenarios.len()
                )));
            };
            if scenario.name != c.scenario_name {
                return Err(cell(format!(
                    ".scenario_name: `{}`, but scenario {} of the plan is `{}`",
                    c.scenario_name, c.scenario, scenario.name
                )));
            }
            if !planned.iter().any(|p| {
                (p.scenario, p.model, p.concurrency.get()) == (c.scenario, c.model, c.concurrency)
            }) {
                return Err(cell(format!(
                    ": `{} · {}` is not a cell of the plan it carries",
                    c.scenario_name,
                    c.model.label(c.concurrency, c.workers)
                )));
            }
            if c.round >= rounds {
                return Err(cell(format!(
                    ".round: {} is out of range (the plan runs {rounds} rounds)",
                    c.round
                )));
            }
            let recorder =
                Recorder::try_from(c.recorder.clone()).map_err(|reason| MergeError::Recorder {
                    name: name.clone(),
                    reason,
                })?;
            let entry = groups
                .entry((c.scenario, c.model, c.concurrency, c.round))
                .or_insert_with(|| (Vec::new(), c.workers, Duration::MAX, Vec::new()));
            entry.2 = entry.2.min(Duration::from_micros(c.offset_us));
            entry.3.extend(c.capacity.clone());
            entry.0.push(Measured {
                recorder,
                wall: Duration::from_micros(c.wall_us),
                cpu: Duration::from_micros(c.cpu_us),
                peak_rss_bytes: c.peak_rss_bytes,
                complete: c.complete,
                notes: c.notes.clone(),
            });
        }
    }
    // Cells in plan order, round by round, as a single run would list them.
    let mut cells = Vec::new();
    for round in 0..rounds {
        for cell in &planned {
            let key = (cell.scenario, cell.model, cell.concurrency.get(), round);
            let Some((parts, workers, offset, searches)) = groups.remove(&key) else {
                continue;
            };
            let mut merged = Measured::merge(parts);
            if !missing.is_empty() {
                merged.complete = false;
                merged.notes.push(format!(
                    "shard {} of {} missing: its share of the load is not in these numbers",
                    missing.join(", "),
                    first.shard.count
                ));
            }
            let capacity = merge_searches(&searches, &mut merged.notes);
            cells.push(CellResult {
                cell: Cell {
                    workers: std::num::NonZeroUsize::new(workers).unwrap_or(cell.workers),
                    ..cell.clone()
                },
                measured: merged,
                offset,
                round,
                // Shards may run on different machines: no one machine to check.
                machine: None,
                capacity,
            });
        }
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
        return Err(MergeError::Span {
            days: (span / 86_400.0).round(),
        });
    }
    Ok(RunResults {
        run_id: first.run_id.clone(),
        started_at,
        finished_at,
        cells,
        interrupted: files.iter().any(|(_, r)| r.interrupted),
        cores,
        seeds: first.seeds.clone(),
        once: merge_once(files),
    })
}

/// The shards' `before:` and `after:` recorders added by key (each shard ran its own).
fn merge_once(files: &[(String, Results)]) -> Vec<(String, Recorder)> {
    let mut out: Vec<(String, Recorder)> = Vec::new();
    for part in files.iter().flat_map(|(_, r)| &r.once) {
        let Ok(r) = Recorder::try_from(part.recorder.clone()) else {
            continue;
        };
        match out.iter_mut().find(|(k, _)| *k == part.key) {
            Some((_, all)) => all.merge(&r),
            None => out.push((part.key.clone(), r)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::CapacityStop;

    #[test]
    fn shards_parse_and_split_exactly() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 1, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "x/2", "3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    /// A search that kept the SLO up to `found` among `rates`, each probe achieving `share` of
    /// its rate with a p99 of `p99` µs.
    fn search(rates: &[f64], found: f64, share: f64, p99: u64) -> CapacitySummary {
        let probes: Vec<CapacityProbe> = rates
            .iter()
            .map(|&r| CapacityProbe {
                rate_per_s: r,
                hold_seconds: 2.0,
                achieved_per_s: r * share,
                operations: (2.0 * r * share) as u64,
                errors: 1,
                error_rate: 1.0 / (2.0 * r * share),
                dropped: 0,
                p50_us: p99 / 2,
                p99_us: p99,
                p99_uncorrected_us: p99,
                cores_busy: 0.25,
                kept: r <= found,
                generator_limited: false,
                broken: if r <= found {
                    Vec::new()
                } else {
                    vec!["p99 < 50ms".into()]
                },
            })
            .collect();
        CapacitySummary {
            slo: vec!["p99 < 50ms".into()],
            capacity_per_s: Some(found),
            good_per_s: Some(found),
            bad_per_s: rates.iter().copied().find(|&r| r > found),
            from_per_s: rates[0],
            to_per_s: 1000.0,
            precision: 0.05,
            stopped: CapacityStop::SloBroken,
            shown_probe: rates.iter().position(|&r| r == found).unwrap_or(0),
            probes,
        }
    }

    #[test]
    fn shards_searches_of_the_same_rates_add_up_and_keep_the_lowest_capacity() {
        let rates = [100.0, 200.0, 400.0, 300.0];
        let (a, b) = (
            search(&rates, 300.0, 0.5, 20_000),
            search(&rates, 200.0, 0.5, 40_000),
        );
        let mut notes = Vec::new();
        let m = merge_searches(&[a, b], &mut notes).expect("a search");
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(m.capacity_per_s, Some(200.0));
        assert_eq!(m.bad_per_s, Some(400.0));
        let at_300 = &m.probes[3];
        assert_eq!(at_300.achieved_per_s, 300.0, "both shares of 300/s");
        assert_eq!((at_300.operations, at_300.errors), (600, 2));
        assert_eq!(at_300.error_rate, 2.0 / 600.0);
        assert_eq!(at_300.p99_us, 40_000, "the worst shard's");
        assert_eq!(at_300.cores_busy, 0.5);
        assert!(!at_300.kept, "one shard broke the SLO at 300/s");
        assert_eq!(at_300.broken, ["p99 < 50ms"]);
        assert!(m.probes[1].kept);
    }

    #[test]
    fn shards_searches_of_different_rates_keep_the_lowest_alone_and_say_so() {
        let low = search(&[100.0, 200.0, 150.0], 150.0, 0.5, 30_000);
        let high = search(&[100.0, 200.0, 400.0], 200.0, 0.5, 30_000);
        let mut notes = Vec::new();
        let m = merge_searches(&[high, low.clone()], &mut notes).expect("a search");
        assert_eq!(m, low);
        assert!(notes[0].contains("probed different rates"), "{notes:?}");
        // An invalid search stands before any capacity.
        let mut invalid = search(&[100.0], 100.0, 0.5, 30_000);
        invalid.stopped = CapacityStop::GeneratorLimited;
        invalid.capacity_per_s = None;
        let m = merge_searches(&[low, invalid], &mut Vec::new()).expect("a search");
        assert_eq!(m.stopped, CapacityStop::GeneratorLimited);
        assert!(merge_searches(&[], &mut Vec::new()).is_none());
    }
}
