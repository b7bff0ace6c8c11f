//! `async`: C tasks on one tokio runtime. With `workers: 1` (the default) the runtime is a single
//! thread, an event loop like asyncio's: tasks yield only at `.await`, so I/O overlaps but a CPU
//! kernel blocks every other task. `workers: N` gives a multi-threaded runtime.
//!
//! Recording follows the threads, not the tasks: each runtime thread owns one recorder (a
//! thread-local that its tasks write into without a lock), merged once the runtime has stopped.
//! A recorder per task would cost C histograms and scatter every write across them.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::user::{self, Shared, Sink};
use super::{CellInput, ModelOutput, RunError};
use crate::stats::{Recorder, rusage};
use crate::workload::Outcome;

thread_local! {
    /// The recorder of the runtime thread this is, while a cell of this model runs.
    static THREAD_RECORDER: RefCell<Option<Recorder>> = const { RefCell::new(None) };
}

/// Records into the recorder of whichever runtime thread runs the task at the moment.
struct ThreadSink;

impl Sink for ThreadSink {
    fn record(&mut self, at: Duration, latency: Duration, outcome: &Outcome) {
        THREAD_RECORDER.with_borrow_mut(|r| {
            r.get_or_insert_with(Recorder::default)
                .record(at, latency, outcome);
        });
    }
}

/// This thread's recorder, leaving none behind.
fn take_thread_recorder() -> Option<Recorder> {
    THREAD_RECORDER.with_borrow_mut(Option::take)
}

/// The runtime: the shared single-thread one, or `workers` threads that hand their recorders
/// over as they stop (once each, at shutdown: no lock while the load runs).
fn runtime(
    workers: usize,
    handed_over: &Arc<Mutex<Vec<Recorder>>>,
) -> Result<tokio::runtime::Runtime, RunError> {
    if workers <= 1 {
        return super::runtime(1);
    }
    let handed_over = Arc::clone(handed_over);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .on_thread_stop(move || {
            if let Some(r) = take_thread_recorder() {
                // A poisoned lock only means another thread panicked while pushing; keep going.
                handed_over
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(r);
            }
        })
        .build()
        .map_err(RunError::Runtime)
}

pub fn run(input: &CellInput) -> Result<ModelOutput, RunError> {
    let prepared = input.prepared()?;
    let c = input.cell.concurrency.get();
    let handed_over = Arc::new(Mutex::new(Vec::new()));
    let rt = runtime(input.cell.workers.get(), &handed_over)?;
    // A recorder left behind by an earlier cell on this thread must not leak into this one.
    let _ = take_thread_recorder();
    let shared = Arc::new(Shared::for_cell(input, &prepared, c));
    let mut recorder = Recorder::default();
    let mut notes = Vec::new();
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..c {
            let shared = Arc::clone(&shared);
            let unit = prepared.unit();
            tasks.spawn(async move { user::user(&shared, unit, &mut ThreadSink).await });
        }
        while let Some(done) = tasks.join_next().await {
            if done.is_err() {
                notes.push("a user task panicked (a loadplan bug)".to_string());
            }
        }
    });
    // The single-threaded runtime ran every task on this thread; a multi-threaded one hands its
    // threads' recorders over while it shuts down, which dropping it waits for.
    let (wall, cpu) = super::measured_since(shared.start.get());
    drop(rt);
    if let Some(r) = take_thread_recorder() {
        recorder.merge(&r);
    }
    for r in handed_over
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .drain(..)
    {
        recorder.merge(&r);
    }
    let complete = notes.is_empty();
    Ok(ModelOutput {
        recorder,
        wall,
        cpu,
        peak_rss_bytes: rusage::peak_rss_bytes(),
        notes,
        complete,
    })
}
