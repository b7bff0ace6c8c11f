//! The run report's charts, one scenario at a time: speedup, percentile spectrum, concurrency
//! sweep and timelines here; the errors and status-code breakdowns in `breakdown.rs`; where an
//! operation's time goes (connection phases) in `phases.rs`; latency per named request in
//! `requests.rs`.
//!
//! Input: a scenario's summary (cells, timelines, histograms). Output: SVG markup drawn with the
//! chart kit (`chart/`), which escapes every piece of text. This file decides what to draw (which
//! cells, which numbers, which words); the kit decides how. Must not panic on odd numbers (NaN,
//! ±∞, 1e308, empty timelines, unreadable histograms): such points are skipped and an empty chart
//! says so in words.

mod breakdown;
mod phases;
mod requests;
mod scalability;

use hdrhistogram::Histogram;

use super::chart::scale::decade_of;
use super::chart::within;
use super::chart::{
    Axis, Band, Bar, Frame, HBarChart, Marker, PAGE_WIDTH, Plot, Point, RefMark, Series, Style,
    hbar_chart, line_chart, line_chart_sized,
};
use super::insight::fastest_index;
use super::insight::numbers;
use crate::plan::Model;
use crate::stats::{Bound, CellSummary, ScenarioSummary, histogram_from_base64};
use crate::units;

pub use breakdown::{Breakdown, breakdown_chart};
pub use phases::phases_chart;
pub use requests::{requests_chart, requests_over_time};
pub use scalability::scalability_charts;

/// The speedup chart sits in a half-width card (about 530 px inside on a 1,200 px page).
const SPEEDUP_WIDTH: f64 = 520.0;
/// Points sampled along the percentile axis of a spectrum line.
const SPECTRUM_SAMPLES: usize = 150;
/// Said by a chart none of whose cells has a point to draw.
const NO_DATA: &str = "no data: no cell recorded an operation";

/// The style of a cell: colour and dash by model, marker by its rank among the model's cells.
fn cell_style(c: &CellSummary, cells: &[CellSummary]) -> Style {
    let rank = cells
        .iter()
        .filter(|o| o.model == c.model)
        .position(|o| std::ptr::eq(o, c))
        .unwrap_or(0);
    model_style(c.model, rank)
}

// Every model is a family of its own in the charts: a model past the palette does not compile.
const _: () = assert!(Model::ALL.len() <= super::chart::style::DISTINCT_FAMILIES);

fn model_style(model: Model, rank: usize) -> Style {
    Style::series(model.index(), rank)
}

fn label(c: &CellSummary) -> String {
    c.label()
}

/// Speedup of every cell against `sequential`, with the limits that explain it: 1× and, for
/// computation, the number of cores; with rounds, an error bar from the slowest round to the
/// fastest. A cell where nothing succeeded (on its side or sequential's) has an empty bar that
/// says so. Without a sequential cell: throughput instead.
pub fn speedup_chart(id: &str, s: &ScenarioSummary, host_cores: usize) -> String {
    let fastest = fastest_index(s);
    let with_speedup = s
        .cells
        .iter()
        .any(|c| c.speedup.is_some() || c.model.is_baseline());
    let bars: Vec<Bar> = s
        .cells
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let strong = Some(i) == fastest;
            let tail = if strong { " · fastest" } else { "" };
            let cores = numbers::cores_busy(c).value;
            let speedup = numbers::speedup(s, c);
            let spread = c.rounds.as_ref().and_then(|r| r.speedup.as_ref());
            let (value, text, range) = if with_speedup {
                match c.speedup {
                    Some(v) => (
                        v,
                        format!("{} · {cores} cores{tail}", speedup.inline()),
                        // Sequential against itself is 1× in every round: no spread to show.
                        spread
                            .filter(|_| !c.model.is_baseline())
                            .map(|r| (r.min, r.max)),
                    ),
                    None if numbers::nothing_succeeded(s, c) => (
                        0.0,
                        format!("{}: nothing succeeded", numbers::NO_SPEEDUP),
                        None,
                    ),
                    None => return None,
                }
            } else {
                let v = c.throughput_per_s;
                let tput = numbers::throughput(c).inline_with("/s");
                let spread = c.rounds.as_ref().map(|r| &r.throughput_per_s);
                (
                    v,
                    format!("{tput} · {cores} cores{tail}"),
                    spread.map(|r| (r.min, r.max)),
                )
            };
            let rounds = spread
                .filter(|r| r.values.len() > 1)
                .map(|r| {
                    let each: Vec<String> =
                        r.values.iter().map(|v| units::speedup(Some(*v))).collect();
                    format!("; round by round {}", each.join(", "))
                })
                .unwrap_or_default();
            Some(Bar {
                label: label(c),
                value,
                text,
                tip: format!(
                    "{}: {} sequential, {} successful operations/s, {cores} cores busy{rounds}",
                    label(c),
                    speedup.inline(),
                    numbers::throughput(c).inline()
                ),
                style: cell_style(c, &s.cells),
                strong,
                range,
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
            "Speedup against sequential (successful throughput ratio)",
            "speedup (×, higher is faster)",
            "×",
        )
    } else {
        (
            "Throughput (no sequential cell to compare against)",
            "successful operations per second",
            "",
        )
    };
    let frame = Frame {
        id,
        class: "chart-speedup",
        title,
        about: &format!("{title} for scenario {}", s.name),
    };
    hbar_chart(
        &frame,
        &HBarChart {
            width: SPEEDUP_WIDTH,
            x_label,
            unit,
            bars,
            refs,
            empty: NO_DATA,
        },
    )
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
    let lines: Vec<(String, Style, Histogram<u64>)> = decoded
        .into_iter()
        .map(|(c, h)| (label(c), cell_style(c, &s.cells), h))
        .collect();
    let frame = Frame {
        id,
        class: "chart-spectrum",
        title: "Latency by percentile (HdrHistogram spectrum)",
        about: &format!(
            "Latency percentile spectrum of scenario {}: one line per cell",
            s.name
        ),
    };
    (spectrum_of(&frame, lines), problems)
}

