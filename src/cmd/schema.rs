//! `loadplan schema`: prints the JSON Schema of the plan format, or of summary.json.

use super::say;
use crate::Error;
use crate::stats::Verdict;

pub fn run(summary: bool) -> Result<Verdict, Error> {
    let schema = if summary {
        crate::stats::summary_schema()
    } else {
        crate::plan::schema::plan()
    };
    say!("{schema}");
    Ok(Verdict::Passed)
}
