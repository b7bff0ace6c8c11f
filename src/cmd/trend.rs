//! `loadplan trend`: one HTML page of every cell's numbers across saved runs of one plan.

use std::path::{Path, PathBuf};

use super::say;
use crate::Error;
use crate::stats::Verdict;

pub fn run(paths: &[PathBuf], out: &Path) -> Result<Verdict, Error> {
    let written = crate::report::trend::run(paths, out).map_err(|e| {
        if e.is_input_error() {
            Error::Input(e.to_string())
        } else {
            Error::Failed(anyhow::anyhow!("{e}"))
        }
    })?;
    for s in &written.skipped {
        super::tell!("warning: {}: no summary.json, skipped", s.display());
    }
    say!(
        "trend: {}, {}: {}",
        crate::units::count(written.runs, "run"),
        crate::units::count(written.cells, "cell"),
        written.path.display()
    );
    Ok(Verdict::Passed)
}
