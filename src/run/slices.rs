//! Slices: how the cells of a CPU-bound scenario measure their models under the same machine
//! speed.
//!
//! A virtual CPU's speed drifts by the second (a busy SMT sibling, the host), so a kernel run
//! for a whole cell under one model and then under the next compares the seconds they ran in as
//! much as the models. Instead, each round of such a scenario cuts every cell into slices of a
//! few hundred milliseconds and runs them in turn, forward then backward (A B C D, D C B A, …):
//! every model's throughput is then measured over the same mix of machine speeds as
//! sequential's, and a steady drift slows each cell alike over every pair of slices. A cell's
//! round is the sum of its slices: counts and histograms merged, measured wall and CPU times
//! added, so summary cells and rounds keep their meaning.
//!
//! Input: the scenario's load and its cells' concurrency. Output: how many slices, what each
//! slice runs, and in which order. Pure arithmetic: no clocks, no I/O; it runs nothing.

use std::num::NonZeroU64;
use std::time::Duration;

use crate::plan::Load;
use crate::stats::{CellResult, MachineUse};

/// Slices per cell and round at most: ten turns per round keep each slice of the demo's
/// CPU-bound scenario (40 computations) between about 70 and 150 ms on this kind of machine.
pub const MAX_SLICES: u64 = 10;

/// A timed load is not cut into slices shorter than this: each slice starts its users anew.
pub const MIN_SLICE: Duration = Duration::from_millis(200);

/// How many slices each cell of a scenario is cut into (1: each cell runs whole). Only a
/// CPU-bound scenario (`cpu`) with at least two cells to compare is sliced, and only a counted
/// load (`ops`: the cell's operations) or a timed one; each slice gives every user of every cell
/// at least one operation (`concurrency`: each cell's users).
pub fn count(cpu: bool, cells: usize, load: &Load, ops: Option<u64>, concurrency: &[usize]) -> u64 {
    if !cpu || cells < 2 {
        return 1;
    }
    match (load, ops) {
        (Load::Repeat(_), Some(ops)) => {
            let most_users = concurrency.iter().copied().max().unwrap_or(1).max(1) as u64;
            (ops / most_users).clamp(1, MAX_SLICES)
        }
        (Load::Duration(d), _) => {
            let n = d.as_nanos() / MIN_SLICE.as_nanos();
            u64::try_from(n).unwrap_or(MAX_SLICES).clamp(1, MAX_SLICES)
        }
        _ => 1,
    }
}

/// The operations of slice `k` of `slices` of a counted cell of `ops` operations and `users`
/// users: `(first operation, count)`. Slices hold whole turns of the users (a multiple of
/// `users` operations, so that no user is left computing alone at a slice's end); what does not
/// divide goes into the last. The slices add up to `ops` exactly.
pub fn ops(ops: u64, users: u64, k: u64, slices: u64) -> (u64, u64) {
    let (users, slices) = (users.max(1), slices.max(1));
    let k = k.min(slices - 1);
    let turns = ops / users;
    let rest = ops - turns * users;
    let from = turns * k / slices;
    let to = turns * (k + 1) / slices;
    let extra = if k == slices - 1 { rest } else { 0 };
    (from * users, (to - from) * users + extra)
}

/// The load one slice runs: its share of a timed load's duration, or a counted load's
/// operations (the share carries the count; the load keeps its kind).
pub fn load(load: &Load, slice_ops: u64, slices: u64) -> Load {
    match load {
        Load::Duration(d) => Load::Duration(*d / u32::try_from(slices.max(1)).unwrap_or(1)),
        Load::Repeat(n) => Load::Repeat(NonZeroU64::new(slice_ops).unwrap_or(*n)),
        other => other.clone(),
    }
}

