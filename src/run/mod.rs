//! The run stage: a validated plan in, one measured [`CellResult`] per cell out.
//!
//! Starts the built-in target server when the plan asks for it, resolves every workload against
//! the base (before any load), then runs the cells in plan order. Each cell is two choices that
//! meet in one user loop (`user.rs`): a *load shape* (`shape/`: counted, timed, staged, open)
//! decides what each user does next, and a *host* (`host/`: sequential, threads, async,
//! processes) decides where the users run. What one process runs of a cell is a [`Share`]
//! (`share.rs`), split the same way for shards and for worker processes. With `rounds: N` the
//! whole list of cells runs N times over, interleaved (A B C … A B C …), so that a machine whose
//! speed drifts slows every model alike; around each cell the machine is sampled (`machine.rs`).
//! This stage never decides whether a run passed and never writes report files. An interrupt
//! stops the load and returns what was measured, marked incomplete. A [`live::Follower`], when
//! given, sees each cell's intervals while it runs (`live.rs`).

mod builtin;
pub mod host;
pub mod live;
mod machine;
mod pace;
mod schedule;
mod shape;
pub mod share;
mod sink;
mod user;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

use tokio::sync::Notify;

use crate::plan::{Base, Cell, Load, Model, Plan, Workload};
use crate::stats::{CellResult, RunResults, Shard};
use crate::workload::{Prepared, ResolveError, Resolved};

pub use builtin::BuiltinServer;
pub use share::{CellWork, Share};

/// The run could not be carried out (exit code 3), as opposed to a target that failed (data).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("could not start the built-in target server: {0}")]
    Builtin(String),
    #[error(transparent)]
    Target(#[from] ResolveError),
    #[error("could not start a tokio runtime: {0}")]
    Runtime(std::io::Error),
}

static STOP: AtomicBool = AtomicBool::new(false);
static STOP_WAKE: Notify = Notify::const_new();

/// Asks every running cell to stop as soon as it can (Ctrl-C, SIGTERM, a closed worker stdin).
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
    STOP_WAKE.notify_waiters();
}

pub fn stopping() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Completes once a stop was requested.
pub async fn stop_requested() {
    loop {
        let notified = STOP_WAKE.notified();
        if stopping() {
            return;
        }
        notified.await;
    }
}

/// The running binary, for re-executing it as a worker or server. `/proc/self/exe` keeps working
/// when the file on disk is replaced by a rebuild during the run.
pub fn self_exe() -> PathBuf {
    let proc = PathBuf::from("/proc/self/exe");
    if proc.exists() {
        proc
    } else {
        std::env::current_exe().unwrap_or_else(|_| PathBuf::from("loadplan"))
    }
}

/// How much a note about the run matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// What the run is doing (the built-in server's address, a shard with no users in a cell).
    Info,
    /// Something is off in the setup (say, TLS checks turned off): shown even on a quiet run.
    Warning,
}

/// Follows the run; the console progress display implements it.
pub trait Observer {
    fn cell_started(
        &self,
        index: usize,
        total: usize,
        label: &str,
        expected_ops: Option<u64>,
        progress: Arc<AtomicU64>,
    );
    fn cell_finished(&self, index: usize, total: usize, label: &str, result: &CellResult);
    fn note(&self, notice: Notice, message: &str);
}

/// Runs the cells of `plan` (all, or those of the scenarios `only` names).
pub fn execute(
    plan: &Plan,
    cells: &[Cell],
    run_id: &str,
    observer: &dyn Observer,
    shard: Option<Shard>,
) -> Result<RunResults, RunError> {
    execute_followed(plan, cells, run_id, observer, shard, None)
}

