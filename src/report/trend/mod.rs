//! `loadplan trend`: one HTML page showing each cell's p50, p99, throughput and error rate across
//! the saved runs of one plan, so a slow drift that no single baseline comparison catches shows.
//!
//! Input: the saved runs of one plan, as [`SavedRun`]s (`cmd/trend.rs` finds and reads them:
//! each path a plan's report folder, a run folder or a `summary.json` file, every file through
//! the one loader of saved results).
//!
//! Change points: every chart's series (passed and failed runs; interrupted and invalid ones,
//! and incomplete cells, left out) goes through `stats::change`; each shift is marked at the
//! first run of its new level with its size and confidence, listed at the top and under its
//! chart. [`Written::regressions`] holds the recent ones for the worse (`--fail-on-change`).
//!
//! Output: one self-contained HTML file (inline SVG charts, inline CSS, no JavaScript, no network),
//! rendered by handlebars from the embedded `templates/trend.html.hbs` with the run report's
//! setup (`page.rs`), its charts drawn with the run report's kit (`chart/`). The x axis is the
//! run's `started_at`; runs whose verdict is not `passed` are marked by shape, a dashed rule and
//! a word (never by colour alone).
//!
//! Must not: modify or move any input, guess when an input is unreadable (it names the file and
//! stops), or put any string from a summary into the page other than through `{{…}}`, which
//! escapes it. [`render`] is pure (its view model is in `view.rs`); this folder does no I/O.

mod view;

use std::path::{Component, Path, PathBuf};

use super::{ReportError, page};
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
    pub started: f64,
    /// A relative link from the trend page to the run's `index.html`, when there is one.
    pub report_link: Option<String>,
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

/// How many cells the page shows (every cell of any run).
pub fn cell_count(runs: &[SavedRun]) -> usize {
    cell_keys(runs).len()
}

/// Change points for the worse (slower, fewer operations, more errors) whose first run is among
/// the `recent` latest runs, each in words.
pub fn recent_regressions(runs: &[SavedRun], recent: usize) -> Vec<String> {
    view::recent_regressions(runs, recent)
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
pub fn relative_link(from: &Path, to: &Path) -> Option<String> {
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
pub(crate) mod tests {
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

    pub(crate) fn summary(
        plan: &str,
        scenario: &str,
        started: &str,
        verdict: Verdict,
        p99: u64,
    ) -> Summary {
        serde_json::from_value(summary_json(plan, scenario, started, verdict, p99))
            .expect("a valid summary")
    }

    pub(crate) fn summary_json(
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

    /// Twelve nights whose p99 moves by ±5 % (a fixed table), × `step` from the seventh on.
    fn twelve_nights(step: f64) -> Vec<SavedRun> {
        const NOISE: [f64; 12] = [
            1.03, 0.97, 1.01, 0.95, 1.04, 0.99, 1.02, 0.96, 1.05, 0.98, 1.00, 0.97,
        ];
        (0..12)
            .map(|i| {
                let level = if i >= 6 { step } else { 1.0 };
                night(
                    i as u32 + 1,
                    Verdict::Passed,
                    (100_000.0 * level * NOISE[i]) as u64,
                )
            })
            .collect()
    }

    #[test]
    fn a_step_at_the_seventh_run_is_one_change_point_there_and_flat_nights_none() {
        let runs = twelve_nights(1.3);
        let page = render(&runs).expect("render");
        // p99 of both cells shifts; p50, throughput and error rate hold.
        let rows: Vec<&str> = page
            .split("<tr class=\"change change-worse\">")
            .skip(1)
            .collect();
        assert_eq!(rows.len(), 2, "{page}");
        for row in rows {
            assert!(row.starts_with("<td>7 "), "{row:.200}");
            assert!(row.contains("p99 latency"), "{row:.200}");
            assert!(row.contains("(+29.8%)"), "about +30%: {row:.200}");
        }
        // Run 7 of 12 is the sixth latest.
        assert_eq!(view::recent_regressions(&runs, 6).len(), 2);
        assert!(view::recent_regressions(&runs, 5).is_empty());

        let flat = twelve_nights(1.0);
        let page = render(&flat).expect("render");
        assert!(page.contains("No change point"), "flat nights");
        assert!(view::recent_regressions(&flat, 12).is_empty());
        // Faster from run 7: marked, but not a regression.
        let faster = twelve_nights(0.7);
        assert!(
            render(&faster)
                .expect("render")
                .contains("change change-better")
        );
        assert!(view::recent_regressions(&faster, 12).is_empty());
    }

    /// Issue 25: a flow's cell gets one line per request, p50 and p99, and a failed run says
    /// why in words: under the charts of the cell it failed in, and in the table of runs.
    #[test]
    fn per_request_lines_and_the_reason_a_run_failed() {
        use crate::stats::{LatencySummary, RequestSummary, ThresholdResult};
        let request = |name: &str, p99: u64| RequestSummary {
            name: name.into(),
            operations: 10,
            successes: 10,
            errors: Default::default(),
            retried: 0,
            error_rate: 0.0,
            status_codes: Default::default(),
            error_messages: Default::default(),
            bytes: 0,
            latency_us: LatencySummary {
                count: 10,
                p50: p99 / 2,
                p99,
                max: p99,
                ..LatencySummary::default()
            },
            histogram: String::new(),
            timeline: Vec::new(),
        };
        let runs: Vec<SavedRun> = (1..=3)
            .map(|day| {
                let failed = day == 2;
                let verdict = if failed {
                    Verdict::Failed
                } else {
                    Verdict::Passed
                };
                let mut s = summary(
                    "nightly",
                    "api",
                    &format!("2026-05-{day:02}T02:00:00Z"),
                    verdict,
                    5_000,
                );
                let c = &mut s.scenarios[0].cells[0];
                c.requests = vec![
                    request("login", 4_000),
                    request("orders", 9_000 * day as u64),
                ];
                if failed {
                    c.thresholds = vec![ThresholdResult {
                        expression: "p99{request=orders} < 10ms".into(),
                        observed: Some(18_000.0),
                        passed: false,
                        limit: 10_000.0,
                        unit: "us".into(),
                        observed_text: "18.0ms".into(),
                        windows: None,
                    }];
                }
                saved(s)
            })
            .collect();
        let page = render(&runs).expect("renders");
        for metric in ["p50-per-request", "p99-per-request"] {
            let chart = page
                .split(&format!(r#"data-metric="{metric}""#))
                .nth(1)
                .expect(metric);
            let chart = &chart[..chart.find("</svg>").expect("closed")];
            assert_eq!(
                chart.matches("<polyline").count(),
                2,
                "{metric}: two requests"
            );
            assert!(
                chart.contains(">login<") && chart.contains(">orders<"),
                "legend"
            );
        }
        // Only the flow's cell has request lines.
        assert_eq!(page.matches(r#"data-metric="p99-per-request""#).count(), 1);
        let why = "threshold p99{request&#x3D;orders} &lt; 10ms: observed 18.0ms, limit 10.0ms";
        let under = page
            .split(r#"<table class="failed-runs">"#)
            .nth(1)
            .expect("the failed runs under the cell");
        assert!(
            under[..under.find("</table>").expect("closed")].contains(why),
            "{under}"
        );
        assert_eq!(page.matches(r#"<table class="failed-runs">"#).count(), 1);
        let runs_table = page.split(r#"class="runs""#).nth(1).expect("runs");
        assert!(runs_table.contains(r#"<tr class="run-why verdict-failed">"#));
        assert!(runs_table.contains(why));
    }
}
