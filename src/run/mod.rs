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
mod capacity;
pub mod group;
pub mod host;
pub mod live;
mod machine;
pub mod once;
mod pace;
mod schedule;
mod shape;
pub mod share;
mod sink;
mod slices;
mod user;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

use tokio::sync::Notify;

use crate::plan::{Base, Cell, Load, Model, Plan, Workload};
use crate::stats::{CellResult, Progress, RunResults, Shard};
use crate::workload::{Prepared, ResolveError, Resolved};

pub use builtin::{BuiltinError, BuiltinServer, base_url};
pub use share::{CellWork, Share};

/// The run could not be carried out (exit code 3), as opposed to a target that failed (data).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("could not start the built-in target server: {0}")]
    Builtin(#[from] BuiltinError),
    #[error(transparent)]
    Target(#[from] ResolveError),
    #[error("could not start a tokio runtime: {0}")]
    Runtime(std::io::Error),
    /// A `threads` user's own executor (`bare`) could not make its eventfd or wait.
    #[error("a user thread's executor failed: {0}")]
    Executor(std::io::Error),
    /// The plan's `before:` steps failed: no cell ran.
    #[error("{0}; no cell ran")]
    Before(String),
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
    fn cell_finished(&self, index: usize, total: usize, label: &str, progress: &Progress);
    /// A slice of a cell is over (`label` names it); the cell's own end comes after its last.
    fn slice_finished(&self, _label: &str) {}
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
            let s = BuiltinServer::start(*tls)?;
            observer.note(
                Notice::Info,
                &format!("built-in target server on {}", s.url),
            );
            Some(s)
        }
        _ => None,
    };
    let base = base_url(&plan.base, server.as_ref());
    // Fail before any load: every target of the scenarios that run (`--only`) must resolve
    // against the base, and build. The others are left unresolved (`None`): the built-in server
    // is not started for them.
    // `before:`, once, before any cell: its captures become every scenario's variables.
    let extra_ca = server.as_ref().and_then(|s| s.ca_pem.as_deref());
    // `before:` and `after:`'s requests, by key, for summary.json's `once`.
    let mut once_recorders = Vec::new();
    let before = match &plan.before {
        Some(steps) => {
            let once = once::run(steps, base.as_ref(), extra_ca, plan.defaults_timeout, &[])?;
            if once.error.is_some() {
                if let Some(s) = server {
                    s.stop();
                }
                return Err(RunError::Before(once.describe("before")));
            }
            observer.note(Notice::Info, &once.describe("before"));
            once_recorders.push(("before".to_string(), once.recorder));
            once.values
        }
        None => Vec::new(),
    };
    let mut workloads = Vec::with_capacity(plan.scenarios.len());
    for (i, s) in plan.scenarios.iter().enumerate() {
        if !cells.iter().any(|c| c.scenario == i) {
            workloads.push(None);
            continue;
        }
        let mut resolved = Resolved::new(&s.workload, base.as_ref(), extra_ca)?;
        if let Resolved::Http(h) = &mut resolved {
            h.preset_from(&before);
        }
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
    let ctx = Context {
        plan,
        observer,
        live,
        shard,
        started_at,
        target_pid: server.as_ref().and_then(BuiltinServer::pid),
        workloads: &workloads,
        seeds: &seeds,
        total,
        rounds,
        cores,
    };
    let mut results = Vec::with_capacity(total);
    // Rounds outside, cells inside: A B C … A B C …; the cells of a CPU-bound scenario take turns
    // in slices within each round (`slices.rs`).
    for round in 0..rounds {
        let mut index = round * cells.len();
        for group in cells.chunk_by(|a, b| a.scenario == b.scenario) {
            if stopping() {
                break;
            }
            let scenario = &plan.scenarios[group[0].scenario];
            if let Some(name) = &scenario.group {
                // A group runs once, at its first member's cells, with every member's together.
                let members = ctx.members(cells, name);
                if members.first() == Some(&group[0].scenario) {
                    let base = round * cells.len();
                    results.extend(ctx.run_group(cells, &members, round, base)?);
                }
                index += group.len();
                continue;
            }
            let concurrency: Vec<usize> = group.iter().map(|c| c.concurrency.get()).collect();
            let slices = slices::count(
                matches!(scenario.workload, Workload::Cpu(_)),
                group.len(),
                &scenario.load,
                plan.cell_operations(&group[0]),
                &concurrency,
            );
            if slices > 1 {
                results.extend(ctx.run_sliced(group, round, index, slices)?);
            } else {
                for (k, cell) in group.iter().enumerate() {
                    if stopping() {
                        break;
                    }
                    if let Load::Capacity(search) = &scenario.load {
                        if let Some(r) = ctx.run_capacity(cell, round, index + k, search)? {
                            results.push(r);
                        }
                        continue;
                    }
                    let Some(work) = ctx.work(cell, round, None) else {
                        continue;
                    };
                    let label = ctx.label(cell, round, None);
                    let expected = plan.cell_operations(cell);
                    let result = ctx.run_once(cell, round, (index + k, &label), &work, expected)?;
                    observer.cell_finished(index + k, total, &label, &Progress::of(&result));
                    results.push(result);
                }
            }
            index += group.len();
        }
    }
    if stopping() {
        // Say what the report will lack: every cell that never started (a shard's cell without
        // users is not a cell of this process).
        let never: Vec<String> = (0..rounds)
            .flat_map(|r| cells.iter().map(move |c| (r, c)))
            .filter(|(r, c)| {
                !results
                    .iter()
                    .any(|x: &CellResult| x.round == *r && x.cell == **c)
            })
            .filter(|(_, c)| ctx.has_users(c))
            .map(|(r, c)| ctx.label(c, r, None))
            .collect();
        if !never.is_empty() {
            observer.note(
                Notice::Warning,
                &format!(
                    "interrupted before {} started: {}",
                    crate::units::count(never.len(), "cell"),
                    never.join(", ")
                ),
            );
        }
    }
    // `after:`, once, after the last cell (not after an interrupt): a failure is a warning.
    if let (Some(steps), false) = (&plan.after, stopping()) {
        let extra_ca = server.as_ref().and_then(|s| s.ca_pem.as_deref());
        match once::run(
            steps,
            base.as_ref(),
            extra_ca,
            plan.defaults_timeout,
            &before,
        ) {
            Ok(once) => {
                let notice = if once.error.is_none() {
                    Notice::Info
                } else {
                    Notice::Warning
                };
                observer.note(notice, &once.describe("after"));
                once_recorders.push(("after".to_string(), once.recorder));
            }
            Err(e) => observer.note(Notice::Warning, &format!("after: {e}")),
        }
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
        once: once_recorders,
    })
}

