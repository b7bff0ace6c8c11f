//! What one worker records during a cell: a latency HdrHistogram, counters, and a per-second
//! timeline. Owned by one user (or one worker process), never shared, merged at the end.
//!
//! Memory is bounded by the cell's length in seconds, never by its number of operations: each
//! second keeps a small histogram, compressed once the second is over.
//!
//! A timeline files each operation under the second it *started* in (an open-model arrival:
//! its intended start), so that a second holds the work the load shape began in it; each point
//! says how long the second it stands for really was (the last one is usually partial), so a
//! rate is never read off a sliver.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer, V2Serializer};
use serde::{Deserialize, Serialize};

use super::connections::{ConnStats, ConnWire};
use super::saved::{HistogramError, decode_histogram, decode_histogram_bytes};
use crate::workload::{ErrorKind, Exchange, Outcome};

pub use crate::units::MAX_LATENCY_US;
const SIGFIG: u8 = 3;
/// Per-second histograms keep the cell's precision, so that the intervals of histograms.hlog add
/// up to exactly the cell's histogram (they are stored compressed once their second is over).
const TIMELINE_SIGFIG: u8 = SIGFIG;

/// A histogram of microseconds from 1 µs, 3 significant digits, that grows with the values it
/// is given (never past [`MAX_LATENCY_US`]: see [`record_us`]). Its buckets are those of a
/// histogram made for 1 µs to 1 h, so every figure is the same; only its memory differs: one
/// nobody records into costs a few hundred bytes rather than 184 KiB.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new(SIGFIG).expect("constant significant digits are valid")
}

fn new_timeline_histogram() -> Histogram<u64> {
    Histogram::new(TIMELINE_SIGFIG).expect("constant significant digits are valid")
}

/// Records `d` in microseconds; false (nothing recorded) above [`MAX_LATENCY_US`], so that an
/// outlier is counted by the caller instead of growing a histogram without end.
pub fn record_us(h: &mut Histogram<u64>, d: Duration) -> bool {
    let us = crate::units::micros_of(d);
    us <= MAX_LATENCY_US && h.record(us).is_ok()
}

/// How many distinct messages each error category keeps: enough to tell a reviewer why.
pub const MESSAGES_PER_KIND: usize = 5;

/// One worker's (or, after merging, one cell's) measurements.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub latency: Histogram<u64>,
    pub operations: u64,
    pub successes: u64,
    /// Indexed by [`ErrorKind::index`].
    pub errors: [u64; ErrorKind::ALL.len()],
    /// The first distinct messages of each error category, at most [`MESSAGES_PER_KIND`].
    pub messages: BTreeMap<ErrorKind, Vec<String>>,
    pub statuses: BTreeMap<u16, u64>,
    pub bytes: u64,
    /// Latencies above [`MAX_LATENCY_US`]: counted, never clamped into the histogram.
    pub out_of_range: u64,
    pub timeline: Timeline,
    /// Open model only (`latency` then holds latencies from each arrival's intended start).
    pub open: Option<Box<OpenStats>>,
    /// HTTP only: what connections cost, apart from the requests.
    pub connections: Option<Box<ConnStats>>,
    /// Per request name (targets of a mix, steps of a flow), by statistics index.
    pub requests: Vec<Recorder>,
    /// Flows: each iteration's think time.
    pub think: Option<Box<Histogram<u64>>>,
    /// HTTP requests sent once more on a new connection after their reused one broke before
    /// any byte of the response (see `workload::Exchange::retried`).
    pub retried: u64,
}

/// What an open model measures beside the corrected latency.
#[derive(Debug, Clone)]
pub struct OpenStats {
    /// Latency from the actual send: what a tool that ignores coordinated omission reports.
    pub uncorrected: Histogram<u64>,
    /// How late each send was against its schedule.
    pub lag: Histogram<u64>,
    /// Arrivals due in this share of the schedule.
    pub scheduled: u64,
    /// Arrivals that could not start: the in-flight cap was reached, or the run ended first.
    pub dropped: u64,
}

impl Default for OpenStats {
    fn default() -> Self {
        OpenStats {
            uncorrected: new_histogram(),
            lag: new_histogram(),
            scheduled: 0,
            dropped: 0,
        }
    }
}

impl OpenStats {
    fn merge(&mut self, other: &OpenStats) {
        let _ = self.uncorrected.add(&other.uncorrected);
        let _ = self.lag.add(&other.lag);
        self.scheduled += other.scheduled;
        self.dropped += other.dropped;
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            latency: new_histogram(),
            operations: 0,
            successes: 0,
            errors: [0; ErrorKind::ALL.len()],
            messages: BTreeMap::new(),
            statuses: BTreeMap::new(),
            bytes: 0,
            out_of_range: 0,
            timeline: Timeline::default(),
            open: None,
            connections: None,
            requests: Vec::new(),
            think: None,
            retried: 0,
        }
    }
}

