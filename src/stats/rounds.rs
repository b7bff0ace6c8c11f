//! Rounds: a cell run N times, interleaved with the other cells, summarised as medians with their
//! spread.
//!
//! Input: the [`CellResult`]s of one scenario, every round of every cell. Output: the rounds of
//! each cell together ([`group`]), pooled into one measurement ([`pool`]: counts and histograms
//! add, times add), each round's own figures ([`Figures`]), speedups pair by pair within a round,
//! and the [`RoundsSummary`]. Why medians: a machine whose speed drifts, or a noisy neighbour,
//! moves one round, and the median of three or more ignores it where a mean would not. No I/O.

use std::time::Duration;

use super::{CellResult, MachineSample, MachineUse, Measured, RoundsSummary, Spread};

/// The results of one scenario, each cell's rounds together, cells in the order they first ran,
/// rounds in order.
pub fn group<'a>(results: impl Iterator<Item = &'a CellResult>) -> Vec<Vec<&'a CellResult>> {
    let mut cells: Vec<Vec<&CellResult>> = Vec::new();
    for r in results {
        let same = |c: &&Vec<&CellResult>| {
            c[0].cell.model == r.cell.model && c[0].cell.concurrency == r.cell.concurrency
        };
        match cells.iter().position(|c| same(&c)) {
            Some(i) => cells[i].push(r),
            None => cells.push(vec![r]),
        }
    }
    for c in &mut cells {
        c.sort_by_key(|r| r.round);
    }
    cells
}

/// All rounds of a cell as one measurement: recorders merged, wall and CPU time added (the
/// rounds ran one after the other), notes named by their round when there are several.
pub fn pool(rounds: &[&CellResult]) -> Measured {
    let many = rounds.len() > 1;
    let mut all = Measured {
        complete: true,
        ..Measured::default()
    };
    for r in rounds {
        let m = &r.measured;
        all.recorder.merge(&m.recorder);
        all.wall += m.wall;
        all.cpu += m.cpu;
        all.peak_rss_bytes = all.peak_rss_bytes.max(m.peak_rss_bytes);
        all.complete &= m.complete;
        all.notes.extend(m.notes.iter().map(|n| {
            if many {
                format!("round {}: {n}", r.round + 1)
            } else {
                n.clone()
            }
        }));
    }
    all
}

/// The machine around all rounds of a cell; none unless every round was read.
pub fn machine(rounds: &[&CellResult]) -> Option<MachineSample> {
    let uses: Option<Vec<MachineUse>> = rounds.iter().map(|r| r.machine).collect();
    let uses = uses?;
    let secs = |f: &dyn Fn(&MachineUse) -> Duration| uses.iter().map(f).sum::<Duration>();
    let targets: Option<Vec<Duration>> = uses.iter().map(|u| u.target_cpu).collect();
    Some(MachineSample {
        wall_seconds: secs(&|u| u.wall).as_secs_f64(),
        busy_seconds: secs(&|u| u.busy).as_secs_f64(),
        steal_seconds: secs(&|u| u.steal).as_secs_f64(),
        runner_cpu_seconds: secs(&|u| u.runner_cpu).as_secs_f64(),
        target_cpu_seconds: targets.map(|t| t.iter().sum::<Duration>().as_secs_f64()),
    })
}

/// One round's own figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    pub round: usize,
    /// Successful operations per second.
    pub throughput: f64,
    pub attempts: f64,
    pub error_rate: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub cores_busy: f64,
    pub wall: f64,
    /// The runner's CPU per operation, microseconds; `None` without operations.
    pub cpu_us_per_op: Option<f64>,
    /// HTTP requests per second, those of every request name together (a flow's steps).
    pub requests: f64,
}

impl Figures {
    pub fn of(r: &CellResult) -> Figures {
        let m = &r.measured;
        let rec = &m.recorder;
        let wall = m.wall.as_secs_f64();
        let per_s = |n: u64| if wall > 0.0 { n as f64 / wall } else { 0.0 };
        let q = |x: f64| rec.latency.value_at_quantile(x) as f64;
        Figures {
            round: r.round,
            throughput: per_s(rec.successes),
            attempts: per_s(rec.operations),
            error_rate: if rec.operations > 0 {
                rec.error_count() as f64 / rec.operations as f64
            } else {
                0.0
            },
            p50_us: q(0.5),
            p90_us: q(0.9),
            p99_us: q(0.99),
            cores_busy: if wall > 0.0 {
                m.cpu.as_secs_f64() / wall
            } else {
                0.0
            },
            wall,
            cpu_us_per_op: (rec.operations > 0)
                .then(|| m.cpu.as_secs_f64() * 1e6 / rec.operations as f64),
            requests: per_s(rec.requests.iter().map(|r| r.operations).sum()),
        }
    }
}

