//! The run stage: a validated plan in, one measured [`CellResult`] per cell out.
//!
//! Starts the built-in target server when the plan asks for it, then runs every cell in plan order
//! under its model (one file per model; the user loop they share is `user.rs`). It never decides
//! whether a run passed and never writes report files. An interrupt stops the load and returns
//! what was measured, marked incomplete.

mod asynchronous;
mod builtin;
mod processes;
mod sequential;
mod threads;
mod user;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;

use crate::plan::{Base, Cell, Load, Model, Plan, Scenario};
use crate::stats::{CellResult, Recorder, RunResults};
use crate::workload::{Prepared, ResolveError};

pub use builtin::BuiltinServer;
pub use user::CellLoad;

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
    fn note(&self, message: &str);
}

/// What a model needs to run one cell.
pub struct CellInput<'a> {
    pub scenario: &'a Scenario,
    pub cell: &'a Cell,
    /// The origin relative targets resolve against.
    pub base: Option<&'a url::Url>,
    pub load: CellLoad,
    pub progress: Arc<AtomicU64>,
}

impl CellInput<'_> {
    fn prepared(&self) -> Result<Prepared, RunError> {
        Ok(Prepared::new(
            &self.scenario.workload,
            self.base,
            self.scenario.timeout,
        )?)
    }
}

/// What a model returns for one cell.
pub struct ModelOutput {
    pub recorder: Recorder,
    pub wall: Duration,
    pub cpu: Duration,
    pub peak_rss_bytes: u64,
    pub notes: Vec<String>,
    /// False when a part of the cell is missing (a lost worker).
    pub complete: bool,
}

/// Runs the cells of `plan` (all, or those of the scenarios `only` names).
pub fn execute(
    plan: &Plan,
    cells: &[Cell],
    run_id: &str,
    observer: &dyn Observer,
) -> Result<RunResults, RunError> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let started_at = SystemTime::now();
    let needs_server = cells.iter().any(|c| {
        matches!(
            plan.scenarios[c.scenario].workload,
            crate::plan::Workload::Http { .. }
        )
    });
    let server = match (&plan.base, needs_server) {
        (Base::Builtin, true) => {
            let s = BuiltinServer::start().map_err(RunError::Builtin)?;
            observer.note(&format!("built-in target server on {}", s.url));
            Some(s)
        }
        _ => None,
    };
    let base = match (&plan.base, &server) {
        (_, Some(s)) => Some(s.url.clone()),
        (Base::Url { url, .. }, None) => Some(url.clone()),
        _ => None,
    };
    // Fail before any load: every target must resolve against the base.
    for c in cells {
        let s = &plan.scenarios[c.scenario];
        Prepared::new(&s.workload, base.as_ref(), s.timeout)?;
    }
    let mut results = Vec::with_capacity(cells.len());
    for (i, cell) in cells.iter().enumerate() {
        if stopping() {
            break;
        }
        let scenario = &plan.scenarios[cell.scenario];
        let label = format!(
            "{} · {}",
            scenario.name,
            crate::plan::cell_label(cell.model, cell.concurrency.get(), cell.workers.get())
        );
        let progress = Arc::new(AtomicU64::new(0));
        observer.cell_started(
            i,
            cells.len(),
            &label,
            plan.cell_operations(cell),
            progress.clone(),
        );
        let load = match scenario.load {
            Load::Repeat(_) => CellLoad::Repeat {
                first: 0,
                count: plan.cell_operations(cell).unwrap_or(0),
            },
            Load::Duration(d) => CellLoad::Duration {
                micros: u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            },
        };
        let input = CellInput {
            scenario,
            cell,
            base: base.as_ref(),
            load,
            progress,
        };
        let out = match cell.model {
            Model::Sequential => sequential::run(&input)?,
            Model::Threads => threads::run(&input)?,
            Model::Async => asynchronous::run(&input)?,
            Model::Processes => processes::run(&input)?,
        };
        let mut notes = out.notes;
        let interrupted = stopping();
        if interrupted {
            notes.push("interrupted: the cell was stopped before its end".into());
        }
        let result = CellResult {
            cell: cell.clone(),
            recorder: out.recorder,
            wall: out.wall,
            cpu: out.cpu,
            peak_rss_bytes: out.peak_rss_bytes,
            complete: out.complete && !interrupted,
            notes,
        };
        observer.cell_finished(i, cells.len(), &label, &result);
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
    })
}

/// A tokio runtime for one model: a single-threaded event loop, or `workers` threads.
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

/// Wall and CPU time of the measured phase, from its start to now.
fn measured_since(start: Option<&user::Start>) -> (Duration, Duration) {
    match start {
        Some(s) => (
            s.at.elapsed(),
            crate::stats::rusage::cpu_time().saturating_sub(s.cpu),
        ),
        None => (Duration::ZERO, Duration::ZERO),
    }
}

/// Run in a child between fork and exec: the child gets SIGKILL when the thread that spawned it
/// dies, so a killed runner never leaves workers or servers behind.
fn die_with_parent() -> std::io::Result<()> {
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and touches no memory of ours;
    // it is async-signal-safe, as code between fork and exec must be.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
