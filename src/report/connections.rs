//! What connections cost, in figures every page shows alike: per cell the connections opened,
//! TLS handshakes and resumptions, protocols, the percentiles of each phase (DNS, connect, TLS,
//! time to first byte), and where an operation's time went on average.
//!
//! Input: a scenario's summary. Output: [`Row`]s of words and numbers (the HTML, Markdown and
//! console tables) and [`Split`]s (the chart in `figures/phases.rs`). Pure: no markup, no I/O.
//! Cells without `connections` (CPU kernels, summaries written before connections were
//! recorded) give nothing. Must not panic on odd numbers: a total that is not a finite,
//! non-negative number counts as 0.
//!
//! Setup (DNS, connect, TLS) is measured once per *connection*, time to first byte once per
//! *request*, both from when the request was sent (never from an open-model arrival's intended
//! start). A cell in which every operation opened its own connection (`connection:
//! per-request`) has setup inside every operation's latency; a cell that kept its connections
//! (`keep-alive`) paid setup once per connection, outside any request's latency. [`Split`]
//! therefore spreads each connection's setup over the operations the cell ran: the share of
//! setup an operation carried, beside the waiting and the body of the operation itself.

use crate::stats::{CellSummary, ConnectionsSummary, LatencySummary, ScenarioSummary};
use crate::units;

/// A phase of an HTTP operation, in the order it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Dns,
    Connect,
    Tls,
    /// From writing the request to its response's first byte.
    Waiting,
    /// From the first byte to the last.
    Body,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Dns,
        Phase::Connect,
        Phase::Tls,
        Phase::Waiting,
        Phase::Body,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Dns => "DNS",
            Phase::Connect => "connect",
            Phase::Tls => "TLS handshake",
            Phase::Waiting => "waiting (to first byte)",
            Phase::Body => "body",
        }
    }

    /// Connection setup, paid once per connection.
    pub fn is_setup(self) -> bool {
        matches!(self, Phase::Dns | Phase::Connect | Phase::Tls)
    }
}

/// One cell's connections, as the tables show them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    /// The cell's index in its scenario.
    pub cell: usize,
    pub label: String,
    pub opened: u64,
    /// Requests sent once more on a new connection after their reused one broke before any
    /// byte of the response (counted among `opened`).
    pub retried: u64,
    /// Operations per connection (`40.0`, `1.00`), `-` when none was opened.
    pub per_connection: String,
    /// `16`, or `16 (12 resumed)`.
    pub handshakes: String,
    /// `HTTP/2`, or `HTTP/1.1 ×3, HTTP/2 ×1` when they differ; `-` when none was opened.
    pub protocols: String,
    /// `p50 / p99` of each phase (`120µs / 340µs`), `-` for a phase that never happened (DNS
    /// for an address, TLS over plain HTTP).
    pub dns: String,
    pub connect: String,
    pub tls: String,
    pub ttfb: String,
}

/// True when some cell of the scenario recorded connections.
pub fn any(s: &ScenarioSummary) -> bool {
    s.cells.iter().any(|c| c.connections.is_some())
}

/// The connections of every cell that recorded them.
pub fn rows(s: &ScenarioSummary) -> Vec<Row> {
    s.cells
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let k = c.connections.as_ref()?;
            Some(Row {
                cell: i,
                label: c.label(),
                opened: k.opened,
                retried: c.retried,
                per_connection: if k.opened == 0 {
                    "-".into()
                } else {
                    units::number(c.operations as f64 / k.opened as f64)
                },
                handshakes: if k.tls_resumed > 0 {
                    format!("{} ({} resumed)", k.tls_handshakes, k.tls_resumed)
                } else {
                    k.tls_handshakes.to_string()
                },
                protocols: protocols(k),
                dns: p50_p99(&k.dns_us),
                connect: p50_p99(&k.connect_us),
                tls: p50_p99(&k.tls_us),
                ttfb: p50_p99(&k.ttfb_us),
            })
        })
        .collect()
}

