//! The loop of one user, the same in every model: warm up, wait for the start, then claim and
//! execute operations until the count or the time is used up, recording each into its own sink.
//!
//! Models differ only in what runs these loops (the main thread, OS threads, tokio tasks, worker
//! processes). Claiming an operation is one relaxed atomic add; nothing else is shared per
//! operation.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::sync::{Barrier, watch};

use crate::stats::{Recorder, rusage};
use crate::workload::{Outcome, Unit};

/// How much work a cell (or one worker process's share of it) has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CellLoad {
    /// Operation numbers `first .. first + count`, claimed by whichever user is free.
    Repeat { first: u64, count: u64 },
    /// Every user loops until this long after the start.
    Duration { micros: u64 },
}

/// When the measured phase started, in wall time and in this process's CPU time.
#[derive(Debug, Clone, Copy)]
pub struct Start {
    pub at: Instant,
    pub cpu: Duration,
}

impl Start {
    pub fn now() -> Start {
        Start {
            cpu: rusage::cpu_time(),
            at: Instant::now(),
        }
    }
}

/// What the users of one cell (in one process) share.
pub struct Shared {
    load: CellLoad,
    next: AtomicU64,
    warmup: u64,
    warm_next: AtomicU64,
    ops_per_pass: u64,
    /// All users (plus the coordinator, in a worker process) meet here after warming up.
    barrier: Barrier,
    /// Flipped to true to start the measured phase.
    go: watch::Receiver<bool>,
    pub start: OnceLock<Start>,
    /// Measured operations finished so far, for the progress display.
    pub progress: Arc<AtomicU64>,
    yield_between_ops: bool,
    /// Warm-up by time (`warmup: 5s`), beside or instead of the count.
    warm_time: Duration,
    warm_until: OnceLock<Instant>,
}

impl Shared {
    /// `parties` is the number of users, plus one when a coordinator also waits on the barrier.
    pub fn new(
        load: CellLoad,
        warmup: u64,
        ops_per_pass: u64,
        parties: usize,
        go: watch::Receiver<bool>,
        progress: Arc<AtomicU64>,
        cpu_bound: bool,
    ) -> Shared {
        let first = match load {
            CellLoad::Repeat { first, .. } => first,
            CellLoad::Duration { .. } => 0,
        };
        Shared {
            load,
            next: AtomicU64::new(first),
            warmup,
            warm_next: AtomicU64::new(0),
            ops_per_pass: ops_per_pass.max(1),
            barrier: Barrier::new(parties),
            go,
            start: OnceLock::new(),
            progress,
            // A kernel never awaits: yielding after each operation lets the other tasks of a
            // single-threaded runtime take turns, as asyncio would between awaits.
            yield_between_ops: cpu_bound,
            warm_time: Duration::ZERO,
            warm_until: OnceLock::new(),
        }
    }

    /// The shared state of an in-process cell of `parties` users, started at once.
    pub fn for_cell(
        input: &super::CellInput,
        prepared: &crate::workload::Prepared,
        parties: usize,
    ) -> Shared {
        Shared::new(
            input.load,
            input.scenario.warmup,
            input.scenario.workload.ops_per_pass(),
            parties,
            go_now(),
            Arc::clone(&input.progress),
            prepared.is_cpu(),
        )
        .with_warm_time(input.scenario.warmup_time)
    }

    /// `warmup: 5s`: users also warm up until this long after the first of them starts.
    pub fn with_warm_time(mut self, warm_time: Duration) -> Shared {
        self.warm_time = warm_time;
        self
    }

    /// Whether warm-up operation `i` (claimed now) is still part of the warm-up.
    fn warming(&self, i: u64) -> bool {
        i < self.warmup
            || (!self.warm_time.is_zero()
                && Instant::now()
                    < *self
                        .warm_until
                        .get_or_init(|| Instant::now() + self.warm_time))
    }

    /// The coordinator's side of the barrier (worker processes only).
    pub async fn wait_warm(&self) {
        self.barrier.wait().await;
    }
}

/// A started-now `go` signal, for models without a coordinator.
pub fn go_now() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(true);
    drop(tx);
    rx
}

/// Where a user records. A plain recorder in-process; a shared cell in a worker process, so that
/// the snapshot task can read it between operations.
pub trait Sink {
    fn record(&mut self, at: Duration, latency: Duration, outcome: &Outcome);
}

impl Sink for Recorder {
    fn record(&mut self, at: Duration, latency: Duration, outcome: &Outcome) {
        Recorder::record(self, at, latency, outcome);
    }
}

impl Sink for Rc<RefCell<Recorder>> {
    fn record(&mut self, at: Duration, latency: Duration, outcome: &Outcome) {
        self.borrow_mut().record(at, latency, outcome);
    }
}

/// Runs one user to the end of the cell.
pub async fn user<S: Sink>(shared: &Shared, mut unit: Unit, sink: &mut S) {
    // Warm-up: the same operations, on the same connection, not recorded.
    let mut stop = StopWatch::new();
    loop {
        if super::stopping() {
            break;
        }
        let i = shared.warm_next.fetch_add(1, Ordering::Relaxed);
        if !shared.warming(i) {
            break;
        }
        if stop
            .execute(&mut unit, i % shared.ops_per_pass)
            .await
            .is_none()
        {
            break;
        }
        if shared.yield_between_ops {
            tokio::task::yield_now().await;
        }
    }
    shared.barrier.wait().await;
    let mut go = shared.go.clone();
    // A closed channel after `true` was sent still reads `true`.
    let _ = go.wait_for(|g| *g).await;
    let start = *shared.start.get_or_init(Start::now);
    let deadline = match shared.load {
        CellLoad::Duration { micros } => Some(start.at + Duration::from_micros(micros)),
        CellLoad::Repeat { .. } => None,
    };
    loop {
        if super::stopping() {
            break;
        }
        let op = shared.next.fetch_add(1, Ordering::Relaxed);
        match shared.load {
            CellLoad::Repeat { first, count } if op >= first + count => break,
            _ => {}
        }
        // One clock read serves both the deadline check and the operation's start.
        let began = Instant::now();
        if deadline.is_some_and(|d| began >= d) {
            break;
        }
        let Some(outcome) = stop.execute(&mut unit, op).await else {
            break;
        };
        let ended = Instant::now();
        sink.record(ended - start.at, ended - began, &outcome);
        shared.progress.fetch_add(1, Ordering::Relaxed);
        if shared.yield_between_ops {
            tokio::task::yield_now().await;
        }
    }
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
    async fn execute(&mut self, unit: &mut Unit, op: u64) -> Option<Outcome> {
        if let Unit::Cpu(k) = unit {
            // A kernel never awaits; it looks at the stop flag itself while it computes.
            return crate::workload::kernel_until(k, &super::stopping);
        }
        let mut work = std::pin::pin!(unit.execute(op));
        std::future::poll_fn(|cx| {
            if self.poll_stop(cx).is_ready() {
                return Poll::Ready(None);
            }
            work.as_mut().poll(cx).map(Some)
        })
        .await
    }
}
