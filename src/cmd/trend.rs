//! `loadplan trend`: one HTML page of every cell's numbers across saved runs of one plan, with
//! their change points; with `--fail-on-change`, a recent shift for the worse fails (exit 1).
//!
//! The I/O of the trend page: finds the saved runs the paths name (a plan's report folder, a run
//! folder, a `summary.json`), reads each through the one loader of saved results, links each run
//! to its report, has `report::trend` render the page and writes it. Must not render anything.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{say, write_atomic};
use crate::Error;
use crate::report::ReportError;
use crate::report::trend::{self, SavedRun, TrendError};
use crate::stats::{Verdict, saved};

pub fn run(
    paths: &[PathBuf],
    out: &Path,
    fail_on_change: bool,
    recent: usize,
) -> Result<Verdict, Error> {
    let written = write(paths, out, recent).map_err(|e| {
        if e.is_input_error() {
            Error::Input(e.to_string())
        } else {
            Error::Trend(e)
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

/// What [`load`] found.
#[derive(Debug)]
struct Loaded {
    /// Oldest first.
    pub runs: Vec<SavedRun>,
    /// Folders inside a plan folder that hold no `summary.json` (a run that never finished).
    pub skipped: Vec<PathBuf>,
}

/// What [`write`] wrote.
#[derive(Debug)]
struct Written {
    pub path: PathBuf,
    pub runs: usize,
    pub cells: usize,
    pub skipped: Vec<PathBuf>,
    /// Change points for the worse whose first run is among the `recent` latest runs, in words.
    pub regressions: Vec<String>,
}

/// Reads every summary the inputs name, oldest run first; refuses runs of different plans.
fn load(inputs: &[PathBuf]) -> Result<Loaded, TrendError> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|source| TrendError::Read {
            path: input.clone(),
            source,
        })?;
        if !meta.is_dir() {
            files.push(input.clone());
            continue;
        }
        // A run folder given directly.
        let direct = input.join("summary.json");
        if direct.is_file() {
            files.push(direct);
            continue;
        }
        let entries = std::fs::read_dir(input).map_err(|source| TrendError::Read {
            path: input.clone(),
            source,
        })?;
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| TrendError::Read {
                path: input.clone(),
                source,
            })?;
            let p = entry.path();
            // Hidden entries are temporary files of a report being written, never runs.
            if !p.is_dir() || entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let s = p.join("summary.json");
            if s.is_file() {
                found.push(s);
            } else {
                skipped.push(p);
            }
        }
        if found.is_empty() {
            return Err(TrendError::Empty {
                path: input.clone(),
            });
        }
        found.sort();
        files.extend(found);
    }

    // The same run named twice (its folder and its file) is drawn once.
    let mut seen = HashSet::new();
    let mut runs: Vec<SavedRun> = Vec::new();
    for f in files {
        let key = f.canonicalize().unwrap_or_else(|_| f.clone());
        if !seen.insert(key) {
            continue;
        }
        let bytes = crate::files::read_saved(&f).map_err(|source| TrendError::File {
            path: f.clone(),
            source,
        })?;
        let summary = saved::parse_summary(&f.display().to_string(), &bytes)?;
        let run = SavedRun::new(f, summary)?;
        if let Some(first) = runs.first()
            && first.summary.plan.name != run.summary.plan.name
        {
            return Err(TrendError::MixedPlans {
                path: run.path,
                plan: run.summary.plan.name,
                first_path: first.path.clone(),
                first_plan: first.summary.plan.name.clone(),
            });
        }
        runs.push(run);
    }
    runs.sort_by(|a, b| {
        a.started
            .total_cmp(&b.started)
            .then_with(|| a.summary.run_id.cmp(&b.summary.run_id))
    });
    skipped.sort();
    Ok(Loaded { runs, skipped })
}

