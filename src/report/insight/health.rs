//! Can these numbers be trusted? Health warnings and notes, each with the cells it concerns,
//! and the short words beside a cell in a table (`short`, `errors`…). Besides what the figures
//! show by themselves (errors, short cells, a saturated runner), the machine checks the run
//! stage recorded (`machine.flags`): a cell whose CPU was slower than the sequential cell's,
//! other load sharing the machine (named with how many cores it kept busy), steal.
//!
//! Input: a [`Summary`]. Output: [`HealthItem`]s, worst first, and [`Flag`]s per cell. Pure: no
//! markup, no I/O.

use std::collections::BTreeMap;

use super::{Severity, label};
use crate::stats::{Bound, CellSummary, FlagKind, Summary, Verdict};
use crate::units;

// A cell keeping this share of the host's cores busy was limited by the machine it ran on (in
// an HTTP scenario, the validity rule `generator_saturated`: one bound for both).
use crate::units::SATURATED_SHARE;
/// Above this error rate the latencies describe failures as much as the service.
const ERROR_RATE_WARNING: f64 = 0.02;
/// Shorter cells measure start-up and scheduling noise more than steady behaviour.
const SHORT_SECONDS: f64 = 1.0;
/// With fewer operations, p99 is simply the maximum.
const FEW_OPERATIONS: u64 = 100;

/// One kind of doubt about one cell, in the order the worst doubts come first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flag {
    Incomplete,
    RunnerSaturated,
    RateNotReached,
    Errors,
    /// The CPU per operation exceeded the sequential cell's by more than a quarter.
    SlowerCpu,
    /// Processes other than loadplan kept cores busy during the cell.
    OtherLoad,
    /// The hypervisor gave a noticeable share of the CPU to other guests.
    Steal,
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
            Flag::SlowerCpu => "slower CPU",
            Flag::OtherLoad => "other load",
            Flag::Steal => "steal",
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

