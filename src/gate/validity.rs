//! Validity: did the run measure what it asked? A summary in, the rules it broke out, each with
//! its measured value, its bound, the reason in words and the fix. A broken rule makes the run
//! `invalid` (exit 4) unless the plan turned it into a warning (`validity: { rule: warn }`).
//!
//! The rules, by the names a plan uses:
//!
//! - `dropped_arrivals`: an open-model cell dropped over 1 % of its arrivals, carried out under
//!   99 % of them, or sent most of them late (median send lag over [`LAG_BOUND_US`]: a stall
//!   of the target delays only the arrivals behind it) while its users could
//!   not carry the rate. The message computes the users' cap from the cell's concurrency and its
//!   mean latency from the actual send: "4 users × 200 ms = 20/s", and the concurrency needed
//!   (target rate × mean latency, plus [`USERS_MARGIN`], rounded up).
//! - `generator_saturated`: the generator itself was the bottleneck: an open-model cell sent late
//!   although its users could carry the rate, or an HTTP cell kept at least
//!   [`SATURATED_SHARE`] of the host's cores busy.
//! - `machine_load`: a CPU kernel compared across cells while other processes or the hypervisor
//!   took the CPU (the machine checks of `stats/machine.rs`, as warnings before).
//! - `cpu_drift`: a CPU kernel's CPU time per operation, cell by cell and round by round, left
//!   the scenario's median by more than [`CPU_DRIFT`] in either direction: the machine's speed
//!   changed while the models ran, so their comparison says more about the seconds they ran in
//!   than about the models.
//!
//! Cells too short to classify (`machine.too_short`) are left out of the CPU rules: they measure
//! the timer more than the kernel, and the health warnings already say so. Must not do I/O.

use crate::plan::validity::{Validity, ValidityAction, ValidityRule};
use crate::stats::{
    Bound, CapacityStop, CellSummary, FlagKind, ScenarioSummary, Summary, ValidityFinding,
};
use crate::units;

/// Share of the scheduled arrivals an open-model cell may drop.
pub const DROPPED_SHARE: f64 = 0.01;
/// Share of the scheduled arrivals an open-model cell must carry out.
pub const CARRIED_SHARE: f64 = 0.99;
/// Open-model median send lag beyond this (microseconds): arrivals left late.
pub const LAG_BOUND_US: f64 = 10_000.0;
/// Margin on the users an open model needs (target rate × mean latency).
pub const USERS_MARGIN: f64 = 0.10;
pub use crate::units::SATURATED_SHARE;
/// A CPU kernel's CPU per operation may leave the scenario's median by this share.
pub const CPU_DRIFT: f64 = 0.15;
/// Rounds with fewer operations than this are left out of the drift check.
const MIN_ROUND_OPERATIONS: f64 = 5.0;

/// Every rule on every cell of `summary`; `settings` gives a scenario's actions by its name.
pub fn check(summary: &Summary, settings: &dyn Fn(&str) -> Validity) -> Vec<ValidityFinding> {
    let cores = summary.host.cores.max(1) as f64;
    let mut out = Vec::new();
    for s in &summary.scenarios {
        let validity = settings(&s.name);
        let mut push = |rule: ValidityRule, f: Finding| {
            out.push(ValidityFinding {
                rule: rule.as_str().into(),
                action: validity.action(rule),
                scenario: s.name.clone(),
                cell: f.cell,
                measured: f.measured,
                bound: f.bound,
                unit: f.unit.into(),
                reason: f.reason,
                fix: f.fix,
            });
        };
        for c in &s.cells {
            if let Some(f) = capacity_limited(c) {
                push(ValidityRule::GeneratorSaturated, f);
            } else if let Some((rule, f)) = open_model(c) {
                push(rule, f);
            }
            if s.kind == Bound::Io
                && let Some(f) = runner_saturated(c, cores)
            {
                push(ValidityRule::GeneratorSaturated, f);
            }
        }
        if s.kind == Bound::Cpu {
            for f in machine_load(s) {
                push(ValidityRule::MachineLoad, f);
            }
            if let Some(f) = cpu_drift(s) {
                push(ValidityRule::CpuDrift, f);
            }
        }
    }
    out
}