/// Reads, renders and writes the trend page for `inputs` to `out`; `recent`: how many latest
/// runs count as recent for [`Written::regressions`].
fn write(inputs: &[PathBuf], out: &Path, recent: usize) -> Result<Written, TrendError> {
    let mut loaded = load(inputs)?;
    let out_dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&out_dir).map_err(|source| ReportError::Write {
        path: out_dir.clone(),
        source,
    })?;
    // Links are relative so the page keeps working when the whole reports folder is moved or
    // downloaded as a CI artifact.
    if let Ok(from) = out_dir.canonicalize() {
        for r in &mut loaded.runs {
            let report = r.path.with_file_name("index.html");
            if let Ok(to) = report.canonicalize() {
                r.report_link = trend::relative_link(&from, &to);
            }
        }
    }
    let html = trend::render(&loaded.runs)?;
    write_atomic(out, html.as_bytes())?;
    Ok(Written {
        path: out.to_path_buf(),
        runs: loaded.runs.len(),
        cells: trend::cell_count(&loaded.runs),
        regressions: trend::recent_regressions(&loaded.runs, recent),
        skipped: loaded.skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::trend::tests::{summary, summary_json};

    #[test]
    fn refuses_bad_times_naming_the_file() {
        // A time that is not one is refused when the file is read, naming the file and the text.
        let dir = tempfile::tempdir().expect("tempdir");
        let y = dir.path().join("summary.json");
        let s = summary_json("p", "api", "last tuesday", Verdict::Passed, 5_000);
        std::fs::write(&y, serde_json::to_vec(&s).expect("json")).expect("write");
        let e = load(std::slice::from_ref(&y)).expect_err("bad time");
        let text = e.to_string();
        assert!(
            text.contains(&y.display().to_string()) && text.contains("last tuesday"),
            "{e}"
        );
        assert!(e.is_input_error());
    }

    #[test]
    fn load_reads_folders_and_refuses_mixed_plans() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plan_dir = dir.path().join("nightly");
        for d in [2u32, 1] {
            let s = summary(
                "nightly",
                "api",
                &format!("2026-05-0{d}T02:00:00Z"),
                Verdict::Passed,
                5_000,
            );
            let run = plan_dir.join(&s.run_id);
            std::fs::create_dir_all(&run).expect("mkdir");
            std::fs::write(
                run.join("summary.json"),
                serde_json::to_vec(&s).expect("json"),
            )
            .expect("write");
        }
        std::fs::create_dir_all(plan_dir.join("crashed")).expect("mkdir");
        std::fs::create_dir_all(plan_dir.join(".tmp")).expect("mkdir");
        let loaded = load(std::slice::from_ref(&plan_dir)).expect("loads");
        assert_eq!(loaded.runs.len(), 2);
        assert!(loaded.runs[0].summary.started_at < loaded.runs[1].summary.started_at);
        assert_eq!(loaded.skipped, vec![plan_dir.join("crashed")]);

        // The same run named twice is one run.
        let one = loaded.runs[0].path.clone();
        let again = load(&[plan_dir.clone(), one]).expect("loads");
        assert_eq!(again.runs.len(), 2);

        let other = summary(
            "other",
            "api",
            "2026-05-03T02:00:00Z",
            Verdict::Passed,
            5_000,
        );
        let other_file = dir.path().join("other.json");
        std::fs::write(&other_file, serde_json::to_vec(&other).expect("json")).expect("write");
        let e = load(&[plan_dir.clone(), other_file.clone()]).expect_err("mixed");
        assert!(matches!(e, TrendError::MixedPlans { .. }), "{e}");
        assert!(
            e.to_string().contains("`other`") && e.to_string().contains("`nightly`"),
            "{e}"
        );

        let broken = dir.path().join("broken.json");
        std::fs::write(&broken, "{\"schema_version\": 1").expect("write");
        let e = load(std::slice::from_ref(&broken)).expect_err("broken");
        assert!(
            e.to_string().starts_with(&broken.display().to_string()),
            "{e}"
        );

        let e = load(&[dir.path().join("missing")]).expect_err("missing");
        assert!(matches!(e, TrendError::Read { .. }) && e.is_input_error());

        let empty = dir.path().join("empty");
        std::fs::create_dir_all(&empty).expect("mkdir");
        assert!(matches!(load(&[empty]), Err(TrendError::Empty { .. })));
    }
}