/// What every cell of a run needs to know about the run.
struct Context<'a> {
    plan: &'a Plan,
    observer: &'a dyn Observer,
    live: Option<&'a dyn live::Follower>,
    shard: Option<Shard>,
    started_at: SystemTime,
    target_pid: Option<u32>,
    /// Each scenario's resolved workload (`None`: not run, `--only`).
    workloads: &'a [Option<Resolved>],
    seeds: &'a [u64],
    total: usize,
    rounds: usize,
    /// Cores this process may use: a capacity probe that saturates them is generator-limited.
    cores: usize,
}

/// Runs `work` of `cell` on the cell's host. The one place that matches on a model: which host
/// runs a cell, alone or as a group member.
fn on_host(
    cell: &Cell,
    work: &CellWork,
    progress: Arc<AtomicU64>,
) -> Result<crate::stats::Measured, RunError> {
    match cell.model {
        Model::Sequential => host::sequential::run(work, progress),
        Model::Threads => host::threads::run(work, progress),
        Model::Async => host::asynchronous::run(work, cell.workers.get(), progress),
        Model::Processes => host::processes::run(work, cell.workers.get(), progress),
    }
}

/// A cell a stop request cut short says so, and is not complete.
fn mark_interrupted(measured: &mut crate::stats::Measured) {
    if stopping() {
        measured
            .notes
            .push("interrupted: the cell was stopped before its end".into());
        measured.complete = false;
    }
}

