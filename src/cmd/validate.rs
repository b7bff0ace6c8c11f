//! `loadplan validate`: parses, resolves and expands plans, and lists their cells and totals.
//! Sends nothing.

use std::path::PathBuf;
use std::time::Duration;

use super::{cores, load_plans, say};
use crate::Error;
use crate::plan::Load;
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
        // Saturating: a plan's durations are bounded, but their sum over cells and rounds is not.
        let mut total_time = Duration::ZERO;
        for c in &cells {
            let s = &p.scenarios[c.scenario];
            let label = c.model.label(c.concurrency.get(), c.workers.get());
            let amount = match &s.load {
                Load::Repeat(_) => {
                    let n = p.cell_operations(c).unwrap_or(0);
                    total_ops = total_ops.saturating_add(n);
                    format!("{n} operations")
                }
                other => {
                    // A group member's time is counted with its group's, below.
                    if s.group.is_none() {
                        total_time =
                            total_time.saturating_add(other.planned_time().unwrap_or_default());
                    }
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
            // Its members' cells of one place start together and last as long as the longest
            // member with its start offset.
            let longest = g
                .members
                .iter()
                .filter_map(|&m| {
                    let s = &p.scenarios[m];
                    s.load.planned_time().map(|t| s.start.saturating_add(t))
                })
                .max()
                .unwrap_or_default();
            let places = g
                .members
                .iter()
                .map(|&m| cells.iter().filter(|c| c.scenario == m).count())
                .max()
                .unwrap_or(0);
            total_time = total_time
                .saturating_add(longest.saturating_mul(u32::try_from(places).unwrap_or(u32::MAX)));
        }
        let rounds = p.rounds.get();
        let total_time = total_time.saturating_mul(u32::try_from(rounds).unwrap_or(u32::MAX));
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