/// One cell's streamed responses and WebSocket upgrades: the phases that only some operations
/// have, shown apart from the connection table, for the cells that had them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StreamRow {
    /// The cell's index in its scenario.
    pub cell: usize,
    pub label: String,
    /// Responses that streamed (`text/event-stream`, chunked).
    pub streamed: u64,
    pub events: u64,
    /// Events per streamed response (`20.0`), `-` when none streamed.
    pub per_response: String,
    /// `p50 / p99` of the `first_event` and `event_gap` phases, `-` when none.
    pub first_event: String,
    pub event_gap: String,
    /// WebSocket connections upgraded, and `p50 / p99` of the `upgrade` phase.
    pub upgrades: u64,
    pub upgrade: String,
}

impl StreamRow {
    /// The row as text, in the order of the tables (console, Markdown): cell, streamed, events,
    /// events per response, first event, event gap, upgrades, upgrade.
    pub fn texts(self) -> [String; 8] {
        [
            self.label,
            self.streamed.to_string(),
            self.events.to_string(),
            self.per_response,
            self.first_event,
            self.event_gap,
            self.upgrades.to_string(),
            self.upgrade,
        ]
    }
}

/// The cells that streamed a response or upgraded a WebSocket; empty when none did.
pub fn stream_rows(s: &ScenarioSummary) -> Vec<StreamRow> {
    s.cells
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let k = c.connections.as_ref()?;
            if k.streamed == 0 && k.upgrade_us.count == 0 {
                return None;
            }
            Some(StreamRow {
                cell: i,
                label: c.label(),
                streamed: k.streamed,
                events: k.events,
                per_response: if k.streamed == 0 {
                    "-".into()
                } else {
                    units::number(k.events as f64 / k.streamed as f64)
                },
                first_event: p50_p99(&k.first_event_us),
                event_gap: p50_p99(&k.event_gap_us),
                upgrades: k.upgrade_us.count,
                upgrade: p50_p99(&k.upgrade_us),
            })
        })
        .collect()
}

