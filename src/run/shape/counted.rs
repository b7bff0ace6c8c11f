//! `repeat: N`: a fixed number of operations, claimed one at a time by whichever user is free, so
//! a slow user never holds work another could do. Claiming is one relaxed atomic add.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Op;
use crate::run::share::Share;

pub struct Counted {
    next: AtomicU64,
    end: u64,
}

impl Counted {
    pub fn new(share: &Share) -> Counted {
        Counted {
            next: AtomicU64::new(share.first_op),
            end: share.first_op.saturating_add(share.ops),
        }
    }

    pub fn next(&self) -> Option<Op> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        (n < self.end).then_some(Op {
            n,
            due: None,
            measured: true,
        })
    }
}
