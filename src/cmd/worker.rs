//! `loadplan __worker`: one worker process of the `processes` host (hidden; see
//! `run/host/worker.rs` for its protocol).

use crate::Error;
use crate::stats::Verdict;

pub fn run() -> Result<Verdict, Error> {
    crate::run::host::worker::main()?;
    Ok(Verdict::Passed)
}
