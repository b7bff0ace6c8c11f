//! The view model of `index.html`: the summary laid out for the template, so that the template
//! holds no logic beyond loops and conditions. The words come from `insight/` (health,
//! findings, why the run failed, errors) and `connections.rs`, the charts from `figures/`.
//!
//! Input: a [`Summary`]. Output: [`View`], serialised for handlebars. Every string here is
//! escaped by the template (`{{…}}`) except the SVG of our own charts (`*_svg`). Must not
//! format markup.

use serde::Serialize;

use crate::report::connections::{self, Row};
use crate::report::figures::{self, Breakdown};
use crate::report::insight::{self, ErrorGroup, Failure, Flag, Reason};
use crate::report::junit::baseline_value;
use crate::stats::{
    BaselineCheck, BaselineReport, Bound, CellSummary, ScenarioSummary, Summary, Verdict,
};
use crate::units;
#[derive(Serialize)]
pub(super) struct View<'a> {
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
    pub(super) fn new(s: &'a Summary) -> View<'a> {
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
                    let who = format!("{} · {}", c.scenario, c.label());
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
