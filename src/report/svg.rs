//! Inline SVG charts for the HTML report, drawn in Rust.
//!
//! Input: a scenario's summary (cells, timelines, histograms). Output: SVG markup that the template
//! inserts raw (`{{{…}}}`), so every piece of text is escaped here with [`esc`]. Charts need no
//! script, no font file and no network: text widths are estimated, never measured, and are kept
//! generous so labels do not collide. Each series has a colour *and* a dash pattern and a marker
//! shape, each stacked segment a colour *and* a fill pattern, so charts survive greyscale printing.
//! Data points carry `<title>` tooltips. Must not panic on odd numbers (NaN, zero, empty input):
//! such points are skipped and an empty chart says so in words.

use std::fmt::Write;

use hdrhistogram::Histogram;

use crate::plan::{Model, cell_label};
use crate::stats::{Bound, CellSummary, ScenarioSummary, histogram_from_base64};
use crate::units;

/// Width of every chart's coordinate system; the page scales charts to their column.
const WIDTH: f64 = 640.0;
const FONT: f64 = 12.0;
const TITLE_FONT: f64 = 14.0;
/// The speedup chart sits in a half-width card: a narrower coordinate system keeps its text large.
const SPEEDUP_WIDTH: f64 = 520.0;
/// Height of the plotting area of line charts.
const PLOT_HEIGHT: f64 = 210.0;
/// Points sampled along the percentile axis of a spectrum line.
const SPECTRUM_SAMPLES: usize = 150;
/// Beyond this many points a line gets markers (and tooltips) on every k-th point only.
const MAX_MARKERS: usize = 60;

// ---------------------------------------------------------------------------------------------
// Charts built from the summary
// ---------------------------------------------------------------------------------------------

/// The style of a cell: colour and dash by model, marker by its rank among the model's cells.
fn cell_style(c: &CellSummary, cells: &[CellSummary]) -> Style {
    let rank = cells
        .iter()
        .filter(|o| o.model == c.model)
        .position(|o| std::ptr::eq(o, c))
        .unwrap_or(0);
    Style::of(c.model, rank)
}

fn label(c: &CellSummary) -> String {
    cell_label(c.model, c.concurrency, c.workers)
}

/// Speedup of every cell against `sequential`, with the limits that explain it: 1× and, for
/// computation, the number of cores. Without a sequential cell: throughput instead.
pub fn speedup_chart(id: &str, s: &ScenarioSummary, host_cores: usize) -> String {
    let fastest = fastest_index(s);
    let with_speedup = s.cells.iter().any(|c| c.speedup.is_some());
    let bars: Vec<Bar> = s
        .cells
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let strong = Some(i) == fastest;
            let tail = if strong { " · fastest" } else { "" };
            let cores = units::number(c.cores_busy);
            let (value, text) = if with_speedup {
                let v = c.speedup?;
                (
                    v,
                    format!("{} · {cores} cores{tail}", units::speedup(Some(v))),
                )
            } else {
                let v = c.throughput_per_s;
                (v, format!("{}/s · {cores} cores{tail}", units::number(v)))
            };
            Some(Bar {
                label: label(c),
                value,
                text,
                tip: format!(
                    "{}: {} sequential, {} operations/s, {cores} cores busy",
                    label(c),
                    units::speedup(c.speedup),
                    units::number(c.throughput_per_s)
                ),
                style: cell_style(c, &s.cells),
                strong,
            })
        })
        .collect();
    let mut refs = Vec::new();
    if with_speedup {
        refs.push(RefMark {
            value: 1.0,
            label: "sequential = 1×".into(),
        });
        if s.kind == Bound::Cpu || s.bound == Bound::Cpu {
            refs.push(RefMark {
                value: host_cores as f64,
                label: format!("{host_cores} cores: the most computation can gain"),
            });
        }
    }
    let (title, x_label, unit): (&str, &str, &str) = if with_speedup {
        (
            "Speedup against sequential (throughput ratio)",
            "speedup (×, higher is faster)",
            "×",
        )
    } else {
        (
            "Throughput (no sequential cell to compare against)",
            "operations per second",
            "",
        )
    };
    hbar_chart(&HBarChart {
        id,
        width: SPEEDUP_WIDTH,
        class: "chart-speedup",
        title,
        about: &format!("{title} for scenario {}", s.name),
        x_label,
        unit,
        bars,
        refs,
    })
}

/// The cell with the highest throughput among those that completed operations.
pub fn fastest_index(s: &ScenarioSummary) -> Option<usize> {
    s.cells
        .iter()
        .enumerate()
        .filter(|(_, c)| c.operations > 0 && c.throughput_per_s.is_finite())
        .max_by(|(_, a), (_, b)| a.throughput_per_s.total_cmp(&b.throughput_per_s))
        .map(|(i, _)| i)
}

/// The HdrHistogram percentile spectrum: x = percentile on a log scale of 1/(1−p), y = latency,
/// one line per cell. Returns the chart and the cells whose histogram could not be read.
pub fn spectrum_chart(id: &str, s: &ScenarioSummary) -> (String, Vec<String>) {
    let mut problems = Vec::new();
    let decoded: Vec<(&CellSummary, Histogram<u64>)> = s
        .cells
        .iter()
        .filter_map(|c| match histogram_from_base64(&c.histogram) {
            Ok(h) if !h.is_empty() => Some((c, h)),
            Ok(_) => None, // no operations: nothing to draw, the table says 0
            Err(e) => {
                problems.push(format!("{}: {e}", label(c)));
                None
            }
        })
        .collect();
    let most = decoded.iter().map(|(_, h)| h.len()).max().unwrap_or(1);
    // The axis ends at the decade the data can support: 160 values say little beyond p99.9.
    let decades = ((most as f64).log10().ceil() as u32).clamp(1, 6);
    let top = decoded.iter().map(|(_, h)| h.max()).max().unwrap_or(0);
    let y = latency_axis("latency", top as f64);
    let marks: [(f64, &str); 6] = [
        (0.5, "p50"),
        (0.9, "p90"),
        (0.99, "p99"),
        (0.999, "p99.9"),
        (0.9999, "p99.99"),
        (0.99999, "p99.999"),
    ];
    let series = decoded
        .iter()
        .map(|(c, h)| {
            let name = label(c);
            let xs: Vec<f64> = (0..=SPECTRUM_SAMPLES)
                .map(|k| f64::from(decades) * k as f64 / SPECTRUM_SAMPLES as f64)
                .collect();
            let qs: Vec<f64> = xs.iter().map(|x| 1.0 - 10f64.powf(-x)).collect();
            let mut line: Vec<(f64, f64)> = xs
                .iter()
                .zip(values_at(h, &qs))
                .map(|(x, v)| (*x, v as f64))
                .collect();
            line.push((f64::from(decades), h.max() as f64));
            let shown: Vec<&(f64, &str)> = marks
                .iter()
                .filter(|(q, _)| decade_of(*q) <= f64::from(decades) + 1e-9)
                .collect();
            let qs: Vec<f64> = shown.iter().map(|(q, _)| *q).collect();
            let mut points: Vec<Point> = shown
                .iter()
                .zip(values_at(h, &qs))
                .map(|((q, tag), v)| Point {
                    x: decade_of(*q),
                    y: v as f64,
                    tip: format!("{name} · {tag}: {} ({} values)", units::micros(v), h.len()),
                })
                .collect();
            points.push(Point {
                x: f64::from(decades),
                y: h.max() as f64,
                tip: format!("{name} · max: {}", units::micros(h.max())),
            });
            Series {
                label: name,
                style: cell_style(c, &s.cells),
                line: simplify(line),
                points,
            }
        })
        .collect();
    let ticks = (0..=decades)
        .map(|d| (f64::from(d), percentile_label(d)))
        .collect();
    let chart = line_chart(&LineChart {
        id,
        class: "chart-spectrum",
        title: "Latency by percentile (HdrHistogram spectrum)",
        about: &format!(
            "Latency percentile spectrum of scenario {}: one line per cell",
            s.name
        ),
        x: Axis {
            label: "percentile (log scale of 1/(1−p))".into(),
            min: 0.0,
            max: f64::from(decades),
            log: false,
            ticks,
        },
        y,
        series,
        hlines: Vec::new(),
    });
    (chart, problems)
}

