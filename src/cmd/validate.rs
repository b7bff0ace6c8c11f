//! `loadplan validate`: parses, resolves and expands plans, and lists their cells and totals.
//! Sends nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::{cores, load_plans, say};
use crate::Error;
use crate::plan::{Load, Model};
use crate::stats::Verdict;

pub fn run(paths: &[PathBuf], sets: &[crate::plan::SetValue]) -> Result<Verdict, Error> {
    for p in &load_plans(paths, sets)? {
        let cells = p.cells(cores());
        say!(
            "{}: ok: plan `{}`, {}, {}",
            p.file.display(),
            p.name,
            crate::units::count(p.scenarios.len(), "scenario"),
            crate::units::count(cells.len(), "cell")
        );
        let mut total_ops = 0u64;
        // Timed load per slot: a cell alone, or the cells of one group that start together (one
        // model, one place in the members' sweeps), which take as long as the longest member
        // with its start offset.
        let mut slots: BTreeMap<(Option<&str>, Model, usize), Duration> = BTreeMap::new();
        let mut places: BTreeMap<(usize, Model), usize> = BTreeMap::new();
        for (i, c) in cells.iter().enumerate() {
            let s = &p.scenarios[c.scenario];
            let label = c.model.label(c.concurrency.get(), c.workers.get());
            let place = places.entry((c.scenario, c.model)).or_default();
            let slot = match &s.group {
                Some(g) => (Some(g.as_str()), c.model, *place),
                None => (None, c.model, i),
            };
            *place += 1;
            let amount = match &s.load {
                Load::Repeat(_) => {
                    let n = p.cell_operations(c).unwrap_or(0);
                    total_ops = total_ops.saturating_add(n);
                    format!("{n} operations")
                }
                other => {
                    let time = s
                        .start
                        .saturating_add(other.planned_time().unwrap_or_default());
                    let longest = slots.entry(slot).or_default();
                    *longest = (*longest).max(time);
                    match crate::run::scheduled_arrivals(other) {
                        Some(n) => format!("{}: {n} arrivals", other.describe()),
                        None => other.describe(),
                    }
                }
            };
            say!("  {} · {label}: {amount}", s.name);
        }
        for g in &p.groups {
            let names: Vec<&str> = g
                .members
                .iter()
                .map(|&m| p.scenarios[m].name.as_str())
                .collect();
            say!(
                "  group {}: {} run together, each model's cells from one start",
                g.name,
                names.join(" + ")
            );
        }
        let rounds = p.rounds.get();
        // Saturating: a plan's durations are bounded, but their sum over rounds is not checked.
        let total_time = slots
            .values()
            .fold(Duration::ZERO, |sum, t| sum.saturating_add(*t))
            .saturating_mul(u32::try_from(rounds).unwrap_or(u32::MAX));
        // The cells above are one round's; the totals count every round.
        say!(
            "  total{}: {} counted operations, {} of timed load",
            if rounds > 1 {
                format!(" over {rounds} rounds")
            } else {
                String::new()
            },
            total_ops.saturating_mul(rounds as u64),
            humantime::format_duration(total_time)
        );
    }
    Ok(Verdict::Passed)
}
