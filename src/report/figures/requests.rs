//! Latency per request: for each named request (a flow's step, a named target), one bar per
//! cell, drawn to its p50 and on to its p99, so that a slow step stands out and the models can
//! be compared step by step.
//!
//! Input: a scenario's summary (`cells[].requests`). Output: SVG markup drawn with the chart
//! kit, or nothing when the scenario's requests add nothing to its cells (see
//! `report/requests.rs`). Bars are grouped by request, in the order the requests first appear,
//! then by cell. Must not panic on odd numbers: a p99 below its p50 (an edited file) draws no
//! second segment.

use crate::report::chart::stacked_hbar_chart;
use crate::report::chart::{Fill, Frame, Pattern, StackChart, StackRow, StackUnit};
use crate::report::requests;
use crate::stats::ScenarioSummary;
use crate::units;

use super::label;

/// One bar per request and cell, p50 then p99; `None` when the requests add nothing.
pub fn requests_chart(id: &str, s: &ScenarioSummary) -> Option<String> {
    if !requests::shown(s) {
        return None;
    }
    let mut names: Vec<&str> = Vec::new();
    for r in s.cells.iter().flat_map(|c| &c.requests) {
        if !names.contains(&r.name.as_str()) {
            names.push(&r.name);
        }
    }
    let mut rows = Vec::new();
    for name in &names {
        for c in &s.cells {
            let Some(r) = c.requests.iter().find(|r| r.name == *name) else {
                continue;
            };
            let who = format!("{name} · {}", label(c));
            let l = &r.latency_us;
            let (p50, p99) = (l.p50, l.p99);
            let mut segments = Vec::new();
            if l.count > 0 {
                segments.push((0, p50 as f64, format!("{who}: p50 {}", units::micros(p50))));
                if p99 > p50 {
                    let tip = format!(
                        "{who}: p99 {} ({} values, {} errors)",
                        units::micros(p99),
                        l.count,
                        r.errors.values().fold(0u64, |a, n| a.saturating_add(*n))
                    );
                    segments.push((1, (p99 - p50) as f64, tip));
                }
            }
            rows.push(StackRow {
                label: who,
                segments,
                text: if l.count == 0 {
                    "no response".into()
                } else {
                    format!("{} / {}", units::micros(p50), units::micros(p99))
                },
            });
        }
    }
    let frame = Frame {
        id,
        class: "chart-requests",
        title: "Latency per request: p50, then on to p99",
        about: &format!(
            "Latency per request and cell of scenario {}: p50 and p99",
            s.name
        ),
    };
    let keys = vec![
        (
            "p50".to_string(),
            Fill {
                colour: "#0072b2",
                pattern: Pattern::Solid,
            },
        ),
        (
            "p50 to p99".to_string(),
            Fill {
                colour: "#56b4e9",
                pattern: Pattern::Hatch,
            },
        ),
    ];
    Some(stacked_hbar_chart(
        &frame,
        &StackChart {
            x_label: "latency (p50 / p99)",
            unit: StackUnit::Micros,
            rows,
            keys,
        },
    ))
}

/// One cell's requests over time, on one time axis: each named request's successful requests
/// per second (its errors per second dotted beside it, when it had any), each request's p99 per
/// second, and the users in flight (Little's law: the cell's operations that started in a second
/// × their mean latency) with, for an open model, the arrivals per second. Each request's second
/// is the one it ended in; the cell's the one its operation started in.
pub struct CellOverTime {
    pub cell: usize,
    pub label: String,
    /// Requests per second, then p99 per second, then users and arrivals: three charts, one
    /// time axis, the page's width each.
    pub charts: [String; 3],
}

