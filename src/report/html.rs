//! `index.html`: one self-contained page rendered by handlebars from `templates/` (embedded in the
//! binary, or read from a folder given with `--templates`). Every plan-provided string goes
//! through `{{…}}`, which escapes HTML; only our own generated SVG (`svg.rs`, which escapes its
//! own text) goes through `{{{…}}}`.
//!
//! Input: a [`Summary`]. Output: HTML bytes. The view model below turns numbers into the words,
//! charts and warnings the template shows, so the template holds no logic beyond loops and
//! conditions. Must not write files or reach the network; a template folder is read once, when
//! the reporter is built (before any load is sent), and is checked then by a trial render.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use handlebars::Handlebars;
use serde::Serialize;

use super::svg;
use super::{ReportError, Reporter};
use crate::plan::{Model, cell_label};
use crate::stats::{
    BaselineCheck, BaselineReport, Bound, CellSummary, CiInfo, Host, LatencySummary, PlanInfo,
    ScenarioSummary, Summary, ThresholdResult, TimelinePoint, Verdict, histogram_to_base64,
    new_histogram,
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

/// A cell keeping this share of the host's cores busy was limited by the machine it ran on.
const SATURATED_SHARE: f64 = 0.8;
/// Above this error rate the latencies describe failures as much as the service.
const ERROR_RATE_WARNING: f64 = 0.02;
/// Shorter cells measure start-up and scheduling noise more than steady behaviour.
const SHORT_SECONDS: f64 = 1.0;
/// With fewer operations, p99 is simply the maximum.
const FEW_OPERATIONS: u64 = 100;

pub struct Html {
    registry: Handlebars<'static>,
}

impl Html {
    /// The embedded templates, or those of `dir`: its `report.html.hbs`, and every other `*.hbs`
    /// file as a partial named after it (`style.hbs` → `{{> style}}`), replacing the embedded one.
    pub fn new(dir: Option<&Path>) -> Result<Html, ReportError> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
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
    started_at: &'a str,
    finished_at: &'a str,
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

/// The comparison with an earlier run: only the checks that failed are listed one by one.
#[derive(Serialize)]
struct BaselineView<'a> {
    file: &'a str,
    run_id: &'a str,
    started_at: &'a str,
    tolerance: String,
    result: &'static str,
    checked: usize,
    failed: Vec<BaselineRow>,
    missing_in_baseline: &'a [String],
    missing_in_run: &'a [String],
}

#[derive(Serialize)]
struct BaselineRow {
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
    problems: Vec<String>,
    thresholds: Vec<ThresholdView>,
    /// Open-model cells: the schedule kept or not, corrected against uncorrected latency.
    open: Vec<OpenView>,
    rows: Vec<RowView>,
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
    cell: String,
    expression: String,
    observed: String,
    result: &'static str,
}

#[derive(Serialize)]
struct RowView {
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
        View {
            plan: &s.plan.name,
            description: s.plan.description.as_deref().unwrap_or(""),
            file: &s.plan.file,
            verdict: match s.verdict {
                Verdict::Passed => "passed",
                Verdict::Failed => "failed",
                Verdict::Interrupted => "interrupted",
            },
            started_at: &s.started_at,
            finished_at: &s.finished_at,
            duration: format!("{:.1} s", s.duration_seconds),
            cores: s.host.cores,
            os: format!("{} {}", s.host.os, s.host.arch),
            version: &s.loadplan_version,
            ci,
            cell_count: s.scenarios.iter().map(|sc| sc.cells.len()).sum(),
            health: health(s),
            health_criteria: format!(
                "No warnings. Checked: the runner kept fewer than {}% of the {} cores busy in HTTP scenarios, every error rate stayed at or under {}, and every cell ran for at least {SHORT_SECONDS:.0} s and {FEW_OPERATIONS} operations, completely.",
                (SATURATED_SHARE * 100.0).round(),
                s.host.cores,
                units::percent(ERROR_RATE_WARNING),
            ),
            scenarios: s
                .scenarios
                .iter()
                .enumerate()
                .map(|(i, sc)| scenario_view(i, sc, s.host.cores))
                .collect(),
            baseline: s.baseline.as_ref().map(baseline_view),
            source: &s.plan.source,
        }
    }
}

