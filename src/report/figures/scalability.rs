//! The scalability charts of a scenario: measured throughput per model against concurrency with
//! each model's fitted Universal Scalability Law curve (dashed), and latency (p50 and p99)
//! against achieved throughput, where a target that saturates shows as a wall.
//!
//! Input: a scenario and its fits (`report/insight/scalability.rs`). Output: inline SVG.

use super::super::chart::{Axis, Frame, Marker, Plot, Point, Series, Style, line_chart};
use super::super::insight::scalability::ModelScaling;
use super::{NO_DATA, model_style};
use crate::stats::ScenarioSummary;
use crate::units;

/// Points along each fitted curve.
const CURVE_SAMPLES: usize = 80;

/// `[throughput against concurrency with the fits, latency against throughput]`.
pub fn scalability_charts(id: &str, s: &ScenarioSummary, fits: &[ModelScaling]) -> [String; 2] {
    let levels: Vec<f64> = {
        let mut v: Vec<f64> = fits
            .iter()
            .flat_map(|m| m.points.iter().map(|p| p.0))
            .collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v
    };
    let lo = levels.first().copied().unwrap_or(1.0).max(1.0);
    let hi = levels.last().copied().unwrap_or(1.0).max(lo);
    let log = hi / lo >= 8.0;
    let x = Axis {
        label: "concurrency (users at once)".into(),
        min: if log { lo } else { 0.0 },
        max: if hi > lo { hi } else { hi * 2.0 },
        log,
        ticks: levels.iter().map(|c| (*c, units::number(*c))).collect(),
    };
    let mut series = Vec::new();
    let mut top: f64 = 0.0;
    for m in fits {
        let style = model_style(m.model, 0);
        let name = m.label();
        let points: Vec<Point> = m
            .points
            .iter()
            .map(|&(n, x)| {
                top = top.max(x);
                Point::new(
                    n,
                    x,
                    format!("{name} c={n}: {} operations/s", units::number(x)),
                )
            })
            .collect();
        series.push(Series {
            label: format!("{name} measured"),
            style,
            line: points.iter().map(|p| (p.x, p.y)).collect(),
            points,
        });
        let curve: Vec<(f64, f64)> = (0..=CURVE_SAMPLES)
            .map(|i| {
                let t = i as f64 / CURVE_SAMPLES as f64;
                let n = if log {
                    lo * (hi / lo).powf(t)
                } else {
                    lo + (hi - lo) * t
                };
                (n, m.fit.throughput(n))
            })
            .filter(|p| p.1.is_finite())
            .collect();
        top = curve.iter().map(|p| p.1).fold(top, f64::max);
        series.push(Series {
            label: format!("{name} USL fit"),
            style: Style {
                dash: "6 4",
                ..style
            },
            line: curve,
            points: Vec::new(),
        });
    }
    let frame = Frame {
        id: &format!("{id}-usl"),
        class: "chart-usl",
        title: "Throughput against concurrency, with the fitted scalability law",
        about: &format!(
            "Measured throughput per model against concurrency and each model's fitted Universal Scalability Law curve, scenario {}",
            s.name
        ),
    };
    let throughput = line_chart(
        &frame,
        &Plot::new(
            x,
            Axis::number("operations per second", top),
            series,
            NO_DATA,
        ),
    );
    // Latency against achieved throughput: p50 and p99 per model.
    let mut series = Vec::new();
    let (mut x_top, mut y_top): (f64, f64) = (0.0, 0.0);
    for m in fits {
        let style = model_style(m.model, 0);
        let name = m.label();
        for (what, pick, dash, marker) in [
            ("p50", 1usize, style.dash, style.marker),
            ("p99", 2usize, "3 3", Marker::Cross),
        ] {
            let mut pts: Vec<(f64, u64)> = m
                .latency
                .iter()
                .map(|l| (l.0, if pick == 1 { l.1 } else { l.2 }))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let points: Vec<Point> = pts
                .iter()
                .map(|&(x, us)| {
                    x_top = x_top.max(x);
                    y_top = y_top.max(us as f64);
                    Point::new(
                        x,
                        us as f64,
                        format!(
                            "{name}: {what} {} at {} operations/s",
                            units::micros(us),
                            units::number(x)
                        ),
                    )
                })
                .collect();
            series.push(Series {
                label: format!("{name} {what}"),
                style: Style {
                    dash,
                    marker,
                    ..style
                },
                line: points.iter().map(|p| (p.x, p.y)).collect(),
                points,
            });
        }
    }
    let frame = Frame {
        id: &format!("{id}-latency-throughput"),
        class: "chart-latency-throughput",
        title: "Latency against throughput",
        about: &format!(
            "p50 and p99 latency against achieved throughput per model, scenario {}",
            s.name
        ),
    };
    let latency = line_chart(
        &frame,
        &Plot::new(
            Axis::number("achieved operations per second", x_top),
            Axis::latency("latency", y_top, 5),
            series,
            NO_DATA,
        ),
    );
    [throughput, latency]
}
