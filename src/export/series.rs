//! The series of one cell at one moment, from what it recorded in the interval just ended (a
//! [`Recorder`] harvested from the cell's taps) and its running totals.
//!
//! Counters (`_total`) are cumulative per label set and never go back: one series per cell label
//! set, carried across the cell's rounds (there is no `round` label, so a cell's counter keeps
//! counting from one round to the next, and its final value is the cell's operations in
//! `summary.json`, which pools the rounds). Latency is a classic Prometheus histogram
//! (`loadplan_latency_seconds_bucket{le}`, `_sum`, `_count`, cumulative like the counters, on
//! the fixed bounds [`LATENCY_BUCKETS`]), so that `histogram_quantile` over `sum by (le)` adds
//! shards, cells and intervals exactly as far as the buckets go. Gauges describe the interval
//! alone: the users running (`loadplan_active_users`), the latency quantiles of this process's
//! interval (`loadplan_interval_latency_seconds`, which cannot be added across shards or
//! intervals: kept for a quick look at one process), successful operations per second, send lag.
//! A cell's own series carry no `request` label; with per-request statistics (several named
//! requests, or a flow) each request has series of its own with `request="NAME"`. No I/O.

use hdrhistogram::Histogram;

use super::wire::{Label, Sample, TimeSeries};
use crate::plan::Cell;
use crate::stats::Recorder;
use crate::workload::ErrorKind;

pub const OPERATIONS: &str = "loadplan_operations_total";
pub const ERRORS: &str = "loadplan_errors_total";
/// The per-interval quantile gauges (one process, one interval: not to be aggregated).
pub const LATENCY: &str = "loadplan_interval_latency_seconds";
/// The latency histogram's name; its series add `_bucket`, `_sum` and `_count`.
pub const LATENCY_HISTOGRAM: &str = "loadplan_latency_seconds";
pub const ACTIVE_USERS: &str = "loadplan_active_users";
pub const RESPONSES: &str = "loadplan_responses_total";
pub const BYTES_RECEIVED: &str = "loadplan_bytes_received_total";

/// The latency histogram's upper bounds in seconds (`le`), 1-2-5 steps from 100 µs to 60 s, then
/// `+Inf`. An operation is counted in the first bound at or above its HdrHistogram bucket's
/// lowest value (the recorded value, to within the histogram's 0.1 %).
pub const LATENCY_BUCKETS: [f64; 19] = [
    0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
    10.0, 20.0, 30.0, 60.0,
];
pub const THROUGHPUT: &str = "loadplan_throughput_per_second";
pub const SEND_LAG: &str = "loadplan_send_lag_seconds";
pub const CONNECTIONS: &str = "loadplan_connections_opened_total";

/// Latency quantiles, as their label reads.
const QUANTILES: [(f64, &str); 4] = [(0.5, "0.5"), (0.9, "0.9"), (0.99, "0.99"), (0.999, "0.999")];
/// Send-lag quantiles (open model).
const LAG_QUANTILES: [(f64, &str); 2] = [(0.5, "0.5"), (0.99, "0.99")];
/// A rate over less time than this says more about where the interval was cut than about the
/// load (a cell that ended just after a push): no throughput sample then, unless the interval
/// is the cell's first (then it is the whole cell).
const MIN_RATE_SECONDS: f64 = 0.1;

/// The labels of every series of a run.
#[derive(Debug, Clone)]
pub struct RunLabels {
    pub plan: String,
    pub run_id: String,
    /// `I/N` for a sharded run (so that a query sums the shards), else none.
    pub shard: Option<String>,
    /// The shard as (index from 0, count): which of a cell's users this process runs.
    pub part: (u64, u64),
}

/// What the series of a scenario's cells depend on.
#[derive(Debug, Clone)]
pub struct ScenarioInfo {
    pub name: String,
    /// Request names with statistics of their own; empty when the cell's are the request's.
    pub requests: Vec<String>,
    /// Open model: the send lag is measured.
    pub open: bool,
    /// HTTP: connections are counted.
    pub http: bool,
    /// A closed load with a fixed number of users (`repeat`, `duration`): the cell's
    /// concurrency is its users. Otherwise (stages, arrivals) the users running are estimated
    /// per interval.
    pub fixed_users: bool,
}