fn baseline_view(b: &BaselineReport) -> BaselineView<'_> {
    let show = |metric: &str, v: f64| match metric {
        "throughput_per_s" => format!("{}/s", units::number(v)),
        "error_rate" => units::percent(v),
        // Latency metrics are whole microseconds.
        _ if v.is_finite() && v >= 0.0 => units::micros(v.round() as u64),
        _ => units::number(v),
    };
    BaselineView {
        file: &b.file,
        run_id: &b.run_id,
        started_at: &b.started_at,
        tolerance: units::percent(b.tolerance),
        result: if b.passed { "passed" } else { "failed" },
        checked: b.checks.len(),
        failed: b
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c: &BaselineCheck| BaselineRow {
                cell: format!("{} · {} c={}", c.scenario, c.model.as_str(), c.concurrency),
                metric: c.metric.clone(),
                baseline: show(&c.metric, c.baseline),
                current: show(&c.metric, c.current),
                change: c
                    .change
                    .map_or_else(|| "-".into(), |x| format!("{:+.1}%", x * 100.0)),
            })
            .collect(),
        missing_in_baseline: &b.missing_in_baseline,
        missing_in_run: &b.missing_in_run,
    }
}

fn label(c: &CellSummary) -> String {
    cell_label(c.model, c.concurrency, c.workers)
}

fn anchor(i: usize) -> String {
    format!("scenario-{}", i + 1)
}

/// The health words of one cell, shared by the table and the health section.
fn cell_flags(c: &CellSummary, kind: Bound, host_cores: usize) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if !c.complete {
        flags.push("incomplete");
    }
    if c.operations == 0 {
        flags.push("no operations");
    } else if c.wall_seconds < SHORT_SECONDS || c.operations < FEW_OPERATIONS {
        flags.push("short");
    }
    if c.error_rate > ERROR_RATE_WARNING {
        flags.push("errors");
    }
    if kind == Bound::Io && saturated(c, host_cores) {
        flags.push("runner saturated");
    }
    if c.latency_out_of_range > 0 {
        flags.push("off the scale");
    }
    if c.open.as_ref().is_some_and(|o| o.rate_not_reached) {
        flags.push("rate not reached");
    }
    flags
}

fn saturated(c: &CellSummary, host_cores: usize) -> bool {
    c.cores_busy >= SATURATED_SHARE * host_cores.max(1) as f64
}

/// Can these numbers be trusted? One item per kind of doubt, listing the cells it concerns.
fn health(s: &Summary) -> Vec<HealthItem> {
    let cores = s.host.cores;
    let mut groups: BTreeMap<&'static str, Vec<HealthCell>> = BTreeMap::new();
    for (i, sc) in s.scenarios.iter().enumerate() {
        for c in &sc.cells {
            let who = format!("{} · {}", sc.name, label(c));
            let mut add = |key: &'static str, text: String| {
                groups.entry(key).or_default().push(HealthCell {
                    anchor: anchor(i),
                    text,
                });
            };
            for flag in cell_flags(c, sc.kind, cores) {
                let text = match flag {
                    "incomplete" => format!("{who}: {}", c.notes.join("; ")),
                    "no operations" => format!("{who}: no operation completed"),
                    "short" => format!(
                        "{who}: {:.2} s, {} operations",
                        c.wall_seconds, c.operations
                    ),
                    "errors" => format!(
                        "{who}: {} of {} operations failed ({})",
                        c.errors.values().sum::<u64>(),
                        c.operations,
                        units::percent(c.error_rate)
                    ),
                    "runner saturated" => format!(
                        "{who}: {} of {cores} cores busy",
                        units::number(c.cores_busy)
                    ),
                    "rate not reached" => match &c.open {
                        Some(o) => format!(
                            "{who}: {}/s achieved of {}/s planned, {} of {} arrivals dropped",
                            units::number(o.achieved_rate_per_s),
                            units::number(o.target_rate_per_s),
                            o.dropped,
                            o.scheduled
                        ),
                        None => who.clone(),
                    },
                    _ => format!("{who}: {} latencies above one hour", c.latency_out_of_range),
                };
                add(flag, text);
            }
            if sc.kind == Bound::Cpu && saturated(c, cores) {
                add(
                    "machine busy",
                    format!(
                        "{who}: {} of {cores} cores busy",
                        units::number(c.cores_busy)
                    ),
                );
            }
        }
    }
    let mut items = Vec::new();
    if s.verdict == Verdict::Interrupted {
        items.push(HealthItem {
            level: "warning",
            word: "Warning",
            title: "The run was interrupted.",
            detail: "Cells that did not finish are marked incomplete; scenarios not reached are missing.".into(),
            cells: Vec::new(),
        });
    }
    // Fixed order: the worst doubts first.
    let explain: [(&str, &str, &str, String); 8] = [
        (
            "incomplete",
            "warning",
            "Incomplete cells.",
            "They lost a worker or were interrupted: their numbers cover only part of the load.".into(),
        ),
        (
            "runner saturated",
            "warning",
            "The load generator was the bottleneck.",
            format!(
                "In these HTTP cells the runner kept at least {}% of the machine's cores busy: throughput was limited and latency inflated by the runner itself, not the service. Use fewer users, the async model, or a bigger machine.",
                (SATURATED_SHARE * 100.0).round()
            ),
        ),
        (
            "rate not reached",
            "warning",
            "The arrival rate was not kept.",
            "These open-model cells dropped arrivals or carried out fewer than 95% of those scheduled: the service saw less load than planned.".into(),
        ),
        (
            "errors",
            "warning",
            "Error rate above a few percent.",
            format!(
                "More than {} of the operations failed: latencies describe failures as much as successes (see each scenario's error charts).",
                units::percent(ERROR_RATE_WARNING)
            ),
        ),
        (
            "no operations",
            "warning",
            "Cells without a completed operation.",
            "There is nothing to measure in them.".into(),
        ),
        (
            "short",
            "warning",
            "Cells too short to be meaningful.",
            format!(
                "They ran under {SHORT_SECONDS:.0} s or fewer than {FEW_OPERATIONS} operations: start-up and scheduling noise weigh heavily, and with fewer than {FEW_OPERATIONS} operations p99 is simply the maximum. Raise repeat or duration before trusting small differences."
            ),
        ),
        (
            "off the scale",
            "warning",
            "Latencies beyond the histogram.",
            "Some operations took over an hour; they are counted but not in the percentiles.".into(),
        ),
        (
            "machine busy",
            "note",
            "The cores of the machine were saturated by computation.",
            "Expected for CPU-bound work at full parallelism: more concurrency cannot make these cells faster.".into(),
        ),
    ];
    for (key, level, title, detail) in explain {
        if let Some(cells) = groups.remove(key) {
            items.push(HealthItem {
                level,
                word: if level == "note" { "Note" } else { "Warning" },
                title,
                detail,
                cells,
            });
        }
    }
    items
}

