//! The part of a cell that one process runs: computed once for the whole cell, then split, for
//! shards (`--shard I/N`) and for worker processes alike, so the parts always add up to the cell.
//!
//! A part is a residue class: it runs user `u` of the cell when `u ≡ index (mod of)`, and takes
//! open-model arrival `n` when `n ≡ index (mod of)`. Splitting a part into `k` parts refines the
//! class (`index + of·j`, `of·k`), so a shard split into worker processes is the same arithmetic
//! as a cell split into shards. Counted operations, counted warm-up operations and the in-flight
//! cap are divided in proportion to the users; each part keeps a contiguous range of operation
//! numbers, so target lists keep rotating across parts. No I/O, no clocks.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plan::Load;
use crate::workload::Resolved;

/// One process's share of a cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// The users of the whole cell (for staged loads, the most any stage has).
    pub cell_users: usize,
    /// This part's residue class over users and arrivals.
    pub index: u64,
    pub of: u64,
    /// Counted loads: operation numbers `first_op .. first_op + ops`.
    pub first_op: u64,
    pub ops: u64,
    /// Warm-up operations run before measuring (counted warm-up).
    pub warmup_ops: u64,
    /// Open model: operations this part may have outstanding (queued or running).
    pub max_in_flight: usize,
}

impl Share {
    /// The whole cell.
    pub fn whole(cell_users: usize, ops: u64, warmup_ops: u64, max_in_flight: usize) -> Share {
        Share {
            cell_users,
            index: 0,
            of: 1,
            first_op: 0,
            ops,
            warmup_ops,
            max_in_flight: max_in_flight.max(1),
        }
    }

    /// The cell's users this part runs, in order.
    pub fn users(&self) -> impl Iterator<Item = usize> + use<> {
        let step = usize::try_from(self.of).unwrap_or(usize::MAX).max(1);
        let first = usize::try_from(self.index).unwrap_or(usize::MAX);
        (first..self.cell_users).step_by(step)
    }

    /// How many users this part runs.
    pub fn user_count(&self) -> usize {
        self.users().count()
    }

    /// Part `k` of `n` equal parts of this one (`k < n`): users dealt round-robin, operations,
    /// warm-up and in-flight cap in proportion to the users, so that the `n` parts add up to this.
    pub fn split(&self, k: usize, n: usize) -> Share {
        let n = n.max(1);
        let k = k.min(n - 1);
        let users = self.user_count();
        let counts: Vec<usize> = (0..n)
            .map(|j| users / n + usize::from(j < users % n))
            .collect();
        let ops = split(self.ops, &counts);
        let warm = split(self.warmup_ops, &counts);
        Share {
            cell_users: self.cell_users,
            index: self.index + self.of * k as u64,
            of: self.of * n as u64,
            first_op: self.first_op + ops[..k].iter().sum::<u64>(),
            ops: ops[k],
            warmup_ops: warm[k],
            max_in_flight: self.max_in_flight.div_ceil(n).max(1),
        }
    }

    /// Whether this part takes open-model arrival `n`.
    pub fn takes_arrival(&self, n: u64) -> bool {
        n % self.of.max(1) == self.index
    }
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

/// Everything one process needs to run its share of a cell: built once by the run stage, used
/// as-is in process and sent as-is (JSON on stdin) to a worker process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellWork {
    pub workload: Resolved,
    pub load: Load,
    pub share: Share,
    /// `warmup: 5s`: run before measuring, left out of the statistics.
    pub warmup_time: Duration,
    /// How long one operation may take.
    pub timeout: Duration,
    /// The seed of the scenario's random choices (each user draws its own stream from it).
    #[serde(default)]
    pub seed: u64,
    /// A worker process streams what it records per interval (`Live` frames): the cell is
    /// followed live (`run/live.rs`).
    #[serde(default)]
    pub live: bool,
    /// Where this run's measured start falls on the cell's timeline: zero, but for a slice of a
    /// CPU-bound cell (`run/slices.rs`), the measured time of the cell's slices before it, so
    /// that its seconds follow theirs instead of piling onto the first.
    #[serde(default)]
    pub timeline_offset: Duration,
    /// A group member's place among the members that start together (`run/group.rs`); never
    /// sent to a worker process: its parent waits for the group before it says go.
    #[serde(skip)]
    pub member: Option<super::group::Member>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_add_up_exactly() {
        let cases: &[(u64, &[usize], &[u64])] = &[
            (160, &[8, 8], &[80, 80]),
            (10, &[2, 1], &[7, 3]),
            (3, &[1, 1, 1, 1], &[1, 1, 1, 0]),
            (0, &[1, 1], &[0, 0]),
        ];
        for (total, weights, want) in cases {
            let got = split(*total, weights);
            assert_eq!(got, *want, "{total} over {weights:?}");
            assert_eq!(got.iter().sum::<u64>(), *total);
        }
    }

    /// Parts of parts (shards of a cell, worker processes of a shard) add up to the whole: every
    /// user and every arrival in exactly one part, operations in disjoint contiguous ranges.
    #[test]
    fn parts_of_parts_cover_the_cell_once() {
        // (users, operations, warm-up, in-flight cap, shards, workers per shard)
        let cases = [
            (16usize, 160u64, 8u64, 1000usize, 4usize, 2usize),
            (3, 10, 0, 7, 4, 2),
            (1, 7, 3, 1, 3, 1),
            (5, 0, 0, 10, 2, 3),
            (64, 1_000_003, 17, 1000, 3, 2),
        ];
        for (users, ops, warm, cap, shards, workers) in cases {
            let whole = Share::whole(users, ops, warm, cap);
            let mut seen_users = vec![0; users];
            let mut ranges = Vec::new();
            let (mut total_warm, mut total_cap) = (0, 0);
            let mut arrivals = vec![0; 1000];
            for s in 0..shards {
                let shard = whole.split(s, shards);
                for w in 0..workers {
                    let part = shard.split(w, workers);
                    for u in part.users() {
                        seen_users[u] += 1;
                    }
                    assert!(part.user_count() > 0 || part.ops == 0, "work without users");
                    ranges.push((part.first_op, part.ops));
                    total_warm += part.warmup_ops;
                    total_cap += part.max_in_flight;
                    for (n, seen) in arrivals.iter_mut().enumerate() {
                        *seen += u32::from(part.takes_arrival(n as u64));
                    }
                }
            }
            assert!(seen_users.iter().all(|n| *n == 1), "{seen_users:?}");
            assert!(arrivals.iter().all(|n| *n == 1));
            ranges.sort_unstable();
            let mut next = 0;
            for (first, n) in ranges {
                assert_eq!(first, next, "contiguous, disjoint");
                next += n;
            }
            assert_eq!(next, ops, "operations add up");
            assert_eq!(total_warm, warm, "warm-up adds up");
            assert!(total_cap >= cap, "in-flight cap not lost");
        }
    }

    #[test]
    fn a_part_runs_users_round_robin() {
        let whole = Share::whole(7, 70, 0, 10);
        let users: Vec<Vec<usize>> = (0..3)
            .map(|k| whole.split(k, 3).users().collect())
            .collect();
        assert_eq!(users, vec![vec![0, 3, 6], vec![1, 4], vec![2, 5]]);
        let ops: Vec<(u64, u64)> = (0..3)
            .map(|k| {
                let p = whole.split(k, 3);
                (p.first_op, p.ops)
            })
            .collect();
        assert_eq!(ops, vec![(0, 30), (30, 20), (50, 20)]);
    }
}
