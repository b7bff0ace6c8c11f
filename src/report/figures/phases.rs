//! Where an operation's time goes: one stacked bar per HTTP cell, the mean time per operation in
//! each phase (DNS, connect, TLS handshake, waiting for the first byte, body), connection setup
//! spread over the operations each connection carried. `report/connections.rs` works out the
//! numbers; this file only draws them.
//!
//! Input: a scenario's summary. Output: SVG from the chart kit, or nothing for a scenario without
//! connections (a CPU kernel). Must not panic: the numbers it is given are finite and
//! non-negative.

use crate::report::chart::{
    Fill, Frame, Pattern, StackChart, StackRow, StackUnit, stacked_hbar_chart,
};
use crate::report::connections::{self, Phase, Split, micros as us};
use crate::stats::ScenarioSummary;

/// Setup in blues and purple with patterns, the request itself in warm and green: the two
/// groups read apart in colour, and every phase has its own pattern in greyscale.
fn fill(p: Phase) -> Fill {
    let (colour, pattern) = match p {
        Phase::Dns => ("#56b4e9", Pattern::Dots),
        Phase::Connect => ("#0072b2", Pattern::Hatch),
        Phase::Tls => ("#cc79a7", Pattern::Cross),
        Phase::Waiting => ("#e69f00", Pattern::Solid),
        Phase::Body => ("#009e73", Pattern::Stripes),
    };
    Fill { colour, pattern }
}

/// The tooltip of phase `p` (at index `i` of [`Phase::ALL`]) in one cell.
fn tip(x: &Split, i: usize, p: Phase) -> String {
    let per_op = x.per_operation.get(i).copied().unwrap_or(0.0);
    let per_conn = x.per_connection.get(i).copied().unwrap_or(0.0);
    let name = p.name();
    if !p.is_setup() {
        return format!("{} · {name}: {} per operation (mean)", x.label, us(per_op));
    }
    if x.own_connection {
        format!(
            "{} · {name}: {} per operation; every operation opened its own connection",
            x.label,
            us(per_op)
        )
    } else {
        format!(
            "{} · {name}: {} per connection, {} connections for {} operations: {} per operation",
            x.label,
            us(per_conn),
            x.opened,
            x.operations,
            us(per_op)
        )
    }
}

/// One stacked bar per cell with connections; `None` when no cell has any.
pub fn phases_chart(id: &str, s: &ScenarioSummary) -> Option<String> {
    let splits = connections::splits(s);
    if splits.is_empty() {
        return None;
    }
    // Only the phases that took time somewhere: no DNS key for addresses, no TLS key over HTTP.
    let shown: Vec<(usize, Phase)> = Phase::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| splits.iter().any(|x| x.per_operation[*i] > 0.0))
        .collect();
    let rows = splits
        .iter()
        .map(|x| StackRow {
            label: x.label.clone(),
            segments: shown
                .iter()
                .enumerate()
                .map(|(key, (i, p))| (key, x.per_operation[*i], tip(x, *i, *p)))
                .filter(|(_, v, _)| *v > 0.0)
                .collect(),
            text: us(x.total()),
        })
        .collect();
    let frame = Frame {
        id,
        class: "chart-phases",
        title: "Where an operation's time goes (mean per operation)",
        about: &format!(
            "Mean time per operation in each connection and request phase, for each HTTP cell of scenario {}",
            s.name
        ),
    };
    Some(stacked_hbar_chart(
        &frame,
        &StackChart {
            x_label: "mean time per operation",
            unit: StackUnit::Micros,
            rows,
            keys: shown
                .iter()
                .map(|(_, p)| (p.name().to_string(), fill(*p)))
                .collect(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::{connections, sample};

    #[test]
    fn one_bar_per_http_cell_with_the_phases_that_took_time() {
        let s = sample();
        let svg = phases_chart("p", &s.scenarios[0]).expect("an HTTP scenario has a chart");
        assert_eq!(svg.matches(r#"<g class="bar">"#).count(), 3);
        // No DNS (an address): four keys, in the order of an operation.
        let legend: Vec<&str> = [
            "connect",
            "TLS handshake",
            "waiting (to first byte)",
            "body",
        ]
        .into_iter()
        .filter(|k| svg.contains(&format!(">{k}</text>")))
        .collect();
        assert_eq!(legend.len(), 4, "{svg}");
        assert!(!svg.contains(">DNS</text>"));
        assert!(svg.contains(
            "sequential · TLS handshake: 2.00ms per connection, 1 connections for 4 operations: 500µs per operation"
        ), "{svg}");
        assert!(svg.contains("mean time per operation (ms)"), "{svg}");
        // A CPU kernel: no chart.
        assert!(phases_chart("p", &s.scenarios[1]).is_none());
    }

    #[test]
    fn per_request_cells_carry_the_whole_setup() {
        let mut sc = sample().scenarios[0].clone();
        sc.cells.truncate(1);
        sc.cells[0].connections = Some(connections(4, 4));
        let svg = phases_chart("p", &sc).expect("chart");
        assert!(
            svg.contains("sequential · TLS handshake: 2.00ms per operation; every operation opened its own connection"),
            "{svg}"
        );
    }
}
