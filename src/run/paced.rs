//! Paced loads: the open model (arrivals on a schedule) and closed models whose users follow
//! stages. The same loops serve every concurrency model; models differ only in where the users run
//! (the main thread, OS threads, tokio tasks, worker processes).
//!
//! Open model: a dispatcher wakes at each arrival's intended time and queues it unless the
//! operations outstanding (queued + running) have reached `max_in_flight`, in which case the
//! arrival is dropped and counted. Users take arrivals from the queue in order; a user that takes
//! one late sends it late, and its latency is measured from the *intended* start (corrected) as
//! well as from the actual send (uncorrected), so a stall of the target shows in the corrected
//! histogram even though the generator itself was waiting. Arrivals still queued when the schedule
//! and one timeout are over are dropped, so an unreachable rate ends on time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::schedule::{Schedule, UserStages};
use super::user::Start;
use super::{CellInput, ModelOutput, RunError};
use crate::plan::{Load, Model};
use crate::stats::{Recorder, rusage};
use crate::workload::{Outcome, Prepared, Unit};

/// A paced load as it crosses to a worker process: plain data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum PacedLoad {
    Open {
        start_rate: f64,
        /// (length in µs, rate at its end).
        stages: Vec<(u64, f64)>,
        /// Operations outstanding at most, in this share.
        cap: usize,
    },
    Users {
        /// (length in µs, users at its end) of the whole cell.
        stages: Vec<(u64, usize)>,
    },
}

/// Which part of a paced cell this process runs: arrivals n ≡ `index` (mod `of`), or users
/// i ≡ `index` (mod `of`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Stride {
    pub index: u64,
    pub of: u64,
}

impl Stride {
    pub const WHOLE: Stride = Stride { index: 0, of: 1 };
}

impl PacedLoad {
    /// The load of one of `shares` equal shares (shards × worker processes): the in-flight cap
    /// is divided among them; arrivals are divided by [`Stride`].
    pub fn from_load(load: &Load, shares: usize) -> Option<PacedLoad> {
        let us = |d: &Duration| crate::units::micros_of(*d);
        match load {
            Load::Open {
                start_rate,
                stages,
                max_in_flight,
            } => Some(PacedLoad::Open {
                start_rate: *start_rate,
                stages: stages.iter().map(|(d, r)| (us(d), *r)).collect(),
                cap: max_in_flight.get().div_ceil(shares.max(1)).max(1),
            }),
            Load::Users(stages) => Some(PacedLoad::Users {
                stages: stages.iter().map(|(d, c)| (us(d), *c)).collect(),
            }),
            Load::Repeat(_) | Load::Duration(_) => None,
        }
    }
}

fn schedule(start_rate: f64, stages: &[(u64, f64)]) -> Schedule {
    let stages: Vec<(Duration, f64)> = stages
        .iter()
        .map(|(us, r)| (Duration::from_micros(*us), *r))
        .collect();
    Schedule::new(start_rate, &stages)
}

fn user_stages(stages: &[(u64, usize)]) -> UserStages {
    let stages: Vec<(Duration, usize)> = stages
        .iter()
        .map(|(us, c)| (Duration::from_micros(*us), *c))
        .collect();
    UserStages::new(&stages)
}

/// When a paced share starts, how long it warms up, and how long one operation may take.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub start: Instant,
    pub warmup: Duration,
    pub timeout: Duration,
}

struct Arrival {
    n: u64,
    due: Instant,
    /// False for warm-up arrivals: executed, not recorded.
    record: bool,
}

/// What the users of one process share in an open cell.
pub struct OpenShared {
    rx: Mutex<UnboundedReceiver<Arrival>>,
    outstanding: AtomicUsize,
    /// When the measured schedule starts (after the warm-up) and by when the last arrival must
    /// have been sent.
    pub measured_start: Instant,
    end_by: Instant,
    progress: Arc<AtomicU64>,
}

/// The sending half, for the dispatcher.
pub struct Dispatcher {
    tx: UnboundedSender<Arrival>,
    schedule: Schedule,
    warmup: Option<Schedule>,
    stride: Stride,
    cap: usize,
    start: Instant,
}

