//! What one scenario shows, in sentences: the fastest cell, a headline, and whether the work
//! was I/O- or CPU-bound with the evidence for it.
//!
//! Input: a [`ScenarioSummary`]. Output: [`Findings`]. Pure: no markup, no I/O.

use super::{label, numbers};
use crate::stats::{Bound, ScenarioSummary, machine};
use crate::units;

/// The cell with the highest (successful) throughput among those with a success: a cell whose
/// every operation failed did no work, however fast it failed.
pub fn fastest_index(s: &ScenarioSummary) -> Option<usize> {
    s.cells
        .iter()
        .enumerate()
        .filter(|(_, c)| c.operations > 0 && c.successes > 0 && c.throughput_per_s.is_finite())
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

/// How the measured bound reads, as (a class for styling, words): `io`/`io-bound`,
/// `cpu`/`cpu-bound`, or `unclassified`/`too short to classify` when every cell was too short
/// for its CPU time to tell waiting from computing (`classified: false`).
pub fn bound_words(s: &ScenarioSummary) -> (&'static str, &'static str) {
    match (s.classified, s.bound) {
        (false, _) => ("unclassified", TOO_SHORT),
        (true, Bound::Io) => ("io", "io-bound"),
        (true, Bound::Cpu) => ("cpu", "cpu-bound"),
    }
}

const TOO_SHORT: &str = "too short to classify";

/// Why a scenario is [`TOO_SHORT`], with the limits of the machine checks.
fn too_short_evidence() -> String {
    format!(
        "Every cell ran under {:.0} ms or {} operations: too short for the runner's CPU time to tell waiting from computing, so this scenario is neither called I/O- nor CPU-bound. Raise repeat or duration.",
        machine::MIN_WALL_SECONDS * 1e3,
        machine::MIN_OPERATIONS
    )
}

pub fn findings(s: &ScenarioSummary) -> Findings {
    if !s.classified {
        let mut f = classified(s);
        f.evidence = too_short_evidence();
        f.surprise = None;
        return f;
    }
    classified(s)
}

fn classified(s: &ScenarioSummary) -> Findings {
    let fastest = fastest_index(s);
    let fastest_cell = fastest.and_then(|f| s.cells.get(f));
    let busy = units::percent(s.busy_fraction);
    let waiting = units::percent((1.0 - s.busy_fraction).clamp(0.0, 1.0));
    Findings {
        fastest,
        fastest_label: fastest_cell.map_or_else(|| "none".into(), label),
        fastest_detail: fastest_cell.map_or_else(
            || "no cell completed a successful operation".into(),
            |c| {
                format!(
                    "{}, {} sequential, {} cores busy",
                    numbers::throughput(c).inline_with("/s"),
                    numbers::speedup(s, c).inline(),
                    numbers::cores_busy(c).inline()
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
        .filter(|c| !c.model.is_baseline() && c.speedup.is_some())
        .max_by(|a, b| a.throughput_per_s.total_cmp(&b.throughput_per_s));
    if !s.classified {
        return match best {
            Some(best) => format!(
                "{} was {} faster than sequential, but every cell was too short to tell whether the time went to waiting or to computing.",
                label(best),
                numbers::speedup(s, best).inline()
            ),
            None => format!(
                "This scenario was {TOO_SHORT}: every cell was too short to tell whether its time went to waiting or to computing."
            ),
        };
    }
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
    let speed = numbers::speedup(s, best).inline();
    let cores = numbers::cores_busy(best).inline();
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
            .find(|c| !c.model.is_baseline() && c.model.is_single_threaded(c.workers))
        {
            sentence.push_str(&format!(
                " A single-threaded async event loop ran it at {} of sequential speed: a task computing never yields to the others.",
                numbers::speedup(s, a).inline()
            ));
        }
        if let Some(t) = s
            .cells
            .iter()
            .filter(|c| c.model.is_os_threads())
            .max_by(|a, b| a.throughput_per_s.total_cmp(&b.throughput_per_s))
            .filter(|t| t.speedup.is_some_and(|x| x > 1.2))
        {
            sentence.push_str(&format!(
                " Threads sped it up {} because Rust threads compute on several cores at once (CPython's interpreter lock would not allow that).",
                numbers::speedup(s, t).inline()
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
            "24.0/s (21.6–26.4), 3.00× (2.70–3.30) sequential, 0.02 cores busy"
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
        assert_eq!(f.fastest_detail, "no cell completed a successful operation");
        assert!(
            f.headline.contains("this scenario is CPU-bound"),
            "{}",
            f.headline
        );
        for sc in &hostile().scenarios {
            let _ = findings(sc);
        }
    }

    #[test]
    fn a_scenario_too_short_to_classify_says_so_instead_of_a_bound() {
        let mut s = sample().scenarios[1].clone();
        assert_eq!(bound_words(&s), ("cpu", "cpu-bound"));
        s.classified = false;
        s.bound_cell = String::new();
        assert_eq!(bound_words(&s), ("unclassified", "too short to classify"));
        let f = findings(&s);
        assert!(
            f.evidence
                .starts_with("Every cell ran under 100 ms or 20 operations"),
            "{}",
            f.evidence
        );
        assert!(
            f.headline
                .starts_with("async c=4 w=1 was 3.00× (2.70–3.30) faster")
                && f.headline.contains("too short to tell"),
            "{}",
            f.headline
        );
        assert_eq!(f.surprise, None);
        for c in &mut s.cells {
            c.speedup = None;
        }
        assert!(findings(&s).headline.contains("too short to classify"));
    }
}
