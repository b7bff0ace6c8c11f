//! The trend page's view model: per cell, four charts (p50, p99, throughput, error rate) of one
//! point per run over a shared time axis, drawn with the chart kit, and the table of runs.
//!
//! Input: saved runs, oldest first. Output: plain data for `templates/trend.html.hbs`; the plots
//! are SVG markup from the kit (text escaped there), everything else goes through `{{…}}`. Must
//! not read files or the clock: the same runs always give the same page.

use std::collections::HashSet;

use serde::Serialize;

use super::SavedRun;
use crate::plan::Model;
use crate::report::chart::legend::{LegendKey, legend};
use crate::report::chart::scale::tick_text;
use crate::report::chart::{Axis, Marker, Plot, Point, Rule, Series, Style, Tag};
use crate::report::insight;
use crate::stats::change::{ChangePoint, MinShift, change_points};
use crate::stats::{CellSummary, Verdict};
use crate::units;

/// The chart's coordinate system: sized for the chart shown 450–750 px wide.
const WIDTH: f64 = 560.0;
const TOP: f64 = 12.0;
const PLOT_HEIGHT: f64 = 186.0;
/// Ticks on a trend's y axis: few, so a drift reads at a glance.
const Y_INTERVALS: usize = 4;

const SERIES: &str = "#0969da";
const BAD: &str = "#a40e26";
const WARN: &str = "#7d4e00";
const CHANGE: &str = "#8250df";

/// A cell is the same across runs when scenario, model, concurrency and workers all match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct CellKey {
    scenario: String,
    model: Model,
    concurrency: usize,
    workers: usize,
}

/// The cells of all runs, the newest run's order first (the plan as it is now), then cells that
/// only older runs had.
pub(super) fn cell_keys(runs: &[SavedRun]) -> Vec<CellKey> {
    let mut keys = Vec::new();
    let mut seen = HashSet::new();
    for r in runs.iter().rev() {
        for s in &r.summary.scenarios {
            for c in &s.cells {
                let k = CellKey {
                    scenario: s.name.clone(),
                    model: c.model,
                    concurrency: c.concurrency,
                    workers: c.workers,
                };
                if seen.insert(k.clone()) {
                    keys.push(k);
                }
            }
        }
    }
    keys
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Metric {
    P50,
    P99,
    Throughput,
    ErrorRate,
    /// A capacity search's result: charted only for cells that ran one.
    Capacity,
}

const METRICS: [Metric; 4] = [
    Metric::P50,
    Metric::P99,
    Metric::Throughput,
    Metric::ErrorRate,
];

impl Metric {
    fn id(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P99 => "p99",
            Metric::Throughput => "throughput",
            Metric::ErrorRate => "error-rate",
            Metric::Capacity => "capacity",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Metric::P50 => "p50 latency",
            Metric::P99 => "p99 latency",
            Metric::Throughput => "Throughput",
            Metric::ErrorRate => "Error rate",
            Metric::Capacity => "Capacity",
        }
    }

    /// The raw value in the summary's unit (µs, operations/s, fraction).
    fn raw(self, c: &CellSummary) -> f64 {
        match self {
            Metric::P50 => c.latency_us.p50 as f64,
            Metric::P99 => c.latency_us.p99 as f64,
            Metric::Throughput => c.throughput_per_s,
            Metric::ErrorRate => c.error_rate,
            // No capacity (an invalid search): no point, rather than a zero.
            Metric::Capacity => c
                .capacity
                .as_ref()
                .and_then(|x| x.capacity_per_s)
                .unwrap_or(f64::NAN),
        }
    }

    /// The smallest shift that counts as a change: 5 % of latency or throughput, one
    /// percentage point of error rate (which is often 0, where no percentage exists).
    fn min_shift(self) -> MinShift {
        match self {
            Metric::ErrorRate => MinShift::Absolute(0.01),
            _ => MinShift::Relative(0.05),
        }
    }

    /// True when a move from `before` to `after` is for the worse (slower, fewer, more errors).
    fn worse(self, before: f64, after: f64) -> bool {
        match self {
            Metric::Throughput | Metric::Capacity => after < before,
            _ => after > before,
        }
    }

    /// The raw value as people read it.
    fn show(self, raw: f64) -> String {
        match self {
            Metric::P50 | Metric::P99 => units::micros(raw.max(0.0) as u64),
            Metric::Throughput | Metric::Capacity => format!("{}/s", units::number(raw)),
            Metric::ErrorRate => units::percent(raw),
        }
    }

    /// The y axis from 0 (so drift is seen at its true size) for raw values up to `max_raw`,
    /// labelled in the unit that reads best.
    fn axis(self, max_raw: f64) -> Axis {
        match self {
            Metric::P50 | Metric::P99 => Axis::latency(self.title(), max_raw, Y_INTERVALS),
            Metric::Throughput | Metric::Capacity => Axis::linear(
                format!("{} (operations/s)", self.title()),
                max_raw,
                Y_INTERVALS,
                &tick_text,
            ),
            Metric::ErrorRate => {
                Axis::scaled(format!("{} (%)", self.title()), max_raw, 100.0, Y_INTERVALS)
            }
        }
    }
}

