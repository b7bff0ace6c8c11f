//! The open model: arrivals on a schedule (`rate`, or rate `stages`), whatever the target does.
//!
//! The driver (the dispatcher) is a pacer on an OS thread of its own (`run/pace.rs`): it wakes at
//! each arrival's intended time, to within tens of microseconds, and queues it, unless the
//! operations outstanding (queued + running) have reached this share's in-flight cap: then the
//! arrival is dropped and counted. (A runtime timer would send about a millisecond late, and that
//! lateness would be charged to the target as latency.) The thread runs whatever the host, so
//! every host paces alike; it only queues, and never touches a recorder: its counts are recorded
//! by the driver task that waits for it. Users take arrivals from the queue in order; a user that
//! takes one late sends it late, and its latency is measured from the *intended* start (corrected) as
//! well as from the actual send (uncorrected), so a stall of the target shows in the corrected
//! histogram even though the generator itself was waiting. Arrivals still queued when the
//! schedule and one timeout are over are dropped, so an unreachable rate ends on time. This share
//! takes arrival `n` when `n ≡ index (mod of)`. `warmup: 5s` runs the starting rate for that long
//! first, unmeasured.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::Op;
use crate::run::pace::Pacer;
use crate::run::schedule::Schedule;
use crate::run::share::Share;
use crate::run::sink;

struct Arrival {
    n: u64,
    due: Instant,
    /// False for warm-up arrivals: executed, not recorded.
    record: bool,
}

pub struct Open {
    schedule: Schedule,
    warm: Option<Schedule>,
    warmup: Duration,
    timeout: Duration,
    index: u64,
    of: u64,
    cap: usize,
    /// The dispatcher's end of the queue, dropped when the schedule is over so that users stop.
    tx: Mutex<Option<UnboundedSender<Arrival>>>,
    rx: tokio::sync::Mutex<UnboundedReceiver<Arrival>>,
    /// Operations queued or running, shared with the pacer thread.
    outstanding: Arc<AtomicUsize>,
}

/// What the pacer thread counted in the measured phase.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    scheduled: u64,
    dropped: u64,
}

/// Everything the pacer thread needs, owned, so that it outlives no borrow.
struct Dispatch {
    /// (schedule, its origin, whether its arrivals are measured), in order.
    phases: Vec<(Schedule, Instant, bool)>,
    index: u64,
    of: u64,
    cap: usize,
    outstanding: Arc<AtomicUsize>,
    tx: UnboundedSender<Arrival>,
}

impl Open {
    pub fn new(
        start_rate: f64,
        stages: &[(Duration, f64)],
        share: &Share,
        warmup: Duration,
        timeout: Duration,
    ) -> Open {
        let schedule = Schedule::new(start_rate, stages);
        let warm_rate = start_rate.max(stages.first().map_or(0.0, |s| s.1));
        let warm = (!warmup.is_zero()).then(|| Schedule::new(warm_rate, &[(warmup, warm_rate)]));
        let (tx, rx) = unbounded_channel();
        Open {
            schedule,
            warm,
            warmup,
            timeout,
            index: share.index,
            of: share.of.max(1),
            cap: share.max_in_flight.max(1),
            tx: Mutex::new(Some(tx)),
            rx: tokio::sync::Mutex::new(rx),
            outstanding: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn warmup(&self) -> Duration {
        self.warmup
    }

    /// The measured phase's length: the schedule.
    pub fn length(&self) -> Duration {
        self.schedule.end()
    }

    /// Queues every arrival of this share at its time, from a pacer thread; counts scheduled and
    /// dropped arrivals. Returns when the schedule is over (or the run is being stopped), the
    /// queue then closed.
    pub async fn drive(&self, start: Instant) {
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some(tx) = tx else { return };
        let mut phases = Vec::with_capacity(2);
        if let Some(w) = &self.warm {
            phases.push((w.clone(), start, false));
        }
        phases.push((self.schedule.clone(), start + self.warmup, true));
        let dispatch = Dispatch {
            phases,
            index: self.index,
            of: self.of,
            cap: self.cap,
            outstanding: Arc::clone(&self.outstanding),
            tx,
        };
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("loadplan-pacer".into())
            .spawn(move || {
                let _ = done_tx.send(dispatch.run());
            });
        let counts = match spawned {
            Ok(_) => done_rx.await.unwrap_or_default(),
            // No thread, no arrivals: every one of them is counted as dropped, so the report
            // says the rate was not reached rather than showing an empty cell as healthy.
            Err(_) => {
                let n = self
                    .schedule
                    .arrivals()
                    .saturating_sub(self.index)
                    .div_ceil(self.of);
                Counts {
                    scheduled: n,
                    dropped: n,
                }
            }
        };
        sink::with(|r| {
            let open = r.open_stats();
            open.scheduled += counts.scheduled;
            open.dropped += counts.dropped;
        });
    }

    /// No more arrivals: users stop once the queue is empty.
    pub fn close(&self) {
        self.tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }

    /// The next arrival still worth sending, in order.
    pub async fn next(&self, start: Instant) -> Option<Op> {
        let end_by = start + self.warmup + self.schedule.end() + self.timeout;
        loop {
            let arrival = {
                let mut rx = self.rx.lock().await;
                tokio::select! {
                    a = rx.recv() => a,
                    () = crate::run::stop_requested() => None,
                }
            }?;
            if crate::run::stopping() || Instant::now() > end_by {
                // Too late to matter: the schedule and a timeout are over.
                if arrival.record {
                    sink::with(|r| r.open_stats().dropped += 1);
                }
                self.outstanding.fetch_sub(1, Ordering::Relaxed);
                continue;
            }
            return Some(Op {
                n: arrival.n,
                due: Some(arrival.due),
                measured: arrival.record,
            });
        }
    }

    pub fn done(&self, _op: &Op) {
        self.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Dispatch {
    /// The pacer's loop; the queue closes when it returns (the sender is dropped with it).
    fn run(self) -> Counts {
        let mut pacer = Pacer::new();
        let mut counts = Counts::default();
        for (schedule, origin, record) in &self.phases {
            let mut n = self.index;
            while let Some(offset) = schedule.due(n) {
                let due = *origin + offset;
                if !pacer.wait_until(due, &crate::run::stopping) {
                    return counts;
                }
                counts.scheduled += u64::from(*record);
                if self.outstanding.load(Ordering::Relaxed) >= self.cap {
                    counts.dropped += u64::from(*record);
                } else {
                    self.outstanding.fetch_add(1, Ordering::Relaxed);
                    let arrival = Arrival {
                        n,
                        due,
                        record: *record,
                    };
                    if self.tx.send(arrival).is_err() {
                        return counts;
                    }
                }
                n += self.of;
            }
        }
        counts
    }
}
