//! Live export: the run's numbers pushed while it goes on to where teams already look. One
//! protocol so far, Prometheus remote write 1.0 (`--export prometheus=URL`, repeatable); never
//! enabled by a plan, so the same plan runs with or without it.
//!
//! Input: the plan (names and what each scenario measures), the run's labels and, while the run
//! goes on, each cell's taps (`run::live`). Output: pushes, and at the end one
//! [`ExportSummary`] per endpoint for `summary.json`. Must not slow, fail or change the run: it
//! runs on a thread of its own with its own runtime, and nothing the run does waits for it.
//!
//! # Where the live data comes from
//!
//! Recorders are thread-local and merged only at a cell's end, so the exporter cannot read
//! them. Instead, while a cell runs with export on, every thread recorder made for it comes with
//! a *tap* (`run/live.rs`): a second recorder, behind a mutex of that thread's own, that receives
//! the same writes. Every interval the collector here swaps each tap for an empty one
//! ([`Taps::harvest`]) and so holds exactly what the cell recorded in that interval, across all
//! its threads: counts, errors by category, connections, per-request statistics and an
//! interval HdrHistogram of latencies (and, in the open model, of send lag). Worker processes
//! harvest taps of their own with each snapshot (twice a second) and send the delta in a `Live`
//! frame; the parent adds it into a tap of the cell. Operations are filed by when they were
//! recorded (their end), unlike the report's timeline, which files them by start: a live
//! series must never change a second it has already pushed.
//!
//! Cost: with export off no tap exists; recording costs one more branch on a field (`None`).
//! With export on, each operation is recorded twice (once into the tap, under an uncontended
//! lock), and the harvest merges a few small recorders per interval on the exporter's thread.
//!
//! # Samples
//!
//! Each push carries the series of the cell running (`series.rs`: names, labels, counters
//! carried across rounds). Intervals count from the cell's start (its warm-up included), every
//! sample stamped with the wall clock at the interval's end in
//! milliseconds (strictly increasing, so no two samples of a series share a timestamp). A cell's
//! end is pushed at once (its final counters equal `summary.json`'s), then the queues drain
//! (`push.rs`). Nothing is pushed between cells.

mod push;
mod series;
mod target;
mod wire;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};

use crate::plan::requests::Mix;
use crate::plan::{Cell, Load, Plan, Workload};
use crate::run::live::{Follower, Taps};
use crate::stats::ExportSummary;
use series::{Interval, RunLabels, ScenarioInfo, Totals};

pub use push::{BACKOFF_FIRST, BACKOFF_MAX, DRAIN, MAX_PENDING};
pub use series::{
    ACTIVE_USERS, BYTES_RECEIVED, CONNECTIONS, ERRORS, LATENCY, LATENCY_BUCKETS, LATENCY_HISTOGRAM,
    OPERATIONS, RESPONSES, SEND_LAG, THROUGHPUT,
};
pub use target::{BEARER_VAR, ExportArg, Kind, PASSWORD_VAR, Target, TargetError, USER_VAR};

/// How often to push unless told otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// What `--export` and `--export-interval` resolved to.
#[derive(Debug, Clone)]
pub struct Settings {
    pub targets: Vec<Target>,
    pub interval: Duration,
}

impl Settings {
    /// Export off.
    pub fn off() -> Settings {
        Settings {
            targets: Vec::new(),
            interval: DEFAULT_INTERVAL,
        }
    }
}

/// What happens in the run, as the collector hears it.
enum Event {
    Started { cell: Cell, taps: Arc<Taps> },
    Finished,
}

/// A running exporter: follows the run's cells, pushes every interval. [`Exporter::finish`]
/// ends it and says how it went.
pub struct Exporter {
    events: mpsc::UnboundedSender<Event>,
    thread: Option<JoinHandle<Vec<ExportSummary>>>,
}

impl Exporter {
    /// Starts exporting a run of `plan` (none without targets). Fails only if its thread cannot
    /// start, before any load.
    pub fn start(
        settings: &Settings,
        plan: &Plan,
        run_id: &str,
        shard: Option<crate::stats::Shard>,
    ) -> std::io::Result<Option<Exporter>> {
        if settings.targets.is_empty() {
            return Ok(None);
        }
        let run = RunLabels {
            plan: plan.name.clone(),
            run_id: run_id.to_string(),
            shard: shard.map(|s| format!("{}/{}", s.index + 1, s.count)),
            part: shard.map_or((0, 1), |s| (s.index as u64, s.count as u64)),
        };
        let scenarios = plan.scenarios.iter().map(scenario_info).collect();
        let (events, rx) = mpsc::unbounded_channel();
        let (targets, interval) = (settings.targets.clone(), settings.interval);
        let thread = std::thread::Builder::new()
            .name("loadplan-export".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match rt {
                    Ok(rt) => rt.block_on(export(targets, interval, run, scenarios, rx)),
                    Err(e) => lost(&targets, &format!("no runtime: {e}")),
                }
            })?;
        Ok(Some(Exporter {
            events,
            thread: Some(thread),
        }))
    }

    /// Pushes what is left and waits for the queues to drain (at most [`DRAIN`] or so).
    pub fn finish(mut self) -> Vec<ExportSummary> {
        self.stop()
    }

    fn stop(&mut self) -> Vec<ExportSummary> {
        // Closing the channel is the signal to finish.
        let (closed, _) = mpsc::unbounded_channel();
        drop(std::mem::replace(&mut self.events, closed));
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop();
        }
    }
}

