//! `async`: the users are tasks of one tokio runtime. With `workers: 1` (the default) the runtime
//! is a single thread, an event loop like asyncio's: tasks yield only at `.await`, so I/O overlaps
//! but a CPU kernel blocks every other task. `workers: N` gives a multi-threaded runtime.
//!
//! From [`LIFO_FROM_USERS`] users on one thread, that one thread is the multi-threaded scheduler's
//! single worker rather than the current-thread scheduler: still one thread running every task,
//! but with the LIFO slot, so the user a connection task wakes with its response runs next, while
//! the response is still in the core's cache. The current-thread scheduler runs woken tasks in
//! turn: at 1,000 connections each user read its response after 999 other connections' work had
//! evicted it (cachegrind, 2 MiB last level: 182 → 103 misses per request; CPU per request
//! 0.84× in `bench/`, docs/performance.md). Below it the LIFO slot's bookkeeping costs more than
//! it saves (1.08× at 64 connections).
//!
//! Recording follows the threads, not the tasks (`run/sink.rs`): the runtime's threads hand their
//! recorders over as they stop, once each, at shutdown; no lock while the load runs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::{measured, prepared, ran_out, run_as_tasks, shared};
use crate::run::share::CellWork;
use crate::run::user::Gate;
use crate::run::{RunError, sink};
use crate::stats::{Measured, Recorder};

pub fn run(
    work: &CellWork,
    workers: usize,
    progress: Arc<AtomicU64>,
) -> Result<Measured, RunError> {
    let prepared = prepared(work, None)?;
    let handed_over = Arc::new(Mutex::new(Vec::new()));
    let rt = runtime(workers, work.share.user_count(), &handed_over)?;
    // A recorder left behind by an earlier cell on this thread must not leak into this one.
    let _ = sink::take();
    let shared = Arc::new(shared(work, Gate::open(work.share.user_count()), progress));
    let notes = rt.block_on(run_as_tasks(&shared, &prepared, work.share.users()));
    let mut out = measured(&shared, Recorder::default(), notes);
    // A current-thread runtime ran every task here; a multi-threaded one hands its threads'
    // recorders over while it shuts down, which dropping it waits for.
    drop(rt);
    out.recorder.merge(&sink::take());
    for r in handed_over
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain(..)
    {
        out.recorder.merge(&r);
    }
    ran_out(work, shared.ran_out.load(Ordering::Relaxed), &mut out);
    Ok(out)
}

/// Users per thread from which one thread is the multi-threaded scheduler's single worker: a
/// core's 2 MiB cache holds about 200 connections' per-request working set (about 10 KB each),
/// so the turn-taking scheduler's evictions begin near here. Measured at 64 and 1,000 only.
const LIFO_FROM_USERS: usize = 256;

/// The runtime: one thread, or `workers` threads that hand their recorders over as they stop.
fn runtime(
    workers: usize,
    users: usize,
    handed_over: &Arc<Mutex<Vec<Recorder>>>,
) -> Result<tokio::runtime::Runtime, RunError> {
    let workers = workers.max(1);
    if workers == 1 && users < LIFO_FROM_USERS {
        return crate::run::runtime(1);
    }
    let handed_over = Arc::clone(handed_over);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .on_thread_stop(move || {
            let r = sink::take();
            if r.operations > 0 || r.open.is_some() {
                handed_over
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(r);
            }
        })
        .build()
        .map_err(RunError::Runtime)
}
