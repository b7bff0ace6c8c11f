//! The report stage: a summary in, files out.
//!
//! Each format is a [`Reporter`] that renders bytes and does no I/O; [`write_run`] is the one
//! place that writes files. What the numbers mean in words (health warnings, findings, why a
//! run failed, errors with their messages, figures with their spread over rounds) is worked out
//! once in [`insight`], what connections cost in `connections.rs` and what each named request
//! did in `requests.rs`, and shown by every format that has room for it; every
//! chart, of the run report (`figures/`) and of the trend page, is drawn with one kit
//! ([`chart`]); both HTML pages start from one handlebars setup (`page.rs`).
//!
//! Must not reach back into `run/` or `plan/` beyond the types a summary already uses, and must
//! not panic on any summary, however odd its numbers: an edited or corrupted summary.json is
//! input too (see the `hostile` sample). Every file is written under a temporary name and renamed, so a crash
//! never leaves half a report. The output folder is checked before any load is sent
//! ([`OutputDir::prepare`]).

pub mod chart;
mod connections;
pub mod console;
mod figures;
mod hlog;
mod html;
pub mod insight;
mod json;
pub mod junit;
pub mod markdown;
mod page;
mod requests;
mod sample;
pub mod trend;

use std::path::{Path, PathBuf};

use crate::stats::Summary;

pub use html::Html;
pub use json::Json;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot render {file}: {reason}")]
    Render { file: &'static str, reason: String },
    #[error("template {path}: {reason}")]
    Template { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Renders one output file from a summary.
pub trait Reporter {
    fn file_name(&self) -> &'static str;
    fn render(&self, summary: &Summary) -> Result<Vec<u8>, ReportError>;
}

/// Every reporter of a run folder. `templates`: a folder replacing the embedded HTML templates.
pub fn reporters(templates: Option<&Path>) -> Result<Vec<Box<dyn Reporter>>, ReportError> {
    Ok(vec![
        Box::new(Json),
        Box::new(Html::new(templates)?),
        Box::new(junit::Junit),
        Box::new(hlog::Hlog),
        Box::new(markdown::Markdown),
    ])
}

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
    use super::sample::{hostile, sample};
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

    /// Issue 18: no summary makes a renderer panic, and none prints a number in a chart that
    /// it could not place.
    #[test]
    fn every_renderer_survives_a_hostile_summary() {
        let mut failed = hostile();
        failed.verdict = crate::stats::Verdict::Failed;
        // Failed, the reports also say why, from the same odd numbers.
        for r in reporters(None).expect("embedded templates") {
            let text = r.render(&failed).unwrap_or_else(|e| panic!("{e}"));
            assert!(!text.is_empty(), "{}", r.file_name());
        }
        assert!(console::gate(&failed).contains("why it failed"));
        let s = hostile();
        for r in reporters(None).expect("embedded templates") {
            let name = r.file_name();
            let bytes = r.render(&s).unwrap_or_else(|e| panic!("{name}: {e}"));
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.is_empty(), "{name}");
            for svg in text.split("<svg").skip(1) {
                let svg = svg.split("</svg>").next().unwrap_or_default();
                assert!(
                    !svg.contains("NaN") && !svg.contains("inf"),
                    "{name}: {svg}"
                );
            }
        }
        let table = console::table(&s);
        assert!(table.contains("health: "), "{table}");
        let _ = console::gate(&s);
        let page = trend::render(&[
            trend::SavedRun::new("a/summary.json".into(), sample()).expect("run"),
            trend::SavedRun::new("b/summary.json".into(), s).expect("run"),
        ])
        .expect("trend page");
        assert!(!page.contains("NaN"));
    }

    /// `loadplan report` must re-render a saved run byte for byte: the same summary, read back
    /// from its own JSON, renders the same files.
    #[test]
    fn a_saved_summary_renders_the_same_bytes() {
        let s = sample();
        let json = Json.render(&s).expect("json");
        let back: Summary = serde_json::from_slice(&json).expect("reads back");
        for r in reporters(None).expect("embedded templates") {
            let a = r.render(&s).expect("renders");
            let b = r.render(&back).expect("renders");
            assert!(a == b, "{} differs after a round trip", r.file_name());
        }
    }
}