/// log10(1/(1−q)): where percentile q sits on the spectrum's x axis.
fn decade_of(q: f64) -> f64 {
    (1.0 / (1.0 - q)).log10()
}

/// `0%`, `90%`, `99%`, `99.9%`… for decade d.
fn percentile_label(d: u32) -> String {
    match d {
        0 => "0%".into(),
        1 => "90%".into(),
        2 => "99%".into(),
        _ => format!("99.{}%", "9".repeat(d as usize - 2)),
    }
}

/// The values at non-decreasing quantiles `qs`, with `value_at_quantile`'s rounding, in one pass
/// over the recorded buckets: `value_at_quantile` scans the whole counts array (tens of thousands
/// of counters at 3 significant digits up to one hour) on every call.
fn values_at(h: &Histogram<u64>, qs: &[f64]) -> Vec<u64> {
    let total = h.len();
    let buckets: Vec<(u64, u64)> = h
        .iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect();
    let mut out = Vec::with_capacity(qs.len());
    // `seen` counts the values in the buckets before `i`.
    let (mut i, mut seen) = (0usize, 0u64);
    for q in qs {
        let target = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        while i + 1 < buckets.len() && seen + buckets[i].1 < target {
            seen += buckets[i].1;
            i += 1;
        }
        out.push(buckets.get(i).map_or(0, |b| b.0));
    }
    out
}

/// Drops the inner points of flat runs: a spectrum is mostly steps, and 100 cells × 150 points
/// would otherwise bloat the page.
fn simplify(line: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(line.len());
    for p in line {
        let n = out.len();
        if n >= 2 && out[n - 1].1 == p.1 && out[n - 2].1 == p.1 {
            out[n - 1] = p;
        } else {
            out.push(p);
        }
    }
    out
}

/// True when some model runs at several concurrencies: the scenario is a sweep.
pub fn is_sweep(s: &ScenarioSummary) -> bool {
    [Model::Threads, Model::Async, Model::Processes]
        .iter()
        .any(|m| s.cells.iter().filter(|c| c.model == *m).count() > 1)
}

/// Throughput and p99 against concurrency, one line per model; `sequential` as a reference line.
pub fn sweep_charts(id: &str, s: &ScenarioSummary) -> [String; 2] {
    let concurrencies: Vec<usize> = {
        let mut v: Vec<usize> = s
            .cells
            .iter()
            .filter(|c| c.model != Model::Sequential)
            .map(|c| c.concurrency)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let lo = concurrencies.first().copied().unwrap_or(1).max(1) as f64;
    let hi = concurrencies.last().copied().unwrap_or(1).max(1) as f64;
    // A doubling sweep (1, 4, 16, 64) reads best on a log axis; a short linear one on a linear axis.
    let log = hi / lo >= 8.0;
    let x = Axis {
        label: "concurrency (users at once)".into(),
        min: if log { lo } else { 0.0 },
        max: if hi > lo || !log { hi } else { hi * 2.0 },
        log,
        ticks: concurrencies
            .iter()
            .map(|c| (*c as f64, c.to_string()))
            .collect(),
    };
    let seq = s.cells.iter().find(|c| c.model == Model::Sequential);
    let build = |value: &dyn Fn(&CellSummary) -> f64, show: &dyn Fn(f64) -> String| {
        [Model::Threads, Model::Async, Model::Processes]
            .iter()
            .filter_map(|m| {
                let mut cells: Vec<&CellSummary> = s
                    .cells
                    .iter()
                    .filter(|c| c.model == *m && c.operations > 0)
                    .collect();
                if cells.is_empty() {
                    return None;
                }
                cells.sort_by_key(|c| c.concurrency);
                let points: Vec<Point> = cells
                    .iter()
                    .map(|c| Point {
                        x: c.concurrency as f64,
                        y: value(c),
                        tip: format!("{}: {}", label(c), show(value(c))),
                    })
                    .collect();
                Some(Series {
                    label: m.as_str().into(),
                    style: Style::of(*m, 0),
                    line: points.iter().map(|p| (p.x, p.y)).collect(),
                    points,
                })
            })
            .collect::<Vec<Series>>()
    };
    let tput_series = build(&|c| c.throughput_per_s, &|v| {
        format!("{} operations/s", units::number(v))
    });
    let p99_series = build(&|c| c.latency_us.p99 as f64, &|v| units::micros(v as u64));
    let tput_max = tput_series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.y))
        .chain(seq.map(|c| c.throughput_per_s))
        .fold(0.0, f64::max);
    let p99_max = p99_series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.y))
        .chain(seq.map(|c| c.latency_us.p99 as f64))
        .fold(0.0, f64::max);
    let tput = line_chart(&LineChart {
        id: &format!("{id}-throughput"),
        class: "chart-sweep-throughput",
        title: "Throughput against concurrency",
        about: &format!(
            "Throughput against concurrency per model, scenario {}",
            s.name
        ),
        x: x.clone(),
        y: number_axis("operations per second", tput_max),
        series: tput_series,
        hlines: seq
            .map(|c| {
                vec![(
                    c.throughput_per_s,
                    format!("sequential: {}/s", units::number(c.throughput_per_s)),
                )]
            })
            .unwrap_or_default(),
    });
    let p99 = line_chart(&LineChart {
        id: &format!("{id}-p99"),
        class: "chart-sweep-p99",
        title: "p99 latency against concurrency",
        about: &format!(
            "p99 latency against concurrency per model, scenario {}",
            s.name
        ),
        x,
        y: latency_axis("p99 latency", p99_max),
        series: p99_series,
        hlines: seq
            .map(|c| {
                vec![(
                    c.latency_us.p99 as f64,
                    format!("sequential: {}", units::micros(c.latency_us.p99)),
                )]
            })
            .unwrap_or_default(),
    });
    [tput, p99]
}