/// [`execute`], with `live` (when given) following each cell while it runs.
pub fn execute_followed(
    plan: &Plan,
    cells: &[Cell],
    run_id: &str,
    observer: &dyn Observer,
    shard: Option<Shard>,
    live: Option<&dyn live::Follower>,
) -> Result<RunResults, RunError> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let started_at = SystemTime::now();
    let needs_server = cells
        .iter()
        .any(|c| matches!(plan.scenarios[c.scenario].workload, Workload::Http(_)));
    let server = match (&plan.base, needs_server) {
        (Base::Builtin { tls }, true) => {
            let s = BuiltinServer::start(*tls).map_err(RunError::Builtin)?;
            observer.note(
                Notice::Info,
                &format!("built-in target server on {}", s.url),
            );
            Some(s)
        }
        _ => None,
    };
    let base = match (&plan.base, &server) {
        (_, Some(s)) => Some(s.url.clone()),
        (Base::Url { url, .. }, None) => Some(url.clone()),
        _ => None,
    };
    // Fail before any load: every target of the scenarios that run (`--only`) must resolve
    // against the base, and build. The others are left unresolved (`None`): the built-in server
    // is not started for them.
    let mut workloads = Vec::with_capacity(plan.scenarios.len());
    for (i, s) in plan.scenarios.iter().enumerate() {
        if !cells.iter().any(|c| c.scenario == i) {
            workloads.push(None);
            continue;
        }
        let extra_ca = server.as_ref().and_then(|s| s.ca_pem.as_deref());
        let resolved = Resolved::new(&s.workload, base.as_ref(), extra_ca)?;
        Prepared::new(&resolved, s.timeout, (0, 1), None)?;
        if let Some(w) = resolved.tls_warning() {
            observer.note(Notice::Warning, &format!("scenario `{}`: {w}", s.name));
        }
        workloads.push(Some(resolved));
    }
    // Each scenario's seed: the plan's, or a new one this run (reported in the summary).
    let seeds: Vec<u64> = plan
        .scenarios
        .iter()
        .map(|s| match &s.workload {
            Workload::Http(h) => h.seed.unwrap_or_else(|| fastrand::u64(..)),
            Workload::Cpu(_) => 0,
        })
        .collect();
    let rounds = plan.rounds.get();
    let total = cells.len() * rounds;
    let target_pid = server.as_ref().and_then(BuiltinServer::pid);
    let mut results = Vec::with_capacity(total);
    // Rounds outside, cells inside: A B C … A B C …
    for (index, (round, cell)) in (0..rounds)
        .flat_map(|r| cells.iter().map(move |c| (r, c)))
        .enumerate()
    {
        if stopping() {
            break;
        }
        let scenario = &plan.scenarios[cell.scenario];
        let mut label = format!(
            "{} · {}",
            scenario.name,
            cell.model.label(cell.concurrency.get(), cell.workers.get())
        );
        if rounds > 1 {
            label.push_str(&format!(" · round {}/{rounds}", round + 1));
        }
        let whole = Share::whole(
            cell.concurrency.get(),
            plan.cell_operations(cell).unwrap_or(0),
            scenario.warmup,
            match &scenario.load {
                Load::Open { max_in_flight, .. } => max_in_flight.get(),
                _ => usize::MAX,
            },
        );
        // A shard runs its share of the users and of the work; results name the whole cell.
        let share = shard.map_or(whole.clone(), |sh| whole.split(sh.index, sh.count));
        if share.user_count() == 0 {
            if let (Some(sh), 0) = (shard, round) {
                observer.note(
                    Notice::Info,
                    &format!("{label}: no users in shard {}/{}", sh.index + 1, sh.count),
                );
            }
            continue;
        }
        // Every cell's scenario was resolved above.
        let Some(workload) = workloads[cell.scenario].clone() else {
            continue;
        };
        let work = CellWork {
            workload,
            load: scenario.load.clone(),
            share,
            warmup_time: scenario.warmup_time,
            timeout: scenario.timeout,
            seed: seeds[cell.scenario],
            live: false,
        };
        let progress = Arc::new(AtomicU64::new(0));
        let offset = started_at.elapsed().unwrap_or_default();
        observer.cell_started(
            index,
            total,
            &label,
            plan.cell_operations(cell),
            progress.clone(),
        );
        let taps = live.map(|l| {
            let taps = Arc::new(live::Taps::default());
            l.cell_started(cell, round, Arc::clone(&taps));
            taps
        });
        let armed = live::Armed::new(taps);
        let before = machine::sample(target_pid);
        // The one place that matches on a model: which host runs the cell.
        let measured = match cell.model {
            Model::Sequential => host::sequential::run(&work, progress),
            Model::Threads => host::threads::run(&work, progress),
            Model::Async => host::asynchronous::run(&work, cell.workers.get(), progress),
            Model::Processes => host::processes::run(&work, cell.workers.get(), progress),
        };
        drop(armed);
        if let Some(l) = live {
            l.cell_finished(cell, round);
        }
        let mut measured = measured?;
        let machine = before.until(&machine::sample(target_pid));
        if stopping() {
            measured
                .notes
                .push("interrupted: the cell was stopped before its end".into());
            measured.complete = false;
        }
        let result = CellResult {
            cell: cell.clone(),
            measured,
            offset,
            round,
            machine,
        };
        observer.cell_finished(index, total, &label, &result);
        results.push(result);
    }
    if let Some(s) = server {
        s.stop();
    }
    Ok(RunResults {
        run_id: run_id.to_string(),
        started_at,
        finished_at: SystemTime::now(),
        cells: results,
        interrupted: stopping(),
        cores,
        seeds,
    })
}

/// Arrivals an open load schedules in its measured phase (`None` for other loads).
pub fn scheduled_arrivals(load: &Load) -> Option<u64> {
    match load {
        Load::Open {
            start_rate, stages, ..
        } => Some(schedule::Schedule::new(*start_rate, stages).arrivals()),
        _ => None,
    }
}

/// A tokio runtime for one host: a single-threaded event loop, or `workers` threads.
fn runtime(workers: usize) -> Result<tokio::runtime::Runtime, RunError> {
    let mut b = if workers <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(workers);
        b
    };
    b.enable_all().build().map_err(RunError::Runtime)
}

/// Run in a child between fork and exec: the child gets SIGKILL when the thread that spawned it
/// dies, so a killed runner never leaves workers or servers behind.
fn die_with_parent() -> std::io::Result<()> {
    // One prctl system call, async-signal-safe, as code between fork and exec must be.
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(std::io::Error::from)
}
