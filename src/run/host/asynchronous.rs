//! `async`: the users are tasks of one tokio runtime. With `workers: 1` (the default) the runtime
//! is a single thread, an event loop like asyncio's: tasks yield only at `.await`, so I/O overlaps
//! but a CPU kernel blocks every other task. `workers: N` gives a multi-threaded runtime.
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
    let rt = runtime(workers, &handed_over)?;
    // A recorder left behind by an earlier cell on this thread must not leak into this one.
    let _ = sink::take();
    let shared = Arc::new(shared(work, Gate::open(work.share.user_count()), progress));
    let notes = rt.block_on(run_as_tasks(&shared, &prepared, work.share.users()));
    let mut out = measured(&shared, Recorder::default(), notes);
    // A one-thread runtime ran every task here; a multi-threaded one hands its threads'
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

/// The runtime: one thread, or `workers` threads that hand their recorders over as they stop.
fn runtime(
    workers: usize,
    handed_over: &Arc<Mutex<Vec<Recorder>>>,
) -> Result<tokio::runtime::Runtime, RunError> {
    if workers <= 1 {
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
