//! `async`: C tasks on one tokio runtime. With `workers: 1` (the default) the runtime is a single
//! thread, an event loop like asyncio's: tasks yield only at `.await`, so I/O overlaps but a CPU
//! kernel blocks every other task. `workers: N` gives a multi-threaded runtime.

use std::sync::Arc;

use super::user::{self, Shared};
use super::{CellInput, ModelOutput, RunError};
use crate::stats::{Recorder, rusage};

pub fn run(input: &CellInput) -> Result<ModelOutput, RunError> {
    let prepared = input.prepared()?;
    let c = input.cell.concurrency.get();
    let rt = super::runtime(input.cell.workers.get())?;
    let shared = Arc::new(Shared::new(
        input.load,
        input.scenario.warmup,
        input.scenario.workload.ops_per_pass(),
        c,
        user::go_now(),
        Arc::clone(&input.progress),
        prepared.is_cpu(),
    ));
    let mut recorder = Recorder::default();
    let mut notes = Vec::new();
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..c {
            let shared = Arc::clone(&shared);
            let unit = prepared.unit();
            tasks.spawn(async move {
                let mut rec = Recorder::default();
                user::user(&shared, unit, &mut rec).await;
                rec
            });
        }
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(rec) => recorder.merge(&rec),
                Err(_) => notes.push("a user task panicked (a loadplan bug)".to_string()),
            }
        }
    });
    let (wall, cpu) = super::measured_since(shared.start.get());
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