/// A cell's counters so far, over all its intervals and rounds.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    operations: u64,
    errors: [u64; ErrorKind::ALL.len()],
    connections: u64,
    requests: Vec<Totals>,
    /// Operations at or below each of [`LATENCY_BUCKETS`] (not yet cumulative), then above all.
    buckets: [u64; LATENCY_BUCKETS.len() + 1],
    latency_sum_s: f64,
    latency_count: u64,
    statuses: std::collections::BTreeMap<u16, u64>,
    bytes: u64,
}

impl Totals {
    fn add(&mut self, r: &Recorder) {
        self.operations += r.operations;
        for (a, b) in self.errors.iter_mut().zip(r.errors) {
            *a += b;
        }
        self.connections += r.connections.as_ref().map_or(0, |c| c.opened);
        for v in r.latency.iter_recorded() {
            // The bucket's lowest value: a latency exactly on a bound (10 ms) counts at or
            // below it, as it was measured.
            let s = r.latency.lowest_equivalent(v.value_iterated_to()) as f64 / 1e6;
            let i = LATENCY_BUCKETS
                .iter()
                .position(|le| s <= *le)
                .unwrap_or(LATENCY_BUCKETS.len());
            self.buckets[i] = self.buckets[i].saturating_add(v.count_at_value());
        }
        self.latency_sum_s += r.latency.mean() * r.latency.len() as f64 / 1e6;
        self.latency_count = self.latency_count.saturating_add(r.latency.len());
        for (code, n) in &r.statuses {
            *self.statuses.entry(*code).or_insert(0) += n;
        }
        self.bytes = self.bytes.saturating_add(r.bytes);
    }
}

/// The users of a cell of `users` that part `index` of `count` runs: users are dealt to parts
/// by residue class (as `run::share` deals them).
fn part_users(users: usize, (index, count): (u64, u64)) -> u64 {
    let users = users as u64;
    let count = count.max(1);
    if users > index {
        (users - index - 1) / count + 1
    } else {
        0
    }
}

/// One interval of one cell: what it recorded, how long it lasted, when it ended.
pub struct Interval<'a> {
    pub delta: &'a Recorder,
    pub seconds: f64,
    /// Its end, in milliseconds since the Unix epoch: every sample's timestamp.
    pub at_ms: i64,
    /// The cell's first interval (of this round).
    pub first: bool,
}

/// Adds the interval to the cell's totals and returns the cell's series at its end.
pub fn cell_series(
    run: &RunLabels,
    scenario: &ScenarioInfo,
    cell: &Cell,
    totals: &mut Totals,
    interval: &Interval,
) -> Vec<TimeSeries> {
    let concurrency = cell.concurrency.to_string();
    let mut base = vec![
        ("plan", run.plan.as_str()),
        ("run_id", run.run_id.as_str()),
        ("scenario", scenario.name.as_str()),
        ("model", cell.model.as_str()),
        ("concurrency", concurrency.as_str()),
    ];
    if let Some(s) = &run.shard {
        base.push(("shard", s));
    }
    let mut out = Vec::new();
    let at = interval.at_ms;
    let d = interval.delta;
    totals.add(d);
    let mut series = Series {
        out: &mut out,
        base: &base,
        at,
    };
    // No rate at all off a sliver (see MIN_RATE_SECONDS).
    let seconds = if interval.first || interval.seconds >= MIN_RATE_SECONDS {
        interval.seconds
    } else {
        0.0
    };
    series.counts(totals, d, seconds, &[]);
    let active = if scenario.fixed_users {
        part_users(cell.concurrency.get(), run.part) as f64
    } else if interval.seconds > 0.0 {
        // Little's law over the interval: the operations in flight on average.
        d.latency.mean() * d.latency.len() as f64 / 1e6 / interval.seconds
    } else {
        0.0
    };
    series.push(ACTIVE_USERS, &[], active);
    if scenario.http {
        series.responses(totals, &[]);
    }
    if scenario.open {
        if let Some(o) = d.open.as_ref().filter(|o| !o.lag.is_empty()) {
            series.quantiles(SEND_LAG, &o.lag, &LAG_QUANTILES, &[]);
        }
    }
    if scenario.http {
        series.push(CONNECTIONS, &[], totals.connections as f64);
    }
    if totals.requests.len() < scenario.requests.len() {
        totals
            .requests
            .resize_with(scenario.requests.len(), Totals::default);
    }
    let empty = Recorder::default();
    for (i, (name, t)) in scenario
        .requests
        .iter()
        .zip(&mut totals.requests)
        .enumerate()
    {
        let r = d.requests.get(i).unwrap_or(&empty);
        t.add(r);
        series.counts(t, r, seconds, &[("request", name)]);
        series.responses(t, &[("request", name)]);
    }
    out
}