impl Follower for Exporter {
    fn cell_started(&self, cell: &Cell, _round: usize, taps: Arc<Taps>) {
        let _ = self.events.send(Event::Started {
            cell: cell.clone(),
            taps,
        });
    }

    fn cell_finished(&self, _cell: &Cell, _round: usize) {
        let _ = self.events.send(Event::Finished);
    }
}

fn scenario_info(s: &crate::plan::Scenario) -> ScenarioInfo {
    let (requests, http) = match &s.workload {
        Workload::Http(h) if matches!(h.mix, Mix::Flow(_)) || h.names.len() > 1 => {
            (h.names.clone(), true)
        }
        Workload::Http(_) => (Vec::new(), true),
        Workload::Cpu(_) => (Vec::new(), false),
    };
    ScenarioInfo {
        name: s.name.clone(),
        requests,
        open: matches!(s.load, Load::Open { .. }),
        http,
        fixed_users: matches!(s.load, Load::Repeat(_) | Load::Duration(_)),
    }
}

/// Every target's summary when nothing could be sent at all.
fn lost(targets: &[Target], why: &str) -> Vec<ExportSummary> {
    targets
        .iter()
        .map(|t| ExportSummary {
            kind: t.kind.as_str().to_string(),
            url: t.display.clone(),
            last_error: Some(why.to_string()),
            ..ExportSummary::default()
        })
        .collect()
}

/// The cell being followed.
struct Current {
    cell: Cell,
    taps: Arc<Taps>,
    /// The end of its last interval (its start, at first).
    since: SystemTime,
    /// Intervals pushed so far.
    pushed: u64,
}

/// The exporter's thread: collects every interval, feeds the endpoints' queues, drains them.
async fn export(
    targets: Vec<Target>,
    interval: Duration,
    run: RunLabels,
    scenarios: Vec<ScenarioInfo>,
    mut events: mpsc::UnboundedReceiver<Event>,
) -> Vec<ExportSummary> {
    let (closing_tx, closing) = watch::channel(false);
    let queues: Vec<Arc<push::Queue>> = targets.iter().map(|_| Arc::default()).collect();
    let senders: Vec<_> = targets
        .iter()
        .zip(&queues)
        .map(|(t, q)| tokio::spawn(push::run(t.clone(), Arc::clone(q), closing.clone())))
        .collect();
    let mut collector = Collector {
        run,
        scenarios,
        totals: Vec::new(),
        last_ms: 0,
        queues: &queues,
    };
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut current: Option<Current> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Some(c) = &mut current {
                    collector.push(c);
                }
            }
            event = events.recv() => match event {
                Some(Event::Started { cell, taps }) => {
                    current = Some(Current { cell, taps, since: SystemTime::now(), pushed: 0 });
                    // Each cell's intervals count from its start.
                    tick.reset();
                }
                Some(Event::Finished) => {
                    if let Some(mut c) = current.take() {
                        collector.push(&mut c);
                    }
                }
                None => break,
            },
        }
    }
    if let Some(mut c) = current.take() {
        collector.push(&mut c);
    }
    let _ = closing_tx.send(true);
    // Each sender ends within the drain; the margin only guards against a bug.
    let _ = tokio::time::timeout(DRAIN + Duration::from_secs(1), async {
        for s in senders {
            let _ = s.await;
        }
    })
    .await;
    targets
        .iter()
        .zip(&queues)
        .map(|(t, q)| q.summary(t))
        .collect()
}

/// Turns harvests into encoded intervals for every queue.
struct Collector<'a> {
    run: RunLabels,
    scenarios: Vec<ScenarioInfo>,
    /// Counters per cell, across rounds.
    totals: Vec<(Cell, Totals)>,
    last_ms: i64,
    queues: &'a [Arc<push::Queue>],
}

impl Collector<'_> {
    /// The interval of `c` that ends now, to every endpoint.
    fn push(&mut self, c: &mut Current) {
        let delta = c.taps.harvest();
        let now = SystemTime::now();
        let seconds = now
            .duration_since(c.since)
            .unwrap_or_default()
            .as_secs_f64();
        c.since = now;
        let wall_ms = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let at_ms = wall_ms.max(self.last_ms.saturating_add(1));
        self.last_ms = at_ms;
        let Some(scenario) = self.scenarios.get(c.cell.scenario) else {
            return;
        };
        let at = match self.totals.iter().position(|(cell, _)| *cell == c.cell) {
            Some(i) => i,
            None => {
                self.totals.push((c.cell.clone(), Totals::default()));
                self.totals.len() - 1
            }
        };
        let interval = Interval {
            delta: &delta,
            seconds,
            at_ms,
            first: c.pushed == 0,
        };
        c.pushed += 1;
        let series = series::cell_series(
            &self.run,
            scenario,
            &c.cell,
            &mut self.totals[at].1,
            &interval,
        );
        let encoded = wire::encode(series);
        for q in self.queues {
            q.add(encoded.clone());
        }
    }
}
