//! The run seen live: what each cell recorded since the last look, for whoever follows the run
//! while it goes on (the exporter, `crate::export`). Nothing here exists unless a [`Follower`] is
//! given to `run::execute`.
//!
//! Recording stays thread-local (`sink.rs`). While a cell runs with a follower, the cell is
//! *armed*: every thread recorder created for it also gets a **tap**, a second recorder of its
//! own behind a mutex, registered with the cell's [`Taps`]. The thread records each operation
//! into both; the follower [`Taps::harvest`]s every tap once per interval, swapping in empty
//! ones, and so gets exactly what the cell did in that interval, across all its threads. The
//! mutex is the thread's own: only the harvest, once per interval, ever contends for it.
//!
//! Worker processes arm a [`Taps`] of their own when their [`CellWork`](super::CellWork) says
//! `live`, harvest it with every snapshot (twice a second) and send the delta in a `Live`
//! frame; the parent adds those into a tap of the cell it runs, so the follower sees them
//! like any thread's. Unarmed (no follower), a thread recorder has no tap and recording costs
//! one branch more.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::plan::Cell;
use crate::stats::Recorder;

/// Follows the cells as they run; told on the run's thread, so it must not block.
pub trait Follower {
    /// Cell `cell` (its round `round`) starts; `taps` hold what it records from now on.
    fn cell_started(&self, cell: &Cell, round: usize, taps: Arc<Taps>);
    /// The cell started last is over: everything it recorded is in its taps.
    fn cell_finished(&self, cell: &Cell, round: usize);
}

/// One recorder per thread (or per worker process) that records a cell, harvested together.
#[derive(Debug, Default)]
pub struct Taps {
    taps: Mutex<Vec<Arc<Mutex<Recorder>>>>,
}

impl Taps {
    /// A new tap, for one more recording thread.
    pub fn tap(&self) -> Arc<Mutex<Recorder>> {
        let tap = Arc::new(Mutex::new(Recorder::default()));
        lock(&self.taps).push(Arc::clone(&tap));
        tap
    }

    /// Everything recorded since the last harvest, merged; the taps start again empty.
    pub fn harvest(&self) -> Recorder {
        let taps = lock(&self.taps).clone();
        let mut all = Recorder::default();
        for tap in taps {
            // The empty recorder is made before the lock: the recording thread waits only for
            // the swap.
            let fresh = Recorder::default();
            let delta = std::mem::replace(&mut *lock(&tap), fresh);
            all.merge(&delta);
        }
        all
    }
}

/// A lock that survives a panic elsewhere: a recorder is plain counters, valid at any point.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The taps of the cell running now in this process, if it is followed.
static ARMED: Mutex<Option<Arc<Taps>>> = Mutex::new(None);

/// Arms a cell's taps while it lives (nothing when `None`), disarms when dropped.
pub struct Armed(bool);

impl Armed {
    pub fn new(taps: Option<Arc<Taps>>) -> Armed {
        let on = taps.is_some();
        if on {
            *lock(&ARMED) = taps;
        }
        Armed(on)
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        if self.0 {
            *lock(&ARMED) = None;
        }
    }
}

/// A new tap of the armed cell, if any (asked once per thread recorder, never per operation).
pub fn tap() -> Option<Arc<Mutex<Recorder>>> {
    lock(&ARMED).as_ref().map(|t| t.tap())
}

/// Whether a cell is armed now (worker processes are then asked to send `Live` frames).
pub fn armed() -> bool {
    lock(&ARMED).is_some()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::workload::Outcome;

    #[test]
    fn a_harvest_is_what_was_recorded_since_the_last() {
        let taps = Taps::default();
        let (a, b) = (taps.tap(), taps.tap());
        let op = |t: &Arc<Mutex<Recorder>>, us| {
            lock(t).record(
                Duration::ZERO,
                Duration::from_micros(us),
                &Outcome::default(),
            );
        };
        op(&a, 100);
        op(&b, 200);
        op(&b, 300);
        let first = taps.harvest();
        assert_eq!((first.operations, first.latency.len()), (3, 3));
        op(&a, 400);
        let second = taps.harvest();
        assert_eq!(second.operations, 1);
        assert_eq!(second.latency.max(), 400);
        assert_eq!(taps.harvest().operations, 0);
    }
}
