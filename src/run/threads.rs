//! `threads`: C OS threads, each with its own connection and its own single-threaded runtime (a
//! thread-local session), each running one operation at a time. The OS switches between them
//! anywhere, and in Rust they compute on several cores at once.

use super::user::{self, Shared};
use super::{CellInput, ModelOutput, RunError};
use crate::stats::{Recorder, rusage};

/// Small stacks: a user needs little, and a sweep may ask for thousands of threads.
const STACK_BYTES: usize = 256 * 1024;

pub fn run(input: &CellInput) -> Result<ModelOutput, RunError> {
    let prepared = input.prepared()?;
    let c = input.cell.concurrency.get();
    let shared = Shared::for_cell(input, &prepared, c);
    let mut notes = Vec::new();
    let mut recorder = Recorder::default();
    let mut complete = true;
    std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(c);
        for i in 0..c {
            let (shared, prepared) = (&shared, &prepared);
            let spawned = std::thread::Builder::new()
                .name(format!("loadplan-user-{i}"))
                .stack_size(STACK_BYTES)
                .spawn_scoped(scope, move || -> Result<Recorder, RunError> {
                    let rt = super::runtime(1)?;
                    let mut rec = Recorder::default();
                    rt.block_on(user::user(shared, prepared.unit(), &mut rec));
                    Ok(rec)
                });
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    // The users already started wait for all at the barrier: stop them.
                    notes.push(format!("could not start thread {} of {c}: {e}", i + 1));
                    complete = false;
                    super::request_stop();
                    break;
                }
            }
        }
        for h in handles {
            match h.join() {
                Ok(Ok(rec)) => recorder.merge(&rec),
                Ok(Err(e)) => {
                    notes.push(format!("a user thread failed: {e}"));
                    complete = false;
                }
                Err(_) => {
                    notes.push("a user thread panicked (a loadplan bug)".into());
                    complete = false;
                }
            }
        }
    });
    let (wall, cpu) = super::measured_since(shared.start.get());
    Ok(ModelOutput {
        recorder,
        wall,
        cpu,
        peak_rss_bytes: rusage::peak_rss_bytes(),
        notes,
        complete,
    })
}
