//! `summary.json`: the summary as pretty-printed JSON (the contract lives in `stats/summary.rs`).
//!
//! Input: a summary. Output: its JSON, ending in a newline. Must not add, rename or reorder
//! anything: the fields are the contract, and `loadplan report` reads this file back and must
//! render it to the same bytes.

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::{hostile, sample};

    #[test]
    fn pretty_json_that_reads_back_to_the_same_bytes() {
        let s = sample();
        let bytes = Json.render(&s).expect("renders");
        let text = std::str::from_utf8(&bytes).expect("utf-8");
        assert!(text.starts_with("{\n  \"schema_version\": 1,\n"), "{text}");
        assert!(text.ends_with("}\n"));
        // Times as they have always been written: RFC 3339, whole seconds, UTC.
        assert!(
            text.contains(r#""started_at": "2026-01-01T00:00:00Z","#),
            "{text}"
        );
        assert!(
            text.contains(r#""finished_at": "2026-01-01T00:00:01Z","#),
            "{text}"
        );
        assert!(
            text.contains(r#""started_at": "2025-12-31T00:00:00Z","#),
            "{text}"
        );
        let back: Summary = serde_json::from_slice(&bytes).expect("reads back");
        assert_eq!(Json.render(&back).expect("renders"), bytes);
    }

    #[test]
    fn numbers_json_cannot_hold_become_null() {
        let bytes = Json.render(&hostile()).expect("renders");
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
        let cell = &v["scenarios"][0]["cells"][1];
        assert!(cell["throughput_per_s"].is_null(), "{cell}");
        assert_eq!(v["scenarios"][0]["cells"][0]["speedup"], 1e308);
    }
}
