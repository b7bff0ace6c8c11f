//! `index.html`: one self-contained page rendered by handlebars from `templates/` (embedded in the
//! binary, or read from a folder given with `--templates`). Every plan-provided string goes
//! through `{{…}}`, which escapes HTML; only our own generated SVG (`figures.rs` on the chart
//! kit, which escapes its own text) goes through `{{{…}}}`.
//!
//! Input: a [`Summary`]. Output: HTML bytes. The view model below lays out the words of
//! `insight.rs` (health, findings) and the charts of `figures.rs` for the template, so the
//! template holds no logic beyond loops and conditions. Must not write files or reach the network; a template folder is read once, when
//! the reporter is built (before any load is sent), and is checked then by a trial render.

use std::path::{Path, PathBuf};

use handlebars::Handlebars;
use serde::Serialize;

use super::connections::{self, Row};
use super::figures::{self, Breakdown};
use super::insight::{self, ErrorGroup, Failure, Flag, Reason};
use super::junit::baseline_value;
use super::sample::sample;
use super::{ReportError, Reporter, page};
use crate::stats::{
    BaselineCheck, BaselineReport, Bound, CellSummary, ScenarioSummary, Summary, Verdict,
};
use crate::units;

/// The main template's file name, embedded or in a template folder.
pub const MAIN_TEMPLATE: &str = "report.html.hbs";
const TEMPLATE: &str = include_str!("../../templates/report.html.hbs");
/// Partials embedded beside the main template; a template folder may replace any of them.
const PARTIALS: [(&str, &str); 2] = [
    ("style", include_str!("../../templates/style.hbs")),
    ("scenario", include_str!("../../templates/scenario.hbs")),
];

pub struct Html {
    registry: Handlebars<'static>,
}

impl Html {
    /// The embedded templates, or those of `dir`: its `report.html.hbs`, and every other `*.hbs`
    /// file as a partial named after it (`style.hbs` → `{{> style}}`), replacing the embedded one.
    pub fn new(dir: Option<&Path>) -> Result<Html, ReportError> {
        let mut registry = page::registry();
        for (name, text) in PARTIALS {
            registry
                .register_partial(name, text)
                .map_err(|e| embedded_error(&e))?;
        }
        let Some(dir) = dir else {
            registry
                .register_template_string("report", TEMPLATE)
                .map_err(|e| embedded_error(&e))?;
            return Ok(Html { registry });
        };
        load_folder(&mut registry, dir)?;
        let html = Html { registry };
        // Strict mode finds a misspelt field only when rendering: find it now, before the load.
        html.registry
            .render("report", &View::new(&sample()))
            .map_err(|e| ReportError::Template {
                path: dir.join(MAIN_TEMPLATE),
                reason: e.to_string(),
            })?;
        Ok(html)
    }
}

fn embedded_error(e: &impl std::fmt::Display) -> ReportError {
    ReportError::Render {
        file: "index.html",
        reason: format!("embedded template: {e}"),
    }
}

fn load_folder(registry: &mut Handlebars<'static>, dir: &Path) -> Result<(), ReportError> {
    let err = |path: &Path, reason: String| ReportError::Template {
        path: path.to_path_buf(),
        reason,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| err(dir, e.to_string()))?;
    let mut main: Option<(PathBuf, String)> = None;
    for entry in entries {
        let path = entry.map_err(|e| err(dir, e.to_string()))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".hbs") else {
            continue;
        };
        let text = std::fs::read_to_string(&path).map_err(|e| err(&path, e.to_string()))?;
        if name == MAIN_TEMPLATE {
            main = Some((path, text));
        } else {
            registry
                .register_partial(stem, text)
                .map_err(|e| err(&path, e.to_string()))?;
        }
    }
    let Some((path, text)) = main else {
        return Err(err(
            &dir.join(MAIN_TEMPLATE),
            format!("not found: a template folder must hold {MAIN_TEMPLATE}"),
        ));
    };
    registry
        .register_template_string("report", text)
        .map_err(|e| err(&path, e.to_string()))
}

impl Reporter for Html {
    fn file_name(&self) -> &'static str {
        "index.html"
    }

    fn render(&self, summary: &Summary) -> Result<Vec<u8>, ReportError> {
        self.registry
            .render("report", &View::new(summary))
            .map(String::into_bytes)
            .map_err(|e| ReportError::Render {
                file: "index.html",
                reason: e.to_string(),
            })
    }
}

#[derive(Serialize)]
struct View<'a> {
    plan: &'a str,
    description: &'a str,
    file: &'a str,
    verdict: &'static str,
    /// The verdict with its icon: `✘ failed`.
    verdict_mark: &'static str,
    /// When the verdict is `failed`: why, first on the page.
    why_failed: Option<WhyFailed>,
    started_at: String,
    finished_at: String,
    duration: String,
    cores: usize,
    os: String,
    version: &'a str,
    ci: Vec<CiRow>,
    cell_count: usize,
    health: Vec<HealthItem>,
    /// What was checked, said when nothing was found.
    health_criteria: String,
    scenarios: Vec<ScenarioView<'a>>,
    baseline: Option<BaselineView<'a>>,
    source: &'a str,
}

