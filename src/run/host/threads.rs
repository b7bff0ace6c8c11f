//! `threads`: one OS thread per user, each with its own connection, each running one operation
//! at a time. The OS switches between them anywhere, and in Rust they compute on several cores at
//! once. A user thread has no runtime: it drives its user's future, and its connections' hyper
//! tasks, itself (`bare::block_on`), waiting in one `poll(2)` on its own sockets, its deadline
//! and an eventfd that other threads wake it through (a stop, the start gate, the open model's
//! arrivals). Every workload runs so: HTTP/1.1 and HTTP/2, TLS, gRPC, streamed responses and
//! WebSocket steps use `bare`'s sockets and timers through the same code as on a runtime.
//!
//! The exception is `connections: N`: the users share connections that outlive any one of them,
//! so those connections' tasks run on a small runtime of the cell's own rather than on whichever
//! user's opened them, and a user waits on them through tokio's I/O driver; each user thread
//! then keeps a single-threaded runtime of its own (sized for the one connection it waits on).
//! The shape's driver (for the open model: start the pacer thread, wait for it, count what it
//! did) runs on the calling thread, on a runtime.
//!
//! Memory follows the cores, not the users, wherever it can: the user threads record into one
//! recorder per core (`run/sink.rs`), and a user's future lives on the heap, not on its thread's
//! small stack.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{drive, measured, prepared, ran_out, shared};
use crate::bare;
use crate::run::share::CellWork;
use crate::run::user::{self, Gate};
use crate::run::{RunError, sink};
use crate::stats::{Measured, Recorder};

/// Small stacks: a user needs little, and a sweep may ask for thousands of threads. Only the
/// pages a thread touches count against memory. Unoptimised builds (the tests') nest far
/// deeper frames through hyper and rustls, and get more.
const STACK_BYTES: usize = if cfg!(debug_assertions) {
    1024 * 1024
} else {
    256 * 1024
};

/// I/O events a user thread's runtime takes per wake-up: it waits on one connection (two with a
/// flow across origins), so tokio's default buffer of 1,024 events (12 KiB) would be waste.
const EVENTS_PER_TICK: usize = 16;

/// A user thread's runtime when its connections are shared: single-threaded, with a small event
/// buffer.
fn user_runtime() -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_io_events_per_tick(EVENTS_PER_TICK)
        .build()
        .map_err(RunError::Runtime)
}

pub fn run(work: &CellWork, progress: Arc<AtomicU64>) -> Result<Measured, RunError> {
    // Shared connections' tasks run on the cell's runtime: their users wait on them on runtimes.
    let on_runtime = work.workload.shares_connections();
    let connections = if on_runtime {
        Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("loadplan-connections")
                .enable_all()
                .build()
                .map_err(RunError::Runtime)?,
        )
    } else {
        None
    };
    let prepared = prepared(work, connections.as_ref().map(|r| r.handle().clone()))?;
    let users: Vec<usize> = work.share.users().collect();
    let shared = shared(work, Gate::open(users.len()), progress);
    let rt = crate::run::runtime(1)?;
    let _ = sink::take();
    let mut notes = Vec::new();
    let mut recorder = Recorder::default();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    // One recorder per core, and with a follower one tap per recorder (`live.rs`).
    let recorders: Vec<_> = (0..cores.clamp(1, users.len().max(1)))
        .map(|_| {
            (
                Arc::new(Mutex::new(Recorder::default())),
                crate::run::live::tap(),
            )
        })
        .collect();
    std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(users.len());
        for (i, &u) in users.iter().enumerate() {
            let (shared, unit) = (&shared, prepared.unit(u, work.seed));
            let (into, tap) = &recorders[i % recorders.len()];
            let (into, tap) = (Arc::clone(into), tap.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("loadplan-user-{u}"))
                .stack_size(STACK_BYTES)
                .spawn_scoped(scope, move || -> Result<Recorder, RunError> {
                    sink::share(into, tap);
                    if on_runtime {
                        user_runtime()?.block_on(user::user(shared, u, unit));
                    } else {
                        // Made in its box: moved by value, the user's future (kilobytes) would
                        // be copied through the thread's small stack, and every page of stack
                        // it touched would stay resident.
                        let user = Box::pin(user::user(shared, u, unit));
                        bare::block_on(user).map_err(RunError::Executor)?;
                    }
                    Ok(sink::take())
                });
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    // The users already started wait for all at the gate: stop them.
                    notes.push(format!(
                        "could not start thread {} of {}: {e}",
                        u + 1,
                        users.len()
                    ));
                    crate::run::request_stop();
                    break;
                }
            }
        }
        rt.block_on(drive(&shared));
        for h in handles {
            match h.join() {
                Ok(Ok(rec)) => recorder.merge(&rec),
                Ok(Err(e)) => notes.push(format!("a user thread failed: {e}")),
                Err(_) => notes.push("a user thread panicked (a loadplan bug)".into()),
            }
        }
    });
    for (r, _) in &recorders {
        recorder.merge(&crate::run::live::lock(r));
    }
    // The driver counted its arrivals on this thread.
    recorder.merge(&sink::take());
    let mut out = measured(&shared, recorder, notes);
    ran_out(work, shared.ran_out.load(Ordering::Relaxed), &mut out);
    Ok(out)
}