impl Recorder {
    /// The open-model counters, created at first use.
    pub fn open_stats(&mut self) -> &mut OpenStats {
        self.open.get_or_insert_with(Box::default)
    }

    /// Records one operation of an open model: `corrected` runs from its intended start,
    /// `uncorrected` from its actual send, `lag` is how late the send was.
    pub fn record_open(
        &mut self,
        at: Duration,
        corrected: Duration,
        uncorrected: Duration,
        lag: Duration,
        outcome: &Outcome,
    ) {
        self.record(at, corrected, outcome);
        let open = self.open_stats();
        // Out-of-range values are already counted by the corrected histogram's recorder.
        record_us(&mut open.uncorrected, uncorrected);
        record_us(&mut open.lag, lag);
    }

    /// Records one finished operation: `at` is its start since the measured start.
    pub fn record(&mut self, at: Duration, latency: Duration, outcome: &Outcome) {
        let us = crate::units::micros_of(latency);
        self.operations += 1;
        match outcome.error {
            None => self.successes += 1,
            Some(kind) => {
                self.errors[kind.index()] += 1;
                if let Some(m) = &outcome.message {
                    keep_message(self.messages.entry(kind).or_default(), m);
                }
            }
        }
        if let Some(s) = outcome.status {
            *self.statuses.entry(s).or_insert(0) += 1;
        }
        self.bytes += outcome.bytes;
        if !record_us(&mut self.latency, latency) {
            self.out_of_range += 1;
        }
        if !outcome.think.is_zero() {
            let think = self.think.get_or_insert_with(|| Box::new(new_histogram()));
            record_us(think, outcome.think);
        }
        let second = u32::try_from(at.as_secs()).unwrap_or(u32::MAX);
        self.timeline.record(second, us, outcome);
    }

    /// Records one HTTP request of an operation: what its connection cost and, with
    /// `per_request`, its own statistics under its name. `at`: its end since the cell started.
    pub fn record_exchange(&mut self, at: Duration, e: &Exchange, per_request: bool) {
        self.connections.get_or_insert_with(Box::default).record(e);
        self.retried += u64::from(e.retried);
        if !per_request {
            return;
        }
        if self.requests.len() <= e.stats {
            self.requests.resize_with(e.stats + 1, Recorder::default);
        }
        self.requests[e.stats].retried += u64::from(e.retried);
        let outcome = Outcome {
            status: e.status,
            bytes: e.bytes,
            error: e.error,
            message: e.message.clone(),
            ..Outcome::default()
        };
        self.requests[e.stats].record(at, e.latency, &outcome);
    }

    /// Errors by category name, every category present (summary.json's `errors`).
    pub fn errors_by_name(&self) -> BTreeMap<String, u64> {
        ErrorKind::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), self.error(*k)))
            .collect()
    }

    /// Responses by status code (summary.json's `status_codes`).
    pub fn statuses_by_code(&self) -> BTreeMap<String, u64> {
        self.statuses
            .iter()
            .map(|(s, n)| (s.to_string(), *n))
            .collect()
    }

    /// The first distinct messages of each error category (summary.json's `error_messages`).
    pub fn messages_by_name(&self) -> BTreeMap<String, Vec<String>> {
        self.messages
            .iter()
            .map(|(k, m)| (k.as_str().to_string(), m.clone()))
            .collect()
    }

    /// Errors over operations; 0 without operations.
    pub fn error_rate(&self) -> f64 {
        if self.operations > 0 {
            self.error_count() as f64 / self.operations as f64
        } else {
            0.0
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.iter().sum()
    }

    pub fn error(&self, kind: ErrorKind) -> u64 {
        self.errors[kind.index()]
    }

    /// Adds another recorder's measurements to this one; exact for counts and histograms.
    pub fn merge(&mut self, other: &Recorder) {
        // Both grow as needed, so `add` cannot fail; count rather than hide if it ever does.
        if self.latency.add(&other.latency).is_err() {
            self.out_of_range += other.latency.len();
        }
        self.operations += other.operations;
        self.successes += other.successes;
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        for (s, n) in &other.statuses {
            *self.statuses.entry(*s).or_insert(0) += n;
        }
        self.bytes += other.bytes;
        self.out_of_range += other.out_of_range;
        self.retried += other.retried;
        self.timeline.merge(&other.timeline);
        if let Some(o) = &other.open {
            self.open_stats().merge(o);
        }
        if let Some(c) = &other.connections {
            self.connections.get_or_insert_with(Box::default).merge(c);
        }
        if self.requests.len() < other.requests.len() {
            self.requests
                .resize_with(other.requests.len(), Recorder::default);
        }
        for (mine, theirs) in self.requests.iter_mut().zip(&other.requests) {
            mine.merge(theirs);
        }
        if let Some(t) = &other.think {
            let _ = self
                .think
                .get_or_insert_with(|| Box::new(new_histogram()))
                .add(t.as_ref());
        }
        for (kind, msgs) in &other.messages {
            let mine = self.messages.entry(*kind).or_default();
            for m in msgs {
                keep_message(mine, m);
            }
        }
    }
}

