//! Where users record: each thread owns one recorder, a thread-local that the users (and the open
//! model's dispatcher) running on that thread write into without a lock. Hosts gather the
//! recorders of their threads once the cell is over and merge them; a worker process reads its
//! one thread's recorder between operations to stream snapshots.
//!
//! A recorder per thread rather than per user keeps memory proportional to threads (the runtime's
//! or the OS threads of the `threads` model), never to the users a task-based cell may have.
//!
//! When the cell is followed live (`live.rs`), a thread's recorder comes with a tap, taken once
//! when the recorder is made: each write goes to both. Without a follower the tap is `None`, and
//! the only cost is the branch that finds it so.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use super::live;
use crate::stats::Recorder;

/// This thread's recorder and, when the cell is followed, its tap.
struct Slot {
    recorder: Option<Recorder>,
    tap: Option<Arc<Mutex<Recorder>>>,
}

thread_local! {
    static SLOT: RefCell<Slot> = const { RefCell::new(Slot { recorder: None, tap: None }) };
}

/// Writes into this thread's recorder, created at first use (and into its tap, if it has one:
/// `f` is then called twice, once for each).
pub fn with<R>(f: impl Fn(&mut Recorder) -> R) -> R {
    SLOT.with_borrow_mut(|Slot { recorder, tap }| {
        let r = match recorder {
            Some(r) => r,
            None => {
                *tap = live::tap();
                recorder.insert(Recorder::default())
            }
        };
        let out = f(r);
        if let Some(t) = tap {
            f(&mut live::lock(t));
        }
        out
    })
}

/// This thread's recorder, leaving none behind (an empty one if nothing was recorded).
pub fn take() -> Recorder {
    SLOT.with_borrow_mut(|s| {
        s.tap = None;
        s.recorder.take()
    })
    .unwrap_or_default()
}

/// A copy of what this thread has recorded so far.
pub fn snapshot() -> Recorder {
    SLOT.with_borrow(|s| s.recorder.clone().unwrap_or_default())
}