#[derive(Serialize)]
pub(super) struct PageView<'a> {
    plan: &'a str,
    description: &'a str,
    /// `1 run`, `10 runs`.
    runs_count: String,
    first: String,
    last: String,
    not_passed: usize,
    failed: usize,
    interrupted: usize,
    invalid: usize,
    /// Every change point of every chart, earliest run first.
    changes: Vec<ChangeView>,
    /// How change points are found, in words.
    change_rule: String,
    cells: Vec<CellView>,
    runs: Vec<RunRow<'a>>,
}

/// One shift of one cell's figure, marked at the first run of its new level.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ChangeView {
    /// The cell's section on the page.
    pub anchor: String,
    /// `scenario · cell`.
    pub who: String,
    pub metric: &'static str,
    /// The first run of the new level, numbered as in the table of runs (1 = oldest).
    pub run: usize,
    pub run_id: String,
    /// `p99 latency 100.0ms → 130.0ms (+30.0%)`.
    pub size: String,
    /// `99.8%`: 1 − the permutation test's p-value.
    pub confidence: String,
    /// Slower, fewer operations or more errors.
    pub worse: bool,
}

#[derive(Serialize)]
struct RunRow<'a> {
    number: usize,
    started_at: String,
    run_id: &'a str,
    verdict: &'static str,
    passed: bool,
    failed: bool,
    interrupted: bool,
    invalid: bool,
    version: &'a str,
    commit: String,
    link: String,
    has_link: bool,
    file: String,
    /// A run that did not pass: why, in words (each failed threshold, baseline check and cell).
    reasons: Vec<String>,
}

#[derive(Serialize)]
struct CellView {
    anchor: String,
    scenario: String,
    label: String,
    present: usize,
    /// `of 1 run`, `of 10 runs`.
    total: String,
    charts: Vec<ChartView>,
    /// A mix or a flow: one line per named request, p50 and p99.
    request_charts: Vec<ChartView>,
    /// Each failed run's reasons that concern this cell, in words: the rows under the charts.
    failures: Vec<FailedRun>,
}

/// A run that failed, and why, in words.
#[derive(Serialize)]
struct FailedRun {
    /// Numbered as in the table of runs (1 = oldest).
    number: usize,
    run_id: String,
    verdict: &'static str,
    reasons: Vec<String>,
}

#[derive(Serialize)]
struct ChartView {
    id: String,
    metric: &'static str,
    title: &'static str,
    /// First → latest, the drift in words.
    caption: String,
    /// The shifts found in this chart's series.
    changes: Vec<ChangeView>,
    description: String,
    width: String,
    height: String,
    /// The plot's SVG markup from the chart kit, inserted raw inside the template's `<svg>`.
    plot: String,
}

pub(super) fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "passed",
        Verdict::Failed => "failed",
        Verdict::Invalid => "invalid",
        Verdict::Interrupted => "interrupted",
    }
}

/// How a run's point is drawn: a circle (passed), a cross (failed), a diamond (invalid), a
/// triangle (interrupted).
fn verdict_mark(v: Verdict) -> (Marker, &'static str) {
    match v {
        Verdict::Passed => (Marker::Circle, SERIES),
        Verdict::Failed => (Marker::Cross, BAD),
        Verdict::Invalid => (Marker::Diamond, WARN),
        Verdict::Interrupted => (Marker::Triangle, WARN),
    }
}