/// Sets up an open cell share starting at `start` (warm-up first, then the schedule).
pub fn open(
    start_rate: f64,
    stages: &[(u64, f64)],
    cap: usize,
    stride: Stride,
    timing: Timing,
    progress: Arc<AtomicU64>,
) -> (Dispatcher, Arc<OpenShared>) {
    let Timing {
        start,
        warmup,
        timeout,
    } = timing;
    let schedule = schedule(start_rate, stages);
    let warm = (!warmup.is_zero()).then(|| {
        Schedule::new(
            start_rate.max(stages.first().map_or(0.0, |s| s.1)),
            &[(warmup, start_rate.max(stages.first().map_or(0.0, |s| s.1)))],
        )
    });
    let measured_start = start + warmup;
    let (tx, rx) = unbounded_channel();
    let shared = Arc::new(OpenShared {
        rx: Mutex::new(rx),
        outstanding: AtomicUsize::new(0),
        measured_start,
        end_by: measured_start + schedule.end() + timeout,
        progress,
    });
    let d = Dispatcher {
        tx,
        schedule,
        warmup: warm,
        stride,
        cap,
        start,
    };
    (d, shared)
}

impl Dispatcher {
    /// Queues every arrival of this share at its time; counts scheduled and dropped arrivals in
    /// `rec`. Returns when the schedule is over (or the run is being stopped).
    pub async fn run(self, shared: &OpenShared, rec: &mut Recorder) {
        let phases = [
            (self.warmup.as_ref(), self.start, false),
            (Some(&self.schedule), shared.measured_start, true),
        ];
        for (schedule, origin, record) in phases {
            let Some(schedule) = schedule else { continue };
            let mut n = self.stride.index;
            while let Some(offset) = schedule.due(n) {
                let due = origin + offset;
                tokio::select! {
                    () = tokio::time::sleep_until(due.into()) => {}
                    () = super::stop_requested() => return,
                }
                if record {
                    rec.open_stats().scheduled += 1;
                }
                if shared.outstanding.load(Ordering::Relaxed) >= self.cap {
                    if record {
                        rec.open_stats().dropped += 1;
                    }
                } else {
                    shared.outstanding.fetch_add(1, Ordering::Relaxed);
                    if self.tx.send(Arrival { n, due, record }).is_err() {
                        return;
                    }
                }
                n += self.stride.of;
            }
        }
    }
}

/// One user of an open cell: takes arrivals until the dispatcher is done and the queue is empty.
pub async fn open_user(shared: &OpenShared, mut unit: Unit, rec: &mut Recorder) {
    loop {
        let next = {
            let mut rx = shared.rx.lock().await;
            tokio::select! {
                a = rx.recv() => a,
                () = super::stop_requested() => None,
            }
        };
        let Some(a) = next else { break };
        let sent = Instant::now();
        if super::stopping() || sent > shared.end_by {
            // Too late to matter: the schedule and a timeout are over.
            if a.record {
                rec.open_stats().dropped += 1;
            }
            shared.outstanding.fetch_sub(1, Ordering::Relaxed);
            continue;
        }
        let outcome = execute(&mut unit, a.n).await;
        let ended = Instant::now();
        shared.outstanding.fetch_sub(1, Ordering::Relaxed);
        let Some(outcome) = outcome else { break };
        if a.record {
            rec.record_open(
                ended.saturating_duration_since(shared.measured_start),
                ended.saturating_duration_since(a.due),
                ended - sent,
                sent.saturating_duration_since(a.due),
                &outcome,
            );
            shared.progress.fetch_add(1, Ordering::Relaxed);
        }
        if matches!(unit, Unit::Cpu(_)) {
            tokio::task::yield_now().await;
        }
    }
}