/// True when a finding makes the run invalid.
pub fn invalidates(findings: &[ValidityFinding]) -> bool {
    findings.iter().any(|f| f.action == ValidityAction::Fail)
}

/// A broken rule before it is named and given its action.
struct Finding {
    cell: String,
    measured: f64,
    bound: f64,
    unit: &'static str,
    reason: String,
    fix: String,
}

/// An open-model cell that did not deliver its rate: the users' cap when they could not carry
/// it (`dropped_arrivals`), the generator when they could (`generator_saturated`).
fn open_model(c: &CellSummary) -> Option<(ValidityRule, Finding)> {
    let o = c.open.as_ref()?;
    if o.scheduled == 0 {
        return None;
    }
    let scheduled = o.scheduled as f64;
    let dropped = o.dropped as f64 / scheduled;
    let carried = c.operations as f64 / scheduled;
    // The median: a stall of the target delays the arrivals behind it (the corrected latency
    // shows that), a generator or users that cannot keep up delay most of them.
    let lag = o.send_lag_us.p50 as f64;
    let late = o.send_lag_us.count > 0 && lag > LAG_BOUND_US;
    let target = o.target_rate_per_s;
    // The users' cap from the latency of the requests themselves (from the actual send), not
    // the corrected one, which includes the wait for a free user.
    let mean_us = if o.latency_uncorrected_us.count > 0 {
        o.latency_uncorrected_us.mean
    } else {
        c.latency_us.mean
    };
    let users = c.concurrency.max(1) as f64;
    let cap = (mean_us > 0.0).then(|| users * 1e6 / mean_us);
    let users_short = cap.is_some_and(|cap| cap < target);
    let lost = dropped > DROPPED_SHARE || carried < CARRIED_SHARE;
    if !lost && !late {
        return None;
    }
    let what = if lost {
        format!(
            "{} of {} arrivals dropped ({}), {} carried out",
            o.dropped,
            o.scheduled,
            units::percent(dropped),
            units::percent(carried.min(1.0))
        )
    } else {
        format!(
            "arrivals were sent late: median send lag {} (bound {})",
            units::micros(lag.round() as u64),
            units::micros(LAG_BOUND_US as u64)
        )
    };
    let (measured, bound, unit) = if lost && dropped > DROPPED_SHARE {
        (dropped, DROPPED_SHARE, "fraction")
    } else if lost {
        (carried, CARRIED_SHARE, "fraction")
    } else {
        (lag, LAG_BOUND_US, "us")
    };
    // The rule broken, the reason and the fix; the figures are the same whichever it is.
    let (rule, reason, fix) = match cap {
        Some(cap) if users_short || lost => {
            let needed = (target * mean_us / 1e6 * (1.0 + USERS_MARGIN))
                .ceil()
                .max(1.0);
            let cap_text = format!(
                "{} × {} = {}/s",
                units::count(c.concurrency, "user"),
                ms(mean_us),
                rate(cap)
            );
            let (reason, fix) = if users_short {
                (
                    format!("{what}: {cap_text}, under the {}/s planned", rate(target)),
                    format!(
                        "{cap_text}: raise concurrency to ≥ {needed:.0} ({}/s × {} mean latency, plus {:.0}%)",
                        rate(target),
                        ms(mean_us),
                        USERS_MARGIN * 100.0
                    ),
                )
            } else {
                (
                    format!(
                        "{what}, although {cap_text} could carry the {}/s planned",
                        rate(target)
                    ),
                    "raise `max_in_flight` or `timeout` if they cut arrivals short; otherwise the generator fell behind: use the async model or a bigger machine".into(),
                )
            };
            (ValidityRule::DroppedArrivals, reason, fix)
        }
        _ if lost => (
            ValidityRule::DroppedArrivals,
            format!(
                "{what} at {}/s planned; no request completed to tell the users' cap",
                rate(target)
            ),
            "check the target answers, then raise concurrency".into(),
        ),
        _ => (
            ValidityRule::GeneratorSaturated,
            format!(
                "{what}, although the users could carry the {}/s planned: the generator fell behind",
                rate(target)
            ),
            "use the async model, fewer users, or a bigger machine; keep other load off the runner"
                .into(),
        ),
    };
    Some((
        rule,
        Finding {
            cell: c.label(),
            measured,
            bound,
            unit,
            reason,
            fix,
        },
    ))
}