impl<'a> PageView<'a> {
    pub(super) fn new(runs: &'a [SavedRun]) -> PageView<'a> {
        let newest = runs.last();
        let count = |v| runs.iter().filter(|r| r.summary.verdict == v).count();
        let keys = cell_keys(runs);
        let cells: Vec<CellView> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| cell_view(i, k, runs))
            .collect();
        let mut changes: Vec<ChangeView> = cells
            .iter()
            .flat_map(|c| c.charts.iter().flat_map(|ch| ch.changes.iter().cloned()))
            .collect();
        changes.sort_by_key(|c| c.run);
        let started =
            |r: Option<&SavedRun>| r.map_or_else(String::new, |r| r.summary.started_at.to_string());
        PageView {
            plan: newest.map_or("", |r| r.summary.plan.name.as_str()),
            description: newest
                .and_then(|r| r.summary.plan.description.as_deref())
                .unwrap_or(""),
            runs_count: crate::units::count(runs.len(), "run"),
            first: started(runs.first()),
            last: started(newest),
            not_passed: runs.len() - count(Verdict::Passed),
            failed: count(Verdict::Failed),
            interrupted: count(Verdict::Interrupted),
            invalid: count(Verdict::Invalid),
            changes,
            change_rule: format!(
                "p-value at most {}, {} permutations with a fixed seed, at least {} runs on each side, a shift of at least 5% or, for the error rate, one percentage point",
                crate::stats::change::ALPHA,
                crate::stats::change::PERMUTATIONS,
                crate::stats::change::MIN_SEGMENT
            ),
            cells,
            runs: runs
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let s = &r.summary;
                    RunRow {
                        number: i + 1,
                        started_at: s.started_at.to_string(),
                        run_id: &s.run_id,
                        verdict: verdict_word(s.verdict),
                        passed: s.verdict == Verdict::Passed,
                        failed: s.verdict == Verdict::Failed,
                        interrupted: s.verdict == Verdict::Interrupted,
                        invalid: s.verdict == Verdict::Invalid,
                        version: &s.loadplan_version,
                        commit: s
                            .ci
                            .as_ref()
                            .and_then(|c| c.commit.as_deref())
                            .map(|c| c.chars().take(12).collect())
                            .unwrap_or_default(),
                        link: r.report_link.clone().unwrap_or_default(),
                        has_link: r.report_link.is_some(),
                        file: r.path.display().to_string(),
                        reasons: if s.verdict == Verdict::Passed {
                            Vec::new()
                        } else {
                            run_reasons(s)
                        },
                    }
                })
                .collect(),
        }
    }
}

fn cell_view(i: usize, k: &CellKey, runs: &[SavedRun]) -> CellView {
    // Every run that has this cell, in time order.
    let found: Vec<(&SavedRun, &CellSummary)> = runs
        .iter()
        .filter_map(|r| {
            let cell = r
                .summary
                .scenarios
                .iter()
                .filter(|s| s.name == k.scenario)
                .flat_map(|s| &s.cells)
                .find(|c| {
                    c.model == k.model && c.concurrency == k.concurrency && c.workers == k.workers
                })?;
            Some((r, cell))
        })
        .collect();
    let label = k.model.label(k.concurrency, k.workers);
    let name = format!("{} · {label}", k.scenario);
    // The time axis is shared by all of a cell's charts (all runs' times), so a point sits at
    // the same x in each of them.
    let times: Vec<f64> = runs.iter().map(|r| r.started).collect();
    let x = Axis::time("run started", &times);
    let searched = found.iter().any(|(_, c)| c.capacity.is_some());
    let charts = METRICS
        .iter()
        .copied()
        .chain(searched.then_some(Metric::Capacity))
        .map(|m| chart(i, m, &name, &x, runs, &found))
        .collect();
    let request_charts = [RequestMetric::P50, RequestMetric::P99]
        .iter()
        .filter_map(|&m| request_chart(i, m, &name, &x, runs, &found))
        .collect();
    CellView {
        anchor: format!("cell-{}", i + 1),
        scenario: k.scenario.clone(),
        label,
        present: found.len(),
        total: crate::units::count(runs.len(), "run"),
        charts,
        request_charts,
        failures: cell_failures(k, runs),
    }
}

