//! What connections cost, apart from the requests they carry: each new connection's name
//! resolution, TCP handshake and TLS handshake in histograms of their own, every request's time
//! to first byte, how many connections were opened, handshaken and resumed, and the protocols
//! they spoke; and streamed responses (`text/event-stream`, chunked) event by event: time to the
//! first event, gaps between events, how many responses streamed and how many events they held;
//! and each WebSocket step's upgrade (the `101` after the connection's own phases).
//! Part of a [`Recorder`](super::Recorder), merged with it.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::recorder::{
    WireError, histogram_from_base64, histogram_to_base64, new_histogram, record_us,
};
use super::summary::LatencySummary;
use crate::workload::Exchange;

#[derive(Debug, Clone)]
pub struct ConnStats {
    pub dns: Histogram<u64>,
    pub connect: Histogram<u64>,
    pub tls: Histogram<u64>,
    pub ttfb: Histogram<u64>,
    /// Streamed responses: from the request's start to the end of the first event.
    pub first_event: Histogram<u64>,
    /// Streamed responses: between consecutive events.
    pub event_gap: Histogram<u64>,
    /// WebSocket steps: the upgrade request to its `101`, once per WebSocket connection.
    pub upgrade: Histogram<u64>,
    /// Responses that streamed (whether or not an event came).
    pub streamed: u64,
    /// Events those responses held.
    pub events: u64,
    pub opened: u64,
    pub tls_handshakes: u64,
    pub tls_resumed: u64,
    /// Connections by the protocol they spoke (`HTTP/1.1`, `HTTP/2`).
    pub protocols: BTreeMap<String, u64>,
}

impl Default for ConnStats {
    fn default() -> Self {
        ConnStats {
            dns: new_histogram(),
            connect: new_histogram(),
            tls: new_histogram(),
            ttfb: new_histogram(),
            first_event: new_histogram(),
            event_gap: new_histogram(),
            upgrade: new_histogram(),
            streamed: 0,
            events: 0,
            opened: 0,
            tls_handshakes: 0,
            tls_resumed: 0,
            protocols: BTreeMap::new(),
        }
    }
}

impl ConnStats {
    /// Records what a request tells of connections: a new one's phases, its first byte.
    pub fn record(&mut self, e: &Exchange) {
        if let Some(t) = e.ttfb {
            record_us(&mut self.ttfb, t);
        }
        if let Some(s) = &e.stream {
            self.streamed += 1;
            self.events += s.events;
            if let Some(t) = s.first_event {
                record_us(&mut self.first_event, t);
            }
            for &g in &s.gaps {
                record_us(&mut self.event_gap, g);
            }
        }
        let Some(setup) = &e.setup else { return };
        self.opened += 1;
        if let Some(d) = setup.dns {
            record_us(&mut self.dns, d);
        }
        record_us(&mut self.connect, setup.connect);
        if let Some(u) = setup.upgrade {
            record_us(&mut self.upgrade, u);
        }
        if let Some(t) = setup.tls {
            self.tls_handshakes += 1;
            self.tls_resumed += u64::from(setup.resumed);
            record_us(&mut self.tls, t);
        }
        *self
            .protocols
            .entry(setup.protocol.to_string())
            .or_insert(0) += 1;
    }

    pub fn merge(&mut self, other: &ConnStats) {
        for (a, b) in [
            (&mut self.dns, &other.dns),
            (&mut self.connect, &other.connect),
            (&mut self.tls, &other.tls),
            (&mut self.ttfb, &other.ttfb),
            (&mut self.first_event, &other.first_event),
            (&mut self.event_gap, &other.event_gap),
            (&mut self.upgrade, &other.upgrade),
        ] {
            // Both grow as needed: `add` fails only past the histograms' limits.
            let _ = a.add(b);
        }
        self.streamed += other.streamed;
        self.events += other.events;
        self.opened += other.opened;
        self.tls_handshakes += other.tls_handshakes;
        self.tls_resumed += other.tls_resumed;
        for (p, n) in &other.protocols {
            *self.protocols.entry(p.clone()).or_insert(0) += n;
        }
    }

