//! The open model: arrivals on a schedule (`rate`, or rate `stages`), whatever the target does.
//!
//! The driver (the dispatcher) wakes at each arrival's intended time and queues it, unless the
//! operations outstanding (queued + running) have reached this share's in-flight cap: then the
//! arrival is dropped and counted. Users take arrivals from the queue in order; a user that takes
//! one late sends it late, and its latency is measured from the *intended* start (corrected) as
//! well as from the actual send (uncorrected), so a stall of the target shows in the corrected
//! histogram even though the generator itself was waiting. Arrivals still queued when the
//! schedule and one timeout are over are dropped, so an unreachable rate ends on time. This share
//! takes arrival `n` when `n ≡ index (mod of)`. `warmup: 5s` runs the starting rate for that long
//! first, unmeasured.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::Op;
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
    outstanding: AtomicUsize,
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
            outstanding: AtomicUsize::new(0),
        }
    }

    pub fn warmup(&self) -> Duration {
        self.warmup
    }

    /// Queues every arrival of this share at its time; counts scheduled and dropped arrivals.
    /// Returns when the schedule is over (or the run is being stopped), closing the queue.
    pub async fn drive(&self, start: Instant) {
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some(tx) = tx else { return };
        let phases = [
            (self.warm.as_ref(), start, false),
            (Some(&self.schedule), start + self.warmup, true),
        ];
        for (schedule, origin, record) in phases {
            let Some(schedule) = schedule else { continue };
            let mut n = self.index;
            while let Some(offset) = schedule.due(n) {
                let due = origin + offset;
                tokio::select! {
                    () = tokio::time::sleep_until(due.into()) => {}
                    () = crate::run::stop_requested() => return,
                }
                if record {
                    sink::with(|r| r.open_stats().scheduled += 1);
                }
                if self.outstanding.load(Ordering::Relaxed) >= self.cap {
                    if record {
                        sink::with(|r| r.open_stats().dropped += 1);
                    }
                } else {
                    self.outstanding.fetch_add(1, Ordering::Relaxed);
                    if tx.send(Arrival { n, due, record }).is_err() {
                        return;
                    }
                }
                n += self.of;
            }
        }
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