/// Adds `m` to `kept` unless it is there already or `kept` is full.
fn keep_message(kept: &mut Vec<String>, m: &str) {
    if kept.len() < MESSAGES_PER_KIND && !kept.iter().any(|k| k == m) {
        kept.push(m.to_string());
    }
}

/// Operations per second of the cell, each second with its own small histogram.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    closed: BTreeMap<u32, Second>,
    current: Option<(u32, LiveSecond)>,
    /// Operations of seconds already closed (they started before one recorded earlier, and
    /// ended after it): kept raw and folded in when the timeline is read, since reopening a
    /// compressed second per operation would cost a full histogram each time.
    late: BTreeMap<u32, Late>,
}

#[derive(Debug, Clone, Default)]
struct Late {
    operations: u64,
    errors: u64,
    kinds: Kinds,
    bytes: u64,
    latencies_us: Vec<u64>,
}

/// Late operations kept raw before they are folded into their seconds.
const MAX_LATE: usize = 4096;

#[derive(Debug, Clone)]
struct LiveSecond {
    operations: u64,
    errors: u64,
    kinds: Kinds,
    bytes: u64,
    latency: Histogram<u64>,
}

impl LiveSecond {
    fn add(&mut self, us: u64, kind: Option<usize>, bytes: u64) {
        self.operations += 1;
        if let Some(slot) = kind.and_then(|k| self.kinds.get_mut(k)) {
            self.errors += 1;
            *slot += 1;
        }
        self.bytes += bytes;
        // Out-of-range values are already counted by the cell histogram's recorder.
        if us <= MAX_LATENCY_US {
            let _ = self.latency.record(us);
        }
    }
}

/// A finished second: counts plus its histogram in V2 encoding (tens of bytes, not kilobytes).
#[derive(Debug, Clone, Default)]
struct Second {
    operations: u64,
    errors: u64,
    kinds: Kinds,
    bytes: u64,
    latency_v2: Vec<u8>,
}

/// One second of a cell, as the report reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimelinePoint {
    /// Seconds since the cell's measured start.
    pub second: u32,
    pub operations: u64,
    pub errors: u64,
    pub bytes: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Operations in flight on average during the second, by Little's law: the operations that
    /// started in it × their mean latency ÷ its length (for an open model, queued time
    /// included).
    #[serde(default)]
    pub in_flight: f64,
    /// This second's latencies: compressed V2 HdrHistogram, base64, microseconds.
    #[serde(default)]
    pub histogram: String,
    /// How long this point really covers, in seconds: 1 but for the measured phase's last,
    /// partial second (and, with rounds, the sum over the rounds that reached this second).
    /// The rate of the point is operations ÷ seconds: over the time it covers, never a partial
    /// second scaled up to a whole one.
    #[serde(default = "one_second")]
    pub seconds: f64,
    /// Flows only: the HTTP requests the iterations that started in this second sent (an
    /// iteration is one operation; its steps are requests). Absent for other workloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// This second's errors by category (`timeout`, `status`…), the categories that had any;
    /// they add up to `errors`. Absent from summaries written before it existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_kinds: BTreeMap<String, u64>,
}

/// Errors by category, indexed by [`ErrorKind::index`].
type Kinds = [u64; ErrorKind::ALL.len()];

fn add_kinds(mine: &mut Kinds, other: &Kinds) {
    for (m, o) in mine.iter_mut().zip(other) {
        *m = m.saturating_add(*o);
    }
}

fn one_second() -> f64 {
    1.0
}

