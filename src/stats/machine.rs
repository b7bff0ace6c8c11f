//! Machine checks: was the machine itself steady enough for a cell's figures to describe the
//! model? Pure functions of the summary's cells (their CPU, operations, wall time and the
//! machine sample the run stage took around them); they return plain data and render nothing.
//!
//! - CPU per operation, and against the sequential cell: in a CPU-bound scenario every model
//!   runs the same kernel, so a cell that needed more than a quarter more CPU per operation ran
//!   on a slower CPU (other load sharing its core, frequency scaling, an SMT sibling at work),
//!   and its speedup understates the model. (In an HTTP scenario the runner's CPU per request
//!   legitimately differs by model, so the comparison is not made there.)
//! - Other load: the machine's busy time (`/proc/stat`) minus loadplan's own (runner, workers,
//!   built-in server), and the hypervisor's steal.
//! - Too short: under 100 ms or 20 operations, a cell measures the timer and the scheduler more
//!   than the model; such a cell is never the evidence for io or cpu.

use super::{CellSummary, FlagKind, MachineCheck, MachineFlag};

/// A cell shorter than this, or with fewer operations than [`MIN_OPERATIONS`], is too short.
pub const MIN_WALL_SECONDS: f64 = 0.1;
pub const MIN_OPERATIONS: u64 = 20;
/// CPU per operation this much above the sequential cell's flags a slower CPU.
pub const SLOWER_CPU_RATIO: f64 = 1.25;
/// Other load of at least this many cores on average, and at least [`MIN_OTHER_SECONDS`] in
/// all (`/proc/stat` counts in 10 ms ticks), is flagged.
pub const OTHER_CORES: f64 = 0.25;
pub const MIN_OTHER_SECONDS: f64 = 0.05;
/// Steal of at least this share of the machine is flagged.
pub const STEAL_SHARE: f64 = 0.05;

/// Whether a cell ran long enough for its cores busy to mean something: under
/// [`MIN_WALL_SECONDS`], starting and stopping the users (threads, runtimes, worker processes)
/// costs as much CPU as the work, and a 0.8 ms cell reads `1.00` cores busy whatever it did.
/// The reports show no figure for such a cell, and say why.
pub fn cpu_measured(c: &CellSummary) -> bool {
    c.wall_seconds >= MIN_WALL_SECONDS
}

/// Why a cell shows no cores busy figure (see [`cpu_measured`]).
pub const CPU_NOT_MEASURED: &str = "–: cores busy not shown for cells under 100 ms (starting and stopping the users costs as much CPU as the work)";

/// Whether a cell is too short to classify or to trust.
pub fn too_short(c: &CellSummary) -> bool {
    c.wall_seconds < MIN_WALL_SECONDS || c.operations < MIN_OPERATIONS
}

/// The checks of cell `c` of a scenario whose workload is a CPU kernel when `cpu_workload`,
/// against the scenario's `sequential` cell if there is one, on a machine of `cores` cores.
pub fn check(
    c: &CellSummary,
    sequential: Option<&CellSummary>,
    cpu_workload: bool,
    cores: usize,
) -> MachineCheck {
    let mut out = MachineCheck {
        cpu_us_per_op: cpu_us_per_op(c),
        sample: c.machine.sample.clone(),
        too_short: too_short(c),
        ..MachineCheck::default()
    };
    if out.too_short {
        out.flags.push(MachineFlag {
            kind: FlagKind::TooShort,
            message: format!(
                "too short to classify: {} operations in {:.0} ms (under {:.0} ms or {MIN_OPERATIONS} operations, a cell measures the timer more than the model)",
                c.operations,
                c.wall_seconds * 1e3,
                MIN_WALL_SECONDS * 1e3
            ),
        });
    }
    if let (Some(mine), Some(seq)) = (out.cpu_us_per_op, sequential.and_then(cpu_us_per_op)) {
        if seq > 0.0 && !c.model.is_baseline() {
            let ratio = mine / seq;
            out.cpu_per_op_vs_sequential = Some(ratio);
            let comparable = sequential.is_some_and(|s| !too_short(s)) && !out.too_short;
            if cpu_workload && comparable && ratio > SLOWER_CPU_RATIO {
                out.flags.push(MachineFlag {
                    kind: FlagKind::SlowerCpu,
                    message: format!(
                        "the CPU was slower here (other load, frequency scaling, or SMT siblings): this speedup understates the model ({} of CPU per operation against {} in the sequential cell, {:+.0}%)",
                        crate::units::micros(mine.round() as u64),
                        crate::units::micros(seq.round() as u64),
                        (ratio - 1.0) * 100.0
                    ),
                });
            }
        }
    }
    if let Some(m) = &out.sample {
        let ours = m.runner_cpu_seconds + m.target_cpu_seconds.unwrap_or(0.0);
        let other = (m.busy_seconds - ours).max(0.0);
        out.other_seconds = Some(other);
        out.other_share = (m.busy_seconds > 0.0).then(|| other / m.busy_seconds);
        // /proc/stat counts in ticks (10 ms): over a cell of a few milliseconds one tick reads
        // as many cores. No more than the machine has.
        out.other_cores =
            (m.wall_seconds > 0.0).then(|| (other / m.wall_seconds).min(cores.max(1) as f64));
        let capacity = m.wall_seconds * cores.max(1) as f64;
        out.steal_share = (capacity > 0.0).then(|| m.steal_seconds / capacity);
        if let Some(busy) = out.other_cores.filter(|x| *x >= OTHER_CORES) {
            if other >= MIN_OTHER_SECONDS {
                out.flags.push(MachineFlag {
                    kind: FlagKind::OtherLoad,
                    message: format!(
                        "other load kept {busy:.2} cores busy during this cell ({} of the machine's busy time was not loadplan's: other processes, or a target running on this machine): figures that need free cores understate the model",
                        crate::units::percent(out.other_share.unwrap_or(0.0))
                    ),
                });
            }
        }
        if let Some(steal) = out.steal_share.filter(|x| *x >= STEAL_SHARE) {
            out.flags.push(MachineFlag {
                kind: FlagKind::Steal,
                message: format!(
                    "the hypervisor gave {} of this machine's CPU time to other guests (steal) during this cell: its figures understate the model",
                    crate::units::percent(steal)
                ),
            });
        }
    }
    out
}

