//! The loop of one user, the same under every host and every load shape: warm up, pass the start
//! gate, then ask the shape for operations until it has none, executing each on the user's own
//! unit (its connection) and recording it into this thread's recorder.
//!
//! Hosts differ only in what runs these loops (the main thread, OS threads, tokio tasks, worker
//! processes); shapes differ only in what they answer. Nothing is shared per operation but the
//! shape's counters.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use tokio::sync::{Barrier, watch};

use super::shape::{Op, Shape};
use super::sink;
use crate::workload::{Exchange, Outcome, Unit};

/// What the users of one cell share in one process.
pub struct Shared {
    pub shape: Shape,
    pub gate: Gate,
    /// Measured operations finished so far, for the progress display.
    pub progress: Arc<AtomicU64>,
    /// A kernel never awaits: yielding after each operation lets the other tasks of a
    /// single-threaded runtime take turns, as asyncio's would between awaits.
    pub yield_between_ops: bool,
    /// The seed of the users' random choices.
    pub seed: u64,
    /// Whether requests keep statistics of their own (several names, or a flow); with one
    /// request, the cell's statistics are its.
    pub per_request: bool,
    /// A user of the measured phase found the data file's unique rows used up: the cell did
    /// less than its load asked. Set once per user that stops for it, never per operation.
    pub ran_out: AtomicBool,
    /// Added to every operation's place on the timeline ([`CellWork::timeline_offset`]).
    pub timeline_offset: std::time::Duration,
}

/// Where users meet before the measured phase: all of them (and a coordinator, in a worker
/// process) once warm, then a `go` signal.
pub struct Gate {
    barrier: Barrier,
    go: watch::Receiver<bool>,
    /// A group member's place (`run/group.rs`): after `go`, the group's start and its offset.
    member: Option<super::group::Member>,
}

impl Gate {
    /// `parties` users (plus one when a coordinator waits too); `go` flips to true to start.
    pub fn new(parties: usize, go: watch::Receiver<bool>) -> Gate {
        Gate {
            barrier: Barrier::new(parties.max(1)),
            go,
            member: None,
        }
    }

    /// This gate also waits for the group `member` belongs to (`run/group.rs`): the last of its
    /// parties to arrive reports the member ready.
    pub fn with_member(mut self, member: Option<super::group::Member>) -> Gate {
        self.member = member;
        self
    }

    /// A gate for `parties` users that opens as soon as they are all there.
    pub fn open(parties: usize) -> Gate {
        let (tx, rx) = watch::channel(true);
        drop(tx);
        Gate::new(parties, rx)
    }

    /// Waits for every party, then for `go`; a stop request lets everyone through.
    pub async fn pass(&self) {
        self.arrive().await;
        self.go_signal().await;
    }

    /// Waits for every party only (for a coordinator, before it reports ready).
    pub async fn arrive(&self) {
        tokio::select! {
            r = self.barrier.wait() => {
                if let (true, Some(m)) = (r.is_leader(), &self.member) {
                    m.ready();
                }
            }
            () = super::stop_requested() => {}
        }
    }

    /// Waits for `go` only (for a driver that is not a party).
    pub async fn go_signal(&self) {
        let mut go = self.go.clone();
        tokio::select! {
            // A closed channel after `true` was sent still reads `true`.
            _ = go.wait_for(|g| *g) => {}
            () = super::stop_requested() => {}
        }
        if let Some(m) = &self.member {
            m.start().await;
        }
    }
}

/// Runs user `user` (one of the share's) to the end of the cell.
pub async fn user(shared: &Shared, user: usize, mut unit: Unit) {
    let mut stop = StopWatch::new();
    // Warm-up: the same operations, on the same connection, not recorded.
    while let Some(n) = shared.shape.warm_next() {
        let done = if super::stopping() {
            None
        } else {
            stop.execute(&mut unit, n, &mut |_| {}).await
        };
        if done.is_none_or(|o| o.exhausted) {
            break;
        }
        if shared.yield_between_ops {
            tokio::task::yield_now().await;
        }
    }
    shared.gate.pass().await;
    shared.shape.begin();
    let Some(measured_start) = shared.shape.measured_start() else {
        return;
    };
    let window = Window {
        start: measured_start,
        end: shared.shape.measured_end(),
        offset: shared.timeline_offset,
    };
    while let Some(op) = shared.shape.next(user).await {
        let sent = Instant::now();
        let mut exchanges = |e: Exchange| {
            if op.measured {
                let at = window.at(sent);
                sink::with(|r| r.record_exchange(at, &e, shared.per_request));
            }
        };
        let outcome = stop.execute(&mut unit, op.n, &mut exchanges).await;
        let ended = Instant::now();
        shared.shape.done(&op);
        let Some(outcome) = outcome else {
            break;
        };
        if outcome.exhausted {
            shared.ran_out.store(true, Ordering::Relaxed);
            break;
        }
        if op.measured {
            record(&op, &window, sent, ended, &outcome);
            shared.progress.fetch_add(1, Ordering::Relaxed);
        }
        if shared.yield_between_ops {
            tokio::task::yield_now().await;
        }
    }
}

