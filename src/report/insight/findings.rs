//! What one scenario shows, in sentences: the fastest cell, a headline, and whether the work
//! was I/O- or CPU-bound with the evidence for it.
//!
//! Input: a [`ScenarioSummary`]. Output: [`Findings`]. Pure: no markup, no I/O.

use super::label;
use crate::plan::Model;
use crate::stats::{Bound, ScenarioSummary};
use crate::units;

/// The cell with the highest throughput among those that completed operations.
pub fn fastest_index(s: &ScenarioSummary) -> Option<usize> {
    s.cells
        .iter()
        .enumerate()
        .filter(|(_, c)| c.operations > 0 && c.throughput_per_s.is_finite())
        .max_by(|(_, a), (_, b)| a.throughput_per_s.total_cmp(&b.throughput_per_s))
        .map(|(i, _)| i)
}

/// What one scenario shows, in sentences.
#[derive(Debug, Clone, PartialEq)]
pub struct Findings {
    /// Index of the fastest cell among the scenario's cells.
    pub fastest: Option<usize>,
    /// Its label, or `none`.
    pub fastest_label: String,
    /// Its throughput, speedup and cores, or why there is none.
    pub fastest_detail: String,
    /// One plain sentence stating what the numbers show.
    pub headline: String,
    /// Why the scenario counts as I/O- or CPU-bound.
    pub evidence: String,
    /// Said when the measurement contradicts the kind of workload.
    pub surprise: Option<String>,
}

pub fn findings(s: &ScenarioSummary) -> Findings {
    let fastest = fastest_index(s);
    let fastest_cell = fastest.and_then(|f| s.cells.get(f));
    let busy = units::percent(s.busy_fraction);
    let waiting = units::percent((1.0 - s.busy_fraction).clamp(0.0, 1.0));
    Findings {
        fastest,
        fastest_label: fastest_cell.map_or_else(|| "none".into(), label),
        fastest_detail: fastest_cell.map_or_else(
            || "no cell completed an operation".into(),
            |c| {
                format!(
                    "{}/s, {} sequential, {} cores busy",
                    units::number(c.throughput_per_s),
                    units::speedup(c.speedup),
                    units::number(c.cores_busy)
                )
            },
        ),
        headline: headline(s),
        evidence: format!(
            "In {}, the runner's CPU time was {busy} of the wall time on the cores it could use: it spent the other {waiting} waiting. Half or more counts as CPU-bound.",
            s.bound_cell
        ),
        surprise: match (s.kind, s.bound) {
            (Bound::Io, Bound::Cpu) => Some(
                "The workload is HTTP, yet the runner was busy computing: the load generator itself may be the bottleneck (see Generator health).".to_string(),
            ),
            (Bound::Cpu, Bound::Io) => Some(
                "The workload is a CPU kernel, yet the runner mostly idled: the kernel may be too small for the timer, or the cell too short.".to_string(),
            ),
            _ => None,
        },
    }
}

/// One plain sentence stating what the numbers show: the best cell against sequential and why.
fn headline(s: &ScenarioSummary) -> String {
    let best = s
        .cells
        .iter()
        .filter(|c| c.model != Model::Sequential && c.speedup.is_some())
        .max_by(|a, b| a.throughput_per_s.total_cmp(&b.throughput_per_s));
    let Some(best) = best else {
        return match s.bound {
            Bound::Io => format!(
                "The runner was busy {} of the time: this scenario is I/O-bound (it mostly waited).",
                units::percent(s.busy_fraction)
            ),
            Bound::Cpu => format!(
                "The runner was busy {} of the time: this scenario is CPU-bound (it mostly computed).",
                units::percent(s.busy_fraction)
            ),
        };
    };
    let speed = units::speedup(best.speedup);
    let cores = units::number(best.cores_busy);
    let mut sentence = match s.bound {
        Bound::Io => format!(
            "{} was {speed} faster than sequential while keeping {cores} cores busy: the time was spent waiting, and concurrency overlaps waiting.",
            label(best)
        ),
        Bound::Cpu => format!(
            "{} was {speed} faster than sequential using {cores} cores: the work was computation, which only runs faster on more cores at once.",
            label(best)
        ),
    };
    if s.bound == Bound::Cpu {
        if let Some(a) = s
            .cells
            .iter()
            .find(|c| c.model == Model::Async && c.workers == 1)
        {
            sentence.push_str(&format!(
                " A single-threaded async event loop ran it at {} of sequential speed: a task computing never yields to the others.",
                units::speedup(a.speedup)
            ));
        }
        if let Some(t) = s
            .cells
            .iter()
            .filter(|c| c.model == Model::Threads)
            .max_by(|a, b| a.throughput_per_s.total_cmp(&b.throughput_per_s))
            .filter(|t| t.speedup.is_some_and(|x| x > 1.2))
        {
            sentence.push_str(&format!(
                " Threads sped it up {} because Rust threads compute on several cores at once (CPython's interpreter lock would not allow that).",
                units::speedup(t.speedup)
            ));
        }
    }
    sentence
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::{hostile, sample};

    #[test]
    fn findings_name_the_fastest_cell_and_the_evidence() {
        let s = sample();
        let f = findings(&s.scenarios[0]);
        assert_eq!(f.fastest, Some(2));
        assert_eq!(f.fastest_label, "async c=4 w=1");
        assert_eq!(
            f.fastest_detail,
            "24.0/s, 3.00× sequential, 0.02 cores busy"
        );
        assert!(
            f.evidence
                .starts_with("In sequential, the runner's CPU time was 2.00%")
        );
        assert_eq!(f.surprise, None);
        let mut odd = s.scenarios[0].clone();
        odd.bound = Bound::Cpu;
        assert!(
            findings(&odd)
                .surprise
                .is_some_and(|w| w.contains("workload is HTTP"))
        );
        // No cell with operations: no fastest, and the words say why.
        for c in &mut odd.cells {
            c.operations = 0;
            c.speedup = None;
        }
        let f = findings(&odd);
        assert_eq!((f.fastest, f.fastest_label.as_str()), (None, "none"));
        assert_eq!(f.fastest_detail, "no cell completed an operation");
        assert!(
            f.headline.contains("this scenario is CPU-bound"),
            "{}",
            f.headline
        );
        for sc in &hostile().scenarios {
            let _ = findings(sc);
        }
    }
}
