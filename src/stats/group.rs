//! A scenario group's combined figures: its members' cells of one position (same model, same
//! place in their sweeps) merged round by round into one cell, the way shards merge, and
//! summarised like any cell.
//!
//! Input: the plan's groups and the run's measured cells (each member's as if it ran alone).
//! Output: a [`GroupSummary`] per group that ran: per position, the members' operations
//! together, their latency histograms merged bucket by bucket, and their per-second timelines
//! added on the group's one clock (each member's seconds already count from the group's start,
//! its `start:` offset included: `run/group.rs`). Requests are left to the members: the names of
//! one member mean nothing in another's list. Never decides a verdict.

use std::time::Duration;

use super::rounds::{self, Figures};
use super::summary::GroupSummary;
use super::{CellResult, Measured, RunResults, cell_summary, fill_percentiles};
use crate::plan::{Cell, Model, Plan};

/// The combined figures of every group of `plan` that has measured cells in `run`; `extra` the
/// percentiles the plan's thresholds name.
pub fn summaries(plan: &Plan, run: &RunResults, extra: &[u32]) -> Vec<GroupSummary> {
    plan.groups
        .iter()
        .filter_map(|g| {
            // Each member's cells, each with its rounds, in plan order.
            let per_member: Vec<Vec<Vec<&CellResult>>> = g
                .members
                .iter()
                .map(|&m| rounds::group(run.cells.iter().filter(|c| c.cell.scenario == m)))
                .filter(|cells| !cells.is_empty())
                .collect();
            let positions = per_member.iter().map(Vec::len).max()?;
            // A member's whole time on the group clock: its offset, then its planned length
            // (none when any member's load is counted: it ends when its work is done).
            let planned = g
                .members
                .iter()
                .map(|&m| {
                    let s = &plan.scenarios[m];
                    s.load.planned_time().map(|p| s.start + p)
                })
                .collect::<Option<Vec<Duration>>>()
                .and_then(|ends| ends.into_iter().max());
            let cells = (0..positions)
                .filter_map(|k| {
                    let members: Vec<&Vec<&CellResult>> =
                        per_member.iter().filter_map(|m| m.get(k)).collect();
                    let merged = combine(plan, &members);
                    let rounds: Vec<&CellResult> = merged.iter().collect();
                    let first = rounds.first()?;
                    let figures: Vec<Figures> = rounds.iter().map(|r| Figures::of(r)).collect();
                    let mut c = cell_summary(&rounds, &figures, None, planned, &[], false);
                    c.concurrency = first.cell.concurrency.get();
                    fill_percentiles(&mut c.latency_us, &c.histogram, extra);
                    Some(c)
                })
                .collect();
            Some(GroupSummary {
                name: g.name.clone(),
                members: g
                    .members
                    .iter()
                    .map(|&m| plan.scenarios[m].name.clone())
                    .collect(),
                cells,
            })
        })
        .collect()
}

/// The members' cells of one position merged round by round: one result per round that any
/// member measured. Its users are the members' users added; its wall time runs from the group's
/// start to the end of the last member (offset included); its CPU time, for in-process hosts
/// whose members each measured the whole process, is the largest member's, and for worker
/// processes the members' added.
fn combine(plan: &Plan, members: &[&Vec<&CellResult>]) -> Vec<CellResult> {
    let mut rounds_seen: Vec<usize> = members
        .iter()
        .flat_map(|m| m.iter().map(|r| r.round))
        .collect();
    rounds_seen.sort_unstable();
    rounds_seen.dedup();
    rounds_seen
        .into_iter()
        .filter_map(|round| {
            let parts: Vec<&CellResult> = members
                .iter()
                .filter_map(|m| m.iter().find(|r| r.round == round).copied())
                .collect();
            let first = parts.first()?;
            let users: usize = parts.iter().map(|r| r.cell.concurrency.get()).sum();
            let offset_of = |r: &CellResult| plan.scenarios[r.cell.scenario].start;
            let wall = parts
                .iter()
                .map(|r| offset_of(r) + r.measured.wall)
                .max()
                .unwrap_or_default();
            let cpu = if first.cell.model == Model::Processes {
                parts.iter().map(|r| r.measured.cpu).sum()
            } else {
                parts
                    .iter()
                    .map(|r| r.measured.cpu)
                    .max()
                    .unwrap_or_default()
            };
            let mut measured = Measured::merge(parts.iter().map(|r| {
                let mut m = r.measured.clone();
                m.recorder.requests.clear();
                m
            }));
            measured.wall = wall;
            measured.cpu = cpu;
            Some(CellResult {
                cell: Cell {
                    concurrency: std::num::NonZeroUsize::new(users)
                        .unwrap_or(first.cell.concurrency),
                    ..first.cell.clone()
                },
                measured,
                offset: parts.iter().map(|r| r.offset).min().unwrap_or_default(),
                round,
                machine: first.machine,
                capacity: None,
            })
        })
        .collect()
}
