//! What the numbers say, in words: health warnings (can these numbers be trusted?), findings
//! (what the run shows: the fastest cell, I/O- or CPU-bound and the evidence for it), why a run
//! failed (every failed threshold, baseline check and failing cell, with where it is), and each
//! cell's errors with their messages.
//!
//! Input: a [`Summary`] (or one scenario of it). Output: plain data (text with a severity, the
//! cells concerned) for every page to show its own way: the HTML report, `summary.md` and the
//! console. Pure functions: no formatting beyond words and numbers, no markup, no I/O, and the
//! same summary always gives the same words in the same order.

use std::collections::BTreeMap;

use super::junit::{baseline_failure, baseline_value};
use crate::plan::Model;
use crate::stats::{Bound, CellSummary, ScenarioSummary, Summary, ThresholdResult, Verdict};
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
    let insecure: Vec<Concern> = s
        .scenarios
        .iter()
        .enumerate()
        .filter(|(_, sc)| sc.tls_insecure)
        .map(|(i, sc)| Concern {
            scenario: i,
            text: format!("{}: tls.insecure is set", sc.name),
        })
        .collect();
    if !insecure.is_empty() {
        // First: it questions what was measured at all, not how well.
        items.push(HealthItem {
            severity: Severity::Warning,
            title: "TLS certificates were NOT verified.",
            detail: "These scenarios set tls.insecure: anything could have answered as the server, so these numbers may describe another server than the one meant. Trust a private certificate authority with tls.ca instead.".into(),
            cells: insecure,
        });
    }
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
    items.extend(export_health(s));
    items
}