/// The measured phase: its start, and for shapes that set it by time, its end.
struct Window {
    start: Instant,
    end: Option<Instant>,
    /// Where `start` falls on the cell's timeline (a slice's: the slices before it).
    offset: std::time::Duration,
}

impl Window {
    /// Where an operation that started at `began` goes in the per-second timeline: its start
    /// since the measured start. An operation the shape let start just inside the phase but sent
    /// a hair after its end stays in the last second: seconds past the end would be slivers
    /// whose rate means nothing.
    fn at(&self, began: Instant) -> std::time::Duration {
        let began = match self.end {
            Some(end) => began.min(end.checked_sub(NUDGE).unwrap_or(end)),
            None => began,
        };
        began.saturating_duration_since(self.start) + self.offset
    }
}

/// How far before the phase's end an operation sent after it is placed.
const NUDGE: std::time::Duration = std::time::Duration::from_micros(1);

/// Records one finished operation: in the timeline at its start (for an open-model arrival, its
/// intended start), with its latency from its start less what is not its own (a kept
/// connection's setup, a flow's think time); for an open-model arrival, from its intended start
/// with everything but think time, the send's lateness beside. Binning by start keeps a
/// timeline's seconds to the arrivals or starts the shape made in them: by end, the last second
/// of a steady open run held one more operation than its length gave room for, and read as a
/// spike.
fn record(op: &Op, window: &Window, sent: Instant, ended: Instant, outcome: &Outcome) {
    let own = ended
        .saturating_duration_since(sent)
        .saturating_sub(outcome.excluded);
    sink::with(|r| match op.due {
        Some(due) => r.record_open(
            window.at(due),
            ended
                .saturating_duration_since(due)
                .saturating_sub(outcome.think),
            own,
            sent.saturating_duration_since(due),
            outcome,
        ),
        None => r.record(window.at(sent), own, outcome),
    });
}

/// Lets a user abandon an operation when the run is being stopped.
///
/// The stop notification is registered once per user task rather than once per operation:
/// registering (and every poll of a registered notification) takes the notifier's lock, while
/// checking the stop flag when the task wakes is one atomic load.
struct StopWatch {
    notified: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// The waker the notification was registered with.
    registered: Option<Waker>,
}

impl StopWatch {
    fn new() -> StopWatch {
        StopWatch {
            notified: Box::pin(super::stop_requested()),
            registered: None,
        }
    }

    /// Ready once a stop was requested; registers `cx`'s waker unless it already is.
    fn poll_stop(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if super::stopping() {
            return Poll::Ready(());
        }
        if self
            .registered
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        self.registered = Some(cx.waker().clone());
        self.notified.as_mut().poll(cx)
    }

