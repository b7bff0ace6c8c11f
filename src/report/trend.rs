//! `loadplan trend`: one HTML page showing each cell's p50, p99, throughput and error rate across
//! the saved runs of one plan, so a slow drift that no single baseline comparison catches shows.
//!
//! Input: paths given on the command line, each a plan's report folder (`reports/<plan>/`, whose
//! run folders hold a `summary.json`), a single run folder, or a `summary.json` file. Every file
//! is deserialized as [`Summary`]; all must belong to the same plan.
//!
//! Output: one self-contained HTML file (inline SVG charts, inline CSS, no JavaScript, no network),
//! rendered by handlebars from the embedded `templates/trend.html.hbs` in strict mode. The x axis
//! is the run's `started_at`; runs whose verdict is not `passed` are marked by shape, a dashed
//! rule and a word (never by colour alone).
//!
//! Must not: modify or move any input, guess when an input is unreadable (it names the file and
//! stops), or put any string from a summary into the page other than through `{{…}}`, which
//! escapes it. The chart geometry is computed here in Rust; the template only lays it out.
//! [`load`] does the reading, [`render`] is pure, [`run`] ties them together and writes the file.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use handlebars::Handlebars;
use serde::Serialize;

use super::{ReportError, write_atomic};
use crate::plan::{Model, cell_label};
use crate::stats::{CellSummary, SCHEMA_VERSION, Summary, Verdict};
use crate::units;

const TEMPLATE: &str = include_str!("../../templates/trend.html.hbs");

#[derive(Debug, thiserror::Error)]
pub enum TrendError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
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
    /// `started_at` as seconds since the Unix epoch.
    started: f64,
    /// A relative link from the trend page to the run's `index.html`, when there is one.
    report_link: Option<String>,
}

