//! Where users record: each thread owns one recorder, a thread-local that the users (and the open
//! model's dispatcher) running on that thread write into without a lock. Hosts gather the
//! recorders of their threads once the cell is over and merge them; a worker process reads its
//! one thread's recorder between operations to stream snapshots.
//!
//! A recorder per thread rather than per user keeps memory proportional to threads (the runtime's
//! or the OS threads of the `threads` model), never to the users a task-based cell may have. The
//! `threads` model, whose threads *are* its users, shares instead: each of its threads records
//! into one of a few recorders ([`share`]), one per core, so that its memory follows the cores
//! and not the users. Each of its operations then takes that recorder's lock, which only the
//! threads running at that instant (at most one per core) can contend for.
//!
//! When the cell is followed live (`live.rs`), a thread's recorder comes with a tap, taken once
//! when the recorder is made (a shared recorder comes with a shared tap): each write goes to
//! both. Without a follower the tap is `None`, and the only cost is the branch that finds it so.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use super::live;
use crate::stats::Recorder;

/// The recorder this thread writes into.
enum Home {
    Own(Box<Recorder>),
    Shared(Arc<Mutex<Recorder>>),
}

/// This thread's recorder and, when the cell is followed, its tap.
struct Slot {
    home: Option<Home>,
    tap: Option<Arc<Mutex<Recorder>>>,
}

thread_local! {
    static SLOT: RefCell<Slot> = const { RefCell::new(Slot { home: None, tap: None }) };
}

/// Writes into this thread's recorder (its own, created at first use, or the one it shares), and
/// into its tap if it has one: `f` is then called twice, once for each.
pub fn with<R>(f: impl Fn(&mut Recorder) -> R) -> R {
    SLOT.with_borrow_mut(|Slot { home, tap }| {
        let home = home.get_or_insert_with(|| {
            *tap = live::tap();
            Home::Own(Box::default())
        });
        let out = match home {
            Home::Own(r) => f(r),
            Home::Shared(s) => f(&mut live::lock(s)),
        };
        if let Some(t) = tap {
            f(&mut live::lock(t));
        }
        out
    })
}

/// From now on this thread records into `shared`, and into `tap` when the cell is followed
/// (until [`take`]); whoever made them gathers what is recorded there.
pub fn share(shared: Arc<Mutex<Recorder>>, tap: Option<Arc<Mutex<Recorder>>>) {
    SLOT.with_borrow_mut(|s| {
        s.home = Some(Home::Shared(shared));
        s.tap = tap;
    });
}

/// This thread's own recorder, leaving none behind (an empty one if nothing was recorded, or if
/// the thread recorded into a shared one).
pub fn take() -> Recorder {
    let home = SLOT.with_borrow_mut(|s| {
        s.tap = None;
        s.home.take()
    });
    match home {
        Some(Home::Own(r)) => *r,
        Some(Home::Shared(_)) | None => Recorder::default(),
    }
}

/// A copy of what this thread has recorded so far.
pub fn snapshot() -> Recorder {
    SLOT.with_borrow(|s| match &s.home {
        Some(Home::Own(r)) => Recorder::clone(r),
        Some(Home::Shared(r)) => live::lock(r).clone(),
        None => Recorder::default(),
    })
}