/// One cell (or one request of it) in two runs: the baseline's spectrum (blue, dashed) and this
/// run's (vermilion, solid) on one log axis. `lines` are (label, base64 histogram) pairs, the
/// baseline first; a histogram that cannot be read or holds nothing is left out and named in
/// the second value.
pub fn comparison_spectrum(
    id: &str,
    title: &str,
    about: &str,
    lines: [(String, &str); 2],
) -> (String, Vec<String>) {
    let styles = [
        Style {
            colour: "#0072b2",
            dash: "9 4",
            marker: Marker::Ring,
        },
        Style {
            colour: "#d55e00",
            dash: "",
            marker: Marker::Square,
        },
    ];
    let mut problems = Vec::new();
    let mut drawn = Vec::new();
    for ((name, b64), style) in lines.into_iter().zip(styles) {
        match histogram_from_base64(b64) {
            Ok(h) if !h.is_empty() => drawn.push((name, style, h)),
            Ok(_) => problems.push(format!("{name}: no operations")),
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    let frame = Frame {
        id,
        class: "chart-spectrum chart-compare",
        title,
        about,
    };
    (spectrum_of(&frame, drawn), problems)
}

/// Percentile spectra of several histograms on one log axis, each line labelled and styled by
/// its caller: the cells of a scenario, or one cell in two runs (the comparison page).
pub fn spectrum_of(frame: &Frame, lines: Vec<(String, Style, Histogram<u64>)>) -> String {
    let decoded = lines;
    let most = decoded.iter().map(|(_, _, h)| h.len()).max().unwrap_or(1);
    // The axis ends at the decade the data can support: 160 values say little beyond p99.9.
    let decades = ((most as f64).log10().ceil() as u32).clamp(1, 6);
    let top = decoded.iter().map(|(_, _, h)| h.max()).max().unwrap_or(0);
    let marks: [(f64, &str); 6] = [
        (0.5, "p50"),
        (0.9, "p90"),
        (0.99, "p99"),
        (0.999, "p99.9"),
        (0.9999, "p99.99"),
        (0.99999, "p99.999"),
    ];
    let end = f64::from(decades);
    let series = decoded
        .iter()
        .map(|(name, style, h)| {
            let name = name.clone();
            let xs: Vec<f64> = (0..=SPECTRUM_SAMPLES)
                .map(|k| end * k as f64 / SPECTRUM_SAMPLES as f64)
                .collect();
            let qs: Vec<f64> = xs.iter().map(|x| 1.0 - 10f64.powf(-x)).collect();
            let mut line: Vec<(f64, f64)> = xs
                .iter()
                .zip(values_at(h, &qs))
                .map(|(x, v)| (*x, v as f64))
                .collect();
            line.push((end, h.max() as f64));
            let shown: Vec<&(f64, &str)> = marks
                .iter()
                .filter(|(q, _)| decade_of(*q) <= end + 1e-9)
                .collect();
            let qs: Vec<f64> = shown.iter().map(|(q, _)| *q).collect();
            let mut points: Vec<Point> = shown
                .iter()
                .zip(values_at(h, &qs))
                .map(|((q, tag), v)| {
                    let tip = format!("{name} · {tag}: {} ({} values)", units::micros(v), h.len());
                    Point::new(decade_of(*q), v as f64, tip)
                })
                .collect();
            points.push(Point::new(
                end,
                h.max() as f64,
                format!("{name} · max: {}", units::micros(h.max())),
            ));
            Series {
                label: name,
                style: *style,
                line: simplify(line),
                points,
            }
        })
        .collect();
    let plot = Plot::new(
        Axis::percentile("percentile (log scale of 1/(1−p))", decades),
        Axis::latency("latency", top as f64, 5),
        series,
        NO_DATA,
    );
    line_chart_sized(frame, &plot, PAGE_WIDTH)
}

/// The values at non-decreasing quantiles `qs`, with `value_at_quantile`'s rounding, in one pass
/// over the recorded buckets: `value_at_quantile` scans the whole counts array (tens of thousands
/// of counters at 3 significant digits up to one hour) on every call.
fn values_at(h: &Histogram<u64>, qs: &[f64]) -> Vec<u64> {
    let total = h.len();
    let mut buckets = h
        .iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .peekable();
    let mut out = Vec::with_capacity(qs.len());
    // `seen` counts the values in the buckets before `current`.
    let mut seen = 0u64;
    let mut current = buckets.next();
    for q in qs {
        let target = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        while let Some((_, count)) = current {
            if seen.saturating_add(count) >= target || buckets.peek().is_none() {
                break;
            }
            seen = seen.saturating_add(count);
            current = buckets.next();
        }
        out.push(current.map_or(0, |b| b.0));
    }
    out
}

/// Drops the inner points of flat runs: a spectrum is mostly steps, and 100 cells × 150 points
/// would otherwise bloat the page.
fn simplify(line: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(line.len());
    for p in line {
        match out.as_mut_slice() {
            [.., (_, y0), last] if *y0 == p.1 && last.1 == p.1 => *last = p,
            _ => out.push(p),
        }
    }
    out
}

/// True when some model runs at several concurrencies: the scenario is a sweep.
pub fn is_sweep(s: &ScenarioSummary) -> bool {
    (Model::ALL.iter().filter(|m| !m.is_baseline()))
        .any(|m| s.cells.iter().filter(|c| c.model == *m).count() > 1)
}

/// The line of each model but `sequential` through its cells, by concurrency: (x, y) of every
/// cell with operations, and the tooltip `show` writes for y.
fn per_model(
    s: &ScenarioSummary,
    value: &dyn Fn(&CellSummary) -> f64,
    show: &dyn Fn(f64) -> String,
) -> Vec<Series> {
    (Model::ALL.iter().filter(|m| !m.is_baseline()))
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
                .map(|c| {
                    let tip = format!("{}: {}", label(c), show(value(c)));
                    Point::new(c.concurrency as f64, value(c), tip)
                })
                .collect();
            Some(Series {
                label: m.as_str().into(),
                style: model_style(*m, 0),
                line: points.iter().map(|p| (p.x, p.y)).collect(),
                points,
            })
        })
        .collect()
}