/// Every reason the run failed, each linked to its cell (see [`insight::failures`]).
#[derive(Serialize)]
struct WhyFailed {
    /// `2 thresholds and 1 cell`.
    count: String,
    fail_mark: &'static str,
    thresholds: Vec<FailedThreshold>,
    baseline: Vec<FailedCheck>,
    cells: Vec<FailedCell>,
    /// Said when the verdict is failed and the summary names no reason.
    unexplained: Option<&'static str>,
}

#[derive(Serialize)]
struct FailedThreshold {
    anchor: String,
    who: String,
    expression: String,
    observed: String,
    limit: String,
}

#[derive(Serialize)]
struct FailedCheck {
    anchor: String,
    who: String,
    metric: String,
    baseline: String,
    current: String,
    change: String,
}

#[derive(Serialize)]
struct FailedCell {
    anchor: String,
    who: String,
    why: String,
}

/// The comparison with an earlier run: only the checks that failed are listed one by one.
#[derive(Serialize)]
struct BaselineView<'a> {
    file: &'a str,
    run_id: &'a str,
    started_at: String,
    tolerance: String,
    result: &'static str,
    /// `✔ passed` or `✘ failed`.
    mark: &'static str,
    checked: usize,
    failed: Vec<BaselineRow>,
    missing_in_baseline: &'a [String],
    missing_in_run: &'a [String],
}

#[derive(Serialize)]
struct BaselineRow {
    /// The cell's row in its scenario's table, or the scenario when this run lacks the cell.
    anchor: String,
    mark: &'static str,
    cell: String,
    metric: String,
    baseline: String,
    current: String,
    change: String,
}

#[derive(Serialize)]
struct CiRow {
    key: &'static str,
    value: String,
    /// Only `http(s)` URLs become links: an environment variable could hold `javascript:`.
    link: Option<String>,
}

#[derive(Serialize)]
struct HealthItem {
    /// `warning` (the numbers may not mean what they seem) or `note` (worth knowing).
    level: &'static str,
    /// `Warning` or `Note`, printed before the title.
    word: &'static str,
    title: &'static str,
    detail: String,
    cells: Vec<HealthCell>,
}

#[derive(Serialize)]
struct HealthCell {
    anchor: String,
    text: String,
}

#[derive(Serialize)]
struct ScenarioView<'a> {
    name: &'a str,
    anchor: String,
    description: &'a str,
    kind: &'static str,
    kind_words: &'static str,
    bound: &'static str,
    evidence: String,
    /// Said when the measurement contradicts the kind of workload.
    surprise: Option<String>,
    bound_cell: &'a str,
    workload: &'a [String],
    load: &'a str,
    /// Certificates were not verified: said loudly beside the scenario's title.
    tls_insecure: bool,
    fastest: String,
    fastest_detail: String,
    finding: String,
    speedup_svg: String,
    spectrum_svg: String,
    sweep: Option<SweepView>,
    timeline_throughput_svg: String,
    timeline_p99_svg: String,
    errors_svg: Option<String>,
    /// Said instead of the errors chart when there were none.
    no_errors: String,
    status_svg: Option<String>,
    /// Each cell's errors by category with their first messages, one row per category.
    error_rows: Vec<ErrorRow>,
    /// HTTP scenarios: connections per cell and where an operation's time goes.
    connections: Option<ConnectionsView>,
    problems: Vec<String>,
    thresholds: Vec<ThresholdView>,
    /// Open-model cells: the schedule kept or not, corrected against uncorrected latency.
    open: Vec<OpenView>,
    rows: Vec<RowView>,
}

#[derive(Serialize)]
struct ErrorRow {
    anchor: String,
    label: String,
    #[serde(flatten)]
    group: ErrorGroup,
}

#[derive(Serialize)]
struct ConnectionsView {
    rows: Vec<ConnectionRow>,
    /// Where an operation's time goes; `None` when no cell completed an operation.
    phases_svg: Option<String>,
    /// How the cells used their connections: what the chart's setup segments mean here.
    reuse: String,
}

#[derive(Serialize)]
struct ConnectionRow {
    anchor: String,
    #[serde(flatten)]
    row: Row,
}

#[derive(Serialize)]
struct OpenView {
    label: String,
    target: String,
    achieved: String,
    scheduled: u64,
    dropped: u64,
    corrected_p50: String,
    corrected_p99: String,
    uncorrected_p50: String,
    uncorrected_p99: String,
    lag_p99: String,
    behind: bool,
}

#[derive(Serialize)]
struct SweepView {
    throughput_svg: String,
    p99_svg: String,
}

#[derive(Serialize)]
struct ThresholdView {
    anchor: String,
    cell: String,
    expression: String,
    observed: String,
    passed: bool,
    /// `✔ passed` or `✘ failed`.
    result: &'static str,
}

#[derive(Serialize)]
struct RowView {
    /// `scenario-1-cell-2`: where the "Why it failed" panel and the baseline table link to.
    anchor: String,
    label: String,
    model: &'static str,
    concurrency: usize,
    workers: usize,
    operations: u64,
    errors: u64,
    error_rate: String,
    wall: String,
    throughput: String,
    p50: String,
    p90: String,
    p99: String,
    p999: String,
    max: String,
    cores_busy: String,
    speedup: String,
    fastest: bool,
    /// Short health words for this row (`short`, `errors`…), empty when none.
    flags: String,
    /// `fail` (the cell fails the run, or a threshold or baseline check of it failed), `warn`
    /// (flags) or `ok`.
    status: &'static str,
    /// The status as icon and words: `✘ failed`, `⚠ short, errors`, `✔ ok`.
    status_mark: String,
    incomplete: bool,
    notes: String,
}

