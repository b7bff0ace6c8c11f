//! `loadplan trend`: one HTML page showing each cell's p50, p99, throughput and error rate across
//! the saved runs of one plan, so a slow drift that no single baseline comparison catches shows.
//!
//! Input: paths given on the command line, each a plan's report folder (`reports/<plan>/`, whose
//! run folders hold a `summary.json`), a single run folder, or a `summary.json` file. Every file
//! is deserialized as [`Summary`]; all must belong to the same plan.
//!
//! Output: one self-contained HTML file (inline SVG charts, inline CSS, no JavaScript, no network),
//! rendered by handlebars from the embedded `templates/trend.html.hbs` with the run report's
//! setup (`page.rs`), its charts drawn with the run report's kit (`chart/`). The x axis is the
//! run's `started_at`; runs whose verdict is not `passed` are marked by shape, a dashed rule and
//! a word (never by colour alone).
//!
//! Must not: modify or move any input, guess when an input is unreadable (it names the file and
//! stops), or put any string from a summary into the page other than through `{{…}}`, which
//! escapes it. [`load`] does the reading, [`render`] is pure (its view model is in `view.rs`),
//! [`run`] ties them together and writes the file.

mod view;

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use super::{ReportError, page, write_atomic};
use crate::stats::{SCHEMA_VERSION, Summary, saved};
use view::{PageView, cell_keys};

const TEMPLATE: &str = include_str!("../../../templates/trend.html.hbs");

#[derive(Debug, thiserror::Error)]
pub enum TrendError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot read: {source}", path.display())]
    File {
        path: PathBuf,
        source: crate::files::FileError,
    },
    #[error("{}: not a loadplan summary.json: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error(
        "{}: no summary.json found: give a plan's report folder (reports/<plan>/, holding run folders), a run folder or summary.json files",
        path.display()
    )]
    Empty { path: PathBuf },
    #[error(
        "{}: a run of plan `{plan}`, but {} is a run of plan `{first_plan}`: a trend page shows one plan; run `loadplan trend` once per plan",
        path.display(),
        first_path.display()
    )]
    MixedPlans {
        path: PathBuf,
        plan: String,
        first_path: PathBuf,
        first_plan: String,
    },
    /// A saved summary the loader refused; its message names the file and the field.
    #[error(transparent)]
    Saved(#[from] saved::SavedError),
    #[error("cannot render the trend page: {0}")]
    Render(String),
    #[error(transparent)]
    Write(#[from] ReportError),
}

impl TrendError {
    /// True when the inputs are at fault (the user can fix the command line), false when the
    /// page could not be produced from valid inputs.
    pub fn is_input_error(&self) -> bool {
        !matches!(self, TrendError::Render(_) | TrendError::Write(_))
    }
}

/// One saved run: its summary, where it came from, and its start as a point on the time axis.
#[derive(Debug, Clone)]
pub struct SavedRun {
    pub path: PathBuf,
    pub summary: Summary,
    /// `started_at` as seconds since the Unix epoch: a point on the time axis.
    started: f64,
    /// A relative link from the trend page to the run's `index.html`, when there is one.
    report_link: Option<String>,
}

impl SavedRun {
    /// Checks what the trend needs beyond deserialization (which already read the times): a
    /// schema this loadplan knows.
    pub fn new(path: PathBuf, summary: Summary) -> Result<SavedRun, TrendError> {
        if summary.schema_version > SCHEMA_VERSION {
            return Err(TrendError::Invalid {
                path,
                reason: format!(
                    "schema_version {} is newer than this loadplan reads ({SCHEMA_VERSION})",
                    summary.schema_version
                ),
            });
        }
        let t = summary.started_at.get();
        let started = t.as_second() as f64 + f64::from(t.subsec_nanosecond()) / 1e9;
        Ok(SavedRun {
            path,
            summary,
            started,
            report_link: None,
        })
    }
}

/// What [`load`] found.
#[derive(Debug)]
pub struct Loaded {
    /// Oldest first.
    pub runs: Vec<SavedRun>,
    /// Folders inside a plan folder that hold no `summary.json` (a run that never finished).
    pub skipped: Vec<PathBuf>,
}

/// What [`run`] wrote.
#[derive(Debug)]
pub struct Written {
    pub path: PathBuf,
    pub runs: usize,
    pub cells: usize,
    pub skipped: Vec<PathBuf>,
}

/// Reads, renders and writes the trend page for `inputs` to `out`.
pub fn run(inputs: &[PathBuf], out: &Path) -> Result<Written, TrendError> {
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
                r.report_link = relative_link(&from, &to);
            }
        }
    }
    let html = render(&loaded.runs)?;
    write_atomic(out, html.as_bytes())?;
    Ok(Written {
        path: out.to_path_buf(),
        runs: loaded.runs.len(),
        cells: cell_keys(&loaded.runs).len(),
        skipped: loaded.skipped,
    })
}