/// Adds a slice's measurements to those of the cell's slices before it: counts, histograms and
/// timelines merge (each slice's seconds already follow the last's, `CellWork::timeline_offset`),
/// measured wall and CPU times add up, and so does the machine around them.
pub fn absorb(so_far: &mut CellResult, slice: CellResult) {
    let (m, s) = (&mut so_far.measured, slice.measured);
    m.recorder.merge(&s.recorder);
    m.wall += s.wall;
    m.cpu += s.cpu;
    m.peak_rss_bytes = m.peak_rss_bytes.max(s.peak_rss_bytes);
    m.complete &= s.complete;
    m.notes.extend(s.notes);
    so_far.machine = match (so_far.machine, slice.machine) {
        (Some(a), Some(b)) => Some(MachineUse {
            wall: a.wall + b.wall,
            busy: a.busy + b.busy,
            steal: a.steal + b.steal,
            runner_cpu: a.runner_cpu + b.runner_cpu,
            target_cpu: a.target_cpu.zip(b.target_cpu).map(|(x, y)| x + y),
        }),
        _ => None,
    };
}

/// The order `cells` cells take in slice `k`: forward in even slices, backward in odd ones.
pub fn order(k: u64, cells: usize) -> Vec<usize> {
    if k % 2 == 0 {
        (0..cells).collect()
    } else {
        (0..cells).rev().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repeat(n: u64) -> Load {
        Load::Repeat(NonZeroU64::new(n).expect("non-zero"))
    }

    #[test]
    fn only_cpu_scenarios_with_cells_to_compare_are_sliced() {
        let ms = Duration::from_millis;
        // (cpu, cells, load, the cell's operations, concurrencies, slices)
        type Case<'a> = (bool, usize, Load, Option<u64>, &'a [usize], u64);
        let cases: &[Case] = &[
            // The demo: 40 computations, 2 users: ten slices of 4.
            (true, 4, repeat(40), Some(40), &[2], 10),
            (false, 4, repeat(40), Some(40), &[2], 1),
            (true, 1, repeat(40), Some(40), &[2], 1),
            // Each slice gives the largest cell's users one operation each at least.
            (true, 4, repeat(12), Some(12), &[1, 4], 3),
            (true, 4, repeat(3), Some(3), &[8], 1),
            (true, 2, Load::Duration(ms(1000)), None, &[2], 5),
            (true, 2, Load::Duration(ms(30_000)), None, &[2], MAX_SLICES),
            (true, 2, Load::Duration(ms(100)), None, &[2], 1),
            (true, 2, Load::Users(vec![(ms(1000), 2)]), None, &[2], 1),
        ];
        for (cpu, cells, load, n, conc, want) in cases {
            assert_eq!(
                count(*cpu, *cells, load, *n, conc),
                *want,
                "{load:?} {conc:?}"
            );
        }
    }

    #[test]
    fn slices_hold_whole_turns_and_add_up() {
        let cases: &[(u64, u64, u64)] =
            &[(40, 2, 10), (41, 2, 10), (12, 4, 3), (7, 3, 2), (5, 1, 5)];
        for (total, users, slices) in cases {
            let parts: Vec<(u64, u64)> = (0..*slices)
                .map(|k| ops(*total, *users, k, *slices))
                .collect();
            assert_eq!(parts.iter().map(|p| p.1).sum::<u64>(), *total, "{parts:?}");
            let mut next = 0;
            for (k, (first, n)) in parts.iter().enumerate() {
                assert_eq!(*first, next, "contiguous: {parts:?}");
                next += n;
                if (k as u64) < slices - 1 {
                    assert_eq!(n % users, 0, "whole turns: {parts:?}");
                }
            }
        }
        assert_eq!(ops(40, 2, 3, 10), (12, 4));
        assert_eq!(ops(41, 2, 9, 10), (36, 5), "the rest in the last slice");
    }

    #[test]
    fn slices_alternate_their_order() {
        assert_eq!(order(0, 3), vec![0, 1, 2]);
        assert_eq!(order(1, 3), vec![2, 1, 0]);
        assert_eq!(order(2, 3), vec![0, 1, 2]);
    }

    #[test]
    fn a_slice_runs_its_part_of_the_load() {
        let ms = Duration::from_millis;
        assert_eq!(
            load(&Load::Duration(ms(1000)), 0, 5),
            Load::Duration(ms(200))
        );
        assert_eq!(load(&repeat(40), 4, 10), repeat(4));
    }
}