/// The largest finite y of `series` and of `extra`, at least 0.
fn top_of<'a>(series: &[Series], extra: impl Iterator<Item = f64> + 'a) -> f64 {
    series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.y))
        .chain(extra)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
}

/// The x axis of a scenario's charts over time: seconds since each cell's measured start, as far
/// as its longest cell ran.
fn time_axis(s: &ScenarioSummary) -> Axis {
    let longest = s
        .cells
        .iter()
        .map(|c| c.wall_seconds)
        .filter(|w| w.is_finite())
        .fold(0.0, f64::max);
    Axis::number("seconds since the cell's measured start", longest.max(1.0))
}

/// Throughput and p99 against concurrency, one line per model; `sequential` as a reference line.
pub fn sweep_charts(id: &str, s: &ScenarioSummary) -> [String; 2] {
    let concurrencies: Vec<usize> = {
        let mut v: Vec<usize> = s
            .cells
            .iter()
            .filter(|c| !c.model.is_baseline())
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
    let seq = s.cells.iter().find(|c| c.model.is_baseline());
    let tput_series = per_model(s, &|c| c.throughput_per_s, &|v| {
        format!("{} operations/s", units::number(v))
    });
    let p99_series = per_model(s, &|c| c.latency_us.p99 as f64, &|v| {
        units::micros(v as u64)
    });
    let tput_max = top_of(&tput_series, seq.map(|c| c.throughput_per_s).into_iter());
    let p99_max = top_of(
        &p99_series,
        seq.map(|c| c.latency_us.p99 as f64).into_iter(),
    );
    let sweep = |suffix: &str,
                 class: &str,
                 title: &str,
                 what: &str,
                 y: Axis,
                 series: Vec<Series>,
                 hline: &dyn Fn(&CellSummary) -> (f64, String)| {
        let frame = Frame {
            id: &format!("{id}-{suffix}"),
            class,
            title,
            about: &format!("{what} against concurrency per model, scenario {}", s.name),
        };
        let plot = Plot {
            x: x.clone(),
            y,
            series,
            hlines: seq.map(hline).into_iter().collect(),
            rules: Vec::new(),
            bands: Vec::new(),
            empty: NO_DATA,
        };
        line_chart(&frame, &plot)
    };
    [
        sweep(
            "throughput",
            "chart-sweep-throughput",
            "Throughput against concurrency",
            "Throughput",
            Axis::number("operations per second", tput_max),
            tput_series,
            &|c: &CellSummary| {
                let v = c.throughput_per_s;
                (v, format!("sequential: {}/s", units::number(v)))
            },
        ),
        sweep(
            "p99",
            "chart-sweep-p99",
            "p99 latency against concurrency",
            "p99 latency",
            Axis::latency("p99 latency", p99_max, 5),
            p99_series,
            &|c: &CellSummary| {
                let v = c.latency_us.p99;
                (v as f64, format!("sequential: {}", units::micros(v)))
            },
        ),
    ]
}

/// The timeline charts' series, in data coordinates: per cell, successes per second (a flow's:
/// successful iterations), then a flow's requests per second, then errors per second when the
/// cell had any; and its p99 per second.
fn timeline_series(s: &ScenarioSummary) -> [Vec<Series>; 2] {
    // A point's rate is its operations over the time it really covered (`seconds`: less than 1
    // for the last, partial second, the sum over the rounds that reached it with rounds), never
    // a partial second scaled up to a whole one. An edited file's odd length counts as 1.
    let covered = |seconds: f64| {
        if seconds.is_finite() && seconds > 0.0 {
            seconds
        } else {
            1.0
        }
    };
    let mut tput = Vec::new();
    let mut p99 = Vec::new();
    for c in &s.cells {
        let name = label(c);
        let style = cell_style(c, &s.cells);
        let mut tp = Vec::new();
        let mut ep = Vec::new();
        let mut rp = Vec::new();
        let mut lp = Vec::new();
        // Where in its second a point sits: the middle of what one round covered of it.
        let rounds = c.rounds.as_ref().map_or(1, |r| r.count.max(1)) as f64;
        for t in &c.timeline {
            let seconds = covered(t.seconds);
            let x = f64::from(t.second) + within(seconds / rounds, 1e-3, 1.0) / 2.0;
            // Throughput counts successes, as the tables do: an error is no work done.
            let successes = t.operations.saturating_sub(t.errors);
            let rate = successes as f64 / seconds;
            let error_rate = t.errors as f64 / seconds;
            let second = u64::from(t.second) + 1;
            let (what, many) = if t.requests.is_some() {
                ("iterations", "successful iterations")
            } else {
                ("operations", "successes")
            };
            let mut tip = format!(
                "{name} · second {second}: {successes} {many} ({}/s), {} errors ({}/s) of {} {what}",
                units::number(rate),
                t.errors,
                units::number(error_rate),
                t.operations,
            );
            if let Some(r) = t.requests {
                let per_s = r as f64 / seconds;
                tip.push_str(&format!(", {r} requests ({}/s)", units::number(per_s)));
                rp.push(Point::new(x, per_s, tip.clone()));
            }
            ep.push(Point::new(x, error_rate, tip.clone()));
            tp.push(Point::new(x, rate, tip));
            let tip = format!(
                "{name} · second {second}: p50 {}, p99 {}, max {}",
                units::micros(t.p50_us),
                units::micros(t.p99_us),
                units::micros(t.max_us)
            );
            lp.push(Point::new(x, t.p99_us as f64, tip));
        }
        // Errors per second beside the successes, only for a cell that had errors; a flow's
        // requests per second beside its iterations.
        let errors = ep.iter().any(|p| p.y > 0.0).then(|| {
            (
                format!("{name} errors/s"),
                Style {
                    dash: ERRORS_DASH,
                    marker: Marker::Cross,
                    ..style
                },
                ep,
            )
        });
        let requests = (!rp.is_empty()).then(|| {
            (
                format!("{name} requests/s"),
                Style {
                    dash: REQUESTS_DASH,
                    marker: Marker::Ring,
                    ..style
                },
                rp,
            )
        });
        let main = if requests.is_some() {
            format!("{name} iterations/s")
        } else {
            name.clone()
        };
        for (label, style, points) in [Some((main, style, tp))]
            .into_iter()
            .chain([requests, errors])
            .flatten()
        {
            tput.push(Series {
                label,
                style,
                line: points.iter().map(|p| (p.x, p.y)).collect(),
                points,
            });
        }
        p99.push(Series {
            label: name.clone(),
            style,
            line: lp.iter().map(|p| (p.x, p.y)).collect(),
            points: lp,
        });
    }
    [tput, p99]
}

/// Where each windowed threshold broke (`p99 over 1m < 300ms`), per cell: shaded on both
/// timelines, the tooltip naming the cell, the threshold and the worst window's figure.
fn breaches(s: &ScenarioSummary) -> Vec<Band> {
    let mut out = Vec::new();
    for c in &s.cells {
        for t in &c.thresholds {
            let Some(w) = &t.windows else { continue };
            for b in &w.breaches {
                out.push(Band {
                    from: f64::from(b.from_s),
                    to: f64::from(b.to_s),
                    class: "breach".into(),
                    colour: BREACH_COLOUR,
                    tip: format!(
                        "{} · {} broken from second {} to {}: {}",
                        label(c),
                        t.expression,
                        b.from_s,
                        b.to_s,
                        t.observed_text
                    ),
                });
            }
        }
    }
    out
}

/// The shade of a stretch where a windowed threshold broke.
const BREACH_COLOUR: &str = "#cf222e";

/// A cell's errors per second, drawn beside its successes on the throughput timeline.
const ERRORS_DASH: &str = "1 3";
/// A flow's requests per second, drawn beside its iterations.
const REQUESTS_DASH: &str = "16 3 1 3";

/// Throughput (successes) and p99 per second of every cell, from the timeline collected during
/// the run; errors per second beside the successes, and a flow's requests per second beside its
/// iterations.
pub fn timeline_charts(id: &str, s: &ScenarioSummary) -> [String; 2] {
    let [tput, p99] = timeline_series(s);
    let x = time_axis(s);
    let tmax = top_of(&tput, std::iter::empty());
    let lmax = top_of(&p99, std::iter::empty());
    let timeline =
        |suffix: &str, class: &str, title: &str, about: String, y: Axis, series: Vec<Series>| {
            let frame = Frame {
                id: &format!("{id}-{suffix}"),
                class,
                title,
                about: &about,
            };
            let plot = Plot {
                bands: breaches(s),
                ..Plot::new(x.clone(), y, series, NO_DATA)
            };
            line_chart_sized(&frame, &plot, PAGE_WIDTH)
        };
    [
        timeline(
            "throughput",
            "chart-timeline-throughput",
            "Throughput over time, per cell",
            format!(
                "Successful operations per second over time for each cell of scenario {}, with \
                 errors per second (dotted, crosses) for cells that had errors and, for a flow, requests \
                 per second (dash-dot, rings) beside its iterations",
                s.name
            ),
            Axis::number("per second", tmax),
            tput,
        ),
        timeline(
            "p99",
            "chart-timeline-p99",
            "p99 latency over time, per cell",
            format!(
                "p99 latency per second for each cell of scenario {}",
                s.name
            ),
            Axis::latency("p99 latency", lmax, 5),
            p99,
        ),
    ]
}

/// Errors per second by category, one line per cell and category that had any (colour by
/// category, marker by cell), on the cells' time axis; `None` when no second of any cell
/// recorded an error by category (no errors, or a summary written before they were kept).
pub fn errors_over_time(id: &str, s: &ScenarioSummary) -> Option<String> {
    let mut series = Vec::new();
    for (ci, c) in s.cells.iter().enumerate() {
        let rounds = c.rounds.as_ref().map_or(1, |r| r.count.max(1)) as f64;
        let mut kinds: Vec<&str> = c
            .timeline
            .iter()
            .flat_map(|t| t.error_kinds.keys().map(String::as_str))
            .collect();
        kinds.sort_by_key(|k| (crate::stats::category_rank(k), *k));
        kinds.dedup();
        for name in kinds {
            let points: Vec<Point> = c
                .timeline
                .iter()
                .map(|t| {
                    let seconds = if t.seconds.is_finite() && t.seconds > 0.0 {
                        t.seconds
                    } else {
                        1.0
                    };
                    let n = t.error_kinds.get(name).copied().unwrap_or(0);
                    let rate = n as f64 / seconds;
                    Point::new(
                        f64::from(t.second) + within(seconds / rounds, 1e-3, 1.0) / 2.0,
                        rate,
                        format!(
                            "{} · second {}: {n} {name} errors ({}/s)",
                            label(c),
                            u64::from(t.second) + 1,
                            units::number(rate)
                        ),
                    )
                })
                .collect();
            let base = Style::series(crate::stats::category_rank(name).min(31), ci);
            series.push(Series {
                label: format!("{} · {name}", label(c)),
                style: base,
                line: points.iter().map(|p| (p.x, p.y)).collect(),
                points,
            });
        }
    }
    if series.is_empty() {
        return None;
    }
    let top = top_of(&series, std::iter::empty());
    let about = format!(
        "Errors per second by category for each cell of scenario {}",
        s.name
    );
    let frame = Frame {
        id,
        class: "chart-errors-over-time",
        title: "Errors per second, by category",
        about: &about,
    };
    let plot = Plot::new(
        time_axis(s),
        Axis::number("errors per second", top),
        series,
        NO_DATA,
    );
    Some(line_chart_sized(&frame, &plot, PAGE_WIDTH))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn every_model_has_a_colour_and_dash_of_its_own() {
        let styles: std::collections::HashSet<_> = Model::ALL
            .iter()
            .map(|m| {
                let s = model_style(*m, 0);
                (s.colour, s.dash)
            })
            .collect();
        assert_eq!(styles.len(), Model::ALL.len());
    }
    use crate::stats::{TimelinePoint, histogram_to_base64, new_histogram};

    pub(in crate::report::figures) fn cell(
        model: Model,
        concurrency: usize,
        values: &[u64],
    ) -> CellSummary {
        let mut h = new_histogram();
        for v in values {
            h.record(*v).expect("in range");
        }
        CellSummary {
            operations: values.len() as u64,
            successes: values.len() as u64,
            errors: [("timeout".to_string(), 0)].into_iter().collect(),
            wall_seconds: 2.5,
            throughput_per_s: values.len() as f64 / 2.5,
            attempts_per_s: values.len() as f64 / 2.5,
            cpu_seconds: 0.1,
            cores_busy: 0.04,
            histogram: histogram_to_base64(&h),
            ..CellSummary::empty(model, concurrency, 1)
        }
    }

    /// A timeline point of one whole second holding `operations` and nothing else of note.
    fn one_second(operations: u64) -> TimelinePoint {
        TimelinePoint {
            error_kinds: Default::default(),
            requests: None,
            seconds: 1.0,
            second: 0,
            operations,
            errors: 0,
            bytes: 0,
            p50_us: 1_000,
            p99_us: 2_000,
            max_us: 3_000,
            in_flight: 0.0,
            histogram: String::new(),
        }
    }

    pub(in crate::report::figures) fn scenario(cells: Vec<CellSummary>) -> ScenarioSummary {
        ScenarioSummary {
            seed: None,
            classified: true,
            name: "s".into(),
            description: None,
            kind: Bound::Io,
            bound: Bound::Io,
            busy_fraction: 0.01,
            bound_cell: "sequential".into(),
            workload: Vec::new(),
            load: "repeat: 1".into(),
            tls_insecure: false,
            cells,
        }
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
    fn throughput_over_time_counts_successes_with_errors_and_requests_beside() {
        let point = |operations: u64, errors: u64, requests: Option<u64>| TimelinePoint {
            error_kinds: Default::default(),
            requests,
            errors,
            ..one_second(operations)
        };
        let ys = |s: &Series| s.line.iter().map(|p| p.1).collect::<Vec<_>>();
        // (why, timeline, series drawn: label suffix and rates per second)
        type Case<'a> = (&'a str, Vec<TimelinePoint>, &'a [(&'a str, &'a [f64])]);
        let cases: &[Case] = &[
            (
                "a refused port: nothing succeeded, 20,000 errors a second",
                vec![point(20_000, 20_000, None), point(19_000, 19_000, None)],
                &[("", &[0.0, 0.0]), (" errors/s", &[20_000.0, 19_000.0])],
            ),
            (
                "a clean cell draws no error line",
                vec![point(100, 0, None)],
                &[("", &[100.0])],
            ),
            (
                "some errors: successes and errors apart",
                vec![point(100, 10, None), point(100, 0, None)],
                &[("", &[90.0, 100.0]), (" errors/s", &[10.0, 0.0])],
            ),
            (
                "a flow of three requests: iterations and requests per second",
                vec![point(10, 0, Some(30)), point(12, 2, Some(34))],
                &[
                    (" iterations/s", &[10.0, 10.0]),
                    (" requests/s", &[30.0, 34.0]),
                    (" errors/s", &[0.0, 2.0]),
                ],
            ),
        ];
        for (why, timeline, want) in cases {
            let mut c = cell(Model::Threads, 4, &[1_000]);
            c.timeline = timeline
                .iter()
                .enumerate()
                .map(|(i, p)| TimelinePoint {
                    error_kinds: Default::default(),
                    second: i as u32,
                    ..p.clone()
                })
                .collect();
            let name = label(&c);
            let [tput, p99] = timeline_series(&scenario(vec![c]));
            let got: Vec<(String, Vec<f64>)> =
                tput.iter().map(|s| (s.label.clone(), ys(s))).collect();
            let want: Vec<(String, Vec<f64>)> = want
                .iter()
                .map(|(suffix, y)| (format!("{name}{suffix}"), y.to_vec()))
                .collect();
            assert_eq!(got, want, "{why}");
            assert_eq!(p99.len(), 1, "{why}: one p99 line per cell");
        }
    }

    #[test]
    fn where_a_windowed_threshold_broke_is_shaded_on_both_timelines() {
        let mut c = cell(Model::Async, 2, &[1_000, 2_000]);
        c.wall_seconds = 20.0;
        let result = |spans: Vec<(u32, u32)>| crate::stats::ThresholdResult {
            expression: "p99 over 2s < 50ms".into(),
            observed: Some(400_000.0),
            passed: spans.is_empty(),
            limit: 50_000.0,
            unit: "us".into(),
            observed_text: "400ms in 8–10 s".into(),
            windows: Some(crate::stats::WindowOutcome {
                seconds: 2,
                checked: 19,
                first_breach: None,
                breaches: spans
                    .into_iter()
                    .map(|(from_s, to_s)| crate::stats::Span {
                        from_s,
                        to_s,
                        worst: 400_000.0,
                    })
                    .collect(),
            }),
        };
        // (spans broken, shaded rectangles per chart)
        let cases = [(vec![], 0), (vec![(8, 12)], 1), (vec![(2, 4), (8, 12)], 2)];
        for (spans, want) in cases {
            c.thresholds = vec![result(spans.clone())];
            for chart in timeline_charts("w", &scenario(vec![c.clone()])) {
                assert_eq!(chart.matches("class=\"breach\"").count(), want, "{spans:?}");
                if want > 0 {
                    assert!(chart.contains("p99 over 2s &lt; 50ms broken from second 8 to 12"));
                }
            }
        }
    }

    #[test]
    fn a_point_is_as_long_as_the_time_it_covered() {
        let point = |second: u32, operations: u64, seconds: f64| TimelinePoint {
            second,
            seconds,
            ..one_second(operations)
        };
        // A steady 100/s: the last, partial half second holds 50 operations, never a spike.
        let mut c = cell(Model::Threads, 4, &[1_000]);
        c.wall_seconds = 9.0; // not what the rate is read from
        c.timeline = vec![point(0, 100, 1.0), point(1, 100, 1.0), point(2, 50, 0.5)];
        let [tput, p99] = timeline_charts("t", &scenario(vec![c.clone()]));
        assert_eq!(tput.matches("(100/s)").count(), 3, "{tput}");
        assert!(p99.contains("second 3: p50 1.00ms, p99 2.00ms, max 3.00ms"));
        // Three rounds pooled: 300 operations over the 3 s the rounds spent in the second.
        c.rounds = Some(crate::stats::RoundsSummary {
            count: 3,
            ..crate::report::sample::rounds_of(&[1.0, 1.0, 1.0])
        });
        c.timeline = vec![point(0, 300, 3.0), point(1, 150, 1.5)];
        let [tput, _] = timeline_charts("t", &scenario(vec![c.clone()]));
        assert_eq!(tput.matches("(100/s)").count(), 2, "{tput}");
        // A length no run writes counts as a whole second.
        for odd in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            c.timeline = vec![point(0, 100, odd)];
            let [tput, _] = timeline_charts("t", &scenario(vec![c.clone()]));
            assert!(tput.contains("(100/s)"), "{odd}: {tput}");
        }
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
        assert!(crate::report::insight::fastest_index(&s).is_none());
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

    #[test]
    fn speedups_over_rounds_have_error_bars_and_failures_no_speedup() {
        let mut seq = cell(Model::Sequential, 1, &[1]);
        seq.speedup = Some(1.0);
        seq.rounds = Some(crate::report::sample::rounds_of(&[1.0, 1.0, 1.0]));
        let mut par = cell(Model::Threads, 2, &[1]);
        par.speedup = Some(1.9);
        par.rounds = Some(crate::report::sample::rounds_of(&[1.7, 1.9, 2.4]));
        let mut refused = cell(Model::Async, 2, &[1]);
        refused.successes = 0;
        let svg = speedup_chart("x", &scenario(vec![seq.clone(), par, refused]), 2);
        // One error bar: sequential's rounds all read 1×.
        assert_eq!(svg.matches(r#"<g class="error-bar""#).count(), 1, "{svg}");
        assert!(
            svg.contains("1.90× (1.70–2.40) · 0.04 cores · fastest"),
            "{svg}"
        );
        assert!(svg.contains("round by round 1.70×, 1.90×, 2.40×"), "{svg}");
        assert!(
            svg.contains(">no speedup: nothing succeeded</text>"),
            "{svg}"
        );
        assert_eq!(svg.matches(r#"<g class="bar">"#).count(), 3);
        // Nothing succeeded anywhere: still a speedup chart, every bar saying why it is empty.
        let mut s = scenario(vec![seq.clone(), seq]);
        for c in &mut s.cells {
            c.successes = 0;
            c.speedup = None;
        }
        let svg = speedup_chart("x", &s, 2);
        assert_eq!(
            svg.matches(">no speedup: nothing succeeded</text>").count(),
            2
        );
        assert!(svg.contains("Speedup against sequential"));
    }

    /// Every chart of a scenario, all in one list.
    fn all_charts(s: &ScenarioSummary, cores: usize) -> Vec<String> {
        let mut out = vec![speedup_chart("a", s, cores), spectrum_chart("b", s).0];
        out.extend(sweep_charts("c", s));
        out.extend(timeline_charts("d", s));
        out.extend(breakdown_chart("e", s, Breakdown::Errors));
        out.extend(breakdown_chart("f", s, Breakdown::StatusCodes));
        out
    }

    /// Issue 18: one odd number at a time in an otherwise ordinary cell, then all at once, must
    /// give every chart, drawn without a NaN or an infinity in its coordinates.
    #[test]
    fn every_chart_survives_odd_cells() {
        type Odd = (&'static str, fn(&mut CellSummary));
        let odd: [Odd; 16] = [
            ("speedup 1e308", |c| c.speedup = Some(1e308)),
            ("speedup NaN", |c| c.speedup = Some(f64::NAN)),
            ("speedup -inf", |c| c.speedup = Some(f64::NEG_INFINITY)),
            ("wall 1e308", |c| c.wall_seconds = 1e308),
            ("wall NaN", |c| c.wall_seconds = f64::NAN),
            ("wall negative", |c| c.wall_seconds = -3.0),
            ("throughput inf", |c| c.throughput_per_s = f64::INFINITY),
            ("cores busy NaN", |c| c.cores_busy = f64::NAN),
            ("start offset 2^64", |c| {
                c.start_offset_seconds = 1.8446744073709552e19
            }),
            ("no timeline", |c| c.timeline.clear()),
            ("empty histogram", |c| c.histogram = String::new()),
            ("histogram not base64", |c| c.histogram = "%%%".into()),
            ("p99 u64::MAX", |c| c.latency_us.p99 = u64::MAX),
            ("errors overflow a sum", |c| {
                c.errors = [("x".to_string(), u64::MAX), ("y".to_string(), u64::MAX)]
                    .into_iter()
                    .collect();
            }),
            ("status codes odd", |c| {
                c.status_codes = [("".to_string(), u64::MAX), ("9xx".to_string(), 3)]
                    .into_iter()
                    .collect();
            }),
            ("timeline at the end of time", |c| {
                c.timeline = vec![TimelinePoint {
                    error_kinds: Default::default(),
                    requests: None,
                    seconds: 1.0,
                    second: u32::MAX,
                    operations: u64::MAX,
                    errors: u64::MAX,
                    bytes: 0,
                    p50_us: u64::MAX,
                    p99_us: u64::MAX,
                    max_us: 0,
                    in_flight: f64::NAN,
                    histogram: "?".into(),
                }];
            }),
        ];
        let base = || {
            let mut c = cell(Model::Async, 4, &[1_000, 2_000, 3_000]);
            c.speedup = Some(2.0);
            c
        };
        let mut all = base();
        for (what, spoil) in odd {
            let mut c = base();
            spoil(&mut c);
            spoil(&mut all);
            for cells in [vec![c], vec![cell(Model::Sequential, 1, &[5]), all.clone()]] {
                let s = scenario(cells);
                for cores in [0, 1, usize::MAX] {
                    for svg in all_charts(&s, cores) {
                        assert!(
                            svg.starts_with("<svg ") && svg.ends_with("</svg>"),
                            "{what}"
                        );
                        assert!(
                            !svg.contains("NaN") && !svg.contains("inf"),
                            "{what}: {svg}"
                        );
                    }
                }
            }
        }
        // No cells at all.
        for svg in all_charts(&scenario(Vec::new()), 2) {
            assert!(!svg.contains("NaN"), "{svg}");
        }
    }
}