/// What the progress line says of a finished cell (one round): the run stage hands it to its
/// observer, so that the console shows the figures the summary computes, by the same formula
/// ([`Figures::of`]), and never reads a recorder itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub operations: u64,
    pub errors: u64,
    /// The measured phase's wall time.
    pub wall: std::time::Duration,
    /// Successful operations per second.
    pub throughput: f64,
    pub p99_us: u64,
    /// False when the cell was stopped before its end.
    pub complete: bool,
}

impl Progress {
    pub fn of(r: &CellResult) -> Progress {
        let f = Figures::of(r);
        let rec = &r.measured.recorder;
        Progress {
            operations: rec.operations,
            errors: rec.error_count(),
            wall: r.measured.wall,
            throughput: f.throughput,
            p99_us: f.p99_us as u64,
            complete: r.measured.complete,
        }
    }
}

/// Speedups pair by pair: each round of a cell against the same round of the sequential cell;
/// a round where either side had no success has none.
pub fn speedups(cell: &[Figures], sequential: &[Figures]) -> Vec<f64> {
    cell.iter()
        .filter_map(|f| {
            let s = sequential.iter().find(|s| s.round == f.round)?;
            (f.throughput > 0.0 && s.throughput > 0.0).then(|| f.throughput / s.throughput)
        })
        .collect()
}

/// The rounds summary of a cell with several rounds.
pub fn summary(rounds: &[Figures], speedups: &[f64]) -> RoundsSummary {
    let over = |f: fn(&Figures) -> f64| spread(&rounds.iter().map(f).collect::<Vec<_>>());
    RoundsSummary {
        count: rounds.len(),
        throughput_per_s: over(|f| f.throughput),
        attempts_per_s: over(|f| f.attempts),
        error_rate: over(|f| f.error_rate),
        speedup: (!speedups.is_empty()).then(|| spread(speedups)),
        p50_us: over(|f| f.p50_us),
        p90_us: over(|f| f.p90_us),
        p99_us: over(|f| f.p99_us),
        cores_busy: over(|f| f.cores_busy),
        wall_seconds: over(|f| f.wall),
        cpu_us_per_op: {
            let v: Vec<f64> = rounds.iter().filter_map(|f| f.cpu_us_per_op).collect();
            (!v.is_empty()).then(|| spread(&v))
        },
    }
}

/// Median, range and the values themselves (in the order given).
pub fn spread(values: &[f64]) -> Spread {
    Spread {
        median: median(values).unwrap_or(0.0),
        min: values
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .min(f64::MAX),
        max: values
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
            .max(f64::MIN),
        values: values.to_vec(),
    }
}

/// The middle value; of an even count, the mean of the two middle ones.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(round: usize, throughput: f64) -> Figures {
        Figures {
            round,
            throughput,
            attempts: throughput,
            error_rate: 0.0,
            p50_us: 0.0,
            p90_us: 0.0,
            p99_us: 0.0,
            cores_busy: 0.0,
            wall: 1.0,
            cpu_us_per_op: None,
            requests: 0.0,
        }
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        let cases: &[(&[f64], Option<f64>)] = &[
            (&[], None),
            (&[3.0], Some(3.0)),
            (&[5.0, 1.0, 3.0], Some(3.0)),
            (&[4.0, 1.0, 3.0, 2.0], Some(2.5)),
            (&[1.0, f64::NAN, 2.0], Some(1.5)),
        ];
        for (values, want) in cases {
            assert_eq!(median(values), *want, "{values:?}");
        }
        let s = spread(&[2.0, 9.0, 4.0]);
        assert_eq!((s.median, s.min, s.max), (4.0, 2.0, 9.0));
        assert_eq!(s.values, vec![2.0, 9.0, 4.0], "round order kept");
    }

    /// The machine slowed down in round 2 for everyone: pair by pair the speedup stays 2, where
    /// a ratio of medians taken apart would not.
    #[test]
    fn speedups_pair_rounds_and_skip_rounds_without_success() {
        let seq = [figures(0, 100.0), figures(1, 50.0), figures(2, 100.0)];
        let threads = [figures(0, 200.0), figures(1, 100.0), figures(2, 200.0)];
        assert_eq!(speedups(&threads, &seq), vec![2.0, 2.0, 2.0]);
        let failing = [figures(0, 0.0), figures(1, 0.0), figures(2, 0.0)];
        assert!(
            speedups(&failing, &seq).is_empty(),
            "no success, no speedup"
        );
        let seq_missing_round = [figures(0, 100.0), figures(2, 100.0)];
        assert_eq!(speedups(&threads, &seq_missing_round), vec![2.0, 2.0]);
        let s = summary(&threads, &speedups(&threads, &seq));
        assert_eq!(s.count, 3);
        assert_eq!(s.throughput_per_s.median, 200.0);
        assert_eq!(s.speedup.map(|x| x.median), Some(2.0));
    }
}
