//! What connections cost, apart from the requests they carry: each new connection's name
//! resolution, TCP handshake and TLS handshake in histograms of their own, every request's time
//! to first byte, how many connections were opened, handshaken and resumed, and the protocols
//! they spoke. Part of a [`Recorder`](super::Recorder), merged with it.

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
        let Some(setup) = &e.setup else { return };
        self.opened += 1;
        if let Some(d) = setup.dns {
            record_us(&mut self.dns, d);
        }
        record_us(&mut self.connect, setup.connect);
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
        ] {
            // Both grow as needed: `add` fails only past the histograms' limits.
            let _ = a.add(b);
        }
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
}

/// [`ConnStats`] on the wire (worker frames, shard results).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnWire {
    pub dns: String,
    pub connect: String,
    pub tls: String,
    pub ttfb: String,
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
            opened: w.opened,
            tls_handshakes: w.tls_handshakes,
            tls_resumed: w.tls_resumed,
            protocols: w.protocols,
        })
    }
}