impl Timeline {
    fn record(&mut self, second: u32, us: u64, outcome: &Outcome) {
        let kind = outcome.error.map(|k| k.index());
        let error = u64::from(kind.is_some());
        // Nearly every operation lands in the live second: no search of the closed ones.
        if let Some((s, live)) = &mut self.current
            && *s == second
        {
            live.add(us, kind, outcome.bytes);
            return;
        }
        if self.current.as_ref().is_some_and(|(s, _)| second < *s)
            || self.closed.contains_key(&second)
        {
            let late = self.late.entry(second).or_default();
            late.operations += 1;
            late.errors += error;
            if let Some(slot) = kind.and_then(|k| late.kinds.get_mut(k)) {
                *slot += 1;
            }
            late.bytes += outcome.bytes;
            late.latencies_us.push(us);
            let held: usize = self.late.values().map(|l| l.latencies_us.len()).sum();
            if held >= MAX_LATE {
                self.fold_late();
            }
            return;
        }
        // Any live second left is an earlier one: it is over.
        self.close_current();
        let (_, live) = self.current.get_or_insert_with(|| {
            (
                second,
                LiveSecond {
                    operations: 0,
                    errors: 0,
                    kinds: Kinds::default(),
                    bytes: 0,
                    latency: new_timeline_histogram(),
                },
            )
        });
        live.add(us, kind, outcome.bytes);
    }

    fn close_current(&mut self) {
        if let Some((s, live)) = self.current.take() {
            let closed = Second {
                operations: live.operations,
                errors: live.errors,
                kinds: live.kinds,
                bytes: live.bytes,
                latency_v2: encode_v2(&live.latency),
            };
            self.add_second(s, &closed);
        }
    }

    /// Everything closed: the live second and the late operations folded into their seconds.
    fn close_all(&mut self) {
        self.close_current();
        self.fold_late();
    }

    fn fold_late(&mut self) {
        for (s, late) in std::mem::take(&mut self.late) {
            let mut h = new_timeline_histogram();
            // As in a live second: out-of-range values are counted by the cell's histogram.
            for us in late
                .latencies_us
                .into_iter()
                .filter(|us| *us <= MAX_LATENCY_US)
            {
                let _ = h.record(us);
            }
            let second = Second {
                operations: late.operations,
                errors: late.errors,
                kinds: late.kinds,
                bytes: late.bytes,
                latency_v2: encode_v2(&h),
            };
            self.add_second(s, &second);
        }
    }

    fn add_second(&mut self, s: u32, other: &Second) {
        match self.closed.get_mut(&s) {
            None => {
                self.closed.insert(s, other.clone());
            }
            Some(mine) => {
                mine.operations += other.operations;
                mine.errors += other.errors;
                add_kinds(&mut mine.kinds, &other.kinds);
                mine.bytes += other.bytes;
                let mut h = decode_v2(&mine.latency_v2);
                let _ = h.add(decode_v2(&other.latency_v2));
                mine.latency_v2 = encode_v2(&h);
            }
        }
    }

    fn merge(&mut self, other: &Timeline) {
        self.close_all();
        let mut other = other.clone();
        other.close_all();
        for (s, sec) in &other.closed {
            self.add_second(*s, sec);
        }
    }

    /// Operations by the second they are filed under (what [`Timeline::points`] counts).
    pub fn operations_by_second(&self) -> BTreeMap<u32, u64> {
        let mut me = self.clone();
        me.close_all();
        me.closed
            .iter()
            .map(|(s, sec)| (*s, sec.operations))
            .collect()
    }

    /// The per-second points, oldest first. `ends` are the lengths of the measured phases these
    /// seconds come from (one per round merged in): second `k` covers `min(1, end − k)` of each.
    pub fn points(&self, ends: &[Duration]) -> Vec<TimelinePoint> {
        let mut me = self.clone();
        me.close_all();
        me.closed
            .iter()
            .map(|(s, sec)| {
                let h = decode_v2(&sec.latency_v2);
                let seconds = covered(*s, ends);
                TimelinePoint {
                    second: *s,
                    operations: sec.operations,
                    errors: sec.errors,
                    bytes: sec.bytes,
                    p50_us: h.value_at_quantile(0.5),
                    p99_us: h.value_at_quantile(0.99),
                    max_us: h.max(),
                    in_flight: sec.operations as f64 * h.mean() / 1e6 / seconds,
                    histogram: histogram_to_base64(&h),
                    seconds,
                    requests: None,
                    error_kinds: ErrorKind::ALL
                        .iter()
                        .filter_map(|k| {
                            let n = sec.kinds.get(k.index()).copied().unwrap_or(0);
                            (n > 0).then(|| (k.as_str().to_string(), n))
                        })
                        .collect(),
                }
            })
            .collect()
    }
}

/// The time second `s` covers over phases of lengths `ends`. A second that holds operations is
/// never counted shorter than a millisecond (it cannot be empty time), nor, when no phase
/// reaches it (an operation filed past the end), as nothing.
fn covered(s: u32, ends: &[Duration]) -> f64 {
    let from = f64::from(s);
    let total: f64 = ends
        .iter()
        .map(|e| (e.as_secs_f64() - from).clamp(0.0, 1.0))
        .sum();
    if total > 0.0 { total.max(1e-3) } else { 1.0 }
}