impl<'a> View<'a> {
    fn new(s: &'a Summary) -> View<'a> {
        let mut ci = Vec::new();
        if let Some(c) = &s.ci {
            ci.push(CiRow {
                key: "CI",
                value: c.system.clone(),
                link: None,
            });
            for (key, v) in [
                ("commit", &c.commit),
                ("branch", &c.branch),
                ("job", &c.job_url),
            ] {
                if let Some(v) = v {
                    let link = (key == "job"
                        && (v.starts_with("https://") || v.starts_with("http://")))
                    .then(|| v.clone());
                    ci.push(CiRow {
                        key,
                        value: v.clone(),
                        link,
                    });
                }
            }
        }
        let failures = insight::failures(s);
        View {
            plan: &s.plan.name,
            description: s.plan.description.as_deref().unwrap_or(""),
            file: &s.plan.file,
            verdict: match s.verdict {
                Verdict::Passed => "passed",
                Verdict::Failed => "failed",
                Verdict::Interrupted => "interrupted",
            },
            verdict_mark: match s.verdict {
                Verdict::Passed => insight::mark(true),
                Verdict::Failed => insight::mark(false),
                Verdict::Interrupted => "⚠ interrupted",
            },
            why_failed: (s.verdict == Verdict::Failed).then(|| why_failed(&failures)),
            started_at: s.started_at.to_string(),
            finished_at: s.finished_at.to_string(),
            duration: format!("{:.1} s", s.duration_seconds),
            cores: s.host.cores,
            os: format!("{} {}", s.host.os, s.host.arch),
            version: &s.loadplan_version,
            ci,
            cell_count: s.scenarios.iter().map(|sc| sc.cells.len()).sum(),
            health: health(s),
            health_criteria: insight::health_criteria(s),
            scenarios: s
                .scenarios
                .iter()
                .enumerate()
                .map(|(i, sc)| scenario_view(i, sc, s.host.cores, &failures))
                .collect(),
            baseline: s.baseline.as_ref().map(|b| baseline_view(b, &failures)),
            source: &s.plan.source,
        }
    }
}

/// The failures of `insight`, grouped by kind, each linked to its cell.
fn why_failed(failures: &[Failure]) -> WhyFailed {
    let mut why = WhyFailed {
        count: insight::failure_count(failures),
        fail_mark: insight::mark(false),
        thresholds: Vec::new(),
        baseline: Vec::new(),
        cells: Vec::new(),
        unexplained: failures.is_empty().then_some(insight::UNEXPLAINED),
    };
    for f in failures {
        let anchor = failure_anchor(f);
        let who = f.who.clone();
        match &f.reason {
            Reason::Threshold {
                expression,
                observed,
                limit,
            } => why.thresholds.push(FailedThreshold {
                anchor,
                who,
                expression: expression.clone(),
                observed: observed.clone(),
                limit: limit.clone(),
            }),
            Reason::Baseline {
                metric,
                baseline,
                current,
                change,
                ..
            } => why.baseline.push(FailedCheck {
                anchor,
                who,
                metric: metric.clone(),
                baseline: baseline.clone(),
                current: current.clone(),
                change: change.clone(),
            }),
            Reason::Cell { why: text } => why.cells.push(FailedCell {
                anchor,
                who,
                why: text.clone(),
            }),
        }
    }
    why
}

/// The row of a failure's cell, or its scenario's section when this run lacks the cell.
fn failure_anchor(f: &Failure) -> String {
    f.cell
        .map_or_else(|| anchor(f.scenario), |c| cell_anchor(f.scenario, c))
}

fn baseline_view<'a>(b: &'a BaselineReport, failures: &[Failure]) -> BaselineView<'a> {
    // The failed checks in `failures` come in the order of `b.checks`, filtered alike.
    let mut cells = failures
        .iter()
        .filter(|f| matches!(f.reason, Reason::Baseline { .. }))
        .map(|f| (failure_anchor(f), f.who.clone()));
    BaselineView {
        file: &b.file,
        run_id: &b.run_id,
        started_at: b.started_at.to_string(),
        tolerance: units::percent(b.tolerance),
        result: if b.passed { "passed" } else { "failed" },
        mark: insight::mark(b.passed),
        checked: b.checks.len(),
        failed: b
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c: &BaselineCheck| {
                let (anchor, cell) = cells.next().unwrap_or_else(|| {
                    let who = format!("{} · {} c={}", c.scenario, c.model.as_str(), c.concurrency);
                    (String::new(), who)
                });
                BaselineRow {
                    anchor,
                    mark: insight::mark(false),
                    cell,
                    metric: c.metric.clone(),
                    baseline: baseline_value(&c.metric, c.baseline),
                    current: baseline_value(&c.metric, c.current),
                    change: c
                        .change
                        .map_or_else(|| "-".into(), |x| format!("{:+.1}%", x * 100.0)),
                }
            })
            .collect(),
        missing_in_baseline: &b.missing_in_baseline,
        missing_in_run: &b.missing_in_run,
    }
}

