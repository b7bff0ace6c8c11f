//! `loadplan report`: every output rebuilt from saved summaries (verdicts re-derived), or the
//! results files of a sharded run merged into the report a single run would have produced.

use std::path::{Path, PathBuf};

use super::{Console, publish};
use crate::plan;
use crate::report::{self as reports, OutputDir};
use crate::stats::{self, Summary, Verdict};
use crate::{Error, gate};

/// A saved file: a run's summary.json, or a shard's results.
enum Saved {
    Summary(Box<Summary>),
    Shard(Box<stats::Results>),
}

pub fn run(inputs: &[PathBuf], out: &Path, quiet: bool) -> Result<Verdict, Error> {
    let reporters = reports::reporters(None)?;
    let mut summaries = Vec::new();
    let mut shards = Vec::new();
    for input in inputs {
        let file = if input.is_dir() {
            input.join("summary.json")
        } else {
            input.clone()
        };
        match load(&file)? {
            Saved::Summary(s) => summaries.push(*s),
            Saved::Shard(r) => shards.push((file.display().to_string(), *r)),
        }
    }
    if !shards.is_empty() {
        if !summaries.is_empty() {
            return Err(Error::Usage(
                "give either shard results files or summary.json files, not both".into(),
            ));
        }
        summaries.push(merge_shards(&shards)?);
    }
    let mut worst = Verdict::Passed;
    for mut s in summaries {
        let verdict = gate::decide(&mut s);
        let dir = OutputDir::prepare(out, &plan::slug(&s.plan.name))?;
        let console = Console { quiet, json: false };
        publish(&s, verdict, &dir, &reporters, console)?;
        worst = gate::worst(worst, verdict);
    }
    Ok(worst)
}

/// Reads one saved file once and tells its kind by its `format` field.
fn load(file: &Path) -> Result<Saved, Error> {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(default)]
        format: Option<String>,
    }
    let bad = |e: String| Error::Input(format!("{}: {e}", file.display()));
    let text = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
    let located = |e: serde_json::Error| format!("line {} column {}: {e}", e.line(), e.column());
    let probe: Probe = serde_json::from_str(&text)
        .map_err(|e| bad(format!("not a loadplan summary.json: {}", located(e))))?;
    if probe.format.as_deref() == Some(stats::RESULTS_FORMAT) {
        let r = serde_json::from_str::<stats::Results>(&text)
            .map_err(|e| bad(format!("not a loadplan results file: {}", located(e))))?;
        return Ok(Saved::Shard(Box::new(r)));
    }
    let s = serde_json::from_str::<Summary>(&text)
        .map_err(|e| bad(format!("not a loadplan summary.json: {}", located(e))))?;
    if s.schema_version != stats::SCHEMA_VERSION {
        return Err(bad(format!(
            "schema_version {} is not supported (this loadplan reads {})",
            s.schema_version,
            stats::SCHEMA_VERSION
        )));
    }
    Ok(Saved::Summary(Box::new(s)))
}

/// Shard results of one plan merged into the summary a single run would have produced, with the
/// plan's thresholds checked on the merged numbers.
fn merge_shards(shards: &[(String, stats::Results)]) -> Result<Summary, Error> {
    let Some((name, first)) = shards.first() else {
        return Err(Error::Usage("no results to merge".into()));
    };
    let plan = plan::parse_saved(Path::new(&first.plan.file), &first.plan.source)
        .map_err(|e| Error::Input(format!("{name}: the plan it carries does not parse: {e}")))?;
    let run = stats::merge_results(&plan, shards).map_err(Error::Input)?;
    let mut summary = stats::summarize(&plan, &run);
    gate::evaluate(&plan, &mut summary, None);
    Ok(summary)
}