fn scenario_view(i: usize, s: &ScenarioSummary, host_cores: usize) -> ScenarioView<'_> {
    let id = anchor(i);
    let fastest = svg::fastest_index(s);
    let fastest_cell = fastest.and_then(|f| s.cells.get(f));
    let busy = units::percent(s.busy_fraction);
    let waiting = units::percent((1.0 - s.busy_fraction).clamp(0.0, 1.0));
    let evidence = format!(
        "In {}, the runner's CPU time was {busy} of the wall time on the cores it could use: it spent the other {waiting} waiting. Half or more counts as CPU-bound.",
        s.bound_cell
    );
    let surprise = match (s.kind, s.bound) {
        (Bound::Io, Bound::Cpu) => Some(
            "The workload is HTTP, yet the runner was busy computing: the load generator itself may be the bottleneck (see Generator health).".to_string(),
        ),
        (Bound::Cpu, Bound::Io) => Some(
            "The workload is a CPU kernel, yet the runner mostly idled: the kernel may be too small for the timer, or the cell too short.".to_string(),
        ),
        _ => None,
    };
    let (spectrum_svg, problems) = svg::spectrum_chart(&format!("{id}-spectrum"), s);
    let [timeline_throughput_svg, timeline_p99_svg] =
        svg::timeline_charts(&format!("{id}-timeline"), s);
    let sweep = svg::is_sweep(s).then(|| {
        let [throughput_svg, p99_svg] = svg::sweep_charts(&format!("{id}-sweep"), s);
        SweepView {
            throughput_svg,
            p99_svg,
        }
    });
    let total_ops: u64 = s.cells.iter().map(|c| c.operations).sum();
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
        evidence,
        surprise,
        bound_cell: &s.bound_cell,
        workload: &s.workload,
        load: &s.load,
        fastest: fastest_cell.map_or_else(|| "none".into(), label),
        fastest_detail: fastest_cell.map_or_else(
            || "no cell completed an operation".into(),
            |c| {
                format!(
                    "{}/s, {} sequential, {} cores busy",
                    units::number(c.throughput_per_s),
                    units::speedup(c.speedup),
                    units::number(c.cores_busy)
                )
            },
        ),
        finding: finding(s),
        speedup_svg: svg::speedup_chart(&format!("{id}-speedup"), s, host_cores),
        spectrum_svg,
        sweep,
        timeline_throughput_svg,
        timeline_p99_svg,
        errors_svg: svg::errors_chart(&format!("{id}-errors"), s),
        no_errors: format!("No errors: all {total_ops} operations of this scenario succeeded."),
        status_svg: svg::status_chart(&format!("{id}-status"), s),
        problems,
        thresholds: s
            .cells
            .iter()
            .flat_map(|c| {
                c.thresholds.iter().map(|t| ThresholdView {
                    cell: label(c),
                    expression: t.expression.clone(),
                    observed: t.observed_text.clone(),
                    result: if t.passed { "passed" } else { "failed" },
                })
            })
            .collect(),
        rows: s
            .cells
            .iter()
            .enumerate()
            .map(|(ci, c)| RowView {
                label: label(c),
                model: c.model.as_str(),
                concurrency: c.concurrency,
                workers: c.workers,
                operations: c.operations,
                errors: c.errors.values().sum(),
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
                fastest: Some(ci) == fastest,
                flags: cell_flags(c, s.kind, host_cores).join(", "),
                incomplete: !c.complete,
                notes: c.notes.join("; "),
            })
            .collect(),
    }
}

