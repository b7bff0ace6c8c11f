//! Load shapes: what each user of a cell does next. One file per shape:
//!
//! - `counted.rs`: `repeat: N`, a fixed number of operations claimed by whichever user is free;
//! - `timed.rs`: `duration: 30s`, every user loops until the time is up;
//! - `staged.rs`: `stages` of `concurrency`, users join and leave as the stages ramp;
//! - `open.rs`: `rate` (and rate `stages`), arrivals on a schedule whatever the target does.
//!
//! A shape is the state one process keeps for its share of a cell. Users ask it for their next
//! operation ([`Shape::next`]) until it says there is none; a shape with a schedule of its own
//! also runs a driver beside the users ([`Shape::drive`], the open model's dispatcher). Where the
//! users run (threads, tasks, worker processes) is the host's business (`run/host/`), so every
//! shape runs on every host through this one interface.
//!
//! The measured phase starts when the first user passes the start gate ([`Shape::begin`]).
//! Closed shapes warm up before the gate ([`Shape::warm_next`]: a count of operations and/or a
//! time), so that connections are open when the clock starts; paced shapes warm up on their own
//! clock after it, at their starting rate or users, and measure from `start + warmup`.

mod counted;
mod open;
mod staged;
mod timed;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::share::CellWork;
use crate::plan::Load;
use crate::stats::rusage;

/// One operation a user is asked to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    /// Its number: picks the target of a target list (`n % targets`).
    pub n: u64,
    /// Open model: when it was due. Latency is measured from here (corrected) as well as from
    /// the actual send (uncorrected).
    pub due: Option<Instant>,
    /// False for warm-up operations of paced shapes: executed, not recorded.
    pub measured: bool,
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

/// A cell share's load shape, with its warm-up and its start.
pub struct Shape {
    kind: Kind,
    warm: Warmup,
    start: OnceLock<Start>,
}

enum Kind {
    Counted(counted::Counted),
    Timed(timed::Timed),
    Staged(staged::Staged),
    Open(open::Open),
}

impl Shape {
    pub fn new(work: &CellWork) -> Shape {
        let share = &work.share;
        let closed_warmup = Warmup {
            ops: share.warmup_ops,
            time: work.warmup_time,
            next: AtomicU64::new(0),
            until: OnceLock::new(),
        };
        let (kind, warm) = match &work.load {
            Load::Repeat(_) => (Kind::Counted(counted::Counted::new(share)), closed_warmup),
            Load::Duration(length) => (
                Kind::Timed(timed::Timed::new(*length, share)),
                closed_warmup,
            ),
            Load::Users(stages) => (
                Kind::Staged(staged::Staged::new(stages, share, work.warmup_time)),
                Warmup::none(),
            ),
            Load::Open {
                start_rate, stages, ..
            } => (
                Kind::Open(open::Open::new(
                    *start_rate,
                    stages,
                    share,
                    work.warmup_time,
                    work.timeout,
                )),
                Warmup::none(),
            ),
            // The search (`run/capacity.rs`) hands hosts open-model probes; a capacity load that
            // reaches a host as it is runs as its first probe would.
            Load::Capacity(c) => (
                Kind::Open(open::Open::new(
                    c.from,
                    &[(c.hold, c.from)],
                    share,
                    work.warmup_time,
                    work.timeout,
                )),
                Warmup::none(),
            ),
        };
        Shape {
            kind,
            warm,
            start: OnceLock::new(),
        }
    }

    /// The number of the next warm-up operation to run before the start gate, if any is left.
    pub fn warm_next(&self) -> Option<u64> {
        self.warm.next()
    }

    /// Fixes the start of the measured phase (the first caller's "now") and returns it.
    pub fn begin(&self) -> Start {
        *self.start.get_or_init(Start::now)
    }

    /// When the measured phase started, if it has.
    pub fn started(&self) -> Option<Start> {
        self.start.get().copied()
    }

    /// When measuring starts: the start, or for paced shapes the start plus their warm-up.
    pub fn measured_start(&self) -> Option<Instant> {
        let start = self.start.get()?.at;
        Some(match &self.kind {
            Kind::Staged(s) => start + s.warmup(),
            Kind::Open(o) => start + o.warmup(),
            Kind::Counted(_) | Kind::Timed(_) => start,
        })
    }

    /// When the measured phase ends, for shapes whose phase is set by time (`None` for counted
    /// loads, which end when their work is done).
    pub fn measured_end(&self) -> Option<Instant> {
        let from = self.measured_start()?;
        match &self.kind {
            Kind::Timed(t) => Some(from + t.length()),
            Kind::Staged(s) => Some(from + s.length()),
            Kind::Open(o) => Some(from + o.length()),
            Kind::Counted(_) => None,
        }
    }