/// Why a run did not pass, in words: each failed threshold, baseline check and failing cell,
/// and for an invalid run the validity rules it broke.
fn run_reasons(s: &crate::stats::Summary) -> Vec<String> {
    let mut out: Vec<String> = insight::failures(s).iter().map(|f| f.sentence()).collect();
    if s.verdict == Verdict::Invalid {
        out.insert(0, insight::validity_headline(s));
    }
    if out.is_empty() {
        out.push(match s.verdict {
            Verdict::Interrupted => "interrupted before every cell had run".to_string(),
            _ => insight::UNEXPLAINED.to_string(),
        });
    }
    out
}

/// Each failed or invalid run's reasons that concern cell `k` (a run that failed elsewhere is
/// not listed under this cell).
fn cell_failures(k: &CellKey, runs: &[SavedRun]) -> Vec<FailedRun> {
    runs.iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.summary.verdict, Verdict::Failed | Verdict::Invalid))
        .filter_map(|(n, r)| {
            let s = &r.summary;
            let reasons: Vec<String> = insight::failures(s)
                .iter()
                .filter(|f| {
                    let Some(sc) = s.scenarios.get(f.scenario) else {
                        return false;
                    };
                    let cell = f.cell.and_then(|ci| sc.cells.get(ci));
                    sc.name == k.scenario
                        && cell.is_some_and(|c| {
                            c.model == k.model
                                && c.concurrency == k.concurrency
                                && c.workers == k.workers
                        })
                })
                .map(|f| f.sentence())
                .collect();
            (!reasons.is_empty()).then(|| FailedRun {
                number: n + 1,
                run_id: s.run_id.clone(),
                verdict: verdict_word(s.verdict),
                reasons,
            })
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum RequestMetric {
    P50,
    P99,
}

impl RequestMetric {
    fn id(self) -> &'static str {
        match self {
            RequestMetric::P50 => "p50-per-request",
            RequestMetric::P99 => "p99-per-request",
        }
    }
    fn title(self) -> &'static str {
        match self {
            RequestMetric::P50 => "p50 latency per request",
            RequestMetric::P99 => "p99 latency per request",
        }
    }
    fn raw(self, l: &crate::stats::LatencySummary) -> f64 {
        match self {
            RequestMetric::P50 => l.p50 as f64,
            RequestMetric::P99 => l.p99 as f64,
        }
    }
}

/// One line per named request of the cell across the runs (a mix or a flow: a cell with two
/// or more requests in some run); `None` for a cell of one request.
fn request_chart(
    cell: usize,
    m: RequestMetric,
    name: &str,
    x: &Axis,
    runs: &[SavedRun],
    found: &[(&SavedRun, &CellSummary)],
) -> Option<ChartView> {
    // The request names, the newest run's order first.
    let mut names: Vec<&str> = Vec::new();
    for (_, c) in found.iter().rev() {
        if c.requests.len() < 2 {
            continue;
        }
        for r in &c.requests {
            if !names.contains(&r.name.as_str()) {
                names.push(&r.name);
            }
        }
    }
    if names.is_empty() {
        return None;
    }
    let mut max_raw: f64 = 0.0;
    let mut captions = Vec::new();
    let series: Vec<Series> = names
        .iter()
        .enumerate()
        .map(|(k, request)| {
            let values: Vec<(&SavedRun, f64)> = found
                .iter()
                .filter_map(|(r, c)| {
                    let q = c.requests.iter().find(|q| q.name == *request)?;
                    let v = m.raw(&q.latency_us);
                    (v.is_finite() && q.operations > 0).then_some((*r, v))
                })
                .collect();
            max_raw = values.iter().map(|p| p.1).fold(max_raw, f64::max);
            if let (Some(a), Some(b)) = (values.first(), values.last()) {
                captions.push(format!(
                    "{request} {} → {}",
                    units::micros(a.1.max(0.0) as u64),
                    units::micros(b.1.max(0.0) as u64)
                ));
            }
            let style = Style::series(k, 0);
            let points: Vec<Point> = values
                .iter()
                .map(|&(r, v)| {
                    let verdict = r.summary.verdict;
                    Point {
                        x: r.started,
                        y: v,
                        tip: format!(
                            "{} · run {} · {request} {} {} · {}",
                            r.summary.started_at,
                            r.summary.run_id,
                            m.title(),
                            units::micros(v.max(0.0) as u64),
                            verdict_word(verdict)
                        ),
                        tag: Some(Tag {
                            class: format!("point verdict-{}", verdict_word(verdict)),
                            data: vec![("run", r.summary.run_id.clone())],
                            marker: style.marker,
                            colour: style.colour,
                        }),
                    }
                })
                .collect();
            Series {
                label: (*request).to_string(),
                style,
                line: points.iter().map(|p| (p.x, p.y)).collect(),
                points,
            }
        })
        .collect();
    let entries: Vec<(String, LegendKey)> = series
        .iter()
        .map(|s| (s.label.clone(), LegendKey::Line(s.style)))
        .collect();
    let plot = Plot {
        x: x.clone(),
        y: Axis::latency(m.title(), max_raw, Y_INTERVALS),
        series,
        hlines: Vec::new(),
        bands: Vec::new(),
        rules: verdict_rules(runs),
        empty: "no data: no run has a number here",
    };
    let base = Plot::height(TOP, PLOT_HEIGHT);
    let (legend_svg, legend_h) = legend(&entries, 8.0, base + 4.0, WIDTH - 16.0);
    let caption = format!("first → latest: {}", captions.join("; "));
    Some(ChartView {
        id: format!("cell-{}-{}", cell + 1, m.id()),
        metric: m.id(),
        title: m.title(),
        description: format!("{} of {name}, one line per request: {caption}", m.title()),
        caption,
        changes: Vec::new(),
        width: format!("{WIDTH:.0}"),
        height: format!("{:.0}", base + legend_h + 8.0),
        plot: format!("{}{legend_svg}", plot.draw(WIDTH, TOP, PLOT_HEIGHT)),
    })
}