fn encode_v2(h: &Histogram<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    // Serializing into a Vec cannot fail for a histogram of this size.
    let _ = V2Serializer::new().serialize(h, &mut out);
    out
}

/// A closed second's histogram. Its bytes were encoded by [`encode_v2`] or checked when they
/// came in ([`Recorder::try_from`]), so the empty fallback is never taken for real data.
fn decode_v2(bytes: &[u8]) -> Histogram<u64> {
    decode_histogram_bytes(bytes).unwrap_or_else(|_| new_timeline_histogram())
}

/// A histogram as text: compressed V2 (the HdrHistogram interchange format), base64.
pub fn histogram_to_base64(h: &Histogram<u64>) -> String {
    let mut out = Vec::new();
    let _ = V2DeflateSerializer::new().serialize(h, &mut out);
    BASE64.encode(out)
}

/// A histogram from text, through the checked decoder every histogram loadplan reads goes through.
pub fn histogram_from_base64(s: &str) -> Result<Histogram<u64>, WireError> {
    decode_histogram(s).map_err(WireError::Histogram)
}

/// Why a recorder that crossed a process boundary, or was saved, cannot be taken back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("histogram: {0}")]
    Histogram(HistogramError),
    #[error("timeline second {second}: histogram: {source}")]
    Second { second: u32, source: HistogramError },
    #[error("{found} error categories, expected {expected}")]
    Categories { found: usize, expected: usize },
    #[error("timeline second {second}: {found} error categories, expected {expected}")]
    SecondCategories {
        second: u32,
        found: usize,
        expected: usize,
    },
    #[error(
        "timeline second {second}: errors by category add up to {sum}, not its {errors} errors"
    )]
    SecondKinds { second: u32, sum: u64, errors: u64 },
}

/// A recorder as it crosses a process boundary (worker → parent) or is saved.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecorderWire {
    pub latency: String,
    pub operations: u64,
    pub successes: u64,
    /// Counts by [`ErrorKind::index`]; files from before the `tls` category have five, from
    /// before `dns` and `protocol` six.
    pub errors: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<(ErrorKind, Vec<String>)>,
    pub statuses: Vec<(u16, u64)>,
    pub bytes: u64,
    pub out_of_range: u64,
    pub timeline: Vec<SecondWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<OpenWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<ConnWire>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RecorderWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retried: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// [`OpenStats`] on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenWire {
    pub uncorrected: String,
    pub lag: String,
    pub scheduled: u64,
    pub dropped: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecondWire {
    pub second: u32,
    pub operations: u64,
    pub errors: u64,
    /// Errors by category, by [`ErrorKind::index`]; empty from a loadplan that kept none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_kinds: Vec<u64>,
    pub bytes: u64,
    pub latency: String,
}

impl From<&Recorder> for RecorderWire {
    fn from(r: &Recorder) -> Self {
        let mut t = r.timeline.clone();
        t.close_all();
        RecorderWire {
            latency: histogram_to_base64(&r.latency),
            operations: r.operations,
            successes: r.successes,
            errors: r.errors.to_vec(),
            messages: r.messages.iter().map(|(k, m)| (*k, m.clone())).collect(),
            statuses: r.statuses.iter().map(|(k, v)| (*k, *v)).collect(),
            bytes: r.bytes,
            out_of_range: r.out_of_range,
            timeline: t
                .closed
                .into_iter()
                .map(|(second, s)| SecondWire {
                    second,
                    operations: s.operations,
                    errors: s.errors,
                    error_kinds: if s.errors > 0 {
                        s.kinds.to_vec()
                    } else {
                        Vec::new()
                    },
                    bytes: s.bytes,
                    latency: BASE64.encode(&s.latency_v2),
                })
                .collect(),
            open: r.open.as_ref().map(|o| OpenWire {
                uncorrected: histogram_to_base64(&o.uncorrected),
                lag: histogram_to_base64(&o.lag),
                scheduled: o.scheduled,
                dropped: o.dropped,
            }),
            connections: r.connections.as_deref().map(ConnWire::from),
            requests: r.requests.iter().map(RecorderWire::from).collect(),
            think: r.think.as_deref().map(histogram_to_base64),
            retried: r.retried,
        }
    }
}

impl TryFrom<RecorderWire> for Recorder {
    type Error = WireError;

