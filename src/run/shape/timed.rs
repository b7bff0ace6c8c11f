//! `duration: 30s`: every user loops until the time is up; an operation is started only before
//! the deadline (one that is running then finishes and counts).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::Op;
use crate::run::share::Share;

pub struct Timed {
    length: Duration,
    next: AtomicU64,
}

impl Timed {
    pub fn new(length: Duration, share: &Share) -> Timed {
        Timed {
            length,
            next: AtomicU64::new(share.first_op),
        }
    }

    pub fn length(&self) -> Duration {
        self.length
    }

    pub fn next(&self, start: Instant) -> Option<Op> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        (start.elapsed() < self.length).then_some(Op {
            n,
            due: None,
            measured: true,
        })
    }
}