/// The rules every chart of the page draws at the runs that did not pass: dashed for a failed
/// run, dotted for an interrupted or invalid one.
fn verdict_rules(runs: &[SavedRun]) -> Vec<Rule> {
    runs.iter()
        .filter(|r| r.summary.verdict != Verdict::Passed)
        .map(|r| {
            let word = verdict_word(r.summary.verdict);
            let (colour, dash) = if r.summary.verdict == Verdict::Failed {
                (BAD, "6 4")
            } else {
                (WARN, "2 3")
            };
            Rule {
                at: r.started,
                class: format!("rule rule-{word}"),
                colour,
                dash,
                tip: format!("run {} {word}", r.summary.run_id),
            }
        })
        .collect()
}

/// First → latest in words, with the change and a peak in between.
fn caption(m: Metric, series: &[(&SavedRun, f64, bool)]) -> String {
    match (series.first(), series.last()) {
        (Some(&(_, a, _)), Some(&(_, b, _))) if series.len() > 1 => {
            let change = if a > 0.0 {
                let pct = (b - a) / a * 100.0;
                format!(
                    " ({}{}%)",
                    if pct >= 0.0 { "+" } else { "" },
                    units::number(pct)
                )
            } else {
                String::new()
            };
            // A spike between the first and the latest run would be invisible in words otherwise.
            let peak = series.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
            let peak = if peak > a && peak > b {
                format!(", highest {}", m.show(peak))
            } else {
                String::new()
            };
            format!("first {} → latest {}{change}{peak}", m.show(a), m.show(b))
        }
        (Some(&(_, a, _)), _) => format!("one run: {}", m.show(a)),
        _ => "no runs".to_string(),
    }
}

/// The change points of one chart's series. Interrupted and invalid runs and incomplete cells
/// are left out of the series: their figures do not describe the service. Failed runs stay in:
/// a regression is what fails them.
fn shifts(
    cell: usize,
    m: Metric,
    name: &str,
    runs: &[SavedRun],
    series: &[(&SavedRun, f64, bool)],
) -> Vec<ChangeView> {
    let kept: Vec<(&SavedRun, f64)> = series
        .iter()
        .filter(|(r, _, complete)| {
            *complete && matches!(r.summary.verdict, Verdict::Passed | Verdict::Failed)
        })
        .map(|&(r, v, _)| (r, v))
        .collect();
    let values: Vec<f64> = kept.iter().map(|p| p.1).collect();
    change_points(&values, m.min_shift())
        .into_iter()
        .filter_map(|c: ChangePoint| {
            let first = kept.get(c.index)?.0;
            // Its number in the table of runs (1 = oldest), by identity.
            let run = runs.iter().position(|r| std::ptr::eq(r, first))? + 1;
            let change = match c.relative() {
                Some(r) if m != Metric::ErrorRate => format!(" ({:+.1}%)", r * 100.0),
                _ => String::new(),
            };
            Some(ChangeView {
                anchor: format!("cell-{}", cell + 1),
                who: name.to_string(),
                metric: m.id(),
                run,
                run_id: first.summary.run_id.clone(),
                size: format!(
                    "{} {} → {}{change}",
                    m.title(),
                    m.show(c.before),
                    m.show(c.after)
                ),
                confidence: units::percent(c.confidence()),
                worse: m.worse(c.before, c.after),
            })
        })
        .collect()
}