/// A capacity search that a probe limited by the generator stopped: its rate is not the
/// target's capacity (`run/capacity.rs` says when a probe is the generator's fault).
fn capacity_limited(c: &CellSummary) -> Option<Finding> {
    let x = c.capacity.as_ref()?;
    if x.stopped != CapacityStop::GeneratorLimited {
        return None;
    }
    let p = x.probes.iter().find(|p| p.generator_limited)?;
    Some(Finding {
        cell: c.label(),
        measured: p.rate_per_s,
        bound: p.rate_per_s,
        unit: "per_s",
        reason: format!(
            "capacity search: the probe at {}/s broke the SLO in loadplan, not in the target (its own p99 {}, the corrected p99 {}, runner {} cores busy): the search found no capacity",
            rate(p.rate_per_s),
            ms(p.p99_uncorrected_us as f64),
            ms(p.p99_us as f64),
            units::number(p.cores_busy)
        ),
        fix: "raise concurrency (the users that carry the arrivals), use the async model, or a bigger machine; keep other load off the runner".into(),
    })
}

/// A latency as people say it in a sum: `200 ms`, `4.50 ms`, `850µs`.
fn ms(us: f64) -> String {
    if us >= 10_000.0 {
        format!("{:.0} ms", us / 1e3)
    } else {
        units::micros(us.round() as u64)
    }
}

/// A rate without needless decimals: `20`, `60`, `4.50`.
fn rate(per_s: f64) -> String {
    if per_s >= 10.0 {
        format!("{per_s:.0}")
    } else {
        units::number(per_s)
    }
}

/// An HTTP cell whose runner kept most of the host's cores busy: the runner, not the service,
/// limited throughput and added latency. A cell too short to measure CPU
/// ([`crate::stats::machine::cpu_measured`]: starting and stopping its users costs as much CPU
/// as its work) says nothing either way.
fn runner_saturated(c: &CellSummary, cores: f64) -> Option<Finding> {
    let bound = SATURATED_SHARE * cores;
    let measured = crate::stats::machine::cpu_measured(c);
    (measured && c.operations > 0 && c.cores_busy >= bound).then(|| Finding {
        cell: c.label(),
        measured: c.cores_busy,
        bound,
        unit: "cores",
        reason: format!(
            "the runner kept {} of the host's {cores:.0} cores busy: throughput was limited and latency inflated by the generator itself",
            units::number(c.cores_busy)
        ),
        fix: "use fewer users, the async model, or a bigger machine; keep other load off the runner".into(),
    })
}

/// A machine flag that spoils a CPU comparison: the figure it rests on, its bound and unit, the
/// reason (from the figure) and the fix.
struct MachineRule {
    flag: FlagKind,
    figure: Option<f64>,
    bound: f64,
    unit: &'static str,
    reason: fn(f64) -> String,
    fix: &'static str,
}

/// The cells of a CPU comparison (at least two cells long enough to compare) that shared the
/// machine with other load or the hypervisor.
fn machine_load(s: &ScenarioSummary) -> Vec<Finding> {
    let cells: Vec<&CellSummary> = s.cells.iter().filter(|c| !c.machine.too_short).collect();
    if cells.len() < 2 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for c in cells {
        let m = &c.machine;
        let rules = [
            MachineRule {
                flag: FlagKind::OtherLoad,
                figure: m.other_cores,
                bound: crate::stats::machine::OTHER_CORES,
                unit: "cores",
                reason: |other| {
                    format!(
                        "other load kept {} cores busy during this cell of a CPU comparison: the models did not have the machine to themselves",
                        units::number(other)
                    )
                },
                fix: "run the comparison on a quiet machine (no other jobs, no target on it)",
            },
            MachineRule {
                flag: FlagKind::Steal,
                figure: m.steal_share,
                bound: crate::stats::machine::STEAL_SHARE,
                unit: "fraction",
                reason: |steal| {
                    format!(
                        "the hypervisor took {} of the machine's CPU during this cell of a CPU comparison",
                        units::percent(steal)
                    )
                },
                fix: "run the comparison on a machine with dedicated cores",
            },
        ];
        for r in rules {
            if m.flags.iter().any(|f| f.kind == r.flag)
                && let Some(measured) = r.figure.filter(|x| x.is_finite())
            {
                out.push(Finding {
                    cell: c.label(),
                    measured,
                    bound: r.bound,
                    unit: r.unit,
                    reason: (r.reason)(measured),
                    fix: r.fix.into(),
                });
            }
        }
    }
    out
}