/// Throughput and p99 per second of every cell, from the timeline collected during the run.
pub fn timeline_charts(id: &str, s: &ScenarioSummary) -> [String; 2] {
    // The last second of a cell is usually partial: divide by the time it covered, so a cell
    // that ran 2.2 s does not show a collapse at the end.
    let covered =
        |c: &CellSummary, second: u32| (c.wall_seconds - f64::from(second)).clamp(1e-3, 1.0);
    let longest = s
        .cells
        .iter()
        .map(|c| c.wall_seconds)
        .filter(|w| w.is_finite())
        .fold(0.0, f64::max);
    let mut tput = Vec::new();
    let mut p99 = Vec::new();
    for c in &s.cells {
        let name = label(c);
        let style = cell_style(c, &s.cells);
        let mut tp = Vec::new();
        let mut lp = Vec::new();
        for t in &c.timeline {
            let span = covered(c, t.second);
            let x = f64::from(t.second) + span / 2.0;
            let rate = t.operations as f64 / span;
            let errors = if t.errors > 0 {
                format!(", {} errors", t.errors)
            } else {
                String::new()
            };
            tp.push(Point {
                x,
                y: rate,
                tip: format!(
                    "{name} · second {}: {} operations ({}/s){errors}",
                    t.second + 1,
                    t.operations,
                    units::number(rate)
                ),
            });
            lp.push(Point {
                x,
                y: t.p99_us as f64,
                tip: format!(
                    "{name} · second {}: p50 {}, p99 {}, max {}",
                    t.second + 1,
                    units::micros(t.p50_us),
                    units::micros(t.p99_us),
                    units::micros(t.max_us)
                ),
            });
        }
        for (points, out) in [(tp, &mut tput), (lp, &mut p99)] {
            out.push(Series {
                label: name.clone(),
                style,
                line: points.iter().map(|p| (p.x, p.y)).collect(),
                points,
            });
        }
    }
    let x = number_axis("seconds since the cell's measured start", longest.max(1.0));
    let tmax = tput
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.y))
        .fold(0.0, f64::max);
    let lmax = p99
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.y))
        .fold(0.0, f64::max);
    [
        line_chart(&LineChart {
            id: &format!("{id}-throughput"),
            class: "chart-timeline-throughput",
            title: "Throughput over time, per cell",
            about: &format!(
                "Operations per second over time for each cell of scenario {}",
                s.name
            ),
            x: x.clone(),
            y: number_axis("operations per second", tmax),
            series: tput,
            hlines: Vec::new(),
        }),
        line_chart(&LineChart {
            id: &format!("{id}-p99"),
            class: "chart-timeline-p99",
            title: "p99 latency over time, per cell",
            about: &format!(
                "p99 latency per second for each cell of scenario {}",
                s.name
            ),
            x,
            y: latency_axis("p99 latency", lmax),
            series: p99,
            hlines: Vec::new(),
        }),
    ]
}

/// Errors by category, one stacked bar per cell; `None` when no cell had an error.
pub fn errors_chart(id: &str, s: &ScenarioSummary) -> Option<String> {
    let mut categories: Vec<&str> = s
        .cells
        .iter()
        .flat_map(|c| {
            c.errors
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, _)| k.as_str())
        })
        .collect();
    categories.sort_unstable();
    categories.dedup();
    if categories.is_empty() {
        return None;
    }
    let keys: Vec<(String, Fill)> = categories
        .iter()
        .enumerate()
        .map(|(i, k)| ((*k).to_string(), Fill::nth_warning(i)))
        .collect();
    let rows = s
        .cells
        .iter()
        .map(|c| {
            let total: u64 = c.errors.values().sum();
            StackRow {
                label: label(c),
                segments: categories
                    .iter()
                    .enumerate()
                    .filter_map(|(i, k)| {
                        let n = *c.errors.get(*k)?;
                        (n > 0).then(|| (i, n as f64, format!("{} · {k}: {n} errors", label(c))))
                    })
                    .collect(),
                text: format!("{total} ({})", units::percent(c.error_rate)),
            }
        })
        .collect();
    Some(stacked_hbar_chart(&StackChart {
        id,
        class: "chart-errors",
        title: "Errors by category",
        about: &format!("Errors by category for each cell of scenario {}", s.name),
        x_label: "operations that failed",
        rows,
        keys,
    }))
}

/// Responses by HTTP status code, one stacked bar per cell; `None` when no response arrived
/// (a CPU scenario, or nothing but connection errors).
pub fn status_chart(id: &str, s: &ScenarioSummary) -> Option<String> {
    let mut codes: Vec<&str> = s
        .cells
        .iter()
        .flat_map(|c| c.status_codes.keys().map(String::as_str))
        .collect();
    codes.sort_unstable();
    codes.dedup();
    if codes.is_empty() {
        return None;
    }
    let mut per_class = [0usize; 6];
    let keys: Vec<(String, Fill)> = codes
        .iter()
        .map(|code| {
            let class = code
                .chars()
                .next()
                .and_then(|d| d.to_digit(10))
                .map_or(0, |d| d as usize)
                .min(5);
            let fill = Fill::status(class, per_class[class]);
            per_class[class] += 1;
            ((*code).to_string(), fill)
        })
        .collect();
    let rows = s
        .cells
        .iter()
        .map(|c| {
            let total: u64 = c.status_codes.values().sum();
            StackRow {
                label: label(c),
                segments: codes
                    .iter()
                    .enumerate()
                    .filter_map(|(i, code)| {
                        let n = *c.status_codes.get(*code)?;
                        (n > 0).then(|| (i, n as f64, format!("{} · status {code}: {n}", label(c))))
                    })
                    .collect(),
                text: format!("{total} responses"),
            }
        })
        .collect();
    Some(stacked_hbar_chart(&StackChart {
        id,
        class: "chart-status",
        title: "Responses by HTTP status code",
        about: &format!(
            "Responses by status code for each cell of scenario {}",
            s.name
        ),
        x_label: "responses",
        rows,
        keys,
    }))
}

// ---------------------------------------------------------------------------------------------
// Drawing primitives
// ---------------------------------------------------------------------------------------------