    /// One operation, abandoned (`None`) if the run is being stopped meanwhile.
    async fn execute(
        &mut self,
        unit: &mut Unit,
        op: u64,
        exchanges: &mut (dyn FnMut(Exchange) + Send),
    ) -> Option<Outcome> {
        if let Unit::Cpu(k) = unit {
            // A kernel never awaits; it looks at the stop flag itself while it computes.
            return crate::workload::kernel_until(k, &super::stopping);
        }
        let mut work = std::pin::pin!(unit.execute(op, exchanges));
        std::future::poll_fn(|cx| {
            if self.poll_stop(cx).is_ready() {
                return Poll::Ready(None);
            }
            work.as_mut().poll(cx).map(Some)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU64;
    use std::time::Duration;

    use super::*;
    use crate::plan::{Kernel, Load};
    use crate::run::share::{CellWork, Share};
    use crate::workload::{Prepared, Resolved};

    fn shared(load: Load, share: Share, warmup_time: Duration) -> (Shared, Prepared) {
        let work = CellWork {
            workload: Resolved::Cpu(Kernel::SumSquares { n: 10 }),
            load,
            share: share.clone(),
            warmup_time,
            timeout: Duration::from_secs(1),
            seed: 0,
            live: false,
            timeline_offset: Duration::ZERO,
            member: None,
        };
        let prepared = Prepared::new(&work.workload, work.timeout, (0, 1), None).expect("prepared");
        (
            Shared {
                shape: Shape::new(&work),
                gate: Gate::open(share.user_count()),
                progress: Arc::new(AtomicU64::new(0)),
                yield_between_ops: true,
                seed: 0,
                per_request: false,
                ran_out: AtomicBool::new(false),
                timeline_offset: Duration::ZERO,
            },
            prepared,
        )
    }

    fn run_users(shared: &Shared, prepared: &Prepared, users: &[usize]) -> crate::stats::Recorder {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let _ = sink::take();
        rt.block_on(async {
            let tasks = users
                .iter()
                .map(|u| user(shared, *u, prepared.unit(*u, 0)))
                .collect::<Vec<_>>();
            let driver = async {
                if shared.shape.has_driver() {
                    shared.gate.go_signal().await;
                    shared.shape.begin();
                    shared.shape.drive().await;
                    shared.shape.close();
                }
            };
            futures_join(tasks, driver).await;
        });
        sink::take()
    }

    /// Polls every user future and the driver together on this thread.
    async fn futures_join(users: Vec<impl Future<Output = ()>>, driver: impl Future<Output = ()>) {
        let mut all: Vec<Pin<Box<dyn Future<Output = ()> + '_>>> =
            users.into_iter().map(|f| Box::pin(f) as _).collect();
        all.push(Box::pin(driver));
        let mut done = vec![false; all.len()];
        std::future::poll_fn(|cx| {
            for (f, d) in all.iter_mut().zip(done.iter_mut()) {
                if !*d && f.as_mut().poll(cx).is_ready() {
                    *d = true;
                }
            }
            if done.iter().all(|d| *d) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    #[test]
    fn a_slices_operations_follow_the_slices_before_it_on_the_timeline() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        // (offset: the measured time of the slices before, an operation's start, its second)
        let cases = [
            (ms(0), ms(300), 0),
            (ms(900), ms(300), 1),
            (ms(2_500), ms(600), 3),
        ];
        for (offset, began, second) in cases {
            let w = Window {
                start,
                end: None,
                offset,
            };
            assert_eq!(
                w.at(start + began).as_secs(),
                second,
                "{offset:?} + {began:?}"
            );
        }
    }

    #[test]
    fn counted_users_record_every_operation_once() {
        let (s, p) = shared(
            Load::Repeat(NonZeroU64::MIN),
            Share::whole(3, 25, 4, 1),
            Duration::ZERO,
        );
        let rec = run_users(&s, &p, &[0, 1, 2]);
        assert_eq!(rec.operations, 25);
        assert_eq!(rec.latency.len(), 25);
        assert_eq!(s.progress.load(Ordering::Relaxed), 25);
    }

    #[test]
    fn open_users_record_corrected_and_uncorrected_latency() {
        let load = Load::Open {
            start_rate: 200.0,
            stages: vec![(Duration::from_millis(100), 200.0)],
            max_in_flight: std::num::NonZeroUsize::MIN.saturating_add(9),
        };
        let (s, p) = shared(load, Share::whole(2, 0, 0, 10), Duration::from_millis(20));
        let rec = run_users(&s, &p, &[0, 1]);
        let open = rec.open.as_ref().expect("open stats");
        assert_eq!(open.scheduled, 20, "200/s for 100 ms");
        assert_eq!(rec.operations + open.dropped, open.scheduled);
        assert_eq!(open.uncorrected.len(), rec.operations);
        assert_eq!(open.lag.len(), rec.operations);
    }

    #[test]
    fn staged_users_take_turns_by_the_stages() {
        let load = Load::Users(vec![
            (Duration::from_millis(40), 1),
            (Duration::ZERO, 2),
            (Duration::from_millis(40), 2),
        ]);
        let (s, p) = shared(load, Share::whole(2, 0, 0, 1), Duration::ZERO);
        let rec = run_users(&s, &p, &[0, 1]);
        assert!(rec.operations > 0);
        let start = s.shape.started().expect("started").at;
        assert!(start.elapsed() >= Duration::from_millis(80));
    }
}