fn label(c: &CellSummary) -> String {
    c.label()
}

fn anchor(i: usize) -> String {
    format!("scenario-{}", i + 1)
}

/// The row of cell `cell` of scenario `scenario` in its table.
fn cell_anchor(scenario: usize, cell: usize) -> String {
    format!("scenario-{}-cell-{}", scenario + 1, cell + 1)
}

/// The health items of `insight`, each cell linked to its scenario's section.
fn health(s: &Summary) -> Vec<HealthItem> {
    insight::health(s)
        .into_iter()
        .map(|h| HealthItem {
            level: h.severity.as_str(),
            word: h.severity.word(),
            title: h.title,
            detail: h.detail,
            cells: h
                .cells
                .into_iter()
                .map(|c| HealthCell {
                    anchor: anchor(c.scenario),
                    text: c.text,
                })
                .collect(),
        })
        .collect()
}

/// The scenario's connections panel; `None` for a scenario without connections (a CPU kernel).
fn connections_view(i: usize, s: &ScenarioSummary) -> Option<ConnectionsView> {
    if !connections::any(s) {
        return None;
    }
    Some(ConnectionsView {
        rows: connections::rows(s)
            .into_iter()
            .map(|row| ConnectionRow {
                anchor: cell_anchor(i, row.cell),
                row,
            })
            .collect(),
        phases_svg: figures::phases_chart(&format!("{}-phases", anchor(i)), s),
        reuse: connections::reuse(s),
    })
}

/// A cell's status in its table: whether it failed (`fail`), has doubts (`warn`) or neither,
/// in words with an icon.
fn cell_status(failed: bool, flags: &[Flag]) -> (&'static str, String) {
    let words = flags
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    match (failed, words.is_empty()) {
        (true, true) => ("fail", insight::mark(false).to_string()),
        (true, false) => ("fail", format!("{} · {words}", insight::mark(false))),
        (false, false) => ("warn", format!("⚠ {words}")),
        (false, true) => ("ok", "✔ ok".to_string()),
    }
}

