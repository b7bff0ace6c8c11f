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