    fn try_from(w: RecorderWire) -> Result<Self, WireError> {
        let mut closed = BTreeMap::new();
        for s in w.timeline {
            let second = s.second;
            let latency_v2 = BASE64.decode(&s.latency).map_err(|e| WireError::Second {
                second,
                source: HistogramError::NotBase64(e.to_string()),
            })?;
            // Checked once here, so that merging seconds later never decodes unchecked bytes.
            decode_histogram_bytes(&latency_v2)
                .map_err(|source| WireError::Second { second, source })?;
            let mut kinds = Kinds::default();
            if !s.error_kinds.is_empty() {
                if s.error_kinds.len() != kinds.len() {
                    return Err(WireError::SecondCategories {
                        second,
                        found: s.error_kinds.len(),
                        expected: kinds.len(),
                    });
                }
                kinds.copy_from_slice(&s.error_kinds);
                let sum = kinds.iter().fold(0u64, |a, n| a.saturating_add(*n));
                if sum != s.errors {
                    return Err(WireError::SecondKinds {
                        second,
                        sum,
                        errors: s.errors,
                    });
                }
            }
            closed.insert(
                s.second,
                Second {
                    operations: s.operations,
                    errors: s.errors,
                    kinds,
                    bytes: s.bytes,
                    latency_v2,
                },
            );
        }
        let mut errors = [0; ErrorKind::ALL.len()];
        // Five categories before `tls` came second: an old file's counts shift past it. Later
        // categories (`dns`, `protocol`) were appended: a file from before them has six.
        let old_order = w.errors.len() == 5;
        for (i, n) in w.errors.iter().enumerate() {
            let at = if old_order && i > 0 { i + 1 } else { i };
            match errors.get_mut(at) {
                Some(slot) => *slot = *n,
                None => {
                    return Err(WireError::Categories {
                        found: w.errors.len(),
                        expected: ErrorKind::ALL.len(),
                    });
                }
            }
        }
        Ok(Recorder {
            latency: histogram_from_base64(&w.latency)?,
            operations: w.operations,
            successes: w.successes,
            errors,
            messages: w.messages.into_iter().collect(),
            statuses: w.statuses.into_iter().collect(),
            bytes: w.bytes,
            out_of_range: w.out_of_range,
            timeline: Timeline {
                closed,
                current: None,
                late: BTreeMap::new(),
            },
            open: match w.open {
                None => None,
                Some(o) => Some(Box::new(OpenStats {
                    uncorrected: histogram_from_base64(&o.uncorrected)?,
                    lag: histogram_from_base64(&o.lag)?,
                    scheduled: o.scheduled,
                    dropped: o.dropped,
                })),
            },
            connections: match w.connections {
                None => None,
                Some(c) => Some(Box::new(ConnStats::try_from(c)?)),
            },
            requests: w
                .requests
                .into_iter()
                .map(Recorder::try_from)
                .collect::<Result<_, _>>()?,
            think: match w.think {
                None => None,
                Some(t) => Some(Box::new(histogram_from_base64(&t)?)),
            },
            retried: w.retried,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(bytes: u64) -> Outcome {
        Outcome {
            status: Some(200),
            bytes,
            ..Outcome::default()
        }
    }

    /// Counts travel by index: files from before `tls` (five), before `dns` and `protocol`
    /// (six), before `grpc_status` (eight), before `websocket_close` (nine) and of today (ten)
    /// land each count in its category; more is refused.
    #[test]
    fn error_counts_of_every_version_land_in_their_category() {
        let wire = |errors: Vec<u64>| {
            let mut w = RecorderWire::from(&Recorder::default());
            w.operations = errors.iter().sum();
            w.errors = errors;
            Recorder::try_from(w)
        };
        type Want = Result<Vec<(ErrorKind, u64)>, &'static str>;
        let cases: [(Vec<u64>, Want); 6] = [
            (
                vec![1, 2, 3, 4, 5],
                Ok(vec![
                    (ErrorKind::Connect, 1),
                    (ErrorKind::Tls, 0),
                    (ErrorKind::Timeout, 2),
                    (ErrorKind::Expectation, 5),
                ]),
            ),
            (
                vec![1, 2, 3, 4, 5, 6],
                Ok(vec![
                    (ErrorKind::Tls, 2),
                    (ErrorKind::Expectation, 6),
                    (ErrorKind::Dns, 0),
                    (ErrorKind::Protocol, 0),
                ]),
            ),
            (
                vec![0, 0, 0, 0, 0, 0, 7, 8],
                Ok(vec![(ErrorKind::Dns, 7), (ErrorKind::Protocol, 8)]),
            ),
            (
                vec![0, 0, 0, 0, 0, 0, 0, 0, 9],
                Ok(vec![(ErrorKind::Protocol, 0), (ErrorKind::GrpcStatus, 9)]),
            ),
            (
                vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 10],
                Ok(vec![
                    (ErrorKind::GrpcStatus, 0),
                    (ErrorKind::WebsocketClose, 10),
                ]),
            ),
            (vec![0; 11], Err("11 error categories, expected 10")),
        ];
        for (errors, want) in cases {
            match (wire(errors.clone()), want) {
                (Ok(r), Ok(want)) => {
                    for (kind, n) in want {
                        assert_eq!(r.error(kind), n, "{errors:?} {kind:?}");
                    }
                }
                (Err(e), Err(want)) => assert_eq!(e.to_string(), want),
                (got, want) => panic!("{errors:?}: {got:?}, want {want:?}"),
            }
        }
    }

    /// A retried request is counted for the cell and for its name, and survives merge and wire.
    #[test]
    fn retried_requests_are_counted_per_cell_and_per_request() {
        let mut r = Recorder::default();
        for (stats, retried) in [(0, true), (1, false), (1, true), (1, true)] {
            let e = Exchange {
                stats,
                retried,
                ..Exchange::default()
            };
            r.record_exchange(Duration::ZERO, &e, true);
        }
        let mut m = Recorder::try_from(RecorderWire::from(&r)).expect("round trip");
        m.merge(&r);
        assert_eq!(m.retried, 6);
        assert_eq!(
            m.requests.iter().map(|q| q.retried).collect::<Vec<_>>(),
            [2, 4]
        );
    }

    #[test]
    fn merge_is_exact_and_survives_the_wire() {
        let mut a = Recorder::default();
        let mut b = Recorder::default();
        for i in 0..1000u64 {
            a.record(
                Duration::from_millis(i * 3),
                Duration::from_micros(100 + i),
                &ok(10),
            );
        }
        b.record(
            Duration::from_millis(100),
            Duration::from_millis(5),
            &Outcome {
                status: Some(503),
                error: Some(ErrorKind::Status),
                message: Some("status 503".into()),
                ..Outcome::default()
            },
        );
        b.record(Duration::from_secs(7200), Duration::from_secs(7200), &ok(0));
        let b = Recorder::try_from(RecorderWire::from(&b)).expect("round trip");
        let mut m = a.clone();
        m.merge(&b);
        assert_eq!(m.operations, 1002);
        assert_eq!(m.successes, 1001);
        assert_eq!(m.error(ErrorKind::Status), 1);
        assert_eq!(m.statuses.get(&503), Some(&1));
        assert_eq!(m.out_of_range, 1, "a 2 h latency is counted, not clamped");
        assert_eq!(m.latency.len(), 1001);
        assert_eq!(m.bytes, 10_000);
        let points = m.timeline.points(&[Duration::from_secs(7201)]);
        assert_eq!(points.iter().map(|p| p.operations).sum::<u64>(), 1002);
        assert_eq!(points[0].second, 0);
        assert_eq!(points[0].operations, 334 + 1);
        assert_eq!(points[0].errors, 1);
    }

    /// Issue 25: each second keeps its errors by category, in order or late, merged across
    /// recorders and through a shard's results, and they add up to the second's errors.
    #[test]
    fn each_second_keeps_its_errors_by_category() {
        let failed = |kind: ErrorKind| Outcome {
            error: Some(kind),
            ..Outcome::default()
        };
        let mut a = Recorder::default();
        let ms = Duration::from_millis;
        a.record(ms(100), ms(5), &failed(ErrorKind::Timeout));
        a.record(ms(1_100), ms(5), &failed(ErrorKind::Status));
        // Late: second 0 closed already.
        a.record(ms(200), ms(5), &failed(ErrorKind::Status));
        a.record(ms(1_200), ms(5), &ok(0));
        let mut b = Recorder::default();
        b.record(ms(300), ms(5), &failed(ErrorKind::Timeout));
        let b = Recorder::try_from(RecorderWire::from(&b)).expect("round trip");
        a.merge(&b);
        let points = a.timeline.points(&[Duration::from_secs(2)]);
        let kinds: Vec<Vec<(String, u64)>> = points
            .iter()
            .map(|p| p.error_kinds.clone().into_iter().collect())
            .collect();
        assert_eq!(
            kinds,
            vec![
                vec![("status".to_string(), 1), ("timeout".to_string(), 2)],
                vec![("status".to_string(), 1)],
            ]
        );
        for p in &points {
            assert_eq!(p.error_kinds.values().sum::<u64>(), p.errors);
        }
        let mut wire = RecorderWire::from(&a);
        wire.timeline[0].error_kinds[ErrorKind::Timeout.index()] += 1;
        let e = Recorder::try_from(wire)
            .expect_err("does not add up")
            .to_string();
        assert!(e.contains("add up to 4, not its 3 errors"), "{e}");
    }

    /// A steady open run, arrivals every 10 ms for 2.5 s: filed by their start, each second holds
    /// what its length gives room for, and the last, partial one says it is half a second long.
    /// (Filed by their end 30 ms later, the last sliver held 3 operations in 20 ms: 150/s.)
    #[test]
    fn a_partial_last_second_is_as_long_as_it_was() {
        let mut r = Recorder::default();
        for n in 0..250u64 {
            r.record(
                Duration::from_millis(n * 10),
                Duration::from_millis(30),
                &ok(0),
            );
        }
        let points = r.timeline.points(&[Duration::from_millis(2500)]);
        let got: Vec<(u32, u64, f64)> = points
            .iter()
            .map(|p| (p.second, p.operations, p.seconds))
            .collect();
        assert_eq!(got, vec![(0, 100, 1.0), (1, 100, 1.0), (2, 50, 0.5)]);
        assert!(
            points
                .iter()
                .all(|p| p.operations as f64 / p.seconds <= 100.0)
        );
        // Rounds merged into one timeline: each point covers its second once per round.
        let two = r
            .timeline
            .points(&[Duration::from_millis(2500), Duration::from_millis(2200)]);
        let seconds: Vec<f64> = two
            .iter()
            .map(|p| (p.seconds * 1e6).round() / 1e6)
            .collect();
        assert_eq!(seconds, vec![2.0, 2.0, 0.7]);
    }

    /// Operations end out of their start order (a slow one started in second 0 ends after a
    /// quick one of second 1): each lands in its own second, and nothing is lost.
    #[test]
    fn late_operations_land_in_their_own_second() {
        let mut r = Recorder::default();
        let starts_ms = [100u64, 1_100, 900, 2_000, 50, 1_500];
        for (i, s) in starts_ms.iter().enumerate() {
            r.record(
                Duration::from_millis(*s),
                Duration::from_micros(100 * (i as u64 + 1)),
                &ok(1),
            );
        }
        let wire = Recorder::try_from(RecorderWire::from(&r)).expect("round trip");
        for rec in [&r, &wire] {
            let points = rec.timeline.points(&[Duration::from_secs(3)]);
            let per_second: Vec<(u32, u64)> =
                points.iter().map(|p| (p.second, p.operations)).collect();
            assert_eq!(per_second, vec![(0, 3), (1, 2), (2, 1)]);
            let total: u64 = points
                .iter()
                .map(|p| {
                    histogram_from_base64(&p.histogram)
                        .expect("histogram")
                        .len()
                })
                .sum();
            assert_eq!(total, 6, "every latency is in some second's histogram");
        }
    }

    /// A second's histogram whose header announces 4 GB of payload (found by fuzzing a shard
    /// merge, where it was handed to the decoder unchecked and aborted the run): refused when
    /// the recorder comes in, naming the second, before anything is allocated for it.
    #[test]
    fn a_histogram_announcing_more_bytes_than_it_has_is_refused_at_the_wire() {
        let mut r = Recorder::default();
        r.record(Duration::ZERO, Duration::from_micros(300), &ok(1));
        let mut wire = RecorderWire::from(&r);
        let mut bomb = BASE64.decode(&wire.timeline[0].latency).expect("base64");
        bomb[4..8].copy_from_slice(&[0xff, 0x00, 0x00, 0x1c]);
        wire.timeline[0].latency = BASE64.encode(&bomb);
        let e = Recorder::try_from(wire.clone())
            .expect_err("a bomb")
            .to_string();
        assert!(
            e.contains(
                "timeline second 0: histogram: the header announces 4278190108 payload bytes"
            ),
            "{e}"
        );
        wire.latency = BASE64.encode(&bomb);
        let e = histogram_from_base64(&wire.latency)
            .expect_err("a bomb")
            .to_string();
        assert!(e.contains("announces 4278190108 payload bytes"), "{e}");
    }

    /// A latency above one hour that ends after a later second began is counted by the cell
    /// (`out_of_range`) and kept out of its second's histogram, as a live second does: a
    /// second's histogram stays within the bounds every saved histogram is checked against.
    #[test]
    fn a_late_operation_out_of_range_stays_out_of_its_seconds_histogram() {
        let mut r = Recorder::default();
        r.record(Duration::from_secs(1), Duration::from_millis(5), &ok(1));
        r.record(Duration::ZERO, Duration::from_secs(7200), &ok(1));
        assert_eq!(r.out_of_range, 1);
        let wire = RecorderWire::from(&r);
        let ops: Vec<(u32, u64)> = wire
            .timeline
            .iter()
            .map(|s| (s.second, s.operations))
            .collect();
        assert_eq!(ops, vec![(0, 1), (1, 1)]);
        for s in &wire.timeline {
            crate::stats::saved::decode_histogram(&s.latency)
                .unwrap_or_else(|e| panic!("second {}: {e}", s.second));
        }
        assert!(Recorder::try_from(wire).is_ok());
    }
}
