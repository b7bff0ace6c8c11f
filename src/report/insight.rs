//! What the numbers say, in words: health warnings (can these numbers be trusted?) and findings
//! (what the run shows: the fastest cell, I/O- or CPU-bound and the evidence for it).
//!
//! Input: a [`Summary`] (or one scenario of it). Output: plain data (text with a severity, the
//! cells concerned) for every page to show its own way: the HTML report, `summary.md` and the
//! console. Pure functions: no formatting beyond words and numbers, no markup, no I/O, and the
//! same summary always gives the same words in the same order.

use std::collections::BTreeMap;

use crate::plan::Model;
use crate::stats::{Bound, CellSummary, ScenarioSummary, Summary, Verdict};
use crate::units;

/// A cell keeping this share of the host's cores busy was limited by the machine it ran on.
const SATURATED_SHARE: f64 = 0.8;
/// Above this error rate the latencies describe failures as much as the service.
const ERROR_RATE_WARNING: f64 = 0.02;
/// Shorter cells measure start-up and scheduling noise more than steady behaviour.
const SHORT_SECONDS: f64 = 1.0;
/// With fewer operations, p99 is simply the maximum.
const FEW_OPERATIONS: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The numbers may not mean what they seem.
    Warning,
    /// Worth knowing; the numbers stand.
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }

    /// `Warning` or `Note`, printed before a title.
    pub fn word(self) -> &'static str {
        match self {
            Severity::Warning => "Warning",
            Severity::Note => "Note",
        }
    }
}

/// One kind of doubt about one cell, in the order the worst doubts come first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flag {
    Incomplete,
    RunnerSaturated,
    RateNotReached,
    Errors,
    NoOperations,
    Short,
    OffTheScale,
    /// A CPU-bound cell used the whole machine: expected, only a note.
    MachineBusy,
}

impl Flag {
    /// The short words shown beside a cell (`short`, `errors`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Incomplete => "incomplete",
            Flag::RunnerSaturated => "runner saturated",
            Flag::RateNotReached => "rate not reached",
            Flag::Errors => "errors",
            Flag::NoOperations => "no operations",
            Flag::Short => "short",
            Flag::OffTheScale => "off the scale",
            Flag::MachineBusy => "machine busy",
        }
    }
}

/// A cell a health item concerns: the index of its scenario and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Concern {
    pub scenario: usize,
    /// `scenario · cell: detail`.
    pub text: String,
}

/// One kind of doubt and the cells it concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthItem {
    pub severity: Severity,
    pub title: &'static str,
    pub detail: String,
    pub cells: Vec<Concern>,
}

fn label(c: &CellSummary) -> String {
    c.label()
}

fn saturated(c: &CellSummary, host_cores: usize) -> bool {
    c.cores_busy >= SATURATED_SHARE * host_cores.max(1) as f64
}

/// The doubts about one cell of a scenario whose workload is `kind`, worst first; the words
/// beside a cell in a table. `MachineBusy` is not among them: it is a health note only.
pub fn cell_flags(c: &CellSummary, kind: Bound, host_cores: usize) -> Vec<Flag> {
    let mut flags = Vec::new();
    if !c.complete {
        flags.push(Flag::Incomplete);
    }
    if c.operations == 0 {
        flags.push(Flag::NoOperations);
    } else if c.wall_seconds < SHORT_SECONDS || c.operations < FEW_OPERATIONS {
        flags.push(Flag::Short);
    }
    if c.error_rate > ERROR_RATE_WARNING {
        flags.push(Flag::Errors);
    }
    if kind == Bound::Io && saturated(c, host_cores) {
        flags.push(Flag::RunnerSaturated);
    }
    if c.latency_out_of_range > 0 {
        flags.push(Flag::OffTheScale);
    }
    if c.open.as_ref().is_some_and(|o| o.rate_not_reached) {
        flags.push(Flag::RateNotReached);
    }
    flags
}