    /// The cell's figures, as summary.json carries them.
    pub fn summary(&self) -> ConnectionsSummary {
        ConnectionsSummary {
            opened: self.opened,
            tls_handshakes: self.tls_handshakes,
            tls_resumed: self.tls_resumed,
            protocols: self.protocols.clone(),
            dns_us: super::latency_summary(&self.dns),
            connect_us: super::latency_summary(&self.connect),
            tls_us: super::latency_summary(&self.tls),
            ttfb_us: super::latency_summary(&self.ttfb),
            streamed: self.streamed,
            events: self.events,
            first_event_us: super::latency_summary(&self.first_event),
            event_gap_us: super::latency_summary(&self.event_gap),
            upgrade_us: super::latency_summary(&self.upgrade),
        }
    }
}

/// A cell's connections in summary.json.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectionsSummary {
    /// Connections opened during the measured phase (warm-up connections are not counted).
    pub opened: u64,
    /// TLS handshakes, full or resumed.
    pub tls_handshakes: u64,
    /// TLS handshakes that resumed an earlier session.
    pub tls_resumed: u64,
    /// Connections by the protocol they spoke: `HTTP/1.1`, `HTTP/2`.
    pub protocols: BTreeMap<String, u64>,
    /// Name resolution per connection (absent for addresses), microseconds.
    pub dns_us: LatencySummary,
    /// TCP handshake per connection, microseconds.
    pub connect_us: LatencySummary,
    /// TLS handshake per connection, microseconds.
    pub tls_us: LatencySummary,
    /// Time to first byte per request, from its start, microseconds.
    pub ttfb_us: LatencySummary,
    /// Responses that streamed: `text/event-stream`, or sent chunked (0 in summaries written
    /// before streams were timed).
    #[serde(default)]
    pub streamed: u64,
    /// Events in the streamed responses: server-sent events with data, or the frames of a
    /// chunked body.
    #[serde(default)]
    pub events: u64,
    /// Time to the end of the first event per streamed response, from the request's start,
    /// microseconds (the `first_event` phase).
    #[serde(default)]
    pub first_event_us: LatencySummary,
    /// Time between consecutive events of a streamed response, microseconds (the `event_gap`
    /// phase).
    #[serde(default)]
    pub event_gap_us: LatencySummary,
    /// WebSocket steps: from writing the upgrade request to the `101`'s head, per WebSocket
    /// connection, microseconds (the `upgrade` phase; empty in summaries written before
    /// WebSocket steps).
    #[serde(default)]
    pub upgrade_us: LatencySummary,
}

/// [`ConnStats`] on the wire (worker frames, shard results).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnWire {
    pub dns: String,
    pub connect: String,
    pub tls: String,
    pub ttfb: String,
    /// Absent from results written before streams were timed.
    #[serde(default)]
    pub first_event: Option<String>,
    #[serde(default)]
    pub event_gap: Option<String>,
    /// Absent from results written before WebSocket steps.
    #[serde(default)]
    pub upgrade: Option<String>,
    #[serde(default)]
    pub streamed: u64,
    #[serde(default)]
    pub events: u64,
    pub opened: u64,
    pub tls_handshakes: u64,
    pub tls_resumed: u64,
    pub protocols: BTreeMap<String, u64>,
}

impl From<&ConnStats> for ConnWire {
    fn from(c: &ConnStats) -> Self {
        ConnWire {
            dns: histogram_to_base64(&c.dns),
            connect: histogram_to_base64(&c.connect),
            tls: histogram_to_base64(&c.tls),
            ttfb: histogram_to_base64(&c.ttfb),
            first_event: Some(histogram_to_base64(&c.first_event)),
            event_gap: Some(histogram_to_base64(&c.event_gap)),
            upgrade: Some(histogram_to_base64(&c.upgrade)),
            streamed: c.streamed,
            events: c.events,
            opened: c.opened,
            tls_handshakes: c.tls_handshakes,
            tls_resumed: c.tls_resumed,
            protocols: c.protocols.clone(),
        }
    }
}