impl SavedRun {
    /// Checks what the trend needs beyond deserialization: a known schema and a readable time.
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
        let started = match parse_time(&summary.started_at) {
            Some(t) => t,
            None => {
                return Err(TrendError::Invalid {
                    reason: format!(
                        "started_at `{}` is not an RFC 3339 time after 1970",
                        summary.started_at
                    ),
                    path,
                });
            }
        };
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
        let text = std::fs::read_to_string(&f).map_err(|source| TrendError::Read {
            path: f.clone(),
            source,
        })?;
        let summary: Summary = serde_json::from_str(&text).map_err(|e| TrendError::Invalid {
            path: f.clone(),
            reason: e.to_string(),
        })?;
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
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    registry
        .register_template_string("trend", TEMPLATE)
        .map_err(|e| TrendError::Render(e.to_string()))?;
    registry
        .render("trend", &PageView::new(runs))
        .map_err(|e| TrendError::Render(e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Time

/// RFC 3339 (`2026-05-01T02:00:00Z`, fractions and `±HH:MM` offsets allowed) → Unix seconds.
fn parse_time(s: &str) -> Option<f64> {
    let s = s.trim();
    // humantime reads only UTC, so a numeric offset is split off and applied here.
    let (local, offset_s) = match s
        .len()
        .checked_sub(6)
        .and_then(|i| s.get(i..).map(|o| (i, o)))
    {
        Some((i, o)) if (o.starts_with('+') || o.starts_with('-')) && o.get(3..4) == Some(":") => {
            let h: i64 = o.get(1..3)?.parse().ok()?;
            let m: i64 = o.get(4..6)?.parse().ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            let sign = if o.starts_with('-') { -1 } else { 1 };
            (s.get(..i)?, sign * (h * 3600 + m * 60))
        }
        _ => (s.strip_suffix(['Z', 'z']).unwrap_or(s), 0),
    };
    // RFC 3339 requires the offset; `weak` alone would also take a bare local time.
    if offset_s == 0 && local.len() == s.len() {
        return None;
    }
    let t = humantime::parse_rfc3339_weak(local).ok()?;
    let secs = t.duration_since(UNIX_EPOCH).ok()?.as_secs_f64() - offset_s as f64;
    (secs >= 0.0).then_some(secs)
}

/// Unix seconds → `2026-05-01T02:00:00Z`.
fn utc(secs: f64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(secs.max(0.0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

fn utc_part(secs: f64, range: std::ops::Range<usize>) -> String {
    let s = utc(secs);
    s.get(range).unwrap_or(&s).to_string()
}

// ---------------------------------------------------------------------------------------------
// Cells and metrics

/// A cell is the same across runs when scenario, model, concurrency and workers all match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CellKey {
    scenario: String,
    model: Model,
    concurrency: usize,
    workers: usize,
}

/// The cells of all runs, the newest run's order first (the plan as it is now), then cells that
/// only older runs had.
fn cell_keys(runs: &[SavedRun]) -> Vec<CellKey> {
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
    fn raw(self, c: &crate::stats::CellSummary) -> f64 {
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

    /// The axis unit for values up to `max_raw`: (unit name, factor from raw to axis units).
    fn unit(self, max_raw: f64) -> (&'static str, f64) {
        match self {
            Metric::P50 | Metric::P99 if max_raw >= 1e6 => ("s", 1e-6),
            Metric::P50 | Metric::P99 if max_raw >= 1e3 => ("ms", 1e-3),
            Metric::P50 | Metric::P99 => ("µs", 1.0),
            Metric::Throughput => ("operations/s", 1.0),
            Metric::ErrorRate => ("%", 100.0),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Chart geometry (viewBox units). Text is sized for the chart shown 450–750 px wide.

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 250.0;
const LEFT: f64 = 66.0;
const RIGHT: f64 = WIDTH - 18.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = HEIGHT - 48.0;

/// A coordinate with one decimal: enough for a 560-unit box, and the page stays small.
fn n(x: f64) -> String {
    format!("{x:.1}")
}

/// The y axis from 0 (so drift is seen at its true size) to a round top: (top, step).
fn y_axis(max: f64) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let step = super::svg::nice(max / 4.0);
    let top = ((max / step).ceil() * step).max(step);
    if top.is_finite() {
        (top, step)
    } else {
        // Rounding up overflowed (a value near f64::MAX): the top is the value itself.
        (max, max / 4.0)
    }
}

fn tick_label(v: f64, step: f64) -> String {
    let exp = step.log10().floor();
    // A step of 2.5 × 10^e needs one more digit than 10^e: 0.25, 2.5; but 25 and 250 need none.
    let extra = if (step / 10f64.powf(exp) - 2.5).abs() < 1e-9 {
        1.0
    } else {
        0.0
    };
    let decimals = (extra - exp).max(0.0) as usize;
    format!("{v:.decimals$}")
}

/// Time steps a reader can count in: seconds to years.
const TIME_STEPS: [f64; 24] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
    10800.0, 21600.0, 43200.0, 86400.0, 172800.0, 604800.0, 1209600.0, 2592000.0, 7776000.0,
    31536000.0,
];

/// The x axis: (domain start, domain end, ticks as (seconds, label), axis label).
fn x_axis(times: &[f64]) -> (f64, f64, Vec<(f64, String)>, String) {
    let lo = times.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 0.0)
    };
    let span = hi - lo;
    // Padding keeps the first and last points off the axes; one run gets an hour either side.
    let pad = if span > 0.0 { span * 0.04 } else { 3600.0 };
    let (d0, d1) = ((lo - pad).max(0.0), hi + pad);
    let max_ticks = 6.0;
    let step = TIME_STEPS
        .iter()
        .copied()
        .find(|s| (d1 - d0) / s <= max_ticks)
        .unwrap_or_else(|| 31536000.0 * super::svg::nice((d1 - d0) / 31536000.0 / max_ticks));
    let same_day = utc_part(d0, 0..10) == utc_part(d1, 0..10);
    let label = |t: f64| {
        if step >= 86400.0 {
            utc_part(t, 0..10)
        } else if !same_day {
            format!("{} {}", utc_part(t, 5..10), utc_part(t, 11..16))
        } else if step < 60.0 {
            utc_part(t, 11..19)
        } else {
            utc_part(t, 11..16)
        }
    };
    let mut ticks = Vec::new();
    let mut t = (d0 / step).ceil() * step;
    while t <= d1 && ticks.len() < 12 {
        ticks.push((t, label(t)));
        t += step;
    }
    let axis = if step < 86400.0 && same_day {
        format!("run started, {} (UTC)", utc_part(lo, 0..10))
    } else {
        "run started (UTC)".to_string()
    };
    (d0, d1, ticks, axis)
}

#[derive(Serialize)]
struct PageView<'a> {
    plan: &'a str,
    description: &'a str,
    /// `1 run`, `10 runs`.
    runs_count: String,
    first: &'a str,
    last: &'a str,
    not_passed: usize,
    failed: usize,
    interrupted: usize,
    cells: Vec<CellView>,
    runs: Vec<RunRow<'a>>,
}

#[derive(Serialize)]
struct RunRow<'a> {
    number: usize,
    started_at: &'a str,
    run_id: &'a str,
    verdict: &'static str,
    passed: bool,
    failed: bool,
    interrupted: bool,
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
    left: String,
    right: String,
    top: String,
    bottom: String,
    y_label: String,
    y_label_x: String,
    y_label_y: String,
    x_label: String,
    x_label_x: String,
    x_label_y: String,
    y_ticks: Vec<TickView>,
    x_ticks: Vec<TickView>,
    /// `points` attribute of the polyline joining the runs in time order.
    line: String,
    rules: Vec<RuleView>,
    points: Vec<PointView>,
}

#[derive(Serialize)]
struct TickView {
    /// The tick's position along its axis.
    at: String,
    /// Where its label goes across the axis.
    text_at: String,
    label: String,
}

/// A dashed vertical rule through the whole plot at a run that did not pass.
#[derive(Serialize)]
struct RuleView {
    x: String,
    verdict: &'static str,
    tooltip: String,
}

#[derive(Serialize)]
struct PointView {
    run_id: String,
    verdict: &'static str,
    /// The marker's outline: a circle (passed), a cross (failed), a triangle (interrupted).
    d: String,
    tooltip: String,
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "passed",
        Verdict::Failed => "failed",
        Verdict::Interrupted => "interrupted",
    }
}

fn marker(v: Verdict, x: f64, y: f64) -> String {
    match v {
        Verdict::Passed => format!("M{} {}a4 4 0 1 0 8 0a4 4 0 1 0 -8 0z", n(x - 4.0), n(y)),
        Verdict::Failed => format!("M{} {}l10 10m0 -10l-10 10", n(x - 5.0), n(y - 5.0)),
        Verdict::Interrupted => format!("M{} {}l6 10h-12z", n(x), n(y - 6.0)),
    }
}

impl<'a> PageView<'a> {
    fn new(runs: &'a [SavedRun]) -> PageView<'a> {
        let newest = runs.last();
        let count = |v| runs.iter().filter(|r| r.summary.verdict == v).count();
        let keys = cell_keys(runs);
        let cells = keys
            .iter()
            .enumerate()
            .map(|(i, k)| cell_view(i, k, runs))
            .collect();
        PageView {
            plan: newest.map_or("", |r| r.summary.plan.name.as_str()),
            description: newest
                .and_then(|r| r.summary.plan.description.as_deref())
                .unwrap_or(""),
            runs_count: plural(runs.len(), "run"),
            first: runs.first().map_or("", |r| r.summary.started_at.as_str()),
            last: newest.map_or("", |r| r.summary.started_at.as_str()),
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
                        started_at: &s.started_at,
                        run_id: &s.run_id,
                        verdict: verdict_word(s.verdict),
                        passed: s.verdict == Verdict::Passed,
                        failed: s.verdict == Verdict::Failed,
                        interrupted: s.verdict == Verdict::Interrupted,
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
    let label = cell_label(k.model, k.concurrency, k.workers);
    let name = format!("{} · {label}", k.scenario);
    let charts = METRICS
        .iter()
        .map(|&m| chart(i, m, &name, runs, &found))
        .collect();
    CellView {
        anchor: format!("cell-{}", i + 1),
        scenario: k.scenario.clone(),
        label,
        present: found.len(),
        total: plural(runs.len(), "run"),
        charts,
    }
}

/// One metric of one cell: `found` holds the runs that have the cell; `runs` all runs, so that
/// every chart shares one time axis and marks every run that did not pass.
fn chart(
    cell: usize,
    m: Metric,
    name: &str,
    runs: &[SavedRun],
    found: &[(&SavedRun, &CellSummary)],
) -> ChartView {
    // Non-finite values cannot be drawn; they are left out rather than guessed.
    let series: Vec<(&SavedRun, f64, bool)> = found
        .iter()
        .map(|(r, c)| (*r, m.raw(c), c.complete))
        .filter(|p| p.1.is_finite())
        .collect();
    let times: Vec<f64> = runs.iter().map(|r| r.started).collect();
    let max_raw = series.iter().map(|p| p.1).fold(0.0, f64::max);
    let (unit, factor) = m.unit(max_raw);
    let (top, step) = y_axis(max_raw * factor);
    // The time axis is shared by all of a cell's charts (all runs' times), so a point sits at
    // the same x in each of them.
    let (d0, d1, xt, x_label) = x_axis(&times);
    let x_of = |t: f64| LEFT + (t - d0) / (d1 - d0).max(1e-9) * (RIGHT - LEFT);
    let y_of = |v: f64| BOTTOM - (v * factor).clamp(0.0, top) / top * (BOTTOM - TOP);

    // Counted, not `while v <= top`: an absurd value (1e308/s in an edited file) makes `top`
    // infinite, and the page must still come out.
    let y_ticks = (0..=((top / step).round() as usize).min(10))
        .map(|k| {
            let v = k as f64 * step;
            TickView {
                at: n(BOTTOM - v / top * (BOTTOM - TOP)),
                text_at: n(LEFT - 6.0),
                label: tick_label(v, step),
            }
        })
        .collect();
    let x_ticks = xt
        .into_iter()
        .map(|(t, l)| TickView {
            at: n(x_of(t)),
            text_at: n(BOTTOM + 16.0),
            label: l,
        })
        .collect();

    let mut line = Vec::new();
    let mut points = Vec::new();
    for &(r, raw, complete) in &series {
        let (x, y) = (x_of(r.started), y_of(raw));
        line.push(format!("{},{}", n(x), n(y)));
        let incomplete = !complete;
        let verdict = r.summary.verdict;
        points.push(PointView {
            run_id: r.summary.run_id.clone(),
            verdict: verdict_word(verdict),
            d: marker(verdict, x, y),
            tooltip: format!(
                "{} · run {} · {} {}{} · {}",
                r.summary.started_at,
                r.summary.run_id,
                m.title(),
                m.show(raw),
                if incomplete { " (incomplete cell)" } else { "" },
                match verdict {
                    Verdict::Passed => "passed",
                    Verdict::Failed => "FAILED",
                    Verdict::Interrupted => "INTERRUPTED",
                }
            ),
        });
    }
    let rules = runs
        .iter()
        .filter(|r| r.summary.verdict != Verdict::Passed)
        .map(|r| RuleView {
            x: n(x_of(r.started)),
            verdict: verdict_word(r.summary.verdict),
            tooltip: format!(
                "run {} {}",
                r.summary.run_id,
                verdict_word(r.summary.verdict)
            ),
        })
        .collect();

    let caption = match (series.first(), series.last()) {
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
    };
    let y_label = format!("{} ({unit})", m.title());
    ChartView {
        id: format!("cell-{}-{}", cell + 1, m.id()),
        metric: m.id(),
        title: m.title(),
        description: format!(
            "{} of {name} across {} runs: {caption}",
            m.title(),
            series.len()
        ),
        caption,
        width: n(WIDTH),
        height: n(HEIGHT),
        left: n(LEFT),
        right: n(RIGHT),
        top: n(TOP),
        bottom: n(BOTTOM),
        y_label,
        y_label_x: n(14.0),
        y_label_y: n((TOP + BOTTOM) / 2.0),
        x_label,
        x_label_x: n((LEFT + RIGHT) / 2.0),
        x_label_y: n(HEIGHT - 8.0),
        y_ticks,
        x_ticks,
        line: line.join(" "),
        rules,
        points,
    }
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
    let mut parts: Vec<String> = vec!["..".to_string(); a.len() - common];
    for c in &b[common..] {
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
        let verdict = verdict_word(verdict);
        serde_json::from_value(json!({
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
        }))
        .expect("a valid summary")
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
    fn parses_rfc3339_times() {
        let base = parse_time("2026-05-01T02:00:00Z").expect("utc");
        for (s, want) in [
            ("2026-05-01T02:00:00.500Z", Some(base + 0.5)),
            ("2026-05-01T04:00:00+02:00", Some(base)),
            ("2026-04-30T23:30:00-02:30", Some(base)),
            ("2026-05-01t02:00:00z", None),
            ("2026-05-01T02:00:00", None),
            ("yesterday", None),
            ("", None),
            ("2026-05-01T02:00:00+25:00", None),
            ("1969-12-31T23:59:59Z", None),
            ("2026-05-01T02:00:00Zé", None),
            ("é2026-05-01T02:00:00+01:00", None),
        ] {
            assert_eq!(parse_time(s), want, "{s}");
        }
    }

    #[test]
    fn nice_axes() {
        assert_eq!(y_axis(0.0), (1.0, 0.25));
        assert_eq!(y_axis(13.0), (15.0, 5.0));
        assert_eq!(y_axis(98.0), (100.0, 25.0));
        assert_eq!(y_axis(f64::NAN), (1.0, 0.25));
        assert_eq!(y_axis(f64::MAX), (f64::MAX, f64::MAX / 4.0));
        assert_eq!(tick_label(0.25, 0.25), "0.25");
        assert_eq!(tick_label(40.0, 20.0), "40");
        assert_eq!(tick_label(7.5, 2.5), "7.5");
        assert_eq!(tick_label(750.0, 250.0), "750");
        assert_eq!(tick_label(75.0, 25.0), "75");
        assert_eq!(tick_label(0.5, 0.5), "0.5");
        assert_eq!(tick_label(0.002, 0.001), "0.002");
    }

    #[test]
    fn time_axis_picks_readable_ticks() {
        let day = 86400.0;
        let t0 = parse_time("2026-05-01T02:00:00Z").expect("time");
        let nights: Vec<f64> = (0..10).map(|i| t0 + i as f64 * day).collect();
        let (_, _, ticks, axis) = x_axis(&nights);
        assert!((2..=7).contains(&ticks.len()), "{ticks:?}");
        assert!(
            ticks
                .iter()
                .all(|t| t.1.len() == 10 && t.1.starts_with("2026-05-")),
            "{ticks:?}"
        );
        assert_eq!(axis, "run started (UTC)");

        let minutes: Vec<f64> = (0..10).map(|i| t0 + i as f64 * 60.0).collect();
        let (_, _, ticks, axis) = x_axis(&minutes);
        assert!(
            ticks.iter().all(|t| t.1.len() == 5 && t.1.contains(':')),
            "{ticks:?}"
        );
        assert_eq!(axis, "run started, 2026-05-01 (UTC)");

        // One run: an hour either side, never a zero-width axis.
        let (d0, d1, ticks, _) = x_axis(&[t0]);
        assert!(d1 - d0 >= 7200.0 && !ticks.is_empty());
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
        let s = summary("p", "api", "last tuesday", Verdict::Passed, 5_000);
        let e = SavedRun::new("y/summary.json".into(), s).expect_err("bad time");
        assert!(e.to_string().contains("y/summary.json") && e.to_string().contains("last tuesday"));
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
                1,
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

        let other = summary("other", "api", "2026-05-03T02:00:00Z", Verdict::Passed, 1);
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