/// The numbers behind `flag` for one cell.
fn concern(flag: Flag, who: &str, c: &CellSummary, cores: usize) -> String {
    match flag {
        Flag::Incomplete => format!("{who}: {}", c.notes.join("; ")),
        Flag::NoOperations => format!("{who}: no operation completed"),
        Flag::Short => format!(
            "{who}: {:.2} s, {} operations",
            c.wall_seconds, c.operations
        ),
        Flag::Errors => format!(
            "{who}: {} of {} operations failed ({})",
            c.errors.values().fold(0u64, |a, n| a.saturating_add(*n)),
            c.operations,
            units::percent(c.error_rate)
        ),
        Flag::RunnerSaturated | Flag::MachineBusy => format!(
            "{who}: {} of {cores} cores busy",
            units::number(c.cores_busy)
        ),
        Flag::RateNotReached => match &c.open {
            Some(o) => format!(
                "{who}: {}/s achieved of {}/s planned, {} of {} arrivals dropped",
                units::number(o.achieved_rate_per_s),
                units::number(o.target_rate_per_s),
                o.dropped,
                o.scheduled
            ),
            None => who.to_string(),
        },
        Flag::OffTheScale => format!("{who}: {} latencies above one hour", c.latency_out_of_range),
    }
}

/// What a doubt means and what to do about it: (severity, title, detail).
fn explain(flag: Flag) -> (Severity, &'static str, String) {
    let w = Severity::Warning;
    match flag {
        Flag::Incomplete => (
            w,
            "Incomplete cells.",
            "They lost a worker or were interrupted: their numbers cover only part of the load.".into(),
        ),
        Flag::RunnerSaturated => (
            w,
            "The load generator was the bottleneck.",
            format!(
                "In these HTTP cells the runner kept at least {}% of the machine's cores busy: throughput was limited and latency inflated by the runner itself, not the service. Use fewer users, the async model, or a bigger machine.",
                (SATURATED_SHARE * 100.0).round()
            ),
        ),
        Flag::RateNotReached => (
            w,
            "The arrival rate was not kept.",
            "These open-model cells dropped arrivals or carried out fewer than 95% of those scheduled: the service saw less load than planned.".into(),
        ),
        Flag::Errors => (
            w,
            "Error rate above a few percent.",
            format!(
                "More than {} of the operations failed: latencies describe failures as much as successes (see each scenario's error charts).",
                units::percent(ERROR_RATE_WARNING)
            ),
        ),
        Flag::NoOperations => (
            w,
            "Cells without a completed operation.",
            "There is nothing to measure in them.".into(),
        ),
        Flag::Short => (
            w,
            "Cells too short to be meaningful.",
            format!(
                "They ran under {SHORT_SECONDS:.0} s or fewer than {FEW_OPERATIONS} operations: start-up and scheduling noise weigh heavily, and with fewer than {FEW_OPERATIONS} operations p99 is simply the maximum. Raise repeat or duration before trusting small differences."
            ),
        ),
        Flag::OffTheScale => (
            w,
            "Latencies beyond the histogram.",
            "Some operations took over an hour; they are counted but not in the percentiles.".into(),
        ),
        Flag::MachineBusy => (
            Severity::Note,
            "The cores of the machine were saturated by computation.",
            "Expected for CPU-bound work at full parallelism: more concurrency cannot make these cells faster.".into(),
        ),
    }
}