/// One user `index` of a staged closed cell: runs while the stages give it a turn.
#[allow(clippy::too_many_arguments)]
pub async fn staged_user(
    index: usize,
    stages: &UserStages,
    warmup: Duration,
    start: Instant,
    next_op: &AtomicU64,
    mut unit: Unit,
    rec: &mut Recorder,
    progress: &AtomicU64,
) {
    let measured = start + warmup;
    let end = measured + stages.end();
    let first = stages.users_at(Duration::ZERO).max(1);
    loop {
        let now = Instant::now();
        if now >= end || super::stopping() {
            break;
        }
        let active = if now < measured {
            first
        } else {
            stages.users_at(now - measured)
        };
        if index >= active {
            // Not this user's turn yet: look again shortly (stages change on a scale of seconds).
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(10)) => {}
                () = super::stop_requested() => break,
            }
            continue;
        }
        let op = next_op.fetch_add(1, Ordering::Relaxed);
        let began = Instant::now();
        let Some(outcome) = execute(&mut unit, op).await else {
            break;
        };
        let ended = Instant::now();
        if began >= measured {
            rec.record(ended - measured, ended - began, &outcome);
            progress.fetch_add(1, Ordering::Relaxed);
        }
        if matches!(unit, Unit::Cpu(_)) {
            tokio::task::yield_now().await;
        }
    }
}

/// One operation, abandoned (`None`) when the run is being stopped meanwhile.
async fn execute(unit: &mut Unit, op: u64) -> Option<Outcome> {
    if matches!(unit, Unit::Cpu(_)) {
        return Some(unit.execute(op).await);
    }
    tokio::select! {
        o = unit.execute(op) => Some(o),
        () = super::stop_requested() => None,
    }
}

/// Runs `users` users of a paced load in the current runtime (spawned as tasks) and returns their
/// merged recorder. For open loads the dispatcher runs here too.
pub async fn run_share(
    load: &PacedLoad,
    prepared: &Prepared,
    users: Vec<usize>,
    stride: Stride,
    timing: Timing,
    progress: Arc<AtomicU64>,
) -> Recorder {
    let Timing { start, warmup, .. } = timing;
    let mut all = Recorder::default();
    match load {
        PacedLoad::Open {
            start_rate,
            stages,
            cap,
        } => {
            let (dispatcher, shared) = open(*start_rate, stages, *cap, stride, timing, progress);
            let mut tasks = tokio::task::JoinSet::new();
            for _ in &users {
                let (shared, unit) = (Arc::clone(&shared), prepared.unit());
                tasks.spawn_local(async move {
                    let mut rec = Recorder::default();
                    open_user(&shared, unit, &mut rec).await;
                    rec
                });
            }
            let mut dispatched = Recorder::default();
            dispatcher.run(&shared, &mut dispatched).await;
            all.merge(&dispatched);
            while let Some(r) = tasks.join_next().await {
                if let Ok(rec) = r {
                    all.merge(&rec);
                }
            }
        }
        PacedLoad::Users { stages } => {
            let stages = Arc::new(user_stages(stages));
            let next_op = Arc::new(AtomicU64::new(stride.index));
            let mut tasks = tokio::task::JoinSet::new();
            for index in users {
                let (stages, next_op, progress, unit) = (
                    Arc::clone(&stages),
                    Arc::clone(&next_op),
                    Arc::clone(&progress),
                    prepared.unit(),
                );
                tasks.spawn_local(async move {
                    let mut rec = Recorder::default();
                    staged_user(
                        index, &stages, warmup, start, &next_op, unit, &mut rec, &progress,
                    )
                    .await;
                    rec
                });
            }
            while let Some(r) = tasks.join_next().await {
                if let Ok(rec) = r {
                    all.merge(&rec);
                }
            }
        }
    }
    all
}

/// The users a paced cell has in all.
fn users(load: &PacedLoad, cell_users: usize) -> usize {
    match load {
        PacedLoad::Open { .. } => cell_users,
        PacedLoad::Users { stages } => user_stages(stages).max_users().max(1),
    }
}

