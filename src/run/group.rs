//! Scenario groups (`group: NAME`): the members' cells of one position (same model, same place in
//! their sweeps, same round) run at the same time, each on a host of its own, from one start.
//!
//! Input: each member's [`CellWork`], built as for a lone cell. Output: one measured cell per
//! member, as if it had run alone, so that every figure per scenario and per request stays what
//! it is today; the group's combined figures are the stats stage's business. The start is a
//! [`Together`]: each member's host reports once its users are warm and connected (the leader of
//! its start gate, or the processes host's coordinator once its workers are ready), and when
//! every member has, one instant is fixed, the group's clock; a member with `start: 2s` begins
//! 2 s after it. This file never looks at the load, never records and never prints.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// Where the members of one group position meet before their measured phases.
#[derive(Debug)]
pub struct Together {
    /// Which members have reported (warm, or given up).
    arrived: Mutex<Vec<bool>>,
    /// The group's start, once every member has reported.
    go: watch::Sender<Option<Instant>>,
}

impl Together {
    /// A meeting of `members` members, none arrived.
    pub fn new(members: usize) -> Arc<Together> {
        Arc::new(Together {
            arrived: Mutex::new(vec![false; members]),
            go: watch::Sender::new(None),
        })
    }

    /// Member `k` is ready (or will never be: a host that failed reports too, so that no other
    /// member waits for it). The last one fixes the start.
    fn arrive(&self, k: usize) {
        let mut arrived = self.arrived.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(a) = arrived.get_mut(k) {
            *a = true;
        }
        if arrived.iter().all(|a| *a) {
            self.go.send_if_modified(|go| {
                if go.is_none() {
                    *go = Some(Instant::now());
                    true
                } else {
                    false
                }
            });
        }
    }
}

/// One member's place in a [`Together`]: its index and its start offset.
#[derive(Debug, Clone)]
pub struct Member {
    together: Arc<Together>,
    index: usize,
    offset: Duration,
}

impl PartialEq for Member {
    fn eq(&self, other: &Member) -> bool {
        Arc::ptr_eq(&self.together, &other.together)
            && self.index == other.index
            && self.offset == other.offset
    }
}

impl Member {
    pub fn new(together: &Arc<Together>, index: usize, offset: Duration) -> Member {
        Member {
            together: Arc::clone(together),
            index,
            offset,
        }
    }

    /// This member's users are warm and connected (idempotent).
    pub fn ready(&self) {
        self.together.arrive(self.index);
    }

    /// Waits for the group's start and then this member's offset; a stop request ends the wait.
    pub async fn start(&self) {
        let mut go = self.together.go.subscribe();
        let wait = async {
            let Ok(at) = go.wait_for(Option::is_some).await.map(|g| *g) else {
                return;
            };
            if let Some(at) = at {
                crate::bare::time::sleep_until(at + self.offset).await;
            }
        };
        tokio::select! {
            () = wait => {}
            () = super::stop_requested() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nobody starts before the last member is ready, everyone starts from the same instant, and
    /// an offset member starts that much later.
    #[test]
    fn members_start_together_from_the_last_arrival() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let t = Together::new(2);
        let (a, b) = (
            Member::new(&t, 0, Duration::ZERO),
            Member::new(&t, 1, Duration::from_millis(30)),
        );
        a.ready();
        a.ready();
        assert!(t.go.borrow().is_none(), "one of two arrived (twice)");
        b.ready();
        let go = t.go.borrow().expect("started");
        rt.block_on(async {
            a.start().await;
            b.start().await;
        });
        assert!(go.elapsed() >= Duration::from_millis(30));
    }
}