/// Escapes text for SVG (XML) content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A generous estimate of a label's width: 0.62 em per character covers DejaVu Sans digits and
/// lower case, the widest of the usual fallback fonts.
fn text_width(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size * 0.62
}

/// Cuts a label to fit `width`, ending in `…`; the full text stays in the tooltip.
fn fit(s: &str, width: f64, size: f64) -> String {
    if text_width(s, size) <= width {
        return s.to_string();
    }
    let keep = ((width / (size * 0.62)) as usize).saturating_sub(1);
    let mut out: String = s.chars().take(keep).collect();
    out.push('…');
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
    Cross,
    Ring,
}

const MARKERS: [Marker; 6] = [
    Marker::Circle,
    Marker::Square,
    Marker::Triangle,
    Marker::Diamond,
    Marker::Cross,
    Marker::Ring,
];

/// How one series is drawn: the colour alone must never be the only difference.
#[derive(Debug, Clone, Copy)]
struct Style {
    colour: &'static str,
    dash: &'static str,
    marker: Marker,
}

impl Style {
    /// Okabe–Ito colours (distinct for colour-blind readers), one dash pattern per model, and
    /// a marker that changes with the model and the cell's rank within it.
    fn of(model: Model, rank: usize) -> Style {
        let (i, colour, dash) = match model {
            Model::Sequential => (0, "#444444", ""),
            Model::Threads => (1, "#0072b2", "9 4"),
            Model::Async => (2, "#d55e00", "2 3"),
            Model::Processes => (3, "#009e73", "12 3 3 3"),
        };
        Style {
            colour,
            dash,
            marker: MARKERS[(i + rank) % MARKERS.len()],
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Pattern {
    Solid,
    Hatch,
    Cross,
    Dots,
    Stripes,
}

/// How a stacked segment is filled: a colour and a pattern that reads in greyscale.
#[derive(Debug, Clone, Copy)]
struct Fill {
    colour: &'static str,
    pattern: Pattern,
}

impl Fill {
    fn nth_warning(i: usize) -> Fill {
        const FILLS: [Fill; 5] = [
            Fill {
                colour: "#d55e00",
                pattern: Pattern::Solid,
            },
            Fill {
                colour: "#cc79a7",
                pattern: Pattern::Hatch,
            },
            Fill {
                colour: "#e69f00",
                pattern: Pattern::Dots,
            },
            Fill {
                colour: "#0072b2",
                pattern: Pattern::Cross,
            },
            Fill {
                colour: "#555555",
                pattern: Pattern::Stripes,
            },
        ];
        FILLS[i % FILLS.len()]
    }

    /// 2xx solid green; 3xx blue; 4xx orange; 5xx red; each further code of a class a new pattern.
    fn status(class: usize, nth: usize) -> Fill {
        let colour = match class {
            2 => "#009e73",
            3 => "#56b4e9",
            4 => "#e69f00",
            5 => "#d55e00",
            _ => "#777777",
        };
        let patterns = match class {
            2 => [
                Pattern::Solid,
                Pattern::Dots,
                Pattern::Stripes,
                Pattern::Hatch,
            ],
            _ => [
                Pattern::Hatch,
                Pattern::Cross,
                Pattern::Dots,
                Pattern::Stripes,
            ],
        };
        Fill {
            colour,
            pattern: patterns[nth % patterns.len()],
        }
    }

    fn paint(&self, chart: &str, key: usize) -> String {
        match self.pattern {
            Pattern::Solid => self.colour.to_string(),
            _ => format!("url(#{chart}-k{key})"),
        }
    }

    fn def(&self, chart: &str, key: usize) -> String {
        let inner = match self.pattern {
            Pattern::Solid => return String::new(),
            Pattern::Hatch => {
                r##"<line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2"/>"##
            }
            Pattern::Cross => {
                r##"<line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="1.5"/><line x1="0" y1="3" x2="6" y2="3" stroke="#fff" stroke-width="1.5"/>"##
            }
            Pattern::Dots => r##"<circle cx="3" cy="3" r="1.4" fill="#fff"/>"##,
            Pattern::Stripes => {
                r##"<line x1="0" y1="1.5" x2="6" y2="1.5" stroke="#fff" stroke-width="1.5"/>"##
            }
        };
        let rotate = match self.pattern {
            Pattern::Hatch | Pattern::Cross => r#" patternTransform="rotate(45)""#,
            _ => "",
        };
        format!(
            r#"<pattern id="{chart}-k{key}" width="6" height="6" patternUnits="userSpaceOnUse"{rotate}><rect width="6" height="6" fill="{}"/>{inner}</pattern>"#,
            self.colour
        )
    }
}

#[derive(Debug, Clone)]
struct Axis {
    label: String,
    min: f64,
    max: f64,
    log: bool,
    ticks: Vec<(f64, String)>,
}

impl Axis {
    /// Position of `v` from 0 (min) to 1 (max), clamped.
    fn t(&self, v: f64) -> f64 {
        let f = |v: f64| if self.log { v.max(1e-12).log10() } else { v };
        let (a, b) = (f(self.min), f(self.max));
        if b.partial_cmp(&a) != Some(std::cmp::Ordering::Greater) || !v.is_finite() {
            return 0.0;
        }
        ((f(v) - a) / (b - a)).clamp(0.0, 1.0)
    }
}

/// 1, 2, 2.5 or 5 × 10^k: a tick step giving about `n` intervals up to `max`.
fn nice_step(max: f64, n: f64) -> f64 {
    nice((max / n).max(f64::MIN_POSITIVE))
}

/// The smallest of 1, 2, 2.5, 5 or 10 × 10^k that is at least `raw` (1 for no usable value).
pub(super) fn nice(raw: f64) -> f64 {
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// A linear axis from 0 with round ticks, labelled by `show`.
fn linear_axis(label: String, max: f64, show: &dyn Fn(f64) -> String) -> Axis {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let step = nice_step(max, 5.0);
    let top = (max / step).ceil() * step;
    let n = (top / step).round() as usize;
    Axis {
        label,
        min: 0.0,
        max: top,
        log: false,
        ticks: (0..=n)
            .map(|i| {
                let v = step * i as f64;
                (v, show(v))
            })
            .collect(),
    }
}

fn number_axis(label: &str, max: f64) -> Axis {
    linear_axis(label.into(), max, &|v| {
        // Ticks are round numbers: print them without the trailing zeros `units::number` keeps.
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    })
}

/// A latency axis over microseconds, labelled in µs, ms or s, whichever reads best at `max_us`.
fn latency_axis(what: &str, max_us: f64) -> Axis {
    let (unit, div) = if max_us >= 2e6 {
        ("s", 1e6)
    } else if max_us >= 2e3 {
        ("ms", 1e3)
    } else {
        ("µs", 1.0)
    };
    let mut a = number_axis(&format!("{what} ({unit})"), max_us / div);
    a.max *= div;
    for t in &mut a.ticks {
        t.0 *= div;
    }
    a
}

struct Point {
    x: f64,
    y: f64,
    tip: String,
}

struct Series {
    label: String,
    style: Style,
    /// The drawn line, in data coordinates.
    line: Vec<(f64, f64)>,
    /// Marked points, each with a tooltip.
    points: Vec<Point>,
}

struct LineChart<'a> {
    id: &'a str,
    class: &'a str,
    title: &'a str,
    /// The accessible name (`<title>`), which may name the scenario.
    about: &'a str,
    x: Axis,
    y: Axis,
    series: Vec<Series>,
    /// Horizontal reference lines: value and label.
    hlines: Vec<(f64, String)>,
}

/// Opens an `<svg>` with its accessible name and visible title.
fn open(out: &mut String, id: &str, class: &str, size: (f64, f64), title: &str, about: &str) {
    let (width, height) = size;
    let id = esc(id);
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="chart {class}" id="{id}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-labelledby="{id}-title" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="{FONT}"><title id="{id}-title">{}</title><rect width="{width:.0}" height="{height:.0}" fill="#fff"/><text class="chart-title" x="8" y="20" font-size="{TITLE_FONT}" font-weight="600" fill="#1b1f24">{}</text>"##,
        esc(about),
        esc(title),
    );
}

fn marker(out: &mut String, m: Marker, colour: &str, x: f64, y: f64, tip: &str) {
    let tip = esc(tip);
    let _ = match m {
        Marker::Circle => write!(
            out,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{colour}"><title>{tip}</title></circle>"#
        ),
        Marker::Square => write!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="7" height="7" fill="{colour}"><title>{tip}</title></rect>"#,
            x - 3.5,
            y - 3.5
        ),
        Marker::Triangle => write!(
            out,
            r#"<path d="M{x:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z" fill="{colour}"><title>{tip}</title></path>"#,
            y - 4.5,
            x + 4.5,
            y + 3.5,
            x - 4.5,
            y + 3.5
        ),
        Marker::Diamond => write!(
            out,
            r#"<path d="M{x:.1} {:.1}L{:.1} {y:.1}L{x:.1} {:.1}L{:.1} {y:.1}Z" fill="{colour}"><title>{tip}</title></path>"#,
            y - 5.0,
            x + 5.0,
            y + 5.0,
            x - 5.0
        ),
        Marker::Cross => write!(
            out,
            r#"<path d="M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}" stroke="{colour}" stroke-width="2.2" fill="none"><title>{tip}</title></path>"#,
            x - 4.0,
            y - 4.0,
            x + 4.0,
            y + 4.0,
            x - 4.0,
            y + 4.0,
            x + 4.0,
            y - 4.0
        ),
        Marker::Ring => write!(
            out,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="#fff" stroke="{colour}" stroke-width="2"><title>{tip}</title></circle>"##
        ),
    };
}

/// Lays out legend entries in rows under a chart; returns the markup and its height.
fn legend(entries: &[(String, LegendKey)], x0: f64, y0: f64, width: f64) -> (String, f64) {
    const ROW: f64 = 18.0;
    const SAMPLE: f64 = 30.0;
    let mut out = String::from(r#"<g class="legend">"#);
    let (mut x, mut y) = (x0, y0);
    for (text, key) in entries {
        let text = fit(text, width - SAMPLE - 6.0, FONT);
        let w = SAMPLE + 6.0 + text_width(&text, FONT) + 16.0;
        if x > x0 && x + w > x0 + width {
            x = x0;
            y += ROW;
        }
        let mid = y + ROW / 2.0;
        match key {
            LegendKey::Line(s) => {
                let _ = write!(
                    out,
                    r#"<line x1="{x:.1}" y1="{mid:.1}" x2="{:.1}" y2="{mid:.1}" stroke="{}" stroke-width="2" stroke-dasharray="{}"/>"#,
                    x + SAMPLE,
                    s.colour,
                    s.dash
                );
                marker(&mut out, s.marker, s.colour, x + SAMPLE / 2.0, mid, &text);
            }
            LegendKey::Fill(paint) => {
                let _ = write!(
                    out,
                    r##"<rect x="{x:.1}" y="{:.1}" width="{SAMPLE}" height="11" fill="{paint}" stroke="#1b1f24" stroke-width=".5"/>"##,
                    mid - 5.5
                );
            }
        }
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" fill="#1b1f24">{}</text>"##,
            x + SAMPLE + 6.0,
            mid + 4.0,
            esc(&text)
        );
        x += w;
    }
    out.push_str("</g>");
    (out, y + ROW - y0)
}

enum LegendKey {
    Line(Style),
    /// A `fill` value: a colour or a pattern reference.
    Fill(String),
}

/// Tick labels along the x axis, each dropped when it would touch the previous one.
fn x_tick_labels(out: &mut String, axis: &Axis, left: f64, pw: f64, y: f64, width: f64) {
    let mut last_right = f64::NEG_INFINITY;
    for (v, text) in &axis.ticks {
        let x = left + axis.t(*v) * pw;
        let w = text_width(text, FONT);
        // Keep the first and last label inside the chart.
        let cx = x.clamp(w / 2.0 + 2.0, width - w / 2.0 - 2.0);
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#57606a"/>"##,
            y - 14.0,
            y - 10.0
        );
        if cx - w / 2.0 < last_right + 6.0 {
            continue;
        }
        let _ = write!(
            out,
            r##"<text x="{cx:.1}" y="{y:.1}" text-anchor="middle" fill="#57606a">{}</text>"##,
            esc(text)
        );
        last_right = cx + w / 2.0;
    }
}

