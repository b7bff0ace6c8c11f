//! `duration: 30s`: every user loops until the time is up; an operation is started only before
//! the deadline (one that is running then finishes and counts). Operation numbers are this
//! share's residue class (`index + of·k`), so no two parts of a cell number an operation alike
//! (a data file's `unique` rows rely on it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::Op;
use crate::run::share::Share;

pub struct Timed {
    length: Duration,
    next: AtomicU64,
    index: u64,
    of: u64,
}

impl Timed {
    pub fn new(length: Duration, share: &Share) -> Timed {
        Timed {
            length,
            next: AtomicU64::new(0),
            index: share.index,
            of: share.of.max(1),
        }
    }

    pub fn length(&self) -> Duration {
        self.length
    }

    pub fn next(&self, start: Instant) -> Option<Op> {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        (start.elapsed() < self.length).then_some(Op {
            n: self.index + self.of * k,
            due: None,
            measured: true,
        })
    }
}
