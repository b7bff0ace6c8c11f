//! The one place that writes output files: the run folder of `run` and `report`
//! (`<out>/<plan>/<run id>/`, every reporter's bytes), the trend page, a shard's results file.
//!
//! Input: bytes the report stage rendered. Output: files, each written under a temporary name
//! and renamed, so that a crash never leaves half a report. The output folder is checked
//! writable before any load is sent ([`OutputDir::prepare`]). Must not render or decide
//! anything.

use std::path::{Path, PathBuf};

use crate::report::{ReportError, Reporter};
use crate::stats::Summary;

/// `<out>/<plan>/`, checked writable before the run starts.
pub struct OutputDir {
    plan_dir: PathBuf,
    /// The folders `prepare` made (`<out>` and `<out>/<plan>`, those that did not exist), the
    /// innermost last.
    made: Vec<PathBuf>,
}

impl OutputDir {
    pub fn prepare(out: &Path, plan_slug: &str) -> Result<OutputDir, ReportError> {
        let plan_dir = out.join(plan_slug);
        let write_err = |source| ReportError::Write {
            path: plan_dir.clone(),
            source,
        };
        let made = [out, plan_dir.as_path()]
            .into_iter()
            .filter(|d| !d.exists())
            .map(Path::to_path_buf)
            .collect();
        std::fs::create_dir_all(&plan_dir).map_err(write_err)?;
        let probe = plan_dir.join(format!(".loadplan-probe-{}", std::process::id()));
        std::fs::write(&probe, b"").map_err(write_err)?;
        std::fs::remove_file(&probe).map_err(write_err)?;
        Ok(OutputDir { plan_dir, made })
    }

    /// Removes the folders `prepare` made, where they are still empty: a run that failed before
    /// writing leaves nothing behind.
    pub fn discard_if_unused(&self) {
        for d in self.made.iter().rev() {
            // Fails, and so keeps the folder, when anything is in it.
            let _ = std::fs::remove_dir(d);
        }
    }

    /// A fresh run folder name: `run_id`, or `run_id-2`, `-3`… when it exists already.
    pub fn unique_run_id(&self, run_id: &str) -> String {
        let mut id = run_id.to_string();
        let mut n = 2;
        while self.plan_dir.join(&id).exists() {
            id = format!("{run_id}-{n}");
            n += 1;
        }
        id
    }

    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.plan_dir.join(run_id)
    }
}

/// Renders every file first, then writes them; returns the run folder.
pub fn write_run(
    dir: &OutputDir,
    summary: &Summary,
    reporters: &[Box<dyn Reporter>],
) -> Result<PathBuf, ReportError> {
    let rendered = reporters
        .iter()
        .map(|r| Ok((r.file_name(), r.render(summary)?)))
        .collect::<Result<Vec<_>, ReportError>>()?;
    let run_dir = dir.run_dir(&summary.run_id);
    std::fs::create_dir_all(&run_dir).map_err(|source| ReportError::Write {
        path: run_dir.clone(),
        source,
    })?;
    for (name, bytes) in rendered {
        write_atomic(&run_dir.join(name), &bytes)?;
    }
    Ok(run_dir)
}

/// Writes `path` via a temporary sibling and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let err = |source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_wrote_nothing_leaves_no_folder() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path().join("out");
        let dir = OutputDir::prepare(&out, "plan").expect("prepare");
        assert!(out.join("plan").is_dir());
        dir.discard_if_unused();
        assert!(!out.exists(), "both folders it made are gone");
        // Folders that were there before, or hold anything, stay.
        std::fs::create_dir_all(out.join("plan/earlier-run")).expect("mkdir");
        let dir = OutputDir::prepare(&out, "plan").expect("prepare");
        let other = OutputDir::prepare(&out, "other").expect("prepare");
        dir.discard_if_unused();
        other.discard_if_unused();
        assert!(out.join("plan/earlier-run").is_dir());
        assert!(!out.join("other").exists());
    }
}
