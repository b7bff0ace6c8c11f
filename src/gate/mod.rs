//! The gate stage: a summary in, its verdict out.
//!
//! The verdict alone decides the exit code. A run stopped by a signal is `interrupted`; a cell
//! that lost part of its work (a dead worker) fails the run, because its numbers cannot be
//! trusted as a measurement of the plan. Must not do I/O.

use crate::stats::{Summary, Verdict};

/// Exit codes are API, documented in the README.
pub mod exit {
    /// The run passed every gate.
    pub const PASSED: u8 = 0;
    /// A gate failed: a threshold, a baseline comparison, or an incomplete cell.
    pub const GATE_FAILED: u8 = 1;
    /// The plan or the command line is invalid; nothing was sent.
    pub const INVALID: u8 = 2;
    /// The run could not be carried out (output folder, built-in server, runtime).
    pub const RUN_FAILED: u8 = 3;
    /// Interrupted by Ctrl-C or SIGTERM; partial results were written and marked so.
    pub const INTERRUPTED: u8 = 130;
}

/// Decides the verdict and stores it in the summary.
pub fn evaluate(summary: &mut Summary) -> Verdict {
    let verdict = if summary.verdict == Verdict::Interrupted {
        Verdict::Interrupted
    } else if summary
        .scenarios
        .iter()
        .flat_map(|s| &s.cells)
        .any(|c| !c.complete)
    {
        Verdict::Failed
    } else {
        Verdict::Passed
    };
    summary.verdict = verdict;
    verdict
}

pub fn exit_code(v: Verdict) -> u8 {
    match v {
        Verdict::Passed => exit::PASSED,
        Verdict::Failed => exit::GATE_FAILED,
        Verdict::Interrupted => exit::INTERRUPTED,
    }
}
