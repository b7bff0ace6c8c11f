//! `loadplan compare A B`: the comparison page of two saved runs, B against the baseline A.
//!
//! Reads each run (a run folder or a `summary.json`) through the one loader of saved results,
//! has the gate compare B with A as `run --baseline` would (the default tolerances: saved runs
//! come without their plan's), has `report::compare` render the page, and writes it (by default
//! `compare.html` in B's folder). Exit 1 when a check regressed, as `run --baseline` would. Must
//! not render or decide anything itself.

use std::path::{Path, PathBuf};

use super::{say, write_atomic};
use crate::plan::BaselineSettings;
use crate::report::compare::{self, Compared};
use crate::stats::{Outcome, Verdict};
use crate::{Error, gate};

/// A run folder names its `summary.json`.
fn summary_file(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join("summary.json")
    } else {
        p.to_path_buf()
    }
}

pub fn run(baseline: &Path, current: &Path, out: Option<&Path>) -> Result<Verdict, Error> {
    let (bfile, cfile) = (summary_file(baseline), summary_file(current));
    let base = gate::baseline::load(&bfile).map_err(|e| Error::Input(e.to_string()))?;
    let cur = gate::baseline::load(&cfile)
        .map_err(|e| Error::Input(e.to_string().replacen("the baseline", "the run", 1)))?;
    if base.plan.name != cur.plan.name {
        say!(
            "note: comparing runs of two plans (`{}` and `{}`): only cells of the same scenario name, model and concurrency are compared",
            base.plan.name,
            cur.plan.name
        );
    }
    let report = gate::baseline::compare(
        &cur,
        &[gate::baseline::Run {
            file: &bfile,
            summary: &base,
        }],
        BaselineSettings::default(),
    );
    if report.checks.is_empty() {
        return Err(Error::Input(format!(
            "{} and {} have no cell in common (same scenario, model and concurrency): nothing to compare",
            bfile.display(),
            cfile.display()
        )));
    }
    let (bname, cname) = (bfile.display().to_string(), cfile.display().to_string());
    let page = compare::render(&Compared {
        baseline: &base,
        baseline_file: &bname,
        current: &cur,
        current_file: &cname,
        report: &report,
    })?;
    let path = match out {
        Some(p) => p.to_path_buf(),
        None => cfile
            .parent()
            .map_or_else(|| PathBuf::from("compare.html"), |d| d.join("compare.html")),
    };
    write_atomic(&path, page.as_bytes())?;
    let regressed = report
        .checks
        .iter()
        .filter(|k| k.outcome == Outcome::Regressed)
        .count();
    say!(
        "compare: {} against {}: {}: {}",
        cur.run_id,
        base.run_id,
        crate::report::insight::outcome_counts(&report.checks),
        path.display()
    );
    Ok(if regressed > 0 {
        Verdict::Failed
    } else {
        Verdict::Passed
    })
}
