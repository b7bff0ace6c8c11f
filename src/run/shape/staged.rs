//! `stages` of `concurrency`: a closed model whose users join and leave as the stages ramp. User
//! `i` of the cell runs while the stages give at least `i + 1` users; otherwise it looks again
//! shortly (stages change on a scale of seconds). During `warmup: 5s` the first stage's users run
//! unmeasured.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::Op;
use crate::run::schedule::UserStages;
use crate::run::share::Share;

/// How often an idle user checks whether the stages give it a turn.
const IDLE_CHECK: Duration = Duration::from_millis(10);

pub struct Staged {
    stages: UserStages,
    warmup: Duration,
    next: AtomicU64,
    /// Operation numbers are this share's residue class, as in `timed.rs`.
    index: u64,
    of: u64,
}

impl Staged {
    pub fn new(stages: &[(Duration, usize)], share: &Share, warmup: Duration) -> Staged {
        Staged {
            stages: UserStages::new(stages),
            warmup,
            next: AtomicU64::new(0),
            index: share.index,
            of: share.of.max(1),
        }
    }

    pub fn warmup(&self) -> Duration {
        self.warmup
    }

    /// The measured phase's length: the stages.
    pub fn length(&self) -> Duration {
        self.stages.end()
    }

    pub async fn next(&self, user: usize, start: Instant) -> Option<Op> {
        let measured = start + self.warmup;
        let end = measured + self.stages.end();
        let first = self.stages.users_at(Duration::ZERO).max(1);
        loop {
            let now = Instant::now();
            if now >= end || crate::run::stopping() {
                return None;
            }
            let active = if now < measured {
                first
            } else {
                self.stages.users_at(now - measured)
            };
            if user < active {
                return Some(Op {
                    n: self.index + self.of * self.next.fetch_add(1, Ordering::Relaxed),
                    due: None,
                    measured: now >= measured,
                });
            }
            tokio::select! {
                () = crate::bare::time::sleep(IDLE_CHECK) => {}
                () = crate::run::stop_requested() => return None,
            }
        }
    }
}