/// A paced cell under `sequential`, `threads` or `async` (in this process).
pub fn run(input: &CellInput, load: &PacedLoad) -> Result<ModelOutput, RunError> {
    let prepared = input.prepared()?;
    let c = input.cell.concurrency.get();
    let all_users: Vec<usize> = (0..users(load, c)).collect();
    let warmup = input.scenario.warmup_time;
    let timeout = input.scenario.timeout;
    let progress = Arc::clone(&input.progress);
    let mut notes = Vec::new();
    let start = Start::now();
    let recorder = match input.cell.model {
        Model::Threads => run_threads(
            load,
            &prepared,
            input.stride,
            &all_users,
            warmup,
            timeout,
            start.at,
            &progress,
            &mut notes,
        )?,
        // sequential is one user; async runs every user as a task of one runtime.
        Model::Sequential | Model::Async | Model::Processes => {
            let users = if input.cell.model == Model::Sequential {
                vec![0]
            } else {
                all_users
            };
            let rt = super::runtime(1)?;
            let local = tokio::task::LocalSet::new();
            let timing = Timing {
                start: start.at,
                warmup,
                timeout,
            };
            rt.block_on(local.run_until(run_share(
                load,
                &prepared,
                users,
                input.stride,
                timing,
                progress,
            )))
        }
    };
    let wall = start.at.elapsed().saturating_sub(warmup);
    let cpu = rusage::cpu_time().saturating_sub(start.cpu);
    Ok(ModelOutput {
        recorder,
        wall,
        cpu,
        peak_rss_bytes: rusage::peak_rss_bytes(),
        complete: notes.is_empty(),
        notes,
    })
}

/// Threads: every user an OS thread with its own runtime and connection; for open loads the
/// dispatcher runs on the calling thread.
#[allow(clippy::too_many_arguments)]
fn run_threads(
    load: &PacedLoad,
    prepared: &Prepared,
    stride: Stride,
    users: &[usize],
    warmup: Duration,
    timeout: Duration,
    start: Instant,
    progress: &Arc<AtomicU64>,
    notes: &mut Vec<String>,
) -> Result<Recorder, RunError> {
    let mut all = Recorder::default();
    let (dispatcher, shared) = match load {
        PacedLoad::Open {
            start_rate,
            stages,
            cap,
        } => {
            let timing = Timing {
                start,
                warmup,
                timeout,
            };
            let (d, s) = open(
                *start_rate,
                stages,
                *cap,
                stride,
                timing,
                Arc::clone(progress),
            );
            (Some(d), Some(s))
        }
        PacedLoad::Users { .. } => (None, None),
    };
    let stages = match load {
        PacedLoad::Users { stages } => Some(Arc::new(user_stages(stages))),
        PacedLoad::Open { .. } => None,
    };
    let next_op = AtomicU64::new(0);
    let rt = super::runtime(1)?;
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for &index in users {
            let (shared, stages, next_op, progress) = (&shared, &stages, &next_op, progress);
            let unit = prepared.unit();
            let spawned = std::thread::Builder::new()
                .name(format!("loadplan-user-{index}"))
                .stack_size(256 * 1024)
                .spawn_scoped(scope, move || -> Result<Recorder, RunError> {
                    let rt = super::runtime(1)?;
                    let mut rec = Recorder::default();
                    match (shared, stages) {
                        (Some(shared), _) => rt.block_on(open_user(shared, unit, &mut rec)),
                        (None, Some(stages)) => rt.block_on(staged_user(
                            index, stages, warmup, start, next_op, unit, &mut rec, progress,
                        )),
                        (None, None) => {}
                    }
                    Ok(rec)
                });
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    notes.push(format!("could not start user thread {index}: {e}"));
                    super::request_stop();
                    break;
                }
            }
        }
        if let (Some(d), Some(shared)) = (dispatcher, &shared) {
            let mut dispatched = Recorder::default();
            rt.block_on(d.run(shared, &mut dispatched));
            all.merge(&dispatched);
            // Closing the queue lets the users finish once it is empty.
        }
        for h in handles {
            match h.join() {
                Ok(Ok(rec)) => all.merge(&rec),
                Ok(Err(e)) => notes.push(format!("a user thread failed: {e}")),
                Err(_) => notes.push("a user thread panicked (a loadplan bug)".into()),
            }
        }
    });
    Ok(all)
}
