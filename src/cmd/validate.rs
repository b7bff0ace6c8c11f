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
        let mut total_time = Duration::ZERO;
        for c in &cells {
            let s = &p.scenarios[c.scenario];
            let label = c.model.label(c.concurrency.get(), c.workers.get());
            let amount = match &s.load {
                Load::Repeat(_) => {
                    let n = p.cell_operations(c).unwrap_or(0);
                    total_ops += n;
                    format!("{n} operations")
                }
                other => {
                    total_time += other.planned_time().unwrap_or_default();
                    match crate::run::scheduled_arrivals(other) {
                        Some(n) => format!("{}: {n} arrivals", other.describe()),
                        None => other.describe(),
                    }
                }
            };
            say!("  {} · {label}: {amount}", s.name);
        }
        say!(
            "  total: {total_ops} counted operations, {} of timed load",
            humantime::format_duration(total_time)
        );
    }
    Ok(Verdict::Passed)
}