/// One plain sentence stating what the numbers show.
pub(crate) fn finding(s: &ScenarioSummary) -> String {
    let best = s
        .cells
        .iter()
        .filter(|c| c.model != Model::Sequential && c.speedup.is_some())
        .max_by(|a, b| a.throughput_per_s.total_cmp(&b.throughput_per_s));
    let Some(best) = best else {
        return match s.bound {
            Bound::Io => format!(
                "The runner was busy {} of the time: this scenario is I/O-bound (it mostly waited).",
                units::percent(s.busy_fraction)
            ),
            Bound::Cpu => format!(
                "The runner was busy {} of the time: this scenario is CPU-bound (it mostly computed).",
                units::percent(s.busy_fraction)
            ),
        };
    };
    let speed = units::speedup(best.speedup);
    let cores = units::number(best.cores_busy);
    let mut sentence = match s.bound {
        Bound::Io => format!(
            "{} was {speed} faster than sequential while keeping {cores} cores busy: the time was spent waiting, and concurrency overlaps waiting.",
            label(best)
        ),
        Bound::Cpu => format!(
            "{} was {speed} faster than sequential using {cores} cores: the work was computation, which only runs faster on more cores at once.",
            label(best)
        ),
    };
    if s.bound == Bound::Cpu {
        if let Some(a) = s
            .cells
            .iter()
            .find(|c| c.model == Model::Async && c.workers == 1)
        {
            sentence.push_str(&format!(
                " A single-threaded async event loop ran it at {} of sequential speed: a task computing never yields to the others.",
                units::speedup(a.speedup)
            ));
        }
        if let Some(t) = s
            .cells
            .iter()
            .filter(|c| c.model == Model::Threads)
            .max_by(|a, b| a.throughput_per_s.total_cmp(&b.throughput_per_s))
            .filter(|t| t.speedup.is_some_and(|x| x > 1.2))
        {
            sentence.push_str(&format!(
                " Threads sped it up {} because Rust threads compute on several cores at once (CPython's interpreter lock would not allow that).",
                units::speedup(t.speedup)
            ));
        }
    }
    sentence
}