fn line_chart(c: &LineChart) -> String {
    let width = WIDTH;
    let ytick_w =
        c.y.ticks
            .iter()
            .map(|(_, t)| text_width(t, FONT))
            .fold(0.0, f64::max);
    let left = 8.0 + 16.0 + 8.0 + ytick_w + 6.0;
    let right = 18.0;
    let top = 36.0;
    let pw = width - left - right;
    let bottom = top + PLOT_HEIGHT;
    let entries: Vec<(String, LegendKey)> = c
        .series
        .iter()
        .map(|s| (s.label.clone(), LegendKey::Line(s.style)))
        .collect();
    let (legend_svg, legend_h) = legend(&entries, 8.0, bottom + 46.0, width - 16.0);
    let height = bottom + 46.0 + legend_h + 6.0;
    let mut out = String::with_capacity(4096);
    open(&mut out, c.id, c.class, (width, height), c.title, c.about);
    let px = |v: f64| left + c.x.t(v) * pw;
    let py = |v: f64| bottom - c.y.t(v) * PLOT_HEIGHT;
    // Grid and y ticks.
    for (v, text) in &c.y.ticks {
        let y = py(*v);
        let _ = write!(
            out,
            r##"<line x1="{left:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e5e8eb"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#57606a">{}</text>"##,
            left + pw,
            left - 6.0,
            y + 4.0,
            esc(text)
        );
    }
    let _ = write!(
        out,
        r##"<rect x="{left:.1}" y="{top:.1}" width="{pw:.1}" height="{PLOT_HEIGHT:.1}" fill="none" stroke="#8c959f"/>"##
    );
    x_tick_labels(&mut out, &c.x, left, pw, bottom + 18.0, width);
    let _ = write!(
        out,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#1b1f24">{}</text><text transform="rotate(-90)" x="{:.1}" y="18" text-anchor="middle" fill="#1b1f24">{}</text>"##,
        left + pw / 2.0,
        bottom + 36.0,
        esc(&c.x.label),
        -(top + PLOT_HEIGHT / 2.0),
        esc(&c.y.label)
    );
    for (v, text) in &c.hlines {
        let y = py(*v);
        let _ = write!(
            out,
            r##"<line x1="{left:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#444" stroke-dasharray="3 3"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#1b1f24" stroke="#fff" stroke-width="3" paint-order="stroke">{}</text>"##,
            left + pw,
            left + pw - 4.0,
            // Below the line near the top, above it elsewhere: stays inside the plot.
            if y < top + 16.0 { y + 14.0 } else { y - 5.0 },
            esc(text)
        );
    }
    let drawable = c
        .series
        .iter()
        .any(|s| s.line.iter().any(|(x, y)| x.is_finite() && y.is_finite()));
    if !drawable {
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#57606a">no data: no cell recorded an operation</text>"##,
            left + pw / 2.0,
            top + PLOT_HEIGHT / 2.0
        );
    }
    for s in &c.series {
        let pts: Vec<String> = s
            .line
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        let _ = write!(
            out,
            r#"<g class="series"><polyline points="{}" fill="none" stroke="{}" stroke-width="2" stroke-dasharray="{}" stroke-linejoin="round"><title>{}</title></polyline>"#,
            pts.join(" "),
            s.style.colour,
            s.style.dash,
            esc(&s.label)
        );
        let every = s.points.len().div_ceil(MAX_MARKERS).max(1);
        let last = s.points.len().saturating_sub(1);
        for (i, p) in s.points.iter().enumerate() {
            if (i % every != 0 && i != last) || !p.x.is_finite() || !p.y.is_finite() {
                continue;
            }
            marker(
                &mut out,
                s.style.marker,
                s.style.colour,
                px(p.x),
                py(p.y),
                &p.tip,
            );
        }
        out.push_str("</g>");
    }
    out.push_str(&legend_svg);
    out.push_str("</svg>");
    out
}