/// Every cell of `s` with two or more named requests that kept their seconds; empty for a
/// scenario of one request per cell (its cells' charts say it all) or an older summary.
pub fn requests_over_time(id: &str, s: &ScenarioSummary) -> Vec<CellOverTime> {
    use crate::report::chart::{
        Axis, Marker, PAGE_WIDTH, Plot, Point, Series, Style, line_chart_sized,
    };
    let covered = |seconds: f64| {
        if seconds.is_finite() && seconds > 0.0 {
            seconds
        } else {
            1.0
        }
    };
    s.cells
        .iter()
        .enumerate()
        .filter(|(_, c)| c.requests.len() > 1 && c.requests.iter().any(|r| !r.timeline.is_empty()))
        .map(|(ci, c)| {
            let cell = label(c);
            let rounds = c.rounds.as_ref().map_or(1, |r| r.count.max(1)) as f64;
            let at = |second: u32, seconds: f64| {
                f64::from(second) + super::within(seconds / rounds, 1e-3, 1.0) / 2.0
            };
            let end = c
                .timeline
                .iter()
                .map(|t| f64::from(t.second) + 1.0)
                .chain(
                    c.requests
                        .iter()
                        .flat_map(|r| r.timeline.iter().map(|t| f64::from(t.second) + 1.0)),
                )
                .chain(std::iter::once(c.wall_seconds).filter(|w| w.is_finite()))
                .fold(1.0, f64::max);
            let x = Axis::number("seconds since the cell's measured start", end);
            let mut rates = Vec::new();
            let mut p99s = Vec::new();
            for (k, r) in c.requests.iter().enumerate() {
                let style = Style::series(k, 0);
                let mut ok = Vec::new();
                let mut bad = Vec::new();
                let mut lat = Vec::new();
                for t in &r.timeline {
                    let seconds = covered(t.seconds);
                    let x = at(t.second, seconds);
                    let successes = t.operations.saturating_sub(t.errors);
                    let tip = format!(
                        "{} · {cell} · second {}: {successes} succeeded ({}/s), {} errors ({}/s)",
                        r.name,
                        u64::from(t.second) + 1,
                        units::number(successes as f64 / seconds),
                        t.errors,
                        units::number(t.errors as f64 / seconds)
                    );
                    ok.push(Point::new(x, successes as f64 / seconds, tip.clone()));
                    bad.push(Point::new(x, t.errors as f64 / seconds, tip));
                    lat.push(Point::new(
                        x,
                        t.p99_us as f64,
                        format!(
                            "{} · {cell} · second {}: p50 {}, p99 {}, max {}",
                            r.name,
                            u64::from(t.second) + 1,
                            units::micros(t.p50_us),
                            units::micros(t.p99_us),
                            units::micros(t.max_us)
                        ),
                    ));
                }
                let line = |p: &[Point]| p.iter().map(|p| (p.x, p.y)).collect::<Vec<_>>();
                if bad.iter().any(|p| p.y > 0.0) {
                    rates.push(Series {
                        label: format!("{} errors/s", r.name),
                        style: Style {
                            colour: style.colour,
                            dash: "1 3",
                            marker: Marker::Cross,
                        },
                        line: line(&bad),
                        points: bad,
                    });
                }
                rates.push(Series {
                    label: r.name.clone(),
                    style,
                    line: line(&ok),
                    points: ok,
                });
                p99s.push(Series {
                    label: r.name.clone(),
                    style,
                    line: line(&lat),
                    points: lat,
                });
            }
            let mut load = Vec::new();
            let users: Vec<Point> = c
                .timeline
                .iter()
                .map(|t| {
                    let seconds = covered(t.seconds);
                    Point::new(
                        at(t.second, seconds),
                        t.in_flight,
                        format!(
                            "{cell} · second {}: {} users in flight",
                            u64::from(t.second) + 1,
                            units::number(t.in_flight)
                        ),
                    )
                })
                .collect();
            load.push(Series {
                label: "users in flight".into(),
                style: Style::series(0, 0),
                line: users.iter().map(|p| (p.x, p.y)).collect(),
                points: users,
            });
            if c.open.is_some() {
                let arrivals: Vec<Point> = c
                    .timeline
                    .iter()
                    .map(|t| {
                        let seconds = covered(t.seconds);
                        let rate = t.operations as f64 / seconds;
                        Point::new(
                            at(t.second, seconds),
                            rate,
                            format!(
                                "{cell} · second {}: {} arrivals/s",
                                u64::from(t.second) + 1,
                                units::number(rate)
                            ),
                        )
                    })
                    .collect();
                load.push(Series {
                    label: "arrivals per second".into(),
                    style: Style::series(2, 1),
                    line: arrivals.iter().map(|p| (p.x, p.y)).collect(),
                    points: arrivals,
                });
            }
            let top = |series: &[Series]| super::top_of(series, std::iter::empty());
            let draw = |suffix: &str, class: &str, title: &str, y: Axis, series: Vec<Series>| {
                let about = format!("{title}: {} · {cell}", s.name);
                let frame = Frame {
                    id: &format!("{id}-cell-{}-{suffix}", ci + 1),
                    class,
                    title,
                    about: &about,
                };
                let plot = Plot::new(
                    x.clone(),
                    y,
                    series,
                    "no data: no request ended in a measured second",
                );
                line_chart_sized(&frame, &plot, PAGE_WIDTH)
            };
            let (rmax, lmax, umax) = (top(&rates), top(&p99s), top(&load));
            CellOverTime {
                cell: ci,
                label: cell.clone(),
                charts: [
                    draw(
                        "requests-rate",
                        "chart-request-rate",
                        "Requests per second, per request",
                        Axis::number("per second", rmax),
                        rates,
                    ),
                    draw(
                        "requests-p99",
                        "chart-request-p99",
                        "p99 latency per second, per request",
                        Axis::latency("p99 latency", lmax, 5),
                        p99s,
                    ),
                    draw(
                        "users",
                        "chart-users",
                        if c.open.is_some() {
                            "Users in flight and arrivals per second"
                        } else {
                            "Users in flight"
                        },
                        Axis::number(
                            if c.open.is_some() {
                                "users, arrivals/s"
                            } else {
                                "users in flight"
                            },
                            umax,
                        ),
                        load,
                    ),
                ],
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::sample;

    #[test]
    fn one_bar_per_request_and_cell_grouped_by_request() {
        let s = sample();
        let svg = requests_chart("r", &s.scenarios[0]).expect("a flow has requests");
        assert_eq!(
            svg.matches(r#"<g class="bar">"#).count(),
            6,
            "2 steps × 3 cells"
        );
        let login = svg.find(">login · sequential</text>").expect("login first");
        let item = svg.find(">item · sequential</text>").expect("then item");
        assert!(
            login
                < svg
                    .find(">login · async c=4 w=1</text>")
                    .expect("login, async")
                && login < item
        );
        assert!(svg.contains(">2.00ms / 2.00ms</text>") && svg.contains(">12.0ms / 12.0ms</text>"));
        assert!(svg.contains("login · async c=2 w=1: p50 2.00ms"), "{svg}");
        // The CPU kernel has no requests: no chart.
        assert!(requests_chart("r", &s.scenarios[1]).is_none());
        // A p99 above its p50 adds the second segment; none measured says so.
        let mut sc = s.scenarios[0].clone();
        sc.cells[0].requests[0].latency_us.p99 = 9_000;
        sc.cells[1].requests[0].latency_us.count = 0;
        let svg = requests_chart("r", &sc).expect("chart");
        assert!(
            svg.contains("login · sequential: p99 9.00ms (4 values, 0 errors)"),
            "{svg}"
        );
        assert!(svg.contains(">no response</text>"));
        // Odd numbers draw something without NaN.
        sc.cells[2].requests[1].latency_us.p50 = u64::MAX;
        let svg = requests_chart("r", &sc).expect("chart");
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }
}