/// Shifts for the worse whose first run is among the last `recent` runs: what
/// `loadplan trend --fail-on-change` fails on, each as a sentence.
pub(super) fn recent_regressions(runs: &[SavedRun], recent: usize) -> Vec<String> {
    let from = runs.len().saturating_sub(recent) + 1;
    PageView::new(runs)
        .changes
        .into_iter()
        .filter(|c| c.worse && c.run >= from)
        .map(|c| {
            format!(
                "{}: {} from run {} ({}), confidence {}",
                c.who, c.size, c.run, c.run_id, c.confidence
            )
        })
        .collect()
}

/// One metric of one cell: `found` holds the runs that have the cell; `runs` all runs, so that
/// every chart marks every run that did not pass.
fn chart(
    cell: usize,
    m: Metric,
    name: &str,
    x: &Axis,
    runs: &[SavedRun],
    found: &[(&SavedRun, &CellSummary)],
) -> ChartView {
    // Non-finite values cannot be drawn; they are left out rather than guessed.
    let series: Vec<(&SavedRun, f64, bool)> = found
        .iter()
        .map(|(r, c)| (*r, m.raw(c), c.complete))
        .filter(|p| p.1.is_finite())
        .collect();
    let changes = shifts(cell, m, name, runs, &series);
    let max_raw = series.iter().map(|p| p.1).fold(0.0, f64::max);
    let points: Vec<Point> = series
        .iter()
        .map(|&(r, raw, complete)| {
            let verdict = r.summary.verdict;
            let (marker, colour) = verdict_mark(verdict);
            let tip = format!(
                "{} · run {} · {} {}{} · {}",
                r.summary.started_at,
                r.summary.run_id,
                m.title(),
                m.show(raw),
                if complete { "" } else { " (incomplete cell)" },
                match verdict {
                    Verdict::Passed => "passed",
                    Verdict::Failed => "FAILED",
                    Verdict::Invalid => "INVALID",
                    Verdict::Interrupted => "INTERRUPTED",
                }
            );
            Point {
                x: r.started,
                y: raw,
                tip,
                tag: Some(Tag {
                    class: format!("point verdict-{}", verdict_word(verdict)),
                    data: vec![("run", r.summary.run_id.clone())],
                    marker,
                    colour,
                }),
            }
        })
        .collect();
    let rules = verdict_rules(runs)
        .into_iter()
        .chain(changes.iter().filter_map(|c| {
            let at = runs.get(c.run.checked_sub(1)?)?.started;
            Some(Rule {
                at,
                class: format!(
                    "rule rule-change rule-change-{}",
                    if c.worse { "worse" } else { "better" }
                ),
                colour: CHANGE,
                dash: "",
                tip: format!(
                    "change from run {}: {} (confidence {})",
                    c.run, c.size, c.confidence
                ),
            })
        }))
        .collect();
    let caption = caption(m, &series);
    let plot = Plot {
        x: x.clone(),
        y: m.axis(max_raw),
        series: vec![Series {
            label: m.title().into(),
            style: Style {
                colour: SERIES,
                dash: "",
                marker: Marker::Circle,
            },
            line: points.iter().map(|p| (p.x, p.y)).collect(),
            points,
        }],
        hlines: Vec::new(),
        rules,
        bands: Vec::new(),
        empty: "no data: no run has a number here",
    };
    ChartView {
        id: format!("cell-{}-{}", cell + 1, m.id()),
        metric: m.id(),
        title: m.title(),
        description: format!(
            "{} of {name} across {}: {caption}",
            m.title(),
            crate::units::count(series.len(), "run")
        ),
        caption,
        changes,
        width: format!("{WIDTH:.0}"),
        height: format!("{:.0}", Plot::height(TOP, PLOT_HEIGHT)),
        plot: plot.draw(WIDTH, TOP, PLOT_HEIGHT),
    }
}
