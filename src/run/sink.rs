//! Where users record: each thread owns one recorder, a thread-local that the users (and the open
//! model's dispatcher) running on that thread write into without a lock. Hosts gather the
//! recorders of their threads once the cell is over and merge them; a worker process reads its
//! one thread's recorder between operations to stream snapshots.
//!
//! A recorder per thread rather than per user keeps memory proportional to threads (the runtime's
//! or the OS threads of the `threads` model), never to the users a task-based cell may have.

use std::cell::RefCell;

use crate::stats::Recorder;

thread_local! {
    static RECORDER: RefCell<Option<Recorder>> = const { RefCell::new(None) };
}

/// Writes into this thread's recorder, created at first use.
pub fn with<R>(f: impl FnOnce(&mut Recorder) -> R) -> R {
    RECORDER.with_borrow_mut(|r| f(r.get_or_insert_with(Recorder::default)))
}

/// This thread's recorder, leaving none behind (an empty one if nothing was recorded).
pub fn take() -> Recorder {
    RECORDER.with_borrow_mut(Option::take).unwrap_or_default()
}

/// A copy of what this thread has recorded so far.
pub fn snapshot() -> Recorder {
    RECORDER.with_borrow(|r| r.clone().unwrap_or_default())
}