fn scenario_view<'a>(
    i: usize,
    s: &'a ScenarioSummary,
    host_cores: usize,
    failures: &[Failure],
) -> ScenarioView<'a> {
    let id = anchor(i);
    let found = insight::findings(s);
    let failed = |ci: usize| {
        failures
            .iter()
            .any(|f| f.scenario == i && f.cell == Some(ci))
    };
    let (spectrum_svg, problems) = figures::spectrum_chart(&format!("{id}-spectrum"), s);
    let [timeline_throughput_svg, timeline_p99_svg] =
        figures::timeline_charts(&format!("{id}-timeline"), s);
    let sweep = figures::is_sweep(s).then(|| {
        let [throughput_svg, p99_svg] = figures::sweep_charts(&format!("{id}-sweep"), s);
        SweepView {
            throughput_svg,
            p99_svg,
        }
    });
    let total_ops = s
        .cells
        .iter()
        .fold(0u64, |a, c| a.saturating_add(c.operations));
    let open = s
        .cells
        .iter()
        .filter_map(|c| {
            let o = c.open.as_ref()?;
            Some(OpenView {
                label: label(c),
                target: units::number(o.target_rate_per_s),
                achieved: units::number(o.achieved_rate_per_s),
                scheduled: o.scheduled,
                dropped: o.dropped,
                corrected_p50: units::micros(c.latency_us.p50),
                corrected_p99: units::micros(c.latency_us.p99),
                uncorrected_p50: units::micros(o.latency_uncorrected_us.p50),
                uncorrected_p99: units::micros(o.latency_uncorrected_us.p99),
                lag_p99: units::micros(o.send_lag_us.p99),
                behind: o.rate_not_reached,
            })
        })
        .collect();
    ScenarioView {
        open,
        name: &s.name,
        anchor: id.clone(),
        description: s.description.as_deref().unwrap_or(""),
        kind: s.kind.as_str(),
        kind_words: match s.kind {
            Bound::Io => "HTTP requests",
            Bound::Cpu => "a CPU kernel",
        },
        bound: s.bound.as_str(),
        evidence: found.evidence,
        surprise: found.surprise,
        bound_cell: &s.bound_cell,
        workload: &s.workload,
        load: &s.load,
        tls_insecure: s.tls_insecure,
        fastest: found.fastest_label,
        fastest_detail: found.fastest_detail,
        finding: found.headline,
        speedup_svg: figures::speedup_chart(&format!("{id}-speedup"), s, host_cores),
        spectrum_svg,
        sweep,
        timeline_throughput_svg,
        timeline_p99_svg,
        errors_svg: figures::breakdown_chart(&format!("{id}-errors"), s, Breakdown::Errors),
        no_errors: format!("No errors: all {total_ops} operations of this scenario succeeded."),
        status_svg: figures::breakdown_chart(&format!("{id}-status"), s, Breakdown::StatusCodes),
        error_rows: s
            .cells
            .iter()
            .enumerate()
            .flat_map(|(ci, c)| {
                insight::error_groups(c)
                    .into_iter()
                    .map(move |group| ErrorRow {
                        anchor: cell_anchor(i, ci),
                        label: label(c),
                        group,
                    })
            })
            .collect(),
        connections: connections_view(i, s),
        problems,
        thresholds: s
            .cells
            .iter()
            .enumerate()
            .flat_map(|(ci, c)| {
                c.thresholds.iter().map(move |t| ThresholdView {
                    anchor: cell_anchor(i, ci),
                    cell: label(c),
                    expression: t.expression.clone(),
                    observed: t.observed_text.clone(),
                    passed: t.passed,
                    result: insight::mark(t.passed),
                })
            })
            .collect(),
        rows: s
            .cells
            .iter()
            .enumerate()
            .map(|(ci, c)| {
                let flags = insight::cell_flags(c, s.kind, host_cores);
                let (status, status_mark) = cell_status(failed(ci), &flags);
                RowView {
                    anchor: cell_anchor(i, ci),
                    label: label(c),
                    model: c.model.as_str(),
                    concurrency: c.concurrency,
                    workers: c.workers,
                    operations: c.operations,
                    errors: c.errors.values().fold(0u64, |a, n| a.saturating_add(*n)),
                    error_rate: units::percent(c.error_rate),
                    wall: format!("{:.2} s", c.wall_seconds),
                    throughput: units::number(c.throughput_per_s),
                    p50: units::micros(c.latency_us.p50),
                    p90: units::micros(c.latency_us.p90),
                    p99: units::micros(c.latency_us.p99),
                    p999: units::micros(c.latency_us.p999),
                    max: units::micros(c.latency_us.max),
                    cores_busy: units::number(c.cores_busy),
                    speedup: units::speedup(c.speedup),
                    fastest: Some(ci) == found.fastest,
                    flags: flags
                        .iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    status,
                    status_mark,
                    incomplete: !c.complete,
                    notes: c.notes.join("; "),
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Model;
    use crate::report::sample::{behind_schedule, healthy, snapshot};
    use crate::stats::{TimelinePoint, histogram_to_base64, new_histogram};

    const HOSTILE: &str = r#"<script>alert("x")</script> & co"#;
    const HOSTILE_ESCAPED: &str = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co";

    fn render(s: &Summary) -> String {
        let html = Html::new(None).expect("embedded templates load");
        let bytes = html.render(s).expect("renders");
        String::from_utf8(bytes).expect("utf-8")
    }

    /// The text between `start` (included) and the next `end` (included).
    fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
        let a = page
            .find(start)
            .unwrap_or_else(|| panic!("no {start:?} in page"));
        let b = page[a..]
            .find(end)
            .unwrap_or_else(|| panic!("no {end:?} after {start:?}"));
        &page[a..a + b + end.len()]
    }

    fn count(page: &str, needle: &str) -> usize {
        page.matches(needle).count()
    }

    #[test]
    fn plan_strings_are_escaped_everywhere() {
        let mut s = sample();
        s.plan.name = HOSTILE.into();
        s.plan.description = Some(HOSTILE.into());
        s.plan.file = HOSTILE.into();
        s.plan.source = format!("name: {HOSTILE}\ntoken: ${{API_TOKEN}}\n");
        for sc in &mut s.scenarios {
            sc.name = HOSTILE.into();
            sc.description = Some(HOSTILE.into());
            sc.workload = vec![HOSTILE.into()];
            sc.load = HOSTILE.into();
        }
        if let Some(ci) = &mut s.ci {
            ci.branch = Some(HOSTILE.into());
            ci.job_url = Some(r#"javascript:alert("x")"#.into());
        }
        let page = render(&s);
        // The template has no script of its own: any `<script` came from the plan.
        assert_eq!(count(&page, "<script"), 0, "raw <script> in the page");
        assert!(!page.contains(r#"alert("x")"#), "a raw quote survived");
        assert!(!page.contains("</script> & co"), "a raw ampersand survived");
        // Title, h1, description, plan file, scenario headings, panel cards, workload, source…
        assert!(count(&page, HOSTILE_ESCAPED) >= 10, "{page}");
        // …and inside the SVG charts' accessible names, escaped by svg.rs.
        assert!(page.contains(&format!(
            "Latency percentile spectrum of scenario {HOSTILE_ESCAPED}"
        )));
        assert!(page.contains("token: ${API_TOKEN}"));
        assert!(!page.contains("href=\"javascript"), "unsafe job URL linked");
    }

    #[test]
    fn every_scenario_has_its_table_and_charts() {
        let s = sample();
        let page = render(&s);
        let n = s.scenarios.len();
        assert_eq!(count(&page, "<h1>"), 1);
        for (i, sc) in s.scenarios.iter().enumerate() {
            let id = format!("scenario-{}", i + 1);
            let section = between(
                &page,
                &format!(r#"<section class="scenario" id="{id}""#),
                "</section>",
            );
            assert_eq!(count(section, r#"<table class="cells">"#), 1, "{id}");
            assert_eq!(
                count(section, "<tr class="),
                sc.cells.len(),
                "{id}: one row per cell"
            );
            for class in [
                "chart-spectrum",
                "chart-sweep-throughput",
                "chart-sweep-p99",
                "chart-timeline-throughput",
                "chart-timeline-p99",
                "chart-errors",
                "chart-status",
            ] {
                assert_eq!(
                    count(section, &format!("chart {class}")),
                    1,
                    "{id}: {class}"
                );
            }
            assert!(
                page.contains(&format!(r#"id="{id}-speedup""#)),
                "{id}: speedup chart"
            );
        }
        assert_eq!(count(&page, "chart chart-speedup"), n);
        // Every chart is named for assistive technology and has data points with tooltips.
        assert_eq!(
            count(&page, "<svg "),
            count(&page, r#"role="img" aria-labelledby="#)
        );
        assert!(count(&page, "<circle") + count(&page, "<rect x=") > 20);
        // Health: the sample's cells are short, one has errors and is incomplete.
        let health = between(
            &page,
            r#"<section aria-labelledby="health-title">"#,
            "</section>",
        );
        for words in [
            "The run was interrupted.",
            "Incomplete cells.",
            "Error rate above a few percent.",
            "Cells too short to be meaningful.",
        ] {
            assert!(health.contains(words), "health lacks {words:?}: {health}");
        }
        // Header: CI metadata, with the job URL as a link.
        assert!(page.contains(r#"<a href="https://ci.example/job/1">"#));
        assert!(page.contains("<dd>0123abc</dd>"));
        // Baseline: the failed check is listed.
        assert!(
            page.contains(r#"Baseline comparison: <span class="mark mark-failed">✘ failed</span>"#)
        );
        assert!(page.contains("<td>+30.0%</td>"));
        // …linked to the row of its cell, which says it failed.
        assert!(
            page.contains(r##"<a href="#scenario-1-cell-2">sample · async c&#x3D;2 w&#x3D;1</a>"##)
        );
        assert!(page.contains(r#"id="scenario-1-cell-2"><th scope="row">async"#));
    }

    #[test]
    fn a_healthy_run_says_what_was_checked() {
        let s = healthy();
        let page = render(&s);
        assert!(
            page.contains(r#"<p class="health-ok">No warnings."#),
            "{page}"
        );
        // No errors anywhere: each scenario says so instead of drawing an empty chart.
        assert_eq!(count(&page, "chart chart-errors"), 0);
        assert_eq!(
            count(&page, r#"<p class="no-errors">No errors"#),
            s.scenarios.len()
        );
    }

    #[test]
    fn an_http_runner_at_full_cores_is_flagged() {
        let mut s = sample();
        s.scenarios[0].cells[1].cores_busy = 0.9; // host has 1 core
        s.scenarios[1].cells[1].cores_busy = 0.9; // a CPU kernel: expected, only a note
        let page = render(&s);
        let health = between(
            &page,
            r#"<section aria-labelledby="health-title">"#,
            "</section>",
        );
        assert!(health.contains("The load generator was the bottleneck."));
        assert_eq!(count(health, "0.90 of 1 cores busy"), 2);
        assert!(
            health.contains(
                r#"<li class="note"><strong>Note: The cores of the machine were saturated"#
            )
        );
        assert!(page.contains("short, errors, runner saturated"));
    }

    /// Snapshot tests of the parts whose markup is stable (see [`snapshot`]).
    #[test]
    fn snapshots_of_stable_parts() {
        let page = render(&sample());
        snapshot("header.html", between(&page, "<header>", "</header>"));
        snapshot(
            "health.html",
            between(
                &page,
                r#"<section aria-labelledby="health-title">"#,
                "</section>",
            ),
        );
        snapshot(
            "cells-table.html",
            between(&page, r#"<table class="cells">"#, "</table>"),
        );
        snapshot(
            "speedup.svg",
            between(
                &page,
                r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-speedup""#,
                "</svg>",
            ),
        );
    }

    /// The sample, failed: a threshold of `async c=2 w=1` broken, its baseline check failed,
    /// and it lost a worker.
    fn failed() -> Summary {
        let mut s = sample();
        s.verdict = Verdict::Failed;
        let t = &mut s.scenarios[0].cells[1].thresholds[0];
        t.passed = false;
        t.expression = "p99 < 10ms".into();
        t.limit = 10_000.0;
        s
    }

    #[test]
    fn a_failed_run_says_why_before_anything_else() {
        let page = render(&failed());
        let why = between(&page, r#"<section class="why-failed""#, "</section>");
        // First in <main>, before the models are compared.
        let at = |needle: &str| page.find(needle).unwrap_or_else(|| panic!("{needle}"));
        let panel = at(r#"<section class="why-failed""#);
        assert!(at("<main>") < panel && panel < at(r#"id="bound-title""#));
        assert!(why.contains("✘ Why it failed: 1 threshold, 1 baseline check and 2 cells"));
        snapshot("why-failed.html", why);
        // The threshold: expression, observed value and limit, linked to its cell's row.
        assert!(why.contains(
            r##"<th scope="row"><a href="#scenario-1-cell-2">sample · async c&#x3D;2 w&#x3D;1</a></th><td class="text"><code class="expression">p99 &lt; 10ms</code></td><td class="observed"><strong>52.0ms</strong></td><td>10.0ms</td>"##
        ), "{why}");
        assert!(why.contains("did not complete: a worker exited"));
        assert_eq!(
            count(why, r#"<span class="mark mark-failed">✘ failed</span>"#),
            4
        );
        // The cells the panel links to exist.
        for anchor in why.split(r##"href="#"##).skip(1) {
            let id = anchor.split('"').next().unwrap_or_default();
            assert!(page.contains(&format!(r#"id="{id}""#)), "no {id}");
        }
        // The row says it failed too, with an icon and a word.
        assert!(
            page.contains(
                r#"<td class="flags flags-fail">✘ failed · incomplete, short, errors</td>"#
            )
        );
        assert!(page.contains(r#"<span class="verdict verdict-failed">✘ failed</span>"#));
        // A run that passed, or was interrupted, has no such panel.
        for verdict in [Verdict::Passed, Verdict::Interrupted] {
            let mut s = failed();
            s.verdict = verdict;
            let page = render(&s);
            assert_eq!(
                count(&page, r#"<section class="why-failed""#),
                0,
                "{verdict:?}"
            );
        }
        // Failed with no reason the summary names: it says so rather than show nothing.
        let mut s = healthy();
        s.baseline = None;
        s.verdict = Verdict::Failed;
        let page = render(&s);
        assert!(page.contains("names no failed threshold, baseline check or failing cell"));
    }

    #[test]
    fn pass_and_fail_read_as_icon_word_and_colour() {
        let page = render(&failed());
        let thresholds = between(&page, r#"<table class="thresholds">"#, "</table>");
        assert!(
            thresholds
                .contains(r##"<tr class="failed"><th scope="row"><a href="#scenario-1-cell-2">"##)
        );
        assert!(thresholds.contains(r#"<span class="mark mark-failed">✘ failed</span>"#));
        assert!(thresholds.contains(r#"<span class="mark mark-passed">✔ passed</span>"#));
        let page = render(&healthy());
        assert!(page.contains(r#"<span class="verdict verdict-passed">✔ passed</span>"#));
        assert!(page.contains(r#"<td class="flags flags-ok">✔ ok</td>"#));
    }

    #[test]
    fn http_scenarios_show_their_connections() {
        let page = render(&sample());
        let io = between(
            &page,
            r#"<section class="scenario" id="scenario-1""#,
            "</section>",
        );
        let table = between(io, r#"<table class="connections">"#, "</table>");
        assert_eq!(count(table, "<tr><th scope=\"row\">"), 3, "{table}");
        assert!(table.contains("<td>2.00ms / 3.00ms</td>"), "{table}");
        assert_eq!(count(io, "chart chart-phases"), 1);
        assert!(io.contains("Setup happens once per connection, not per request"));
        assert!(io.contains("carried 4.00 operations each"));
        // A CPU kernel opens no connection: no panel at all.
        let cpu = between(
            &page,
            r#"<section class="scenario" id="scenario-2""#,
            "</section>",
        );
        assert!(!cpu.contains("connections") && !cpu.contains("chart-phases"));
    }

    #[test]
    fn error_messages_are_listed_and_escaped() {
        let mut s = sample();
        s.scenarios[0].cells[1]
            .error_messages
            .insert("status".into(), vec![HOSTILE.into(), "status 503".into()]);
        let page = render(&s);
        let io = between(
            &page,
            r#"<section class="scenario" id="scenario-1""#,
            "</section>",
        );
        let errors = between(io, r#"<table class="errors">"#, "</table>");
        assert!(errors.contains(&format!("<li><code>{HOSTILE_ESCAPED}</code></li>")));
        assert!(errors.contains("<li><code>status 503</code></li>"));
        assert_eq!(count(&page, "<script"), 0);
    }

    #[test]
    fn unverified_certificates_are_said_loudly() {
        let mut s = healthy();
        s.scenarios[0].tls_insecure = true;
        let page = render(&s);
        let health = between(
            &page,
            r#"<section aria-labelledby="health-title">"#,
            "</section>",
        );
        assert!(health.contains("<strong>Warning: TLS certificates were NOT verified.</strong>"));
        let io = between(
            &page,
            r#"<section class="scenario" id="scenario-1""#,
            "</section>",
        );
        assert!(
            io.contains(r#"<p class="warning loud">⚠ Warning: TLS certificates were NOT verified"#)
        );
        let cpu = between(
            &page,
            r#"<section class="scenario" id="scenario-2""#,
            "</section>",
        );
        assert!(!cpu.contains("loud"));
    }

    /// Charts say their size in pixels, which the page only ever shrinks: text stays at 12 px
    /// whatever the number of scenarios, and no chart is wider than half the page.
    #[test]
    fn every_chart_has_a_pixel_size_that_fits_half_the_page() {
        for s in [sample(), big_summary(1, 1)] {
            let page = render(&s);
            let svgs: Vec<&str> = page.split("<svg ").skip(1).collect();
            assert!(!svgs.is_empty());
            for svg in svgs {
                let width = svg
                    .split(" width=\"")
                    .nth(1)
                    .and_then(|w| w.split('"').next())
                    .and_then(|w| w.parse::<f64>().ok())
                    .unwrap_or_else(|| panic!("no width: {}", &svg[..200]));
                assert!(width <= 560.0, "{width}");
                assert!(svg.contains(r#"font-size="12""#));
            }
        }
        let style = include_str!("../../templates/style.hbs");
        assert!(style.contains("svg.chart { display: block; max-width: 100%; height: auto;"));
        assert!(!style.contains("svg.chart { display: block; width: 100%"));
    }

    #[test]
    fn an_open_model_that_missed_its_rate_is_flagged() {
        let mut s = sample();
        s.scenarios[0].cells[2].open = Some(behind_schedule());
        let page = render(&s);
        let health = between(
            &page,
            r#"<section aria-labelledby="health-title">"#,
            "</section>",
        );
        assert!(
            health.contains("The arrival rate was not kept."),
            "{health}"
        );
        assert!(health.contains("88.0/s achieved of 100/s planned, 120 of 1000 arrivals dropped"));
    }

    #[test]
    fn findings_state_the_numbers() {
        let s = sample();
        let io = insight::findings(&s.scenarios[0]).headline;
        assert!(io.starts_with("async c=4 w=1 was 3.00× faster"), "{io}");
    }

    #[test]
    fn a_template_folder_replaces_the_embedded_templates() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join(MAIN_TEMPLATE),
            "<h1>{{plan}}</h1>{{> extra}}{{#each scenarios}}<p>{{name}}: {{bound}}</p>{{/each}}",
        )
        .expect("write");
        std::fs::write(dir.path().join("extra.hbs"), "<p>by {{version}}</p>").expect("write");
        std::fs::write(dir.path().join("notes.txt"), "{{ not a template").expect("write");
        let html = Html::new(Some(dir.path())).expect("loads");
        let mut s = sample();
        s.plan.name = "a & b".into();
        let page = String::from_utf8(html.render(&s).expect("renders")).expect("utf-8");
        assert_eq!(
            page,
            format!(
                "<h1>a &amp; b</h1><p>by {}</p><p>sample: io</p><p>sample: cpu</p>",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn a_partial_alone_overrides_the_embedded_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(MAIN_TEMPLATE), TEMPLATE).expect("write");
        std::fs::write(
            dir.path().join("style.hbs"),
            "body { color: rebeccapurple; }",
        )
        .expect("write");
        let html = Html::new(Some(dir.path())).expect("loads");
        let page = String::from_utf8(html.render(&sample()).expect("renders")).expect("utf-8");
        assert!(page.contains("body { color: rebeccapurple; }"));
        assert!(!page.contains("--fg: #1b1f24"), "embedded style still used");
        assert_eq!(
            count(&page, r#"<table class="cells">"#),
            2,
            "embedded scenario partial kept"
        );
    }

    #[test]
    fn bad_template_folders_fail_before_any_load() {
        let err = |dir: &Path| match Html::new(Some(dir)) {
            Ok(_) => panic!("{} accepted", dir.display()),
            Err(e) => e.to_string(),
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope");
        assert!(err(&missing).contains("nope"));
        let e = err(dir.path());
        assert!(e.contains("must hold report.html.hbs"), "{e}");
        // A syntax error names the file.
        std::fs::write(dir.path().join(MAIN_TEMPLATE), "{{#each scenarios}}").expect("write");
        let e = err(dir.path());
        assert!(e.contains(MAIN_TEMPLATE), "{e}");
        // A misspelt field is found by the trial render, not after the run.
        std::fs::write(
            dir.path().join(MAIN_TEMPLATE),
            "{{#each scenarios}}{{nmae}}{{/each}}",
        )
        .expect("write");
        let e = err(dir.path());
        assert!(e.contains("nmae"), "{e}");
    }

    /// A summary of `scenarios` × `cells` cells with realistic histograms and minute-long
    /// timelines.
    fn big_summary(scenarios: usize, cells: usize) -> Summary {
        let mut s = sample();
        let proto = s.scenarios[0].clone();
        s.scenarios = (0..scenarios)
            .map(|si| {
                let mut sc = proto.clone();
                sc.name = format!("scenario {si}");
                sc.cells = (0..cells)
                    .map(|ci| {
                        let mut c = proto.cells[1].clone();
                        c.model = [Model::Threads, Model::Async, Model::Processes][ci % 3];
                        c.concurrency = 1 << (ci / 3);
                        let mut h = new_histogram();
                        for k in 0..20_000u64 {
                            // A spread from 1 ms to several seconds, with a tail.
                            let _ = h.record(1_000 + (k * k * (ci as u64 + 1)) % 3_000_000);
                        }
                        c.histogram = histogram_to_base64(&h);
                        c.timeline = (0..60)
                            .map(|second| TimelinePoint {
                                second,
                                operations: 300 + u64::from(second % 7),
                                errors: u64::from(second % 5),
                                bytes: 1_000,
                                p50_us: 5_000,
                                p99_us: 50_000 + u64::from(second) * 100,
                                max_us: 90_000,
                                in_flight: 0.0,
                                histogram: String::new(),
                            })
                            .collect();
                        c.wall_seconds = 60.0;
                        c
                    })
                    .collect();
                sc
            })
            .collect();
        s
    }

    #[test]
    fn a_hundred_cells_render_quickly() {
        let s = big_summary(10, 10);
        assert_eq!(
            s.scenarios.iter().map(|sc| sc.cells.len()).sum::<usize>(),
            100
        );
        let html = Html::new(None).expect("loads");
        let start = std::time::Instant::now();
        let page = html.render(&s).expect("renders");
        let took = start.elapsed();
        eprintln!("rendered 100 cells in {took:?}, {} bytes", page.len());
        // The contract is < 1 s in a release build; unoptimised test builds get more room.
        let limit = if cfg!(debug_assertions) { 10.0 } else { 1.0 };
        assert!(took.as_secs_f64() < limit, "took {took:?}");
        assert!(page.len() < 20 << 20, "page of {} bytes", page.len());
    }
}
