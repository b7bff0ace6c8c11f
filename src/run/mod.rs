//! The run stage: a validated plan in, one measured [`CellResult`] per cell out.
//!
//! Starts the built-in target server when the plan asks for it, then runs every cell in plan order
//! under its model (one file per model; the user loop they share is `user.rs`). It never decides
//! whether a run passed and never writes report files. An interrupt stops the load and returns
//! what was measured, marked incomplete.

mod asynchronous;
mod builtin;
mod paced;
mod processes;
mod schedule;
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
use crate::stats::{CellResult, Recorder, RunResults, Shard};
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
    /// For paced loads: the share of arrivals (or staged users) this process runs.
    pub stride: paced::Stride,
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
    shard: Option<Shard>,
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
        let offset = started_at.elapsed().unwrap_or_default();
        observer.cell_started(
            i,
            cells.len(),
            &label,
            plan.cell_operations(cell),
            progress.clone(),
        );
        let total = plan.cell_operations(cell).unwrap_or(0);
        let mut load = match &scenario.load {
            Load::Repeat(_) => CellLoad::Repeat {
                first: 0,
                count: total,
            },
            // Paced loads carry their own timing (`paced.rs`); this is their planned length.
            other => CellLoad::Duration {
                micros: other
                    .planned_time()
                    .map_or(u64::MAX, crate::units::micros_of),
            },
        };
        // A shard runs its share of the users and of the work; results name the whole cell.
        let (shard_cell, shard_scenario);
        let (cell_run, scenario_run) = match shard {
            None => (cell, scenario),
            Some(sh) => {
                let c = cell.concurrency.get();
                let (users, work) = sh.share(c, total);
                let Some(users) = std::num::NonZeroUsize::new(users) else {
                    observer.note(&format!(
                        "{label}: no users in shard {}/{}",
                        sh.index + 1,
                        sh.count
                    ));
                    continue;
                };
                if let CellLoad::Repeat { .. } = load {
                    load = CellLoad::Repeat {
                        first: sh.first_op(c, total),
                        count: work,
                    };
                }
                shard_cell = Cell {
                    concurrency: users,
                    workers: match cell.model {
                        Model::Threads => users,
                        Model::Processes => cell.workers.min(users),
                        Model::Sequential | Model::Async => cell.workers,
                    },
                    ..cell.clone()
                };
                shard_scenario = Scenario {
                    warmup: sh.share(c, scenario.warmup).1,
                    ..scenario.clone()
                };
                (&shard_cell, &shard_scenario)
            }
        };
        let input = CellInput {
            scenario: scenario_run,
            cell: cell_run,
            base: base.as_ref(),
            load,
            progress,
            stride: shard.map_or(paced::Stride::WHOLE, |s| paced::Stride {
                index: s.index as u64,
                of: s.count as u64,
            }),
        };
        let paced = paced::PacedLoad::from_load(&scenario_run.load, shard.map_or(1, |s| s.count));
        let out = match (cell.model, &paced) {
            (Model::Processes, _) => processes::run(&input)?,
            (_, Some(p)) => paced::run(&input, p)?,
            (Model::Sequential, None) => sequential::run(&input)?,
            (Model::Threads, None) => threads::run(&input)?,
            (Model::Async, None) => asynchronous::run(&input)?,
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
            offset,
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

/// Arrivals an open load schedules in its measured phase (`None` for other loads).
pub fn scheduled_arrivals(load: &Load) -> Option<u64> {
    match load {
        Load::Open {
            start_rate, stages, ..
        } => Some(schedule::Schedule::new(*start_rate, stages).arrivals()),
        _ => None,
    }
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
