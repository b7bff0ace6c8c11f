//! Hosts: where the users of a cell run. One file per host:
//!
//! - `sequential.rs`: one user on the main thread, the baseline;
//! - `threads.rs`: one OS thread per user, each with its own connection, no runtime (`bare`);
//! - `asynchronous.rs`: users as tasks of one tokio runtime (one thread, or `workers`);
//! - `processes.rs`: worker processes (`worker.rs` is their side), the users split among them.
//!
//! Every host runs the same user loop (`run/user.rs`) on whatever load shape the cell has
//! (`run/shape/`), and returns what it [`Measured`]. Hosts decide nothing about what a user does
//! next, and never look at the load.

pub mod asynchronous;
pub mod processes;
pub mod sequential;
pub mod threads;
pub mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};

use super::shape::{Shape, Start};
use super::share::CellWork;
use super::user::{Gate, Shared};
use super::{RunError, user};
use crate::plan::Load;
use crate::stats::{Measured, Recorder, rusage};
use crate::workload::{Prepared, Resolved};

/// What the users of a cell in this process share, with the start gate `gate`.
fn shared(work: &CellWork, gate: Gate, progress: Arc<AtomicU64>) -> Shared {
    Shared {
        shape: Shape::new(work),
        gate: gate.with_member(work.member.clone()),
        progress,
        yield_between_ops: work.workload.is_cpu(),
        seed: work.seed,
        per_request: work.workload.per_request_stats(),
        ran_out: AtomicBool::new(false),
        timeline_offset: work.timeline_offset,
    }
}

/// When the data file's unique rows ran out (`ran_out`), the cell did less than its load asked:
/// it is incomplete, and says why with what it did. Call once `out` holds the whole recorder.
fn ran_out(work: &CellWork, ran_out: bool, out: &mut Measured) {
    if !ran_out {
        return;
    }
    let Resolved::Http(http) = &work.workload else {
        return;
    };
    let file = http
        .data
        .as_ref()
        .map_or("the data file", |d| d.file.as_str());
    let planned = match work.load {
        Load::Repeat(_) => format!(" ({} planned)", work.share.ops),
        Load::Duration(_) | Load::Users(_) | Load::Open { .. } | Load::Capacity(_) => String::new(),
    };
    out.notes.push(format!(
        "data file `{file}` ran out of unique rows after {} iterations{planned}",
        out.recorder.operations
    ));
    out.complete = false;
}

/// The workload built for this process; shared connections' tasks run on `connections_on` when
/// given (users on runtimes of their own), else on the runtime that opens them.
fn prepared(
    work: &CellWork,
    connections_on: Option<tokio::runtime::Handle>,
) -> Result<Prepared, RunError> {
    let part = (work.share.index, work.share.of);
    Ok(Prepared::new(
        &work.workload,
        work.timeout,
        part,
        connections_on,
    )?)
}

/// Runs `users` and the shape's driver as tasks of the current runtime, until all are done.
/// Returns a note per task that panicked.
async fn run_as_tasks(
    shared: &Arc<Shared>,
    prepared: &Prepared,
    users: impl Iterator<Item = usize>,
) -> Vec<String> {
    let mut tasks = tokio::task::JoinSet::new();
    for u in users {
        let (shared, unit) = (Arc::clone(shared), prepared.unit(u, shared.seed));
        tasks.spawn(async move { user::user(&shared, u, unit).await });
    }
    drive(shared).await;
    let mut notes = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if done.is_err() {
            notes.push("a user task panicked (a loadplan bug)".to_string());
        }
    }
    notes
}

/// The shape's driver, if it has one: waits for the start like the users, then runs the shape's
/// own schedule. (A shape without one must not be started here: its users start it once warm.)
async fn drive(shared: &Shared) {
    if !shared.shape.has_driver() {
        return;
    }
    shared.gate.go_signal().await;
    shared.shape.begin();
    shared.shape.drive().await;
    // However the driver ended (schedule over, stop), users waiting for arrivals may go.
    shared.shape.close();
}

/// What an in-process host measured: the merged recorders, and wall and CPU time of the
/// measured phase from its start to now.
fn measured(shared: &Shared, recorder: Recorder, notes: Vec<String>) -> Measured {
    let (wall, cpu) = match (shared.shape.started(), shared.shape.measured_start()) {
        (Some(Start { cpu, .. }), Some(from)) => {
            (from.elapsed(), rusage::cpu_time().saturating_sub(cpu))
        }
        _ => Default::default(),
    };
    Measured {
        recorder,
        wall,
        cpu,
        peak_rss_bytes: rusage::peak_rss_bytes(),
        complete: notes.is_empty(),
        notes,
    }
}