impl Context<'_> {
    /// The cell's label for the console: `scenario · model · round r/R · slice k/K`.
    fn label(&self, cell: &Cell, round: usize, slice: Option<(u64, u64)>) -> String {
        let scenario = &self.plan.scenarios[cell.scenario];
        let mut label = format!(
            "{} · {}",
            scenario.name,
            cell.model.label(cell.concurrency.get(), cell.workers.get())
        );
        if self.rounds > 1 {
            label.push_str(&format!(" · round {}/{}", round + 1, self.rounds));
        }
        if let Some((k, n)) = slice {
            label.push_str(&format!(" · slice {}/{n}", k + 1));
        }
        label
    }

    /// Whether this process runs any of `cell` (a shard may have none of its users).
    fn has_users(&self, cell: &Cell) -> bool {
        let whole = self.whole(cell);
        self.shard
            .map_or(whole.clone(), |sh| whole.split(sh.index, sh.count))
            .user_count()
            > 0
    }

    /// The whole cell's users and operations, before any shard takes its part.
    fn whole(&self, cell: &Cell) -> Share {
        let scenario = &self.plan.scenarios[cell.scenario];
        Share::whole(
            cell.concurrency.get(),
            self.plan.cell_operations(cell).unwrap_or(0),
            scenario.warmup,
            match &scenario.load {
                Load::Open { max_in_flight, .. } => max_in_flight.get(),
                Load::Capacity(c) => c.max_in_flight.get(),
                _ => usize::MAX,
            },
        )
    }

    /// What this process runs of `cell` (of its slice `k` of `n`, when sliced): `None` when its
    /// shard has no users in it, or its scenario is not run.
    fn work(&self, cell: &Cell, round: usize, slice: Option<(u64, u64)>) -> Option<CellWork> {
        let scenario = &self.plan.scenarios[cell.scenario];
        let ops = self.plan.cell_operations(cell).unwrap_or(0);
        let mut whole = self.whole(cell);
        let (mut load, mut warmup_time) = (scenario.load.clone(), scenario.warmup_time);
        if let Some((k, n)) = slice {
            let (first, count) = slices::ops(ops, cell.concurrency.get() as u64, k, n);
            whole.first_op = first;
            whole.ops = count;
            load = slices::load(&scenario.load, count, n);
            // The warm-up, once per cell and round: before its first slice.
            if k > 0 {
                whole.warmup_ops = 0;
                warmup_time = std::time::Duration::ZERO;
            }
        }
        // A shard runs its share of the users and of the work; results name the whole cell.
        let share = self
            .shard
            .map_or(whole.clone(), |sh| whole.split(sh.index, sh.count));
        if share.user_count() == 0 {
            if let (Some(sh), 0, None | Some((0, _))) = (self.shard, round, slice) {
                self.observer.note(
                    Notice::Info,
                    &format!(
                        "{}: no users in shard {}/{}",
                        self.label(cell, round, None),
                        sh.index + 1,
                        sh.count
                    ),
                );
            }
            return None;
        }
        Some(CellWork {
            workload: self.workloads[cell.scenario].clone()?,
            load,
            share,
            warmup_time,
            timeout: scenario.timeout,
            seed: self.seeds[cell.scenario],
            live: false,
            timeline_offset: std::time::Duration::ZERO,
            member: None,
        })
    }

    /// Runs `work` of `cell` once on the cell's host, the machine sampled around it; `expected`
    /// operations for the progress display.
    fn run_once(
        &self,
        cell: &Cell,
        round: usize,
        (index, label): (usize, &str),
        work: &CellWork,
        expected: Option<u64>,
    ) -> Result<CellResult, RunError> {
        let progress = Arc::new(AtomicU64::new(0));
        let offset = self.started_at.elapsed().unwrap_or_default();
        self.observer
            .cell_started(index, self.total, label, expected, progress.clone());
        let taps = self.live.map(|l| {
            let taps = Arc::new(live::Taps::default());
            l.cell_started(cell, round, Arc::clone(&taps));
            taps
        });
        let armed = live::Armed::new(taps);
        let before = machine::sample(self.target_pid);
        let measured = on_host(cell, work, progress);
        drop(armed);
        if let Some(l) = self.live {
            l.cell_finished(cell, round);
        }
        let mut measured = measured?;
        let machine = before.until(&machine::sample(self.target_pid));
        mark_interrupted(&mut measured);
        Ok(CellResult {
            cell: cell.clone(),
            measured,
            offset,
            round,
            machine,
            capacity: None,
        })
    }

    /// The scenarios of group `name` that this run runs (`--only` may leave some out).
    fn members(&self, cells: &[Cell], name: &str) -> Vec<usize> {
        self.plan
            .groups
            .iter()
            .filter(|g| g.name == name)
            .flat_map(|g| g.members.iter().copied())
            .filter(|m| cells.iter().any(|c| c.scenario == *m))
            .collect()
    }

    /// One round of a group's cells (`run/group.rs`): position by position (each member's k-th
    /// cell: same model, same place in the sweep), the members' cells at the same time, each on
    /// a host of its own in a thread of its own, from one start. `base` is the round's first
    /// cell index.
    fn run_group(
        &self,
        cells: &[Cell],
        members: &[usize],
        round: usize,
        base: usize,
    ) -> Result<Vec<CellResult>, RunError> {
        let of = |m: usize| -> Vec<(usize, &Cell)> {
            cells
                .iter()
                .enumerate()
                .filter(|(_, c)| c.scenario == m)
                .collect()
        };
        let per_member: Vec<Vec<(usize, &Cell)>> = members.iter().map(|m| of(*m)).collect();
        let positions = per_member.iter().map(Vec::len).max().unwrap_or(0);
        let mut out = Vec::new();
        for k in 0..positions {
            if stopping() {
                break;
            }
            let batch: Vec<(usize, &Cell)> = per_member
                .iter()
                .filter_map(|m| m.get(k).copied())
                .collect();
            out.extend(self.run_together(&batch, round, base)?);
        }
        Ok(out)
    }

    /// Runs `batch` (cells with their index in the round) at the same time from one start; one
    /// result per cell that has users in this process. Their hosts run on threads of their own;
    /// the observer hears of them from this thread, and the machine is sampled around them all
    /// (they share it). A followed run (`--export`) does not follow group members live.
    fn run_together(
        &self,
        batch: &[(usize, &Cell)],
        round: usize,
        base: usize,
    ) -> Result<Vec<CellResult>, RunError> {
        let mut works: Vec<(usize, &Cell, CellWork)> = batch
            .iter()
            .filter_map(|(i, c)| self.work(c, round, None).map(|w| (*i, *c, w)))
            .collect();
        if works.is_empty() {
            return Ok(Vec::new());
        }
        let together = group::Together::new(works.len());
        for (k, (_, cell, work)) in works.iter_mut().enumerate() {
            let offset = self.plan.scenarios[cell.scenario].start;
            work.member = Some(group::Member::new(&together, k, offset));
            // One clock: every member's seconds count from the group's start.
            work.timeline_offset = offset;
        }
        let names: Vec<&str> = works
            .iter()
            .map(|(_, c, _)| self.plan.scenarios[c.scenario].name.as_str())
            .collect();
        let first = works[0].1;
        let mut label = format!(
            "{} · {}",
            names.join(" + "),
            first
                .model
                .label(first.concurrency.get(), first.workers.get())
        );
        if self.rounds > 1 {
            label.push_str(&format!(" · round {}/{}", round + 1, self.rounds));
        }
        let progress = Arc::new(AtomicU64::new(0));
        let offset = self.started_at.elapsed().unwrap_or_default();
        self.observer.cell_started(
            base + works[0].0,
            self.total,
            &label,
            None,
            progress.clone(),
        );
        let before = machine::sample(self.target_pid);
        let measured: Vec<Result<crate::stats::Measured, RunError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = works
                .iter()
                .map(|(_, cell, work)| {
                    let progress = Arc::clone(&progress);
                    scope.spawn(move || {
                        let m = on_host(cell, work, progress);
                        // A host that failed before its gate must not hold the others back.
                        if let Some(m) = &work.member {
                            m.ready();
                        }
                        m
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Ok(crate::stats::Measured {
                            notes: vec!["a group member's host panicked (a loadplan bug)".into()],
                            ..Default::default()
                        })
                    })
                })
                .collect()
        });
        let machine = before.until(&machine::sample(self.target_pid));
        let mut out = Vec::with_capacity(works.len());
        for ((i, cell, _), m) in works.iter().zip(measured) {
            let mut measured = m?;
            mark_interrupted(&mut measured);
            let result = CellResult {
                cell: (*cell).clone(),
                measured,
                offset,
                round,
                machine,
                capacity: None,
            };
            let label = self.label(cell, round, None);
            self.observer
                .cell_finished(base + i, self.total, &label, &Progress::of(&result));
            out.push(result);
        }
        Ok(out)
    }

    /// One round of a CPU-bound scenario's cells (`group`, the first at `index`), each cut into
    /// `slices` slices that take turns (`slices.rs`); each cell's round is the sum of its slices.
    fn run_sliced(
        &self,
        group: &[Cell],
        round: usize,
        index: usize,
        slices: u64,
    ) -> Result<Vec<CellResult>, RunError> {
        let mut done: Vec<Option<CellResult>> = vec![None; group.len()];
        let mut ran = vec![0u64; group.len()];
        'slices: for k in 0..slices {
            for i in slices::order(k, group.len()) {
                if stopping() {
                    break 'slices;
                }
                let cell = &group[i];
                let Some(mut work) = self.work(cell, round, Some((k, slices))) else {
                    continue;
                };
                work.timeline_offset = done[i]
                    .as_ref()
                    .map_or_else(Default::default, |r| r.measured.wall);
                let label = self.label(cell, round, Some((k, slices)));
                let expected = self.plan.cell_operations(cell).map(|_| work.share.ops);
                let slice = self.run_once(cell, round, (index + i, &label), &work, expected)?;
                self.observer.slice_finished(&label);
                ran[i] += 1;
                match &mut done[i] {
                    Some(so_far) => slices::absorb(so_far, slice),
                    none => *none = Some(slice),
                }
            }
        }
        let mut out = Vec::with_capacity(group.len());
        for (i, r) in done.into_iter().enumerate() {
            let Some(mut r) = r else {
                continue;
            };
            if ran[i] < slices && r.measured.complete {
                r.measured.notes.push(format!(
                    "interrupted: {} of its {slices} slices ran",
                    ran[i]
                ));
                r.measured.complete = false;
            }
            let label = self.label(&group[i], round, None);
            self.observer
                .cell_finished(index + i, self.total, &label, &Progress::of(&r));
            out.push(r);
        }
        Ok(out)
    }
}

/// Arrivals an open load schedules in its measured phase (`None` for other loads).
pub fn scheduled_arrivals(load: &Load) -> Option<u64> {
    match load {
        Load::Open {
            start_rate, stages, ..
        } => Some(schedule::Schedule::new(*start_rate, stages).arrivals()),
        // Each probe's own; the search decides how many.
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