impl TryFrom<ConnWire> for ConnStats {
    type Error = WireError;

    fn try_from(w: ConnWire) -> Result<Self, WireError> {
        Ok(ConnStats {
            dns: histogram_from_base64(&w.dns)?,
            connect: histogram_from_base64(&w.connect)?,
            tls: histogram_from_base64(&w.tls)?,
            ttfb: histogram_from_base64(&w.ttfb)?,
            first_event: optional_histogram(w.first_event.as_deref())?,
            event_gap: optional_histogram(w.event_gap.as_deref())?,
            upgrade: optional_histogram(w.upgrade.as_deref())?,
            streamed: w.streamed,
            events: w.events,
            opened: w.opened,
            tls_handshakes: w.tls_handshakes,
            tls_resumed: w.tls_resumed,
            protocols: w.protocols,
        })
    }
}

/// A histogram that older results do not carry: empty when absent.
fn optional_histogram(b64: Option<&str>) -> Result<Histogram<u64>, WireError> {
    b64.map_or_else(|| Ok(new_histogram()), histogram_from_base64)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::workload::Stream;

    fn streamed(first: Option<u64>, gaps: &[u64], events: u64) -> Exchange {
        Exchange {
            stream: Some(Box::new(Stream {
                first_event: first.map(Duration::from_millis),
                gaps: gaps.iter().copied().map(Duration::from_millis).collect(),
                events,
            })),
            ..Exchange::default()
        }
    }

    /// Streamed responses are counted and timed, survive merge and wire, and a response that did
    /// not stream adds nothing to them.
    #[test]
    fn streams_are_timed_merged_and_sent() {
        let mut c = ConnStats::default();
        c.record(&streamed(Some(300), &[50, 50, 60], 4));
        c.record(&streamed(None, &[], 0));
        c.record(&Exchange::default());
        let mut m = ConnStats::try_from(ConnWire::from(&c)).expect("round trip");
        m.merge(&c);
        let s = m.summary();
        assert_eq!((s.streamed, s.events), (4, 8));
        assert_eq!(s.first_event_us.count, 2);
        assert_eq!(s.event_gap_us.count, 6);
        assert_eq!(m.first_event.value_at_quantile(0.5) / 1000, 300);
        assert_eq!(m.event_gap.value_at_quantile(0.5) / 1000, 50);
    }

    /// Results written before streams were timed carry no stream histograms: they load empty.
    #[test]
    fn old_results_without_streams_load() {
        let mut w = ConnWire::from(&ConnStats::default());
        w.first_event = None;
        w.event_gap = None;
        w.upgrade = None;
        let text = serde_json::to_string(&w).expect("serialise");
        let text = text.replace(
            ",\"first_event\":null,\"event_gap\":null,\"upgrade\":null",
            "",
        );
        assert!(!text.contains("first_event"), "{text}");
        let back: ConnWire = serde_json::from_str(&text).expect("old wire reads");
        let c = ConnStats::try_from(back).expect("old wire converts");
        assert_eq!((c.first_event.len(), c.streamed), (0, 0));
        assert!(!text.contains("upgrade"), "{text}");
        assert_eq!(c.upgrade.len(), 0);
    }

    /// A WebSocket connection's upgrade is timed with its connection's phases, and survives
    /// merge and wire; a plain connection adds nothing to it.
    #[test]
    fn upgrades_are_timed_per_websocket_connection() {
        let opened = |upgrade: Option<u64>| Exchange {
            setup: Some(Box::new(crate::workload::Setup {
                upgrade: upgrade.map(Duration::from_millis),
                ..Default::default()
            })),
            ..Exchange::default()
        };
        let mut c = ConnStats::default();
        c.record(&opened(Some(2)));
        c.record(&opened(None));
        c.record(&Exchange::default());
        let mut m = ConnStats::try_from(ConnWire::from(&c)).expect("round trip");
        m.merge(&c);
        let s = m.summary();
        assert_eq!((s.opened, s.upgrade_us.count), (4, 2));
        assert_eq!(m.upgrade.value_at_quantile(0.5) / 1000, 2);
    }
}
