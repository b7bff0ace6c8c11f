//! `sequential`: one user on the main thread, one operation at a time: the baseline every speedup
//! is measured against. It is the `async` host with one user on a one-thread runtime, which runs
//! its task on the calling thread.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::run::RunError;
use crate::run::share::CellWork;
use crate::stats::Measured;

pub fn run(work: &CellWork, progress: Arc<AtomicU64>) -> Result<Measured, RunError> {
    super::asynchronous::run(work, 1, progress)
}