    /// The next operation of user `user` (one of this share's), or `None` when it is done.
    /// Call after [`Shape::begin`]. Ends early once a stop is requested.
    pub async fn next(&self, user: usize) -> Option<Op> {
        let start = self.start.get()?.at;
        if super::stopping() {
            return None;
        }
        match &self.kind {
            Kind::Counted(c) => c.next(),
            Kind::Timed(t) => t.next(start),
            Kind::Staged(s) => s.next(user, start).await,
            Kind::Open(o) => o.next(start).await,
        }
    }

    /// The user finished `op` (whatever its outcome).
    pub fn done(&self, op: &Op) {
        if let Kind::Open(o) = &self.kind {
            o.done(op);
        }
    }

    /// Whether the shape has a driver to run beside the users (see [`Shape::drive`]).
    pub fn has_driver(&self) -> bool {
        matches!(self.kind, Kind::Open(_))
    }

    /// Runs beside the users until the shape's own schedule is over (the open model's
    /// dispatcher); returns at once for shapes without one. Call after [`Shape::begin`].
    pub async fn drive(&self) {
        let Some(start) = self.start.get() else {
            return;
        };
        if let Kind::Open(o) = &self.kind {
            o.drive(start.at).await;
        }
    }

    /// Open model: no more arrivals will come (the driver ended early); users stop waiting.
    pub fn close(&self) {
        if let Kind::Open(o) = &self.kind {
            o.close();
        }
    }
}

/// A closed shape's warm-up: `warmup: N` operations and/or `warmup: 5s`, before the start gate.
struct Warmup {
    ops: u64,
    time: Duration,
    next: AtomicU64,
    /// When the time warm-up ends: fixed by the first warm-up operation.
    until: OnceLock<Instant>,
}

impl Warmup {
    fn none() -> Warmup {
        Warmup {
            ops: 0,
            time: Duration::ZERO,
            next: AtomicU64::new(0),
            until: OnceLock::new(),
        }
    }

    fn next(&self) -> Option<u64> {
        if self.ops == 0 && self.time.is_zero() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let by_time = !self.time.is_zero()
            && Instant::now() < *self.until.get_or_init(|| Instant::now() + self.time);
        (i < self.ops || by_time).then_some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::share::Share;
    use crate::workload::Resolved;

    fn work(load: Load, share: Share) -> CellWork {
        CellWork {
            workload: Resolved::Cpu(crate::plan::Kernel::SumSquares { n: 1 }),
            load,
            share,
            warmup_time: Duration::ZERO,
            timeout: Duration::from_secs(1),
            seed: 0,
            live: false,
            timeline_offset: Duration::ZERO,
            member: None,
        }
    }

    fn drain(shape: &Shape, user: usize) -> Vec<u64> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut out = Vec::new();
            while let Some(op) = shape.next(user).await {
                shape.done(&op);
                out.push(op.n);
            }
            out
        })
    }

    #[test]
    fn counted_shares_claim_their_own_range() {
        let load = Load::Repeat(std::num::NonZeroU64::MIN);
        let whole = Share::whole(4, 10, 3, 1);
        let part = whole.split(1, 2);
        let shape = Shape::new(&work(load, part.clone()));
        let warm: Vec<u64> = std::iter::from_fn(|| shape.warm_next()).collect();
        assert_eq!(warm.len() as u64, part.warmup_ops);
        assert_eq!(
            drain(&shape, 0),
            Vec::<u64>::new(),
            "nothing before the start"
        );
        shape.begin();
        let ops = drain(&shape, 0);
        let want: Vec<u64> = (part.first_op..part.first_op + part.ops).collect();
        assert_eq!(ops, want);
    }

    #[test]
    fn timed_shapes_stop_at_their_length() {
        let shape = Shape::new(&work(
            Load::Duration(Duration::from_millis(30)),
            Share::whole(1, 0, 0, 1),
        ));
        let start = shape.begin();
        let ops = drain(&shape, 0);
        assert!(!ops.is_empty());
        assert!(start.at.elapsed() >= Duration::from_millis(30));
        assert_eq!(shape.measured_start(), Some(start.at));
    }

    #[test]
    fn a_time_warmup_runs_until_its_time_is_up() {
        let mut w = work(
            Load::Duration(Duration::from_millis(1)),
            Share::whole(1, 0, 0, 1),
        );
        w.warmup_time = Duration::from_millis(20);
        let shape = Shape::new(&w);
        let began = Instant::now();
        let mut n = 0;
        while shape.warm_next().is_some() {
            n += 1;
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(n > 1);
        assert!(began.elapsed() >= Duration::from_millis(20));
    }
}