/// Reads every summary the inputs name, oldest run first; refuses runs of different plans.
pub fn load(inputs: &[PathBuf]) -> Result<Loaded, TrendError> {
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

/// Renders the page for `runs` (oldest first, all of one plan, at least one).
pub fn render(runs: &[SavedRun]) -> Result<String, TrendError> {
    let mut registry = page::registry();
    registry
        .register_template_string("trend", TEMPLATE)
        .map_err(|e| TrendError::Render(e.to_string()))?;
    registry
        .render("trend", &PageView::new(runs))
        .map_err(|e| TrendError::Render(e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Links

/// `to` relative to the folder `from` (both absolute), as a percent-encoded URL path.
fn relative_link(from: &Path, to: &Path) -> Option<String> {
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return None;
    }
    let mut parts: Vec<String> = vec!["..".to_string(); a.len().saturating_sub(common)];
    for c in b.iter().skip(common) {
        match c {
            Component::Normal(s) => parts.push(encode(&s.to_string_lossy())),
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::stats::Verdict;

    /// Built from JSON with only the fields every summary has, so that fields other stages add
    /// (with serde defaults) do not break these tests.
    fn cell(model: &str, concurrency: usize, p50: u64, p99: u64, tput: f64, err: f64) -> Value {
        json!({
            "model": model, "concurrency": concurrency, "workers": 1,
            "operations": 100, "successes": 100,
            "errors": { "connect": 0, "timeout": 0, "status": 0, "body": 0, "expectation": 0 },
            "error_rate": err, "wall_seconds": 1.0, "throughput_per_s": tput,
            "latency_us": {
                "count": 100, "min": p50 / 2, "mean": p50 as f64, "p50": p50, "p90": p99,
                "p99": p99, "p999": p99, "max": p99, "stdev": 1.0
            },
            "cpu_seconds": 0.1, "cores_busy": 0.1, "speedup": null
        })
    }

    fn summary(plan: &str, scenario: &str, started: &str, verdict: Verdict, p99: u64) -> Summary {
        serde_json::from_value(summary_json(plan, scenario, started, verdict, p99))
            .expect("a valid summary")
    }

    fn summary_json(
        plan: &str,
        scenario: &str,
        started: &str,
        verdict: Verdict,
        p99: u64,
    ) -> Value {
        let verdict = view::verdict_word(verdict);
        json!({
            "schema_version": SCHEMA_VERSION,
            "plan": { "name": plan, "file": "plan.yaml" },
            "run_id": started.replace(':', "-"),
            "started_at": started,
            "finished_at": started,
            "duration_seconds": 1.0,
            "loadplan_version": "0.1.0",
            "host": { "cores": 2, "os": "linux", "arch": "x86_64" },
            "verdict": verdict,
            "scenarios": [{
                "name": scenario, "kind": "io", "bound": "io", "busy_fraction": 0.1,
                "bound_cell": "sequential", "workload": ["/hello"], "load": "repeat: 10",
                "cells": [
                    cell("sequential", 1, 1_000, p99, 100.0, 0.0),
                    cell("threads", 4, 1_100, p99.saturating_add(500), 380.0, 0.02),
                ]
            }]
        })
    }

    fn saved(s: Summary) -> SavedRun {
        SavedRun::new(PathBuf::from(format!("{}/summary.json", s.run_id)), s).expect("valid run")
    }

    fn night(day: u32, verdict: Verdict, p99: u64) -> SavedRun {
        saved(summary(
            "nightly",
            "api",
            &format!("2026-05-{day:02}T02:00:00Z"),
            verdict,
            p99,
        ))
    }

    #[test]
    fn reads_any_rfc3339_time() {
        let base = |s: &str| saved(summary("p", "api", s, Verdict::Passed, 1)).started;
        let t0 = base("2026-05-01T02:00:00Z");
        for (s, want) in [
            ("2026-05-01T02:00:00.500Z", t0 + 0.5),
            ("2026-05-01T04:00:00+02:00", t0),
            ("2026-04-30T23:30:00-02:30", t0),
            ("1969-12-31T23:59:59Z", -1.0),
        ] {
            assert_eq!(base(s), want, "{s}");
        }
        for bad in [
            "2026-05-01T02:00:00",
            "yesterday",
            "",
            "2026-05-01T02:00:00Zé",
            "é2026-05-01T02:00:00+01:00",
        ] {
            let e = serde_json::from_value::<Summary>(summary_json(
                "p",
                "api",
                bad,
                Verdict::Passed,
                1,
            ))
            .expect_err(bad)
            .to_string();
            assert!(
                e.contains(&format!("`{bad}` is not an RFC 3339 time")),
                "{e}"
            );
        }
    }

    #[test]
    fn each_cell_gets_four_charts_with_a_point_per_run() {
        let runs: Vec<SavedRun> = (1..=10)
            .map(|d| {
                let v = if d == 4 || d == 9 {
                    Verdict::Failed
                } else if d == 6 {
                    Verdict::Interrupted
                } else {
                    Verdict::Passed
                };
                night(d, v, 10_000 + u64::from(d) * 1_000)
            })
            .collect();
        let html = render(&runs).expect("renders");
        assert_eq!(html.matches("<section class=\"cell\"").count(), 2);
        assert_eq!(html.matches("<svg class=\"trend-chart\"").count(), 8);
        assert_eq!(html.matches("<g class=\"point verdict-").count(), 80);
        assert_eq!(
            html.matches("<g class=\"point verdict-failed\"").count(),
            16
        );
        assert_eq!(
            html.matches("<g class=\"point verdict-interrupted\"")
                .count(),
            8
        );
        // Non-passed runs also get a rule through each chart and a word in the runs table.
        assert_eq!(html.matches("<line class=\"rule rule-failed\"").count(), 16);
        assert_eq!(
            html.matches("<line class=\"rule rule-interrupted\"")
                .count(),
            8
        );
        assert!(html.contains("✕ failed"));
        // The drift is stated in words: p99 rose from 11ms to 20ms.
        assert!(
            html.contains("first 11.0ms → latest 20.0ms (+81.8%)"),
            "caption"
        );
        assert!(html.contains("p99 latency (ms)"));
        assert!(html.contains("Throughput (operations/s)"));
        assert!(html.contains("Error rate (%)"));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn points_follow_time_not_input_order() {
        let mut runs = vec![
            night(3, Verdict::Passed, 30_000),
            night(1, Verdict::Passed, 10_000),
        ];
        runs.sort_by(|a, b| a.started.total_cmp(&b.started));
        let html = render(&runs).expect("renders");
        let first = html.find("run 2026-05-01").expect("day 1");
        let third = html.find("run 2026-05-03").expect("day 3");
        assert!(first < third);
    }

    #[test]
    fn plan_strings_are_escaped() {
        let mut s = summary(
            "<b>plan</b>",
            "<script>alert(1)</script>",
            "2026-05-01T02:00:00Z",
            Verdict::Passed,
            5_000,
        );
        s.run_id = "\"><img src=x onerror=alert(1)>".into();
        s.plan.description = Some("a & b".into());
        let html = render(&[saved(s)]).expect("renders");
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<img src=x"));
        assert!(!html.contains("<b>plan"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("a &amp; b"));
    }

    #[test]
    fn absurd_numbers_still_render() {
        let mut s = summary(
            "p",
            "api",
            "2026-05-01T02:00:00Z",
            Verdict::Passed,
            u64::MAX,
        );
        s.scenarios[0].cells[0].throughput_per_s = f64::MAX;
        s.scenarios[0].cells[1].throughput_per_s = -5.0;
        s.scenarios[0].cells[1].error_rate = 7.0;
        let html = render(&[saved(s)]).expect("renders");
        assert_eq!(html.matches("<g class=\"point verdict-").count(), 8);
        assert!(!html.contains("NaN"));
    }

    #[test]
    fn cells_missing_from_some_runs_have_fewer_points() {
        let mut old = summary("p", "api", "2026-05-01T02:00:00Z", Verdict::Passed, 5_000);
        old.scenarios[0].cells.truncate(1);
        let runs = vec![saved(old), night(2, Verdict::Passed, 6_000)];
        let html = render(&runs).expect("renders");
        assert!(html.contains("in 1 of 2 runs"), "{html}");
        assert_eq!(html.matches("<g class=\"point verdict-").count(), 4 + 8);
    }

    #[test]
    fn refuses_unknown_schema_and_bad_times() {
        let mut s = summary("p", "api", "2026-05-01T02:00:00Z", Verdict::Passed, 5_000);
        s.schema_version = SCHEMA_VERSION + 1;
        let e = SavedRun::new("x/summary.json".into(), s).expect_err("newer schema");
        assert!(e.to_string().starts_with("x/summary.json: "), "{e}");
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

    #[test]
    fn links_are_relative_and_encoded() {
        assert_eq!(
            relative_link(Path::new("/r"), Path::new("/r/plan/2026 x/index.html")).as_deref(),
            Some("plan/2026%20x/index.html")
        );
        assert_eq!(
            relative_link(Path::new("/a/b"), Path::new("/a/c/index.html")).as_deref(),
            Some("../c/index.html")
        );
    }
}
