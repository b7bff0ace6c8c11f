//! The plan's `before:` and `after:` steps: one user, one iteration, on a runtime of its own,
//! before the first cell and after the last (in each shard's process: a shard is a run). What
//! `before:` captures becomes a variable of every scenario ([`HttpWorkload::preset_from`]).
//!
//! Input: the resolved steps, the base and the variables already known. Output: the captured
//! values, a line for the console saying what was sent, and a recorder of its requests by name
//! (summary.json's `once`). Never records into a cell: these requests are not operations of
//! any scenario.

use std::time::{Duration, Instant};

use super::RunError;
use crate::plan::requests::HttpWorkload;
use crate::stats::Recorder;
use crate::workload::{Prepared, Resolved, Unit};

/// How `before:` or `after:` went.
pub struct Once {
    /// (name, value) of each variable set at its end.
    pub values: Vec<(String, String)>,
    /// Requests sent, and how many failed.
    pub requests: usize,
    pub failed: usize,
    pub took: Duration,
    /// The failure's category and message (masked), if it failed.
    pub error: Option<String>,
    /// Its requests by statistics index (`requests`), each with its count, errors and latency.
    pub recorder: Recorder,
}

impl Once {
    /// `before: 2 requests in 41 ms`, or the failure.
    pub fn describe(&self, key: &str) -> String {
        let sent = crate::units::count(self.requests, "request");
        let took = humantime::format_duration(Duration::from_millis(
            u64::try_from(self.took.as_millis()).unwrap_or(u64::MAX),
        ));
        match &self.error {
            None => format!("{key}: {sent} in {took}"),
            Some(e) => format!("{key}: {sent} in {took}, {} failed: {e}", self.failed),
        }
    }
}

/// Runs `steps` once; `known` are `before:`'s captures (for `after:`).
pub fn run(
    steps: &HttpWorkload,
    base: Option<&url::Url>,
    extra_ca: Option<&str>,
    timeout: Duration,
    known: &[(String, String)],
) -> Result<Once, RunError> {
    let mut steps = steps.clone();
    steps.preset_from(known);
    let resolved = Resolved::new(
        &crate::plan::Workload::Http(Box::new(steps)),
        base,
        extra_ca,
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    let _entered = runtime.enter();
    let prepared = Prepared::new(&resolved, timeout, (0, 1), None)?;
    let Unit::Http(mut session) = prepared.unit(0, fastrand::u64(..)) else {
        return Err(RunError::Before("before/after: not HTTP steps".into()));
    };
    let began = Instant::now();
    let (mut requests, mut failed) = (0, 0);
    let mut recorder = Recorder::default();
    let outcome = runtime.block_on(session.execute(0, &mut |e| {
        requests += 1;
        failed += usize::from(e.error.is_some());
        recorder.record_exchange(began.elapsed(), &e, true);
    }));
    Ok(Once {
        values: session.variables(),
        requests,
        failed,
        took: began.elapsed(),
        recorder,
        error: outcome.error.map(|kind| {
            format!(
                "{}: {}",
                kind.as_str(),
                outcome.message.as_deref().unwrap_or("no message")
            )
        }),
    })
}