/// CPU time per operation of one cell, round by round (microseconds), from what the summary
/// holds: each round's `rounds.cpu_us_per_op` where the summary has it, else its cores busy ÷
/// its attempts per second (= CPU seconds ÷ operations), or the pooled figure with one round.
/// Rounds with fewer than [`MIN_ROUND_OPERATIONS`] are left out. The one place that reads
/// per-round CPU.
pub fn cpu_us_per_op_by_round(c: &CellSummary) -> Vec<(Option<usize>, f64)> {
    if let Some(r) = &c.rounds {
        let (busy, rate, wall) = (
            &r.cores_busy.values,
            &r.attempts_per_s.values,
            &r.wall_seconds.values,
        );
        if busy.len() == rate.len() && rate.len() == wall.len() && !busy.is_empty() {
            let derived: Vec<f64> = busy.iter().zip(rate).map(|(b, r)| b / r * 1e6).collect();
            let per_op = match &r.cpu_us_per_op {
                Some(s) if s.values.len() == busy.len() => &s.values,
                _ => &derived,
            };
            return per_op
                .iter()
                .zip(rate)
                .zip(wall)
                .enumerate()
                .filter(|(_, ((_, r), w))| **r > 0.0 && *r * *w >= MIN_ROUND_OPERATIONS)
                .map(|(i, ((v, _), _))| (Some(i + 1), *v))
                .filter(|(_, v)| v.is_finite() && *v > 0.0)
                .collect();
        }
    }
    c.machine
        .cpu_us_per_op
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(|v| vec![(None, v)])
        .unwrap_or_default()
}