struct Bar {
    label: String,
    value: f64,
    /// Printed after the bar.
    text: String,
    tip: String,
    style: Style,
    /// Drawn with an outline and a bold label: the fastest cell.
    strong: bool,
}

struct RefMark {
    value: f64,
    label: String,
}

struct HBarChart<'a> {
    id: &'a str,
    /// Of the coordinate system: narrower charts are drawn larger in a narrow column.
    width: f64,
    class: &'a str,
    title: &'a str,
    about: &'a str,
    x_label: &'a str,
    /// Appended to tick labels (`×`).
    unit: &'a str,
    bars: Vec<Bar>,
    refs: Vec<RefMark>,
}

const ROW: f64 = 26.0;
const BAR: f64 = 16.0;

/// Left margin for row labels, at most 40% of the width; longer labels are cut with `…`.
fn label_margin<'a>(labels: impl Iterator<Item = &'a str>, width: f64) -> f64 {
    let w = labels.map(|l| text_width(l, FONT)).fold(0.0, f64::max);
    8.0 + w.min(width * 0.4) + 10.0
}

fn hbar_chart(c: &HBarChart) -> String {
    let width = c.width;
    let left = label_margin(c.bars.iter().map(|b| b.label.as_str()), width);
    let text_w = c
        .bars
        .iter()
        .map(|b| text_width(&b.text, FONT))
        .fold(0.0, f64::max);
    let right = text_w + 14.0;
    let pw = (width - left - right).max(80.0);
    let max = c
        .bars
        .iter()
        .map(|b| b.value)
        .chain(c.refs.iter().map(|r| r.value))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let unit = c.unit;
    let axis = linear_axis(c.x_label.into(), max, &|v| {
        let s = format!("{v:.2}");
        format!("{}{unit}", s.trim_end_matches('0').trim_end_matches('.'))
    });
    // Reference labels go in rows above the bars, a new row whenever two would touch.
    let mut rows_used: Vec<f64> = Vec::new();
    let mut placed = Vec::new();
    let mut refs: Vec<&RefMark> = c.refs.iter().collect();
    refs.sort_by(|a, b| a.value.total_cmp(&b.value));
    for r in refs {
        let x = left + axis.t(r.value) * pw;
        let w = text_width(&r.label, FONT);
        let lx = (x - w / 2.0).clamp(4.0, width - w - 4.0);
        let row = match rows_used.iter().position(|end| lx > end + 8.0) {
            Some(i) => i,
            None => {
                rows_used.push(f64::NEG_INFINITY);
                rows_used.len() - 1
            }
        };
        rows_used[row] = lx + w;
        placed.push((x, lx, row, r));
    }
    let top = 34.0 + rows_used.len() as f64 * 16.0;
    let plot_h = (c.bars.len().max(1) as f64) * ROW;
    let bottom = top + plot_h;
    let height = bottom + 46.0;
    let mut out = String::with_capacity(2048);
    open(&mut out, c.id, c.class, (width, height), c.title, c.about);
    for (v, _) in &axis.ticks {
        let x = left + axis.t(*v) * pw;
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#e5e8eb"/>"##
        );
    }
    x_tick_labels(&mut out, &axis, left, pw, bottom + 18.0, width);
    let _ = write!(
        out,
        r##"<line x1="{left:.1}" y1="{top:.1}" x2="{left:.1}" y2="{bottom:.1}" stroke="#8c959f"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#1b1f24">{}</text>"##,
        left + pw / 2.0,
        bottom + 36.0,
        esc(&axis.label)
    );
    if c.bars.is_empty() {
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" fill="#57606a">no data: no cell recorded an operation</text>"##,
            left + 6.0,
            top + 17.0
        );
    }
    for (i, b) in c.bars.iter().enumerate() {
        let y = top + i as f64 * ROW + (ROW - BAR) / 2.0;
        let w = if b.value.is_finite() {
            axis.t(b.value) * pw
        } else {
            0.0
        };
        let weight = if b.strong {
            r#" font-weight="700""#
        } else {
            ""
        };
        let outline = if b.strong {
            r##" stroke="#1b1f24" stroke-width="2""##
        } else {
            ""
        };
        let _ = write!(
            out,
            r##"<g class="bar"><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#1b1f24"{weight}>{}</text><rect x="{left:.1}" y="{y:.1}" width="{w:.1}" height="{BAR}" fill="{}"{outline}><title>{}</title></rect><text x="{:.1}" y="{:.1}" fill="#1b1f24"{weight}>{}</text></g>"##,
            left - 8.0,
            y + BAR - 4.0,
            esc(&fit(&b.label, left - 18.0, FONT)),
            b.style.colour,
            esc(&b.tip),
            left + w + 6.0,
            y + BAR - 4.0,
            esc(&b.text),
        );
    }
    for (x, lx, row, r) in placed {
        let ly = 34.0 + row as f64 * 16.0 + 10.0;
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#1b1f24" stroke-width="1.5" stroke-dasharray="4 3"/><text x="{lx:.1}" y="{ly:.1}" fill="#1b1f24">{}</text>"##,
            // From the plot's top: a line through the label rows could cross another label.
            top - 2.0,
            esc(&r.label)
        );
    }
    out.push_str("</svg>");
    out
}