/// Live export (`--export`) that lost intervals: this report's numbers stand, but dashboards
/// fed by those endpoints miss part of the run.
fn export_health(s: &Summary) -> Option<HealthItem> {
    let lossy: Vec<String> = s
        .export
        .iter()
        .filter(|e| e.dropped > 0)
        .map(|e| {
            format!(
                "{} lost {} of {} intervals ({} sent, {} attempts retried{})",
                e.url,
                e.dropped,
                e.intervals,
                e.sent,
                e.retried,
                e.last_error
                    .as_ref()
                    .map(|m| format!(", last error: {m}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    (!lossy.is_empty()).then(|| HealthItem {
        severity: Severity::Warning,
        title: "Live export lost intervals.",
        detail: format!(
            "{}. The run and this report are complete; only the series pushed live miss these intervals.",
            lossy.join("; ")
        ),
        cells: Vec::new(),
    })
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

/// A pass or a fail, as every page marks it: an icon and a word (and, where the page has
/// colour, a colour), so it reads in greyscale and without colour vision.
pub fn mark(passed: bool) -> &'static str {
    if passed { "✔ passed" } else { "✘ failed" }
}

/// One reason a run failed, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The index of the scenario in the summary.
    pub scenario: usize,
    /// The index of the cell in its scenario; `None` for a baseline check of a cell this run
    /// does not have.
    pub cell: Option<usize>,
    /// `scenario · cell`.
    pub who: String,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// A threshold that did not hold, with what was observed and the limit, in its unit.
    Threshold {
        expression: String,
        observed: String,
        limit: String,
    },
    /// A metric that got worse than the baseline's tolerance allows.
    Baseline {
        metric: String,
        baseline: String,
        current: String,
        change: String,
        /// The whole check in words: `p99 regressed: 52.0ms against 40.0ms in the baseline…`.
        text: String,
    },
    /// A cell that fails the run by itself: it lost a worker or was cut short, or it had
    /// errors no `error_rate` threshold accepts.
    Cell { why: String },
}

impl Failure {
    /// The reason in one line of plain words (`who: what`), for the console.
    pub fn sentence(&self) -> String {
        match &self.reason {
            Reason::Threshold {
                expression,
                observed,
                limit,
            } => format!(
                "{}: threshold {expression}: observed {observed}, limit {limit}",
                self.who
            ),
            Reason::Baseline { text, .. } => format!("{}: {text}", self.who),
            Reason::Cell { why } => format!("{}: {why}", self.who),
        }
    }
}

/// A threshold's limit in its unit, as its observed value is written.
fn limit_text(t: &ThresholdResult) -> String {
    let v = t.limit;
    match t.unit.as_str() {
        "us" if v.is_finite() && v >= 0.0 => units::micros(v.round() as u64),
        "fraction" => units::percent(v),
        "per_s" => format!("{}/s", units::number(v)),
        "ratio" => units::speedup(Some(v)),
        _ => units::number(v),
    }
}

/// True when one of the cell's thresholds speaks for its errors: `error_rate < 5%` is how a
/// plan accepts them (`error_rate{request=login}` speaks for one request's only).
fn errors_accepted(c: &CellSummary) -> bool {
    c.thresholds.iter().any(|t| {
        t.expression
            .trim_start()
            .strip_prefix("error_rate")
            .is_some_and(|rest| !rest.trim_start().starts_with('{'))
    })
}

/// Why a cell fails the run by itself, if it does. Errors no `error_rate` threshold accepts fail
/// a run by the contract (DESIGN.md), but only a `failed` verdict says the gate applied that
/// rule: in a run that passed they are a health warning, never a failure.
fn cell_failure(c: &CellSummary, verdict: Verdict) -> Option<String> {
    if !c.complete {
        return Some(if c.notes.is_empty() {
            "did not complete".into()
        } else {
            format!("did not complete: {}", c.notes.join("; "))
        });
    }
    let errors = c.errors.values().fold(0u64, |a, n| a.saturating_add(*n));
    if errors == 0 || errors_accepted(c) || verdict != Verdict::Failed {
        return None;
    }
    let first = error_groups(c)
        .into_iter()
        .find_map(|g| Some(format!(" (first: {}: {})", g.category, g.messages.first()?)))
        .unwrap_or_default();
    Some(format!(
        "{errors} errors ({}) and no error_rate threshold accepts them{first}",
        units::percent(c.error_rate)
    ))
}

/// Why the run failed: every failed threshold, then every failed baseline check, then every
/// cell that fails by itself (lost a worker or cut short; errors no `error_rate` threshold
/// accepts), each with where it is. Read from what the summary records (results, `complete`,
/// notes, errors, the verdict), never from the plan. Empty for a run with nothing failed;
/// shown when the verdict is `failed`.
pub fn failures(s: &Summary) -> Vec<Failure> {
    let mut thresholds = Vec::new();
    let mut cells = Vec::new();
    for (si, sc) in s.scenarios.iter().enumerate() {
        for (ci, c) in sc.cells.iter().enumerate() {
            let who = format!("{} · {}", sc.name, label(c));
            for t in c.thresholds.iter().filter(|t| !t.passed) {
                thresholds.push(Failure {
                    scenario: si,
                    cell: Some(ci),
                    who: who.clone(),
                    reason: Reason::Threshold {
                        expression: t.expression.clone(),
                        observed: if t.observed_text.is_empty() {
                            t.observed.map_or_else(|| "-".into(), units::number)
                        } else {
                            t.observed_text.clone()
                        },
                        limit: limit_text(t),
                    },
                });
            }
            if let Some(why) = cell_failure(c, s.verdict) {
                cells.push(Failure {
                    scenario: si,
                    cell: Some(ci),
                    who,
                    reason: Reason::Cell { why },
                });
            }
        }
    }
    let mut out = thresholds;
    if let Some(b) = &s.baseline {
        for k in b.checks.iter().filter(|k| !k.passed) {
            let scenario = s.scenarios.iter().position(|sc| sc.name == k.scenario);
            let cell = scenario.and_then(|si| {
                s.scenarios[si]
                    .cells
                    .iter()
                    .position(|c| c.model == k.model && c.concurrency == k.concurrency)
            });
            let who = match (scenario, cell) {
                (Some(si), Some(ci)) => {
                    format!("{} · {}", k.scenario, label(&s.scenarios[si].cells[ci]))
                }
                _ => format!("{} · {}", k.scenario, k.label()),
            };
            out.push(Failure {
                scenario: scenario.unwrap_or(0),
                cell,
                who,
                reason: Reason::Baseline {
                    metric: k.metric.clone(),
                    baseline: baseline_value(&k.metric, k.baseline),
                    current: baseline_value(&k.metric, k.current),
                    change: k
                        .change
                        .filter(|x| x.is_finite())
                        .map_or_else(|| "-".into(), |x| format!("{:+.1}%", x * 100.0)),
                    text: baseline_failure(k, b.tolerance),
                },
            });
        }
    }
    out.extend(cells);
    out
}

/// How many of each kind of failure, in words: `2 thresholds, 1 baseline check and 1 cell`.
pub fn failure_count(f: &[Failure]) -> String {
    let n = |want: fn(&Reason) -> bool| f.iter().filter(|x| want(&x.reason)).count();
    let parts: Vec<String> = [
        (n(|r| matches!(r, Reason::Threshold { .. })), "threshold"),
        (
            n(|r| matches!(r, Reason::Baseline { .. })),
            "baseline check",
        ),
        (n(|r| matches!(r, Reason::Cell { .. })), "cell"),
    ]
    .into_iter()
    .filter(|(k, _)| *k > 0)
    .map(|(k, word)| format!("{k} {word}{}", if k == 1 { "" } else { "s" }))
    .collect();
    match parts.as_slice() {
        [] => "nothing".into(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Said when the verdict is `failed` but [`failures`] found no reason in the summary.
pub const UNEXPLAINED: &str = "The verdict is failed, but this summary names no failed threshold, baseline check or failing cell: see each scenario's cells and notes.";

/// The errors of one category in one cell, with the first distinct messages the run kept.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ErrorGroup {
    pub category: String,
    pub count: u64,
    /// As the server or the client said them: text from outside, to be escaped by each page.
    pub messages: Vec<String>,
}

impl ErrorGroup {
    /// `: first<separator>second`, each message as `show` writes it (escaped for its page);
    /// nothing when the run kept no message.
    pub fn messages_after(&self, show: impl Fn(&str) -> String, separator: &str) -> String {
        if self.messages.is_empty() {
            return String::new();
        }
        let shown: Vec<String> = self.messages.iter().map(|m| show(m)).collect();
        format!(": {}", shown.join(separator))
    }
}

/// The cell's errors by category, with their messages; categories without errors are left out.
pub fn error_groups(c: &CellSummary) -> Vec<ErrorGroup> {
    let mut groups: Vec<ErrorGroup> = c
        .errors
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| ErrorGroup {
            category: k.clone(),
            count: *n,
            messages: c.error_messages.get(k).cloned().unwrap_or_default(),
        })
        .collect();
    // Messages of a category without a count (an edited summary) are still worth showing.
    for (k, m) in &c.error_messages {
        if !m.is_empty() && c.errors.get(k).is_none_or(|n| *n == 0) {
            groups.push(ErrorGroup {
                category: k.clone(),
                count: 0,
                messages: m.clone(),
            });
        }
    }
    groups
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

/// `, N within noise` when the baseline had rounds to tell noise by; empty otherwise.
pub fn within_noise(checks: &[crate::stats::BaselineCheck]) -> String {
    if checks.iter().all(|c| c.noise.is_none()) {
        return String::new();
    }
    let n = checks
        .iter()
        .filter(|c| c.noise.as_ref().is_some_and(|n| n.within_noise))
        .count();
    format!(", {n} within noise")
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

    /// A healthy run without a baseline: nothing fails until a case spoils it.
    fn clean() -> Summary {
        let mut s = healthy();
        s.baseline = None;
        s
    }

    #[test]
    fn failures_say_what_failed_where_thresholds_first() {
        type Spoil = fn(&mut Summary);
        let uncovered: Spoil = |s| {
            s.verdict = Verdict::Failed;
            let c = &mut s.scenarios[1].cells[2];
            c.errors.insert("status".into(), 2);
            c.error_rate = 0.2;
            c.error_messages.insert(
                "status".into(),
                vec!["status 503".into(), "status 502".into()],
            );
        };
        /// (scenario, cell, the failure in words).
        type Want = &'static [(usize, Option<usize>, &'static str)];
        let table: [(&str, Spoil, Want); 8] = [
            ("nothing", |_| {}, &[]),
            (
                "a threshold",
                |s| s.scenarios[0].cells[1].thresholds[0].passed = false,
                &[(
                    0,
                    Some(1),
                    "sample · async c=2 w=1: threshold p99 < 100ms: observed 52.0ms, limit 100.0ms",
                )],
            ),
            (
                "a lost worker",
                |s| {
                    let c = &mut s.scenarios[1].cells[0];
                    c.complete = false;
                    c.notes = vec!["worker 2 exited".into()];
                },
                &[(
                    1,
                    Some(0),
                    "sample · sequential: did not complete: worker 2 exited",
                )],
            ),
            (
                "errors no threshold accepts",
                uncovered,
                &[(
                    1,
                    Some(2),
                    "sample · async c=4 w=1: 2 errors (20.0%) and no error_rate threshold accepts them (first: status: status 503)",
                )],
            ),
            (
                // The gate did not fail the run on them: a health warning only.
                "errors no threshold accepts in a run that passed",
                |s| {
                    let c = &mut s.scenarios[1].cells[2];
                    c.errors.insert("status".into(), 2);
                },
                &[],
            ),
            (
                "errors an error_rate threshold accepts",
                |s| {
                    s.verdict = Verdict::Failed;
                    let c = &mut s.scenarios[1].cells[2];
                    c.errors.insert("status".into(), 2);
                    c.thresholds.push(ThresholdResult {
                        expression: "error_rate < 50%".into(),
                        observed: Some(0.2),
                        passed: true,
                        limit: 0.5,
                        unit: "fraction".into(),
                        observed_text: "20.0%".into(),
                    });
                },
                &[],
            ),
            (
                "a baseline check, named by the cell's one label",
                |s| s.baseline = sample().baseline,
                &[(
                    0,
                    Some(1),
                    "sample · async c=2 w=1: p99 regressed: 52.0ms against 40.0ms in the baseline (+30.0%), tolerance 10.0%",
                )],
            ),
            (
                "all at once, thresholds first and cells last",
                |s| {
                    s.baseline = sample().baseline;
                    s.scenarios[1].cells[0].complete = false;
                    s.scenarios[1].cells[1].thresholds[0].passed = false;
                },
                &[
                    (
                        1,
                        Some(1),
                        "sample · async c=2 w=1: threshold p99 < 100ms: observed 52.0ms, limit 100.0ms",
                    ),
                    (
                        0,
                        Some(1),
                        "sample · async c=2 w=1: p99 regressed: 52.0ms against 40.0ms in the baseline (+30.0%), tolerance 10.0%",
                    ),
                    (1, Some(0), "sample · sequential: did not complete"),
                ],
            ),
        ];
        for (case, spoil, want) in table {
            let mut s = clean();
            spoil(&mut s);
            let got: Vec<(usize, Option<usize>, String)> = failures(&s)
                .iter()
                .map(|f| (f.scenario, f.cell, f.sentence()))
                .collect();
            let want: Vec<(usize, Option<usize>, String)> = want
                .iter()
                .map(|(a, b, c)| (*a, *b, (*c).to_string()))
                .collect();
            assert_eq!(got, want, "{case}");
        }
        // A threshold on one request's errors does not accept the whole cell's.
        let mut s = clean();
        uncovered(&mut s);
        s.scenarios[1].cells[2].thresholds[0].expression = "error_rate{request=login} < 50%".into();
        assert_eq!(failures(&s).len(), 1);
        s.scenarios[1].cells[2].thresholds[0].expression = "error_rate < 50%".into();
        assert_eq!(failures(&s).len(), 0);
        // A baseline check of a cell this run lacks points at its scenario, by its old name.
        let mut s = clean();
        s.baseline = sample().baseline;
        if let Some(b) = &mut s.baseline {
            b.checks[0].concurrency = 64;
        }
        let f = &failures(&s)[0];
        assert_eq!((f.scenario, f.cell), (0, None));
        assert!(f.who.starts_with("sample · async c=64"), "{}", f.who);
        // Odd numbers still give words.
        let _ = failures(&hostile());
    }

    #[test]
    fn failure_counts_and_limits_read_as_words() {
        let f = |reason: Reason| Failure {
            scenario: 0,
            cell: None,
            who: String::new(),
            reason,
        };
        let t = || {
            f(Reason::Threshold {
                expression: String::new(),
                observed: String::new(),
                limit: String::new(),
            })
        };
        let c = || f(Reason::Cell { why: String::new() });
        let b = || {
            f(Reason::Baseline {
                metric: String::new(),
                baseline: String::new(),
                current: String::new(),
                change: String::new(),
                text: String::new(),
            })
        };
        for (list, want) in [
            (vec![], "nothing"),
            (vec![t()], "1 threshold"),
            (vec![t(), t(), c()], "2 thresholds and 1 cell"),
            (
                vec![c(), b(), t()],
                "1 threshold, 1 baseline check and 1 cell",
            ),
        ] {
            assert_eq!(failure_count(&list), want);
        }
        let limit = |limit: f64, unit: &str| {
            limit_text(&ThresholdResult {
                expression: String::new(),
                observed: None,
                passed: false,
                limit,
                unit: unit.into(),
                observed_text: String::new(),
            })
        };
        for (v, unit, want) in [
            (250_000.0, "us", "250.0ms"),
            (0.01, "fraction", "1.00%"),
            (100.0, "per_s", "100/s"),
            (1.5, "ratio", "1.50×"),
            (f64::NAN, "us", "-"),
            (-3.0, "us", "-3.00"),
            (7.0, "furlongs", "7.00"),
        ] {
            assert_eq!(limit(v, unit), want, "{v} {unit}");
        }
        assert_eq!((mark(true), mark(false)), ("✔ passed", "✘ failed"));
    }

    #[test]
    fn error_groups_carry_their_messages() {
        let mut c = sample().scenarios[0].cells[1].clone();
        c.errors.insert("tls".into(), 3);
        c.error_messages.insert(
            "tls".into(),
            vec!["tls: invalid peer certificate: UnknownIssuer".into()],
        );
        // Messages without a count (an edited file) still show.
        c.error_messages
            .insert("body".into(), vec!["body: cut".into()]);
        let got: Vec<(String, u64, usize)> = error_groups(&c)
            .into_iter()
            .map(|g| (g.category, g.count, g.messages.len()))
            .collect();
        assert_eq!(
            got,
            [
                ("status".to_string(), 1, 1),
                ("tls".to_string(), 3, 1),
                ("body".to_string(), 0, 1),
            ]
        );
        assert!(error_groups(&healthy().scenarios[0].cells[0]).is_empty());
    }

    #[test]
    fn unverified_certificates_are_the_first_warning() {
        let mut s = healthy();
        s.scenarios[0].tls_insecure = true;
        let items = health(&s);
        assert_eq!(items[0].title, "TLS certificates were NOT verified.");
        assert_eq!(items[0].severity, Severity::Warning);
        assert_eq!(
            items[0].cells,
            [Concern {
                scenario: 0,
                text: "sample: tls.insecure is set".into()
            }]
        );
        s.verdict = Verdict::Interrupted;
        assert_eq!(health(&s)[1].title, "The run was interrupted.");
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