fn protocols(k: &ConnectionsSummary) -> String {
    let spoken: Vec<(&String, &u64)> = k.protocols.iter().filter(|(_, n)| **n > 0).collect();
    match spoken.as_slice() {
        [] => "-".into(),
        [(p, _)] => (*p).clone(),
        many => many
            .iter()
            .map(|(p, n)| format!("{p} ×{n}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn p50_p99(l: &LatencySummary) -> String {
    if l.count == 0 {
        return "-".into();
    }
    format!("{} / {}", units::micros(l.p50), units::micros(l.p99))
}

/// Where one cell's operations spent their time, on average: the mean microseconds per
/// operation in each phase, connection setup spread over the operations (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The cell's index in its scenario.
    pub cell: usize,
    pub label: String,
    /// Mean µs per operation, in [`Phase::ALL`] order.
    pub per_operation: [f64; 5],
    /// Mean µs per *connection* of the setup phases, in [`Phase::ALL`] order (0 for the
    /// others): what one connection's setup cost.
    pub per_connection: [f64; 5],
    /// Every operation opened its own connection: setup is part of each operation's latency.
    pub own_connection: bool,
    pub operations: u64,
    pub opened: u64,
}

impl Split {
    pub fn total(&self) -> f64 {
        self.per_operation.iter().sum()
    }

    /// The split in words, for pages without a chart: `7.90ms per operation: connect 8µs,
    /// waiting (to first byte) 7.89ms, body 3µs`; phases that took no time are left out.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = Phase::ALL
            .iter()
            .zip(self.per_operation)
            .filter(|(_, v)| *v > 0.0)
            .map(|(p, v)| format!("{} {}", p.name(), micros(v)))
            .collect();
        let setup = if self.own_connection {
            " (a new connection each)"
        } else {
            ""
        };
        format!(
            "{} per operation{setup}: {}",
            micros(self.total()),
            parts.join(", ")
        )
    }
}

/// A finite, non-negative number of microseconds as people read it; `<1µs` for a share of
/// setup too small to round to a microsecond (one handshake spread over thousands of requests).
pub fn micros(v: f64) -> String {
    if v > 0.0 && v < 0.5 {
        return "<1µs".into();
    }
    // `as` saturates, and maps NaN to 0.
    units::micros(v.round() as u64)
}

/// A mean × count as a total, 0 when that is not a finite, non-negative number.
fn total_us(l: &LatencySummary) -> f64 {
    let t = l.mean * l.count as f64;
    if t.is_finite() && t > 0.0 { t } else { 0.0 }
}

fn mean_us(l: &LatencySummary) -> f64 {
    if l.mean.is_finite() && l.mean > 0.0 {
        l.mean
    } else {
        0.0
    }
}

/// Where the operations of cell `index` spent their time; `None` for a cell without
/// connections or without a successful operation (where every operation failed, the time after
/// the phases that were timed is a failure's, not a body's).
pub fn split(index: usize, c: &CellSummary) -> Option<Split> {
    let k = c.connections.as_ref()?;
    if c.operations == 0 || c.successes == 0 {
        return None;
    }
    let ops = c.operations as f64;
    let own_connection = k.opened >= c.operations;
    let setup = [&k.dns_us, &k.connect_us, &k.tls_us].map(total_us);
    let setup_total: f64 = setup.iter().sum();
    let waiting = total_us(&k.ttfb_us);
    // An operation's latency holds its body after the first byte, and its setup too when it
    // opened its own connection.
    let inside = if own_connection { setup_total } else { 0.0 };
    // In the open model `latency_us` runs from each arrival's intended start, so it holds the
    // wait for the schedule too: the operation itself is the uncorrected latency.
    let latency = c
        .open
        .as_ref()
        .map_or(&c.latency_us, |o| &o.latency_uncorrected_us);
    let body = (total_us(latency) - waiting - inside).max(0.0);
    let [dns, connect, tls] = setup;
    Some(Split {
        cell: index,
        label: c.label(),
        per_operation: [
            dns / ops,
            connect / ops,
            tls / ops,
            waiting / ops,
            body / ops,
        ],
        per_connection: [
            mean_us(&k.dns_us),
            mean_us(&k.connect_us),
            mean_us(&k.tls_us),
            0.0,
            0.0,
        ],
        own_connection,
        operations: c.operations,
        opened: k.opened,
    })
}

/// The split of every cell that has one.
pub fn splits(s: &ScenarioSummary) -> Vec<Split> {
    s.cells
        .iter()
        .enumerate()
        .filter_map(|(i, c)| split(i, c))
        .collect()
}

/// How the scenario's cells used their connections, in one sentence: what the setup segments of
/// the chart mean here.
pub fn reuse(s: &ScenarioSummary) -> String {
    let splits = splits(s);
    let own: Vec<&str> = splits
        .iter()
        .filter(|x| x.own_connection)
        .map(|x| x.label.as_str())
        .collect();
    let kept: Vec<f64> = splits
        .iter()
        .filter(|x| !x.own_connection && x.opened > 0)
        .map(|x| x.operations as f64 / x.opened as f64)
        .collect();
    let lo = kept.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = kept.iter().copied().fold(0.0, f64::max);
    let carried = if kept.is_empty() {
        String::new()
    } else if units::number(lo) == units::number(hi) {
        format!("{} operations each", units::number(hi))
    } else {
        format!(
            "{} to {} operations each",
            units::number(lo),
            units::number(hi)
        )
    };
    match (own.is_empty(), kept.is_empty()) {
        (true, true) => "No cell opened a connection.".into(),
        (false, true) => "Every operation opened its own connection (per-request): its setup is part of every operation.".into(),
        (true, false) => format!(
            "Connections were kept (keep-alive) and carried {carried}: setup was paid once per connection, so each operation carries only its share of it."
        ),
        (false, false) => format!(
            "In {} every operation opened its own connection (per-request), so setup is part of every operation; the other cells kept their connections, which carried {carried}, so each of their operations carries only a share of setup.",
            own.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::{connections, sample};

    /// Only cells that streamed or upgraded get a stream row, with their events per response
    /// and each phase as p50 / p99 (`-` for one they did not have).
    #[test]
    fn stream_rows_for_cells_with_streams_or_upgrades_only() {
        let mut s = sample();
        let io = &mut s.scenarios[0];
        assert!(stream_rows(io).is_empty(), "no cell streamed");
        let phase = |count, p50, p99| LatencySummary {
            count,
            p50,
            p99,
            ..LatencySummary::default()
        };
        let k = io.cells[0].connections.as_mut().expect("connections");
        (k.streamed, k.events) = (4, 80);
        k.first_event_us = phase(4, 300_000, 310_000);
        k.event_gap_us = phase(76, 50_000, 55_000);
        let k = io.cells[2].connections.as_mut().expect("connections");
        k.upgrade_us = phase(3, 800, 1_200);
        let found = stream_rows(io);
        let seen: Vec<(usize, &str, &str, &str, &str, u64, &str)> = found
            .iter()
            .map(|r| {
                (
                    r.cell,
                    r.per_response.as_str(),
                    r.first_event.as_str(),
                    r.event_gap.as_str(),
                    r.upgrade.as_str(),
                    r.upgrades,
                    r.label.as_str(),
                )
            })
            .collect();
        let third = io.cells[2].label();
        assert_eq!(
            seen,
            [
                (
                    0,
                    "20.0",
                    "300.0ms / 310.0ms",
                    "50.0ms / 55.0ms",
                    "-",
                    0,
                    "sequential"
                ),
                (2, "-", "-", "-", "800µs / 1.20ms", 3, third.as_str()),
            ]
        );
    }

    #[test]
    fn rows_say_each_phase_as_p50_and_p99() {
        let s = sample();
        let io = &s.scenarios[0];
        let found = rows(io);
        assert_eq!(found.len(), 3, "one row per HTTP cell");
        assert_eq!(
            found[0],
            Row {
                cell: 0,
                label: "sequential".into(),
                opened: 1,
                retried: 0,
                per_connection: "4.00".into(),
                handshakes: "1".into(),
                protocols: "HTTP/1.1".into(),
                dns: "-".into(),
                connect: "150µs / 300µs".into(),
                tls: "2.00ms / 3.00ms".into(),
                ttfb: "1.00ms / 40.0ms".into(),
            }
        );
        // A CPU kernel has no connections, so no rows.
        assert!(!any(&s.scenarios[1]) && rows(&s.scenarios[1]).is_empty());
    }

    #[test]
    fn protocols_and_resumptions_read_plainly() {
        let mut k = connections(4, 4);
        assert_eq!(protocols(&k), "HTTP/1.1");
        k.protocols.insert("HTTP/2".into(), 1);
        assert_eq!(protocols(&k), "HTTP/1.1 ×4, HTTP/2 ×1");
        k.protocols.clear();
        assert_eq!(protocols(&k), "-");
    }

    /// Table: (operations, connections opened) → own connection?, per-operation setup share,
    /// body per operation.
    #[test]
    fn setup_is_spread_over_the_operations_a_connection_carried() {
        // The sample's connections: 150 µs connect and 2 ms TLS per connection, 1 ms to
        // first byte per request; latency mean 13.9 ms.
        for (ops, opened, own, tls_share, body) in [
            // keep-alive, one connection for 4 operations: a quarter of a handshake each.
            (4u64, 1u64, false, 500.0, 12_900.0),
            // per-request: a whole handshake in every operation, and inside its latency.
            (4, 4, true, 2_000.0, 13_900.0 - 1_000.0 - 2_150.0),
        ] {
            let mut c = sample().scenarios[0].cells[0].clone();
            c.operations = ops;
            c.connections = Some(connections(ops, opened));
            let x = split(0, &c).expect("a split");
            assert_eq!(x.own_connection, own, "{ops}/{opened}");
            assert!((x.per_operation[2] - tls_share).abs() < 1e-6, "{x:?}");
            assert!((x.per_operation[4] - body).abs() < 1e-6, "{x:?}");
            assert_eq!(x.per_connection[2], 2_000.0);
        }
    }

    #[test]
    fn a_split_reads_in_words() {
        let c = &sample().scenarios[0].cells[0];
        assert_eq!(
            split(0, c).expect("split").describe(),
            "14.4ms per operation: connect 38µs, TLS handshake 500µs, waiting (to first byte) 1.00ms, body 12.9ms"
        );
        assert_eq!(micros(0.3), "<1µs");
        assert_eq!(micros(0.0), "0µs");
        let mut own = c.clone();
        own.connections = Some(connections(4, 4));
        assert!(
            split(0, &own)
                .expect("split")
                .describe()
                .starts_with("13.9ms per operation (a new connection each): connect 150µs")
        );
    }

    #[test]
    fn an_open_model_cell_splits_its_uncorrected_latency() {
        let mut c = sample().scenarios[0].cells[0].clone();
        let mut open = crate::report::sample::behind_schedule();
        // Sent on time, the operations took 3 ms; counted from their intended start, 13.9 ms.
        open.latency_uncorrected_us = LatencySummary {
            count: 4,
            mean: 3_000.0,
            ..LatencySummary::default()
        };
        c.open = Some(open);
        let x = split(0, &c).expect("split");
        assert_eq!(x.per_operation[4], 2_000.0, "{x:?}");
    }

    #[test]
    fn odd_numbers_give_no_nan_and_no_split_without_operations() {
        let mut c = sample().scenarios[0].cells[0].clone();
        let mut k = connections(4, 1);
        k.tls_us.mean = f64::NAN;
        k.connect_us.mean = f64::INFINITY;
        k.ttfb_us.count = u64::MAX;
        k.ttfb_us.mean = 1e308;
        c.connections = Some(k);
        let x = split(0, &c).expect("a split");
        assert!(
            x.per_operation.iter().all(|v| v.is_finite() && *v >= 0.0),
            "{x:?}"
        );
        c.operations = 0;
        assert!(split(0, &c).is_none());
    }

    /// Every operation failed (a TLS handshake refused, say): the time past the timed phases is
    /// the failures', and no breakdown calls it "body".
    #[test]
    fn a_cell_without_a_success_has_no_split() {
        let mut c = sample().scenarios[0].cells[0].clone();
        c.connections = Some(connections(4, 1));
        assert!(split(0, &c).is_some());
        c.successes = 0;
        assert!(split(0, &c).is_none());
    }

    #[test]
    fn reuse_says_how_connections_were_used() {
        let mut s = sample().scenarios[0].clone();
        assert_eq!(
            reuse(&s),
            "Connections were kept (keep-alive) and carried 4.00 operations each: setup was paid once per connection, so each operation carries only its share of it."
        );
        s.cells[1].connections = Some(connections(4, 4));
        let mixed = reuse(&s);
        assert!(
            mixed.starts_with("In async c=2 w=1 every operation opened its own connection"),
            "{mixed}"
        );
        for c in &mut s.cells {
            c.connections = Some(connections(4, 4));
        }
        assert!(reuse(&s).starts_with("Every operation opened its own connection"));
        for c in &mut s.cells {
            c.connections = None;
        }
        assert_eq!(reuse(&s), "No cell opened a connection.");
    }
}