/// Can these numbers be trusted? One item per kind of doubt, worst first, each listing the cells
/// it concerns; empty for a healthy run.
pub fn health(s: &Summary) -> Vec<HealthItem> {
    let cores = s.host.cores;
    let mut groups: BTreeMap<Flag, Vec<Concern>> = BTreeMap::new();
    for (i, sc) in s.scenarios.iter().enumerate() {
        for c in &sc.cells {
            let who = format!("{} · {}", sc.name, label(c));
            let mut flags = cell_flags(c, sc.kind, cores);
            if sc.kind == Bound::Cpu && saturated(c, cores) {
                flags.push(Flag::MachineBusy);
            }
            for flag in flags {
                groups.entry(flag).or_default().push(Concern {
                    scenario: i,
                    text: concern(flag, &who, c, cores),
                });
            }
        }
    }
    let mut items = Vec::new();
    if s.verdict == Verdict::Interrupted {
        items.push(HealthItem {
            severity: Severity::Warning,
            title: "The run was interrupted.",
            detail: "Cells that did not finish are marked incomplete; scenarios not reached are missing.".into(),
            cells: Vec::new(),
        });
    }
    // BTreeMap order is Flag order: the worst doubts first.
    for (flag, cells) in groups {
        let (severity, title, detail) = explain(flag);
        items.push(HealthItem {
            severity,
            title,
            detail,
            cells,
        });
    }
    items
}

/// What was checked, said when [`health`] found nothing.
pub fn health_criteria(s: &Summary) -> String {
    format!(
        "No warnings. Checked: the runner kept fewer than {}% of the {} cores busy in HTTP scenarios, every error rate stayed at or under {}, and every cell ran for at least {SHORT_SECONDS:.0} s and {FEW_OPERATIONS} operations, completely.",
        (SATURATED_SHARE * 100.0).round(),
        s.host.cores,
        units::percent(ERROR_RATE_WARNING),
    )
}

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
    use crate::report::sample::{behind_schedule, healthy, hostile, sample};

    #[test]
    fn each_doubt_flags_its_cell() {
        type Spoil = fn(&mut CellSummary);
        let table: [(Spoil, Bound, &[Flag]); 8] = [
            (|_| {}, Bound::Io, &[]),
            (|c| c.complete = false, Bound::Io, &[Flag::Incomplete]),
            (|c| c.operations = 0, Bound::Io, &[Flag::NoOperations]),
            (|c| c.wall_seconds = 0.2, Bound::Io, &[Flag::Short]),
            (|c| c.error_rate = 0.5, Bound::Io, &[Flag::Errors]),
            (|c| c.cores_busy = 0.9, Bound::Io, &[Flag::RunnerSaturated]),
            // Computation may use every core: that is a note in the health list, not a flag.
            (|c| c.cores_busy = 0.9, Bound::Cpu, &[]),
            (
                |c| {
                    c.latency_out_of_range = 3;
                    c.open = Some(behind_schedule());
                },
                Bound::Io,
                &[Flag::OffTheScale, Flag::RateNotReached],
            ),
        ];
        let base = healthy().scenarios[0].cells[0].clone();
        for (spoil, kind, want) in table {
            let mut c = base.clone();
            spoil(&mut c);
            assert_eq!(cell_flags(&c, kind, 1), want);
        }
        let words: Vec<&str> = [Flag::Short, Flag::Errors, Flag::RunnerSaturated]
            .into_iter()
            .map(Flag::as_str)
            .collect();
        assert_eq!(words, ["short", "errors", "runner saturated"]);
    }

    #[test]
    fn health_lists_the_worst_doubts_first_with_their_cells() {
        let items = health(&sample());
        let titles: Vec<&str> = items.iter().map(|h| h.title).collect();
        assert_eq!(
            titles,
            [
                "The run was interrupted.",
                "Incomplete cells.",
                "Error rate above a few percent.",
                "Cells too short to be meaningful.",
            ]
        );
        assert!(items.iter().all(|h| h.severity == Severity::Warning));
        let incomplete = &items[1].cells;
        assert_eq!(incomplete.len(), 2);
        assert_eq!(incomplete[0].scenario, 0);
        assert_eq!(incomplete[1].scenario, 1);
        assert_eq!(
            incomplete[0].text,
            "sample · async c=2 w=1: a worker exited"
        );
        assert!(health(&healthy()).is_empty());
        assert!(health_criteria(&healthy()).contains("fewer than 80% of the 1 cores busy"));
        // Odd numbers still give words, never a panic.
        assert!(!health(&hostile()).is_empty());
    }

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