fn cpu_us_per_op(c: &CellSummary) -> Option<f64> {
    (c.operations > 0).then(|| c.cpu_seconds * 1e6 / c.operations as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Model;
    use crate::stats::MachineSample;

    fn cell(model: Model, operations: u64, wall: f64, cpu: f64) -> CellSummary {
        CellSummary {
            operations,
            successes: operations,
            wall_seconds: wall,
            throughput_per_s: operations as f64 / wall,
            attempts_per_s: operations as f64 / wall,
            cpu_seconds: cpu,
            cores_busy: cpu / wall,
            ..CellSummary::empty(model, 2, 2)
        }
    }

    fn kinds(m: &MachineCheck) -> Vec<FlagKind> {
        m.flags.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn a_slower_cpu_is_flagged_only_beyond_a_quarter_and_only_for_kernels() {
        let seq = cell(Model::Sequential, 100, 2.0, 2.0); // 20 ms per operation
        // (cell, CPU workload, flagged)
        let cases = [
            (cell(Model::Threads, 100, 1.0, 2.4), true, false), // +20%
            (cell(Model::Threads, 100, 1.4, 2.6), true, true),  // +30%
            (cell(Model::Processes, 100, 1.4, 2.6), false, false), // HTTP: not compared
            (cell(Model::Threads, 10, 0.2, 0.5), true, false),  // too short to compare
        ];
        for (c, cpu_workload, flagged) in cases {
            let m = check(&c, Some(&seq), cpu_workload, 2);
            assert_eq!(
                kinds(&m).contains(&FlagKind::SlowerCpu),
                flagged,
                "{} ops, cpu {}: {:?}",
                c.operations,
                c.cpu_seconds,
                m.flags
            );
        }
        let m = check(&cell(Model::Threads, 100, 1.4, 2.6), Some(&seq), true, 2);
        assert_eq!(m.cpu_us_per_op, Some(26_000.0));
        assert!(
            m.cpu_per_op_vs_sequential
                .is_some_and(|r| (r - 1.3).abs() < 1e-9)
        );
        assert!(m.flags[0].message.contains("the CPU was slower here"));
        assert!(check(&seq, Some(&seq), true, 2).flags.is_empty());
    }

    #[test]
    fn short_cells_are_too_short_to_classify() {
        // (operations, wall seconds, too short)
        for (ops, wall, short) in [
            (3, 0.002, true),
            (19, 5.0, true),
            (1000, 0.05, true),
            (20, 0.1, false),
        ] {
            let m = check(&cell(Model::Async, ops, wall, 0.0), None, false, 2);
            assert_eq!(m.too_short, short, "{ops} ops in {wall} s");
            assert_eq!(kinds(&m).contains(&FlagKind::TooShort), short);
        }
    }

    #[test]
    fn other_load_and_steal_come_from_the_machine_sample() {
        let sample = |busy: f64, steal: f64, target: Option<f64>| MachineSample {
            wall_seconds: 2.0,
            busy_seconds: busy,
            steal_seconds: steal,
            runner_cpu_seconds: 1.5,
            target_cpu_seconds: target,
        };
        // (sample, other cores, flags)
        let cases = [
            (sample(1.6, 0.0, None), 0.05, vec![]),
            (sample(3.5, 0.0, None), 1.0, vec![FlagKind::OtherLoad]),
            // The built-in server's CPU is loadplan's own.
            (sample(3.5, 0.0, Some(1.9)), 0.05, vec![]),
            (sample(1.5, 0.4, None), 0.0, vec![FlagKind::Steal]),
            // More than the two cores the machine has: a tick's rounding, read as two.
            (sample(9.5, 0.0, None), 2.0, vec![FlagKind::OtherLoad]),
        ];
        for (s, other_cores, flags) in cases {
            let mut c = cell(Model::Threads, 100, 2.0, 1.5);
            c.machine.sample = Some(s.clone());
            let m = check(&c, None, true, 2);
            assert!(
                m.other_cores
                    .is_some_and(|x| (x - other_cores).abs() < 1e-9),
                "{s:?}: {:?}",
                m.other_cores
            );
            assert_eq!(kinds(&m), flags, "{s:?}");
        }
        let mut c = cell(Model::Threads, 100, 2.0, 1.5);
        c.machine.sample = Some(sample(3.5, 0.0, None));
        let m = check(&c, None, true, 2);
        assert!(
            m.flags[0]
                .message
                .contains("other load kept 1.00 cores busy")
        );
        assert!(m.other_share.is_some_and(|x| (x - 2.0 / 3.5).abs() < 1e-9));
        // No sample (no /proc): no figures, and no claims.
        let m = check(&cell(Model::Threads, 100, 2.0, 1.5), None, true, 2);
        assert_eq!((m.other_cores, m.steal_share), (None, None));
    }
}
