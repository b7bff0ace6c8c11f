//! `summary.json`: the summary as pretty-printed JSON (the contract lives in `stats/summary.rs`).

use super::{ReportError, Reporter};
use crate::stats::Summary;

pub struct Json;

impl Reporter for Json {
    fn file_name(&self) -> &'static str {
        "summary.json"
    }

    fn render(&self, summary: &Summary) -> Result<Vec<u8>, ReportError> {
        let mut out = serde_json::to_vec_pretty(summary).map_err(|e| ReportError::Render {
            file: self.file_name(),
            reason: e.to_string(),
        })?;
        out.push(b'\n');
        Ok(out)
    }
}