/// A small but complete summary: every list the template loops over is non-empty, so a trial
/// render reaches every field a template folder may use.
fn sample() -> Summary {
    let mut h = new_histogram();
    for v in [900u64, 1_200, 1_500, 52_000] {
        // In range by construction; a failure would only leave the sample histogram smaller.
        let _ = h.record(v);
    }
    let cell = |model: Model, concurrency: usize, speedup: f64, errors: u64| CellSummary {
        model,
        concurrency,
        workers: 1,
        operations: 4,
        successes: 4 - errors,
        errors: [("status".to_string(), errors)].into_iter().collect(),
        status_codes: [("200".to_string(), 4 - errors), ("503".to_string(), errors)]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect(),
        error_rate: errors as f64 / 4.0,
        bytes: 64,
        wall_seconds: 0.5 / speedup,
        throughput_per_s: 8.0 * speedup,
        attempts_per_s: 0.0,
        latency_us: LatencySummary {
            count: 4,
            min: 900,
            mean: 13_900.0,
            p50: 1_200,
            p90: 52_000,
            p99: 52_000,
            p999: 52_000,
            max: 52_000,
            stdev: 22_000.0,
        },
        latency_out_of_range: 0,
        cpu_seconds: 0.01,
        cores_busy: 0.02,
        peak_rss_bytes: 1 << 20,
        speedup: Some(speedup),
        complete: errors == 0,
        start_offset_seconds: 0.0,
        notes: if errors == 0 {
            Vec::new()
        } else {
            vec!["a worker exited".into()]
        },
        thresholds: vec![ThresholdResult {
            expression: "p99 < 100ms".into(),
            observed: Some(52_000.0),
            passed: true,
            limit: 100_000.0,
            unit: "us".into(),
            observed_text: "52.0ms".into(),
        }],
        timeline: vec![TimelinePoint {
            second: 0,
            operations: 4,
            errors,
            bytes: 64,
            p50_us: 1_200,
            p99_us: 52_000,
            max_us: 52_000,
            in_flight: 0.0,
            histogram: histogram_to_base64(&h),
            seconds: 1.0,
        }],
        histogram: histogram_to_base64(&h),
        open: None,
        rounds: None,
        machine: Default::default(),
    };
    let scenario = |kind: Bound| ScenarioSummary {
        name: "sample".into(),
        description: Some("a sample scenario".into()),
        kind,
        bound: kind,
        busy_fraction: if kind == Bound::Io { 0.02 } else { 0.95 },
        bound_cell: "sequential".into(),
        classified: true,
        workload: vec!["/hello".into()],
        load: "repeat: 4".into(),
        cells: vec![
            cell(Model::Sequential, 1, 1.0, 0),
            cell(Model::Async, 2, 1.8, 1),
            cell(Model::Async, 4, 3.0, 0),
        ],
    };
    Summary {
        schema_version: crate::stats::SCHEMA_VERSION,
        plan: PlanInfo {
            name: "sample".into(),
            file: "sample.yaml".into(),
            description: Some("a sample plan".into()),
            source: "version: 1\n".into(),
        },
        run_id: "sample".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        finished_at: "2026-01-01T00:00:01Z".into(),
        duration_seconds: 1.0,
        loadplan_version: env!("CARGO_PKG_VERSION").into(),
        host: Host {
            cores: 1,
            os: "linux".into(),
            arch: "x86_64".into(),
        },
        ci: Some(CiInfo {
            system: "github-actions".into(),
            commit: Some("0123abc".into()),
            branch: Some("main".into()),
            job_url: Some("https://ci.example/job/1".into()),
        }),
        verdict: Verdict::Interrupted,
        scenarios: vec![scenario(Bound::Io), scenario(Bound::Cpu)],
        baseline: Some(BaselineReport {
            file: "baseline/summary.json".into(),
            run_id: "earlier".into(),
            started_at: "2025-12-31T00:00:00Z".into(),
            tolerance: 0.1,
            latency_floor_us: 1_000,
            passed: false,
            checks: vec![BaselineCheck {
                scenario: "sample".into(),
                model: Model::Async,
                concurrency: 2,
                metric: "p99".into(),
                baseline: 40_000.0,
                current: 52_000.0,
                change: Some(0.3),
                passed: false,
                noise: None,
            }],
            missing_in_baseline: vec!["sample · async c=4 w=1".into()],
            missing_in_run: vec!["sample · threads c=2".into()],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(page.contains("Baseline comparison: failed"));
        assert!(page.contains("<td>+30.0%</td>"));
    }

    #[test]
    fn a_healthy_run_says_what_was_checked() {
        let mut s = sample();
        s.verdict = Verdict::Passed;
        for sc in &mut s.scenarios {
            for c in &mut sc.cells {
                c.operations = 10_000;
                c.wall_seconds = 5.0;
                c.complete = true;
                c.error_rate = 0.0;
                c.errors.values_mut().for_each(|n| *n = 0);
            }
        }
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

    /// Snapshot tests of the parts whose markup is stable: compared with files in
    /// `src/report/snapshots/`; `UPDATE_SNAPSHOTS=1 cargo test` rewrites them after a deliberate
    /// change (review the diff).
    fn snapshot(name: &str, actual: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/report/snapshots")
            .join(name);
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, actual).expect("write snapshot");
            return;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 creates it)", path.display()));
        assert!(
            expected == actual,
            "{} differs; actual:\n{actual}\n(UPDATE_SNAPSHOTS=1 rewrites it)",
            path.display()
        );
    }

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

    #[test]
    fn an_open_model_that_missed_its_rate_is_flagged() {
        let mut s = sample();
        s.scenarios[0].cells[2].open = Some(crate::stats::OpenSummary {
            scheduled: 1_000,
            dropped: 120,
            target_rate_per_s: 100.0,
            achieved_rate_per_s: 88.0,
            latency_uncorrected_us: LatencySummary::default(),
            send_lag_us: LatencySummary::default(),
            rate_not_reached: true,
        });
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
        let io = finding(&s.scenarios[0]);
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
                                seconds: 1.0,
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
