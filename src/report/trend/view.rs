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
use crate::report::chart::scale::tick_text;
use crate::report::chart::{Axis, Marker, Plot, Point, Rule, Series, Style, Tag};
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
        }
    }

    fn title(self) -> &'static str {
        match self {
            Metric::P50 => "p50 latency",
            Metric::P99 => "p99 latency",
            Metric::Throughput => "Throughput",
            Metric::ErrorRate => "Error rate",
        }
    }

    /// The raw value in the summary's unit (µs, operations/s, fraction).
    fn raw(self, c: &CellSummary) -> f64 {
        match self {
            Metric::P50 => c.latency_us.p50 as f64,
            Metric::P99 => c.latency_us.p99 as f64,
            Metric::Throughput => c.throughput_per_s,
            Metric::ErrorRate => c.error_rate,
        }
    }

    /// The raw value as people read it.
    fn show(self, raw: f64) -> String {
        match self {
            Metric::P50 | Metric::P99 => units::micros(raw.max(0.0) as u64),
            Metric::Throughput => format!("{}/s", units::number(raw)),
            Metric::ErrorRate => units::percent(raw),
        }
    }

    /// The y axis from 0 (so drift is seen at its true size) for raw values up to `max_raw`,
    /// labelled in the unit that reads best.
    fn axis(self, max_raw: f64) -> Axis {
        match self {
            Metric::P50 | Metric::P99 => Axis::latency(self.title(), max_raw, Y_INTERVALS),
            Metric::Throughput => Axis::linear(
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
    cells: Vec<CellView>,
    runs: Vec<RunRow<'a>>,
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
}

#[derive(Serialize)]
struct ChartView {
    id: String,
    metric: &'static str,
    title: &'static str,
    /// First → latest, the drift in words.
    caption: String,
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
        let cells = keys
            .iter()
            .enumerate()
            .map(|(i, k)| cell_view(i, k, runs))
            .collect();
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
    let charts = METRICS
        .iter()
        .map(|&m| chart(i, m, &name, &x, runs, &found))
        .collect();
    CellView {
        anchor: format!("cell-{}", i + 1),
        scenario: k.scenario.clone(),
        label,
        present: found.len(),
        total: crate::units::count(runs.len(), "run"),
        charts,
    }
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
    let rules = runs
        .iter()
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
        width: format!("{WIDTH:.0}"),
        height: format!("{:.0}", Plot::height(TOP, PLOT_HEIGHT)),
        plot: plot.draw(WIDTH, TOP, PLOT_HEIGHT),
    }
}
