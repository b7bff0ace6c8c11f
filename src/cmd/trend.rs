//! `loadplan trend`: one HTML page of every cell's numbers across saved runs of one plan, with
//! their change points; with `--fail-on-change`, a recent shift for the worse fails (exit 1).

use std::path::{Path, PathBuf};

use super::say;
use crate::Error;
use crate::stats::Verdict;

pub fn run(
    paths: &[PathBuf],
    out: &Path,
    fail_on_change: bool,
    recent: usize,
) -> Result<Verdict, Error> {
    let written = crate::report::trend::run(paths, out, recent).map_err(|e| {
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
    if written.regressions.is_empty() {
        return Ok(Verdict::Passed);
    }
    let head = format!(
        "{} for the worse within the last {}:",
        crate::units::count(written.regressions.len(), "change point"),
        crate::units::count(recent, "run")
    );
    if fail_on_change {
        super::tell!("✘ {head}");
    } else {
        say!("{head}");
    }
    for r in &written.regressions {
        if fail_on_change {
            super::tell!("  ✘ {r}");
        } else {
            say!("  {r}");
        }
    }
    Ok(if fail_on_change {
        Verdict::Failed
    } else {
        Verdict::Passed
    })
}
