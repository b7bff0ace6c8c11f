//! `loadplan report`: every output rebuilt from saved summaries (verdicts re-derived), or the
//! results files of a sharded run merged into the report a single run would have produced.

use std::path::{Path, PathBuf};

use super::OutputDir;
use super::{Console, publish};
use crate::plan;
use crate::report as reports;
use crate::stats::saved::Saved;
use crate::stats::{self, Summary, Verdict};
use crate::{Error, gate};

pub fn run(
    inputs: &[PathBuf],
    out: &Path,
    quiet: bool,
    markdown_max_bytes: usize,
) -> Result<Verdict, Error> {
    let reporters = reports::reporters_bounded(None, markdown_max_bytes)?;
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
            Saved::Results(r) => shards.push((file.display().to_string(), *r)),
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

/// Reads one saved file once, bounded, through the one loader of saved results (which tells
/// the kind apart and checks every field).
fn load(file: &Path) -> Result<Saved, Error> {
    let bytes = crate::files::read_saved(file)
        .map_err(|e| Error::Input(format!("{}: cannot read: {e}", file.display())))?;
    stats::saved::parse(&file.display().to_string(), &bytes)
        .map_err(|e| Error::Input(e.to_string()))
}

/// Shard results of one plan merged into the summary a single run would have produced, with the
/// plan's thresholds checked on the merged numbers.
fn merge_shards(shards: &[(String, stats::Results)]) -> Result<Summary, Error> {
    let Some((name, first)) = shards.first() else {
        return Err(Error::Usage("no results to merge".into()));
    };
    let plan = plan::parse_saved(Path::new(&first.plan.file), &first.plan.source)
        .map_err(|e| Error::Input(format!("{name}: the plan it carries does not parse: {e}")))?;
    let run = stats::merge_results(&plan, shards).map_err(|e| Error::Input(e.to_string()))?;
    let (summary, _) = crate::judge(&plan, &run, Vec::new(), None);
    Ok(summary)
}