struct StackRow {
    label: String,
    /// Key index, value, tooltip.
    segments: Vec<(usize, f64, String)>,
    text: String,
}

struct StackChart<'a> {
    id: &'a str,
    class: &'a str,
    title: &'a str,
    about: &'a str,
    x_label: &'a str,
    rows: Vec<StackRow>,
    keys: Vec<(String, Fill)>,
}

fn stacked_hbar_chart(c: &StackChart) -> String {
    let width = WIDTH;
    let left = label_margin(c.rows.iter().map(|r| r.label.as_str()), width);
    let text_w = c
        .rows
        .iter()
        .map(|r| text_width(&r.text, FONT))
        .fold(0.0, f64::max);
    let pw = (width - left - text_w - 14.0).max(80.0);
    let max = c
        .rows
        .iter()
        .map(|r| r.segments.iter().map(|s| s.1).sum::<f64>())
        .fold(0.0, f64::max);
    let axis = linear_axis(c.x_label.into(), max, &|v| format!("{v:.0}"));
    let top = 34.0;
    let bottom = top + c.rows.len().max(1) as f64 * ROW;
    let entries: Vec<(String, LegendKey)> = c
        .keys
        .iter()
        .enumerate()
        .map(|(i, (name, fill))| (name.clone(), LegendKey::Fill(fill.paint(c.id, i))))
        .collect();
    let (legend_svg, legend_h) = legend(&entries, 8.0, bottom + 44.0, width - 16.0);
    let height = bottom + 44.0 + legend_h + 6.0;
    let mut out = String::with_capacity(2048);
    open(&mut out, c.id, c.class, (width, height), c.title, c.about);
    out.push_str("<defs>");
    for (i, (_, fill)) in c.keys.iter().enumerate() {
        out.push_str(&fill.def(&esc(c.id), i));
    }
    out.push_str("</defs>");
    for (v, _) in &axis.ticks {
        let x = left + axis.t(*v) * pw;
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#e5e8eb"/>"##
        );
    }
    x_tick_labels(&mut out, &axis, left, pw, bottom + 18.0, width);
    let _ = write!(
        out,
        r##"<line x1="{left:.1}" y1="{top:.1}" x2="{left:.1}" y2="{bottom:.1}" stroke="#8c959f"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#1b1f24">{}</text>"##,
        left + pw / 2.0,
        bottom + 36.0,
        esc(&axis.label)
    );
    for (i, r) in c.rows.iter().enumerate() {
        let y = top + i as f64 * ROW + (ROW - BAR) / 2.0;
        let _ = write!(
            out,
            r##"<g class="bar"><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#1b1f24">{}</text>"##,
            left - 8.0,
            y + BAR - 4.0,
            esc(&fit(&r.label, left - 18.0, FONT))
        );
        let mut x = left;
        for (key, v, tip) in &r.segments {
            let w = axis.t(*v) * pw;
            let paint = c
                .keys
                .get(*key)
                .map_or_else(|| "#777".to_string(), |(_, f)| f.paint(&esc(c.id), *key));
            let _ = write!(
                out,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{BAR}" fill="{paint}" stroke="#fff" stroke-width="1"><title>{}</title></rect>"##,
                esc(tip)
            );
            x += w;
        }
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" fill="#1b1f24">{}</text></g>"##,
            x + 6.0,
            y + BAR - 4.0,
            esc(&r.text)
        );
    }
    out.push_str(&legend_svg);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{LatencySummary, TimelinePoint, histogram_to_base64, new_histogram};

    fn cell(model: Model, concurrency: usize, values: &[u64]) -> CellSummary {
        let mut h = new_histogram();
        for v in values {
            h.record(*v).expect("in range");
        }
        CellSummary {
            model,
            concurrency,
            workers: 1,
            operations: values.len() as u64,
            successes: values.len() as u64,
            errors: [("timeout".to_string(), 0)].into_iter().collect(),
            status_codes: Default::default(),
            error_rate: 0.0,
            bytes: 0,
            wall_seconds: 2.5,
            throughput_per_s: values.len() as f64 / 2.5,
            attempts_per_s: 0.0,
            latency_us: LatencySummary::default(),
            latency_out_of_range: 0,
            cpu_seconds: 0.1,
            cores_busy: 0.04,
            peak_rss_bytes: 0,
            speedup: None,
            complete: true,
            notes: Vec::new(),
            start_offset_seconds: 0.0,
            thresholds: Vec::new(),
            timeline: Vec::new(),
            histogram: histogram_to_base64(&h),
            open: None,
            rounds: None,
            machine: Default::default(),
        }
    }

    fn scenario(cells: Vec<CellSummary>) -> ScenarioSummary {
        ScenarioSummary {
            name: "s".into(),
            description: None,
            kind: Bound::Io,
            bound: Bound::Io,
            busy_fraction: 0.01,
            bound_cell: "sequential".into(),
            classified: true,
            workload: Vec::new(),
            load: "repeat: 1".into(),
            cells,
        }
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn nice_steps() {
        for (max, step) in [
            (1.0, 0.2),
            (7.0, 2.0),
            (10.0, 2.0),
            (12.0, 2.5),
            (300.0, 100.0),
            (0.05, 0.01),
        ] {
            let got = nice_step(max, 5.0);
            assert!(
                (got - step).abs() < 1e-9,
                "max {max}: step {got}, want {step}"
            );
        }
    }

    #[test]
    fn percentile_labels() {
        let labels: Vec<String> = (0..=5).map(percentile_label).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]);
        assert!((decade_of(0.999) - 3.0).abs() < 1e-9);
    }

    #[test]
    fn values_at_matches_value_at_quantile() {
        let mut h = new_histogram();
        for k in 1..=5_000u64 {
            h.record(k * k % 77_777 + 10).expect("in range");
        }
        let qs: Vec<f64> = (0..=200)
            .map(|k| 1.0 - 10f64.powf(-(k as f64) / 50.0))
            .collect();
        let want: Vec<u64> = qs.iter().map(|q| h.value_at_quantile(*q)).collect();
        assert_eq!(values_at(&h, &qs)[1..], want[1..]);
        assert_eq!(values_at(&h, &[1.0]), [h.max()]);
    }

    #[test]
    fn simplify_keeps_the_ends_of_flat_runs() {
        let line = vec![(0.0, 1.0), (1.0, 1.0), (2.0, 1.0), (3.0, 2.0), (4.0, 2.0)];
        assert_eq!(
            simplify(line),
            [(0.0, 1.0), (2.0, 1.0), (3.0, 2.0), (4.0, 2.0)]
        );
    }

    #[test]
    fn fit_cuts_long_labels() {
        assert_eq!(fit("short", 200.0, FONT), "short");
        let cut = fit(&"x".repeat(100), 100.0, FONT);
        assert!(
            cut.ends_with('…') && text_width(&cut, FONT) <= 100.0,
            "{cut}"
        );
    }

    #[test]
    fn spectrum_has_one_line_per_cell_and_an_axis_as_long_as_the_data() {
        let values: Vec<u64> = (1..=1_000).map(|v| v * 100).collect();
        let s = scenario(vec![
            cell(Model::Sequential, 1, &values),
            cell(Model::Async, 8, &values[..50]),
        ]);
        let (svg, problems) = spectrum_chart("t", &s);
        assert!(problems.is_empty());
        assert_eq!(svg.matches("<polyline").count(), 2);
        // 1000 values: the axis ends at 99.9%, not beyond.
        assert!(
            svg.contains(">99.9%</text>") && !svg.contains(">99.99%"),
            "{svg}"
        );
        assert!(
            svg.contains("sequential · p99: 99.0ms (1000 values)"),
            "{svg}"
        );
        assert!(svg.contains("latency (ms)"));
    }

    #[test]
    fn an_unreadable_histogram_is_reported_not_drawn() {
        let mut bad = cell(Model::Sequential, 1, &[5]);
        bad.histogram = "not base64!".into();
        let (svg, problems) = spectrum_chart("t", &scenario(vec![bad]));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(svg.contains("no data"));
    }

    #[test]
    fn a_partial_last_second_is_scaled_by_its_length() {
        let mut c = cell(Model::Threads, 4, &[1_000]);
        c.wall_seconds = 2.5;
        c.timeline = (0..3)
            .map(|second| TimelinePoint {
                second,
                operations: if second == 2 { 50 } else { 100 },
                errors: 0,
                bytes: 0,
                p50_us: 1_000,
                p99_us: 2_000,
                max_us: 3_000,
                in_flight: 0.0,
                histogram: String::new(),
                seconds: 1.0,
            })
            .collect();
        let [tput, p99] = timeline_charts("t", &scenario(vec![c]));
        assert_eq!(tput.matches("(100/s)").count(), 3, "{tput}");
        assert!(p99.contains("second 3: p50 1.00ms, p99 2.00ms, max 3.00ms"));
    }

    #[test]
    fn sweeps_are_detected_and_drawn_per_model() {
        let values = [1_000, 2_000];
        let mut cells = vec![cell(Model::Sequential, 1, &values)];
        assert!(!is_sweep(&scenario(cells.clone())));
        for c in [1, 4, 16, 64] {
            cells.push(cell(Model::Async, c, &values));
            cells.push(cell(Model::Threads, c, &values));
        }
        let s = scenario(cells);
        assert!(is_sweep(&s));
        let [tput, p99] = sweep_charts("t", &s);
        for svg in [&tput, &p99] {
            assert_eq!(svg.matches("<polyline").count(), 2, "threads and async");
            assert!(svg.contains("sequential: "), "reference line");
            for c in ["1", "4", "16", "64"] {
                assert!(svg.contains(&format!(">{c}</text>")), "tick {c}");
            }
        }
    }

    #[test]
    fn errors_and_status_codes_stack_per_cell() {
        let mut a = cell(Model::Sequential, 1, &[1]);
        a.errors.insert("status".into(), 3);
        a.errors.insert("timeout".into(), 1);
        a.status_codes = [("200".to_string(), 6), ("503".to_string(), 3)]
            .into_iter()
            .collect();
        let b = cell(Model::Async, 2, &[1]);
        let s = scenario(vec![a, b]);
        let errors = errors_chart("e", &s).expect("errors chart");
        assert!(errors.contains("sequential · status: 3 errors"));
        assert!(errors.contains("sequential · timeout: 1 errors"));
        assert!(
            errors.contains(r#"<pattern id="e-k1""#),
            "greyscale pattern for the 2nd key"
        );
        let status = status_chart("st", &s).expect("status chart");
        assert!(status.contains("sequential · status 503: 3"));
        assert!(errors_chart("e", &scenario(vec![cell(Model::Sequential, 1, &[1])])).is_none());
        assert!(status_chart("st", &scenario(vec![cell(Model::Sequential, 1, &[1])])).is_none());
    }

    #[test]
    fn odd_numbers_do_not_break_charts() {
        let mut c = cell(Model::Sequential, 1, &[]);
        c.throughput_per_s = f64::NAN;
        c.speedup = Some(f64::INFINITY);
        c.wall_seconds = 0.0;
        let s = scenario(vec![c]);
        let speed = speedup_chart("x", &s, 2);
        assert!(!speed.contains("NaN") && !speed.contains("inf"), "{speed}");
        let [tput, p99] = timeline_charts("x", &s);
        assert!(tput.contains("no data") && p99.contains("no data"));
        assert!(fastest_index(&s).is_none());
    }

    #[test]
    fn speedup_bars_show_the_limits_of_computation() {
        let mut seq = cell(Model::Sequential, 1, &[1]);
        seq.speedup = Some(1.0);
        let mut par = cell(Model::Processes, 2, &[1]);
        par.speedup = Some(1.9);
        par.throughput_per_s = 100.0;
        let mut s = scenario(vec![seq, par]);
        s.kind = Bound::Cpu;
        s.bound = Bound::Cpu;
        let svg = speedup_chart("x", &s, 2);
        assert!(svg.contains("sequential = 1×"));
        assert!(svg.contains("2 cores: the most computation can gain"));
        assert!(svg.contains("1.90× · 0.04 cores · fastest"));
    }
}