/// The cell and round whose CPU per operation is farthest from the scenario's median, when it is
/// beyond [`CPU_DRIFT`].
fn cpu_drift(s: &ScenarioSummary) -> Option<Finding> {
    let points: Vec<(&CellSummary, Option<usize>, f64)> = s
        .cells
        .iter()
        .filter(|c| !c.machine.too_short)
        .flat_map(|c| {
            cpu_us_per_op_by_round(c)
                .into_iter()
                .map(move |(round, v)| (c, round, v))
        })
        .collect();
    if points.len() < 2 {
        return None;
    }
    let mut values: Vec<f64> = points.iter().map(|p| p.2).collect();
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    if median <= 0.0 {
        return None;
    }
    let (c, round, worst) = points.iter().max_by(|a, b| {
        (a.2 / median - 1.0)
            .abs()
            .total_cmp(&(b.2 / median - 1.0).abs())
    })?;
    let ratio = worst / median;
    if (ratio - 1.0).abs() <= CPU_DRIFT {
        return None;
    }
    let (lo, hi) = (values[0], values[n - 1]);
    let cell = match round {
        Some(r) => format!("{} round {r}", c.label()),
        None => c.label(),
    };
    Some(Finding {
        cell,
        measured: ratio,
        bound: if ratio > 1.0 {
            1.0 + CPU_DRIFT
        } else {
            1.0 - CPU_DRIFT
        },
        unit: "ratio",
        reason: format!(
            "the kernel's CPU time per operation ran from {} to {} across cells and rounds; here {} against the median {} ({:+.0}%, beyond ±{:.0}%): the CPU's speed changed while the models ran, so their comparison reflects the seconds each ran in",
            units::micros(lo.round() as u64),
            units::micros(hi.round() as u64),
            units::micros(worst.round() as u64),
            units::micros(median.round() as u64),
            (ratio - 1.0) * 100.0,
            CPU_DRIFT * 100.0
        ),
        fix: "run on a quiet machine with dedicated cores, or more rounds to see the spread; `validity: { cpu_drift: warn }` keeps the comparison as a warning".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Model;
    use crate::stats::{
        LatencySummary, MachineCheck, MachineFlag, OpenSummary, RoundsSummary, Spread,
    };

    fn open_cell(
        users: usize,
        scheduled: u64,
        dropped: u64,
        ops: u64,
        lag_p50: u64,
    ) -> CellSummary {
        let latency = LatencySummary {
            count: ops,
            mean: 200_000.0,
            ..LatencySummary::default()
        };
        CellSummary {
            operations: ops,
            successes: ops,
            wall_seconds: 5.0,
            latency_us: latency.clone(),
            open: Some(OpenSummary {
                scheduled,
                dropped,
                target_rate_per_s: scheduled as f64 / 5.0,
                achieved_rate_per_s: ops as f64 / 5.0,
                latency_uncorrected_us: latency,
                send_lag_us: LatencySummary {
                    count: ops,
                    p50: lag_p50,
                    ..LatencySummary::default()
                },
                rate_not_reached: dropped > 0,
            }),
            ..CellSummary::empty(Model::Async, users, 1)
        }
    }

    #[test]
    fn an_open_model_names_the_users_cap_or_the_generator() {
        // (cell, rule or none, words in the reason or fix)
        let cases = [
            // 15/s with 4 users × 200 ms = 20/s: kept.
            (open_cell(4, 75, 0, 75, 500), None, ""),
            // 60/s: arrivals dropped, cap 20/s, 60 × 0.2 × 1.1 = 13.2 → 14 users.
            (
                open_cell(4, 300, 84, 216, 900_000),
                Some(ValidityRule::DroppedArrivals),
                "4 users × 200 ms = 20/s: raise concurrency to ≥ 14",
            ),
            // Late but none dropped, users short: still the cap.
            (
                open_cell(4, 300, 0, 300, 900_000),
                Some(ValidityRule::DroppedArrivals),
                "raise concurrency to ≥ 14",
            ),
            // Late with users to spare: the generator.
            (
                open_cell(64, 300, 0, 300, 50_000),
                Some(ValidityRule::GeneratorSaturated),
                "the generator fell behind",
            ),
            // Exactly 1 % dropped is within the rule; carried 99 % too.
            (open_cell(64, 300, 3, 297, 500), None, ""),
            (
                open_cell(64, 300, 4, 296, 500),
                Some(ValidityRule::DroppedArrivals),
                "4 of 300 arrivals dropped",
            ),
        ];
        for (c, want, words) in cases {
            let got = open_model(&c);
            assert_eq!(got.as_ref().map(|g| g.0), want, "{:?}", c.open);
            if let Some((_, f)) = got {
                let text = format!("{} {}", f.reason, f.fix);
                assert!(text.contains(words), "{text}");
                assert!(f.measured > f.bound || f.unit == "fraction", "{text}");
            }
        }
    }

    fn cpu_cell(model: Model, ops: u64, wall: f64, cpu: f64) -> CellSummary {
        CellSummary {
            operations: ops,
            successes: ops,
            wall_seconds: wall,
            cpu_seconds: cpu,
            cores_busy: cpu / wall,
            attempts_per_s: ops as f64 / wall,
            machine: MachineCheck {
                cpu_us_per_op: Some(cpu * 1e6 / ops as f64),
                ..MachineCheck::default()
            },
            ..CellSummary::empty(model, 2, 2)
        }
    }

    fn cpu_scenario(cells: Vec<CellSummary>) -> ScenarioSummary {
        ScenarioSummary {
            name: "squares".into(),
            description: None,
            kind: Bound::Cpu,
            bound: Bound::Cpu,
            busy_fraction: 1.0,
            bound_cell: "sequential".into(),
            classified: true,
            workload: Vec::new(),
            seed: None,
            load: "repeat: 100".into(),
            tls_insecure: false,
            cells,
        }
    }

    fn spread(values: &[f64]) -> Spread {
        Spread {
            median: values[values.len() / 2],
            min: 0.0,
            max: 0.0,
            values: values.to_vec(),
        }
    }

    /// Sequential rounds at 23.8, 33.5 and 29.8 operations/s (one core): the run.
    fn drifting_rounds() -> CellSummary {
        let rates = [23.8, 33.5, 29.8];
        let mut c = cpu_cell(Model::Sequential, 90, 3.0, 3.0);
        c.rounds = Some(RoundsSummary {
            count: 3,
            throughput_per_s: spread(&rates),
            attempts_per_s: spread(&rates),
            error_rate: spread(&[0.0; 3]),
            speedup: None,
            p50_us: spread(&[0.0; 3]),
            p90_us: spread(&[0.0; 3]),
            p99_us: spread(&[0.0; 3]),
            cores_busy: spread(&[1.0; 3]),
            wall_seconds: spread(&[1.0; 3]),
            cpu_us_per_op: None,
        });
        c
    }

    #[test]
    fn cpu_drift_is_checked_both_ways_between_cells_and_rounds() {
        // 20 ms per operation in sequential; (other cell's ms per operation, drift flagged)
        let cases = [(22.0, false), (23.5, true), (17.5, false), (16.0, true)];
        for (ms, flagged) in cases {
            let s = cpu_scenario(vec![
                cpu_cell(Model::Sequential, 100, 2.0, 2.0),
                cpu_cell(Model::Threads, 100, 1.0, ms / 10.0),
                cpu_cell(Model::Async, 100, 2.0, 2.0),
            ]);
            let f = cpu_drift(&s);
            assert_eq!(f.is_some(), flagged, "{ms} ms");
            if let Some(f) = f {
                assert_eq!(f.cell, "threads c=2");
                assert!((f.measured - ms / 20.0).abs() < 1e-9, "{}", f.measured);
            }
        }
        // Within one cell, round by round: 42.0, 29.9 and 33.6 ms per operation.
        let s = cpu_scenario(vec![drifting_rounds()]);
        let f = cpu_drift(&s).expect("rounds drifted");
        assert_eq!(f.cell, "sequential round 1");
        assert!(f.reason.contains("+25%"), "{}", f.reason);
        // The run's own per-round CPU per operation, where the summary has it, wins over the
        // figure derived from cores busy and attempts: steady rounds are not a drift.
        let mut steady = drifting_rounds();
        if let Some(r) = steady.rounds.as_mut() {
            r.cpu_us_per_op = Some(spread(&[33_000.0, 33_500.0, 32_800.0]));
        }
        assert!(cpu_drift(&cpu_scenario(vec![steady])).is_none());
        // Too short cells are not compared.
        let s = cpu_scenario(vec![
            cpu_cell(Model::Sequential, 100, 2.0, 2.0),
            CellSummary {
                machine: MachineCheck {
                    too_short: true,
                    cpu_us_per_op: Some(90_000.0),
                    ..MachineCheck::default()
                },
                ..cpu_cell(Model::Threads, 10, 0.05, 0.9)
            },
        ]);
        assert!(cpu_drift(&s).is_none());
    }

    #[test]
    fn other_load_invalidates_a_cpu_comparison_only() {
        let loaded = |model| {
            let mut c = cpu_cell(model, 100, 2.0, 2.0);
            c.machine.other_cores = Some(1.2);
            c.machine.flags.push(MachineFlag {
                kind: FlagKind::OtherLoad,
                message: String::new(),
            });
            c
        };
        let two = cpu_scenario(vec![
            cpu_cell(Model::Sequential, 100, 2.0, 2.0),
            loaded(Model::Threads),
        ]);
        let found = machine_load(&two);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].reason.contains("1.20 cores"),
            "{}",
            found[0].reason
        );
        // One cell is not a comparison.
        assert!(machine_load(&cpu_scenario(vec![loaded(Model::Threads)])).is_empty());
    }

    #[test]
    fn a_runner_near_the_hosts_cores_saturated_the_generator() {
        let mut c = cpu_cell(Model::Threads, 100, 1.0, 1.7);
        assert!(runner_saturated(&c, 2.0).is_some());
        c.cores_busy = 1.5;
        assert!(runner_saturated(&c, 2.0).is_none());
        // A 2 ms cell's cores busy is its users' start and stop, not the generator's load.
        let short = cpu_cell(Model::Threads, 4, 0.002, 0.0033);
        assert!(short.cores_busy >= 1.6);
        assert!(runner_saturated(&short, 2.0).is_none());
    }
}