/// Series being made at one moment with one base label set.
struct Series<'a> {
    out: &'a mut Vec<TimeSeries>,
    base: &'a [(&'a str, &'a str)],
    at: i64,
}

impl Series<'_> {
    /// Operations and errors (totals), throughput (this interval's `d`, unless `seconds` is 0)
    /// and latency.
    fn counts(&mut self, t: &Totals, d: &Recorder, seconds: f64, extra: &[(&str, &str)]) {
        self.push(OPERATIONS, extra, t.operations as f64);
        for kind in ErrorKind::ALL {
            let labels = [extra, &[("category", kind.as_str())]].concat();
            self.push(ERRORS, &labels, t.errors[kind.index()] as f64);
        }
        if seconds > 0.0 {
            self.push(THROUGHPUT, extra, d.successes as f64 / seconds);
        }
        if !d.latency.is_empty() {
            self.quantiles(LATENCY, &d.latency, &QUANTILES, extra);
        }
        self.histogram(t, extra);
    }

    /// The latency histogram so far: cumulative `_bucket{le}` for every bound and `+Inf`,
    /// `_sum` in seconds and `_count`.
    fn histogram(&mut self, t: &Totals, extra: &[(&str, &str)]) {
        let bucket = format!("{LATENCY_HISTOGRAM}_bucket");
        let mut cumulative = 0u64;
        for (i, n) in t.buckets.iter().enumerate() {
            cumulative = cumulative.saturating_add(*n);
            let le = LATENCY_BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |le| le.to_string());
            let labels = [extra, &[("le", le.as_str())]].concat();
            self.push(&bucket, &labels, cumulative as f64);
        }
        self.push(&format!("{LATENCY_HISTOGRAM}_sum"), extra, t.latency_sum_s);
        self.push(
            &format!("{LATENCY_HISTOGRAM}_count"),
            extra,
            t.latency_count as f64,
        );
    }

    /// Responses so far by HTTP status code, and the bytes of response bodies received.
    fn responses(&mut self, t: &Totals, extra: &[(&str, &str)]) {
        for (code, n) in &t.statuses {
            let code = code.to_string();
            let labels = [extra, &[("status", code.as_str())]].concat();
            self.push(RESPONSES, &labels, *n as f64);
        }
        self.push(BYTES_RECEIVED, extra, t.bytes as f64);
    }

    /// One gauge per quantile of `h` (microseconds), in seconds.
    fn quantiles(
        &mut self,
        name: &str,
        h: &Histogram<u64>,
        quantiles: &[(f64, &str)],
        extra: &[(&str, &str)],
    ) {
        for (q, text) in quantiles {
            let labels = [extra, &[("quantile", *text)]].concat();
            self.push(name, &labels, h.value_at_quantile(*q) as f64 / 1e6);
        }
    }

    fn push(&mut self, name: &str, extra: &[(&str, &str)], value: f64) {
        let mut labels: Vec<Label> = [("__name__", name)]
            .iter()
            .chain(self.base)
            .chain(extra)
            .map(|(n, v)| Label {
                name: (*n).to_string(),
                value: (*v).to_string(),
            })
            .collect();
        // Remote write wants labels sorted by name (`__name__` sorts first).
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        self.out.push(TimeSeries {
            labels,
            samples: vec![Sample {
                value,
                timestamp: self.at,
            }],
        });
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;
    use std::time::Duration;

    use super::*;
    use crate::plan::Model;
    use crate::workload::Outcome;

    fn find<'a>(s: &'a [TimeSeries], name: &str, extra: &[(&str, &str)]) -> Option<&'a TimeSeries> {
        s.iter().find(|t| {
            let has = |n: &str, v: &str| t.labels.iter().any(|l| l.name == n && l.value == v);
            has("__name__", name)
                && extra.iter().all(|(n, v)| has(n, v))
                && !(extra.iter().all(|(n, _)| *n != "request")
                    && t.labels.iter().any(|l| l.name == "request"))
        })
    }

    #[test]
    fn counters_add_up_over_intervals_and_gauges_describe_each() {
        let run = RunLabels {
            plan: "p".into(),
            run_id: "r1".into(),
            shard: Some("2/3".into()),
            part: (1, 3),
        };
        let sc = ScenarioInfo {
            name: "s".into(),
            requests: vec!["login".into(), "list".into()],
            open: true,
            http: true,
            fixed_users: true,
        };
        let cell = Cell {
            scenario: 0,
            model: Model::Async,
            concurrency: NonZeroUsize::new(8).expect("8"),
            workers: NonZeroUsize::MIN,
        };
        let mut totals = Totals::default();
        let mut at_ms = 1_000;
        let mut last = Vec::new();
        for ms in [[1u64, 2, 3, 4], [10, 20, 30, 40]] {
            let mut d = Recorder::default();
            for (i, v) in ms.iter().enumerate() {
                let outcome = Outcome {
                    error: (i == 3).then_some(ErrorKind::Status),
                    ..Outcome::default()
                };
                let v = Duration::from_millis(*v);
                d.record_open(Duration::ZERO, v, v, Duration::from_micros(50), &outcome);
            }
            d.requests = vec![Recorder::default(), d.clone()];
            let iv = Interval {
                delta: &d,
                seconds: 0.5,
                at_ms,
                first: at_ms == 1_000,
            };
            last = cell_series(&run, &sc, &cell, &mut totals, &iv);
            at_ms += 500;
        }
        let value = |name, extra: &[(&str, &str)]| {
            let t = find(&last, name, extra).unwrap_or_else(|| panic!("{name} {extra:?}"));
            assert_eq!(t.samples[0].timestamp, 1_500);
            t.samples[0].value
        };
        assert_eq!(value(OPERATIONS, &[]), 8.0);
        assert_eq!(value(ERRORS, &[("category", "status")]), 2.0);
        assert_eq!(value(ERRORS, &[("category", "timeout")]), 0.0);
        assert_eq!(value(THROUGHPUT, &[]), 6.0, "3 successes in half a second");
        assert!((value(LATENCY, &[("quantile", "0.5")]) - 0.020).abs() < 1e-4);
        assert!((value(LATENCY, &[("quantile", "0.999")]) - 0.040).abs() < 1e-4);
        assert!((value(SEND_LAG, &[("quantile", "0.99")]) - 0.000_05).abs() < 1e-6);
        assert_eq!(value(CONNECTIONS, &[]), 0.0);
        assert_eq!(value(OPERATIONS, &[("request", "list")]), 8.0);
        assert_eq!(value(OPERATIONS, &[("request", "login")]), 0.0);
        assert!(
            find(&last, LATENCY, &[("request", "login")]).is_none(),
            "no latency, no gauge"
        );
        // The histogram is cumulative over both intervals: 1, 2, 3 and 4 ms, then 10 to 40 ms.
        let get = |name: &str, extra: &[(&str, &str)]| {
            find(&last, name, extra)
                .map(|t| t.samples[0].value)
                .unwrap_or_else(|| panic!("{name} {extra:?}"))
        };
        let le = |bound: &str| get(&format!("{LATENCY_HISTOGRAM}_bucket"), &[("le", bound)]);
        let cases = [
            ("0.0005", 0.0),
            ("0.001", 1.0),
            ("0.002", 2.0),
            ("0.005", 4.0),
            ("0.01", 5.0),
            ("0.02", 6.0),
            ("0.05", 8.0),
            ("+Inf", 8.0),
        ];
        for (bound, want) in cases {
            assert_eq!(le(bound), want, "le={bound}");
        }
        assert_eq!(get(&format!("{LATENCY_HISTOGRAM}_count"), &[]), 8.0);
        let sum = get(&format!("{LATENCY_HISTOGRAM}_sum"), &[]);
        assert!((sum - 0.110).abs() < 1e-3, "{sum}");
        assert_eq!(value(ACTIVE_USERS, &[]), 3.0, "users 1, 4 and 7 of 8");
        assert_eq!(value(BYTES_RECEIVED, &[]), 0.0);
        let t = find(&last, OPERATIONS, &[]).expect("ops");
        let names: Vec<&str> = t.labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "__name__",
                "concurrency",
                "model",
                "plan",
                "run_id",
                "scenario",
                "shard"
            ]
        );
    }
}
