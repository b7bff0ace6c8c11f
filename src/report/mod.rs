//! The report stage: a summary in, files out.
//!
//! Each format is a [`Reporter`] that renders bytes and does no I/O; `cmd/output.rs` is the one
//! place that writes them (and `cmd/` prints the console's text). What the numbers mean in words (health warnings, findings, why a
//! run failed, errors with their messages, figures with their spread over rounds) is worked out
//! once in [`insight`], what connections cost in `connections.rs` and what each named request
//! did in `requests.rs`, and shown by every format that has room for it; every
//! chart, of the run report (`figures/`) and of the trend page, is drawn with one kit
//! ([`chart`]); both HTML pages start from one handlebars setup (`page.rs`).
//!
//! Must not reach back into `run/` or `plan/` beyond the types a summary already uses, and must
//! not panic on any summary, however odd its numbers: an edited or corrupted summary.json is
//! input too (see the `hostile` sample). Reads nothing but the templates folder (`--templates`),
//! writes nothing, prints nothing.

pub mod chart;
pub mod compare;
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
        Box::new(markdown::Markdown::default()),
    ])
}

/// [`reporters`], with `summary.md` bounded to `markdown_max_bytes` (`--markdown-max-bytes`).
pub fn reporters_bounded(
    templates: Option<&Path>,
    markdown_max_bytes: usize,
) -> Result<Vec<Box<dyn Reporter>>, ReportError> {
    let mut all = reporters(templates)?;
    for r in &mut all {
        if r.file_name() == "summary.md" {
            *r = Box::new(markdown::Markdown {
                max_bytes: markdown_max_bytes,
            });
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::sample::{hostile, sample};
    use super::*;

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