/// The runner kept most of the host's cores busy (the validity rule `generator_saturated`'s
/// bound); a cell too short to measure CPU says nothing either way.
fn saturated(c: &CellSummary, host_cores: usize) -> bool {
    crate::stats::machine::cpu_measured(c)
        && c.cores_busy >= SATURATED_SHARE * host_cores.max(1) as f64
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
    for (kind, flag) in [
        (FlagKind::SlowerCpu, Flag::SlowerCpu),
        (FlagKind::OtherLoad, Flag::OtherLoad),
        (FlagKind::Steal, Flag::Steal),
    ] {
        if c.machine.flags.iter().any(|f| f.kind == kind) {
            flags.push(flag);
        }
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
            "{who}: {:.2} s, {} operations{}",
            c.wall_seconds,
            c.operations,
            if c.machine.too_short {
                ": too short to classify"
            } else {
                ""
            }
        ),
        Flag::SlowerCpu => slower_cpu(who, c),
        Flag::OtherLoad => match other_load(c) {
            Some(other) => format!("{who}: {other}"),
            None => flag_message(who, c, FlagKind::OtherLoad),
        },
        Flag::Steal => match c.machine.steal_share.filter(|x| x.is_finite()) {
            Some(steal) => format!(
                "{who}: the hypervisor took {} of the machine's CPU time",
                units::percent(steal)
            ),
            None => flag_message(who, c, FlagKind::Steal),
        },
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

/// The message the run stage wrote for the cell's flag of `kind`.
fn flag_message(who: &str, c: &CellSummary, kind: FlagKind) -> String {
    let said = c.machine.flags.iter().find(|f| f.kind == kind);
    format!("{who}: {}", said.map_or("", |f| f.message.as_str()))
}

/// `other load kept 1.96 cores busy (98.0% of the machine's busy time was not loadplan's)`,
/// when the run stage could read the machine.
fn other_load(c: &CellSummary) -> Option<String> {
    let cores = c.machine.other_cores.filter(|x| x.is_finite())?;
    let share = c
        .machine
        .other_share
        .filter(|x| x.is_finite())
        .map_or_else(String::new, |x| {
            format!(
                " ({} of the machine's busy time was not loadplan's)",
                units::percent(x)
            )
        });
    Some(format!(
        "other load kept {} cores busy{share}",
        units::number(cores)
    ))
}

/// A slowed cell's CPU per operation against the sequential cell's, and the other load that
/// shared the machine meanwhile, which is the likely cause.
fn slower_cpu(who: &str, c: &CellSummary) -> String {
    let m = &c.machine;
    let (Some(mine), Some(ratio)) = (m.cpu_us_per_op, m.cpu_per_op_vs_sequential) else {
        return flag_message(who, c, FlagKind::SlowerCpu);
    };
    let us = |v: f64| {
        if v.is_finite() && v >= 0.0 {
            units::micros(v.round() as u64)
        } else {
            "-".into()
        }
    };
    let change = if ratio.is_finite() {
        format!(" ({:+.0}%)", (ratio - 1.0) * 100.0)
    } else {
        String::new()
    };
    let meanwhile = other_load(c)
        .filter(|_| m.other_cores.is_some_and(|x| x >= 0.05))
        .map_or_else(String::new, |o| format!("; meanwhile {o}"));
    format!(
        "{who}: {} of CPU per operation against {} in sequential{change}{meanwhile}",
        us(mine),
        us(mine / ratio)
    )
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
        Flag::SlowerCpu => (
            w,
            "The CPU was slower in some cells.",
            "In these cells of a CPU kernel the runner needed more than a quarter more CPU time per operation than in the sequential cell: the CPU itself was slower (other load, frequency scaling, or SMT siblings), so their speedups understate the model. Run again on a quiet machine, or with rounds to see the spread.".into(),
        ),
        Flag::OtherLoad => (
            w,
            "Other load shared the machine.",
            "During these cells, processes other than loadplan and its built-in server kept cores busy (a target running on this machine counts too): figures that need free cores, such as the speedups of parallel models, understate the model.".into(),
        ),
        Flag::Steal => (
            w,
            "The hypervisor took CPU time.",
            "During these cells the virtual machine waited for its CPUs while other guests used them (steal): every figure of these cells understates the model.".into(),
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
        "No warnings. Checked: the runner kept fewer than {}% of the {} cores busy in HTTP scenarios, every error rate stayed at or under {}, every cell ran for at least {SHORT_SECONDS:.0} s and {FEW_OPERATIONS} operations, completely, and no cell ran on a slower CPU than the sequential cell's, beside other load or under steal.",
        (SATURATED_SHARE * 100.0).round(),
        s.host.cores,
        units::percent(ERROR_RATE_WARNING),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::{behind_schedule, healthy, hostile, sample};

    #[test]
    fn lost_export_intervals_are_a_warning_that_says_how_many_and_why() {
        let mut s = healthy();
        let endpoint = |dropped| crate::stats::ExportSummary {
            kind: "prometheus".into(),
            url: "http://127.0.0.1:9/api/v1/write".into(),
            intervals: 30,
            sent: 30 - dropped,
            retried: 4,
            dropped,
            last_error: (dropped > 0).then(|| "connect: refused".into()),
        };
        s.export = vec![endpoint(0)];
        assert!(health(&s).is_empty(), "nothing lost, nothing said");
        s.export.push(endpoint(12));
        let items = health(&s);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].title, "Live export lost intervals.");
        assert!(matches!(items[0].severity, Severity::Warning));
        assert!(
            items[0].detail.starts_with(
                "http://127.0.0.1:9/api/v1/write lost 12 of 30 intervals (18 sent, 4 attempts retried, last error: connect: refused)"
            ),
            "{}",
            items[0].detail
        );
    }

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
                "The CPU was slower in some cells.",
                "Other load shared the machine.",
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

    /// Issue 14: with other load during the CPU-bound scenario, the slowed cells are flagged and
    /// the other load named, with how much of the machine it took.
    #[test]
    fn slowed_cells_are_flagged_and_the_other_load_named() {
        let s = sample();
        let items = health(&s);
        let item = |title: &str| {
            items
                .iter()
                .find(|h| h.title == title)
                .unwrap_or_else(|| panic!("no {title:?}"))
        };
        let slower = item("The CPU was slower in some cells.");
        assert_eq!(slower.severity, Severity::Warning);
        assert_eq!(
            slower.cells,
            [Concern {
                scenario: 1,
                text: "sample · async c=2 w=1: 2.50ms of CPU per operation against 1.56ms in sequential (+60%); meanwhile other load kept 1.96 cores busy (98.0% of the machine's busy time was not loadplan's)".into()
            }]
        );
        assert!(slower.detail.contains("speedups understate the model"));
        let other = item("Other load shared the machine.");
        assert_eq!(
            other.cells[0].text,
            "sample · async c=2 w=1: other load kept 1.96 cores busy (98.0% of the machine's busy time was not loadplan's)"
        );
        let cell = &s.scenarios[1].cells[1];
        assert_eq!(
            cell_flags(cell, Bound::Cpu, 1),
            [
                Flag::Incomplete,
                Flag::Short,
                Flag::Errors,
                Flag::SlowerCpu,
                Flag::OtherLoad
            ]
        );
        // Steal; and flags whose numbers are missing fall back to the run stage's message.
        let mut c = cell.clone();
        c.machine.flags.push(crate::stats::MachineFlag {
            kind: FlagKind::Steal,
            message: "stolen".into(),
        });
        c.machine.steal_share = Some(0.12);
        c.machine.other_cores = None;
        c.machine.cpu_us_per_op = None;
        let text = |flag, c: &CellSummary| concern(flag, "x", c, 1);
        assert_eq!(
            text(Flag::Steal, &c),
            "x: the hypervisor took 12.0% of the machine's CPU time"
        );
        assert!(text(Flag::SlowerCpu, &c).starts_with("x: the CPU was slower here"));
        assert!(text(Flag::OtherLoad, &c).starts_with("x: other load kept 1.96 cores"));
        // A cell too short to classify says so among the short ones.
        c.machine.too_short = true;
        assert_eq!(
            text(Flag::Short, &c),
            "x: 0.28 s, 4 operations: too short to classify"
        );
        // Numbers no run writes still give words.
        c.machine.cpu_us_per_op = Some(f64::NAN);
        c.machine.cpu_per_op_vs_sequential = Some(0.0);
        c.machine.other_cores = Some(f64::INFINITY);
        for flag in [Flag::SlowerCpu, Flag::OtherLoad, Flag::Steal] {
            let words = text(flag, &c);
            assert!(!words.contains("NaN"), "{words}");
        }
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
}
