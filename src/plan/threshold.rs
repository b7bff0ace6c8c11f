//! Threshold expressions as written in a plan: `p99 < 250ms`, `error_rate < 1%`,
//! `throughput > 100/s`, `capacity > 800/s`, `speedup(async) > 5`, optionally for one model: `p99{threads} < 80ms`,
//! one connection phase (`p99{phase=tls}`), one request (`p99{request=login}`) or, for error
//! rates, one error category (`error_rate{category=protocol} < 1%`).
//!
//! Over time: a window suffix checks every window of that length during the cell rather than the
//! whole cell (`p99 over 1m < 300ms`, `error_rate over 30s < 5%`, `throughput over 10s > 50/s`),
//! and `drift(p99) < 10%/h` bounds the slope of a latency over the run (a soak test's creep).
//!
//! Input: the expression text. Output: a typed [`Threshold`] with its limit in the metric's base
//! unit (µs, a fraction, operations per second, a ratio). Parsing only; the gate evaluates.

use std::fmt;

use serde::Deserialize;
use serde::de::Deserializer;

use super::model::Model;
use crate::category::ErrorKind;

#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The expression as written, shown in every output.
    pub text: String,
    pub metric: Metric,
    /// Only cells of this model are checked; `None` checks every cell (`speedup(m)` implies `m`).
    pub model: Option<Model>,
    /// A latency of one connection phase (`p99{phase=tls}`) rather than of the operations.
    pub phase: Option<Phase>,
    /// One request's figures (`p99{request=login}`): a target's or a flow step's name.
    pub request: Option<String>,
    /// The errors of one category only (`error_rate{category=protocol}`).
    pub category: Option<ErrorKind>,
    pub op: Op,
    /// In the metric's base unit: µs, fraction, per second, ratio, or (drift) fraction per hour.
    pub limit: f64,
    /// `over 1m`: every window of this many whole seconds during the cell must hold, rather
    /// than the cell as a whole. `None` for a whole-cell threshold.
    pub over: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Latency(Stat),
    ErrorRate,
    Throughput,
    Speedup(Model),
    /// `drift(p99)`: the least-squares slope of the statistic over the run, as a fraction of its
    /// mean per hour (`drift(p99) < 10%/h`).
    Drift(Stat),
    /// A capacity search's result (`capacity > 800/s`): the highest rate that kept its SLO.
    Capacity,
}

/// The longest window a threshold may name: a day (the timeline is per second).
pub const MAX_WINDOW_SECONDS: u32 = 86_400;

/// A phase of HTTP connections and requests, timed apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Dns,
    Connect,
    Tls,
    /// Time to first byte.
    Ttfb,
    /// A streamed response's time to the end of its first event.
    FirstEvent,
    /// The time between consecutive events of a streamed response.
    EventGap,
    /// A WebSocket step's upgrade request to its `101`.
    Upgrade,
}

impl Phase {
    pub const ALL: [Phase; 7] = [
        Phase::Dns,
        Phase::Connect,
        Phase::Tls,
        Phase::Ttfb,
        Phase::FirstEvent,
        Phase::EventGap,
        Phase::Upgrade,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Dns => "dns",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Ttfb => "ttfb",
            Phase::FirstEvent => "first_event",
            Phase::EventGap => "event_gap",
            Phase::Upgrade => "upgrade",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    Min,
    Mean,
    P50,
    P90,
    P99,
    P999,
    Max,
    /// Any other percentile (`p95`, `p99.99`, `p(97.5)`), in parts per million (950000 for
    /// p95): read from the histogram, exactly as the named ones are.
    Quantile(u32),
}

impl Stat {
    /// The percentile's name as summary.json's `latency_us.percentiles` keys it (`p95`,
    /// `p99.99`), for [`Stat::Quantile`].
    pub fn label(self) -> Option<String> {
        match self {
            Stat::Quantile(ppm) => Some(percentile_label(ppm)),
            _ => None,
        }
    }
}

/// `p95` for 950000 parts per million, `p99.99` for 999900.
pub fn percentile_label(ppm: u32) -> String {
    let whole = ppm / 10_000;
    let frac = ppm % 10_000;
    if frac == 0 {
        format!("p{whole}")
    } else {
        let digits = format!("{frac:04}");
        format!("p{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// The quantile (0 to 1) of a percentile metric's name: `p95`, `p99.9`, `p(95)`; `None` when
/// the name is not a percentile. Precision: four decimals of a percent (`p99.9999`).
pub fn percentile_of(name: &str) -> Option<Result<u32, String>> {
    let rest = name.strip_prefix('p')?;
    let num = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(rest)
        .trim();
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    if whole.is_empty() || frac.len() > 4 || frac.contains('.') {
        return Some(Err(format!(
            "`{name}` is not a percentile: write p50, p95, p99.9 or p(99.99), up to four decimals"
        )));
    }
    let whole: u32 = whole.parse().ok()?;
    let frac: u32 = format!("{frac:0<4}").parse().ok()?;
    let ppm = whole.saturating_mul(10_000).saturating_add(frac);
    if ppm == 0 || ppm >= 1_000_000 {
        return Some(Err(format!(
            "`{name}`: a percentile is above 0 and below 100 (`max` is the largest latency)"
        )));
    }
    Some(Ok(ppm))
}

/// The metric names a threshold takes, for did-you-mean.
const METRIC_NAMES: &[&str] = &[
    "min",
    "mean",
    "median",
    "p50",
    "p90",
    "p95",
    "p99",
    "p99.9",
    "max",
    "error_rate",
    "throughput",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

impl Threshold {
    /// The model whose cells this threshold checks, if it names one.
    pub fn applies_to(&self) -> Option<Model> {
        match self.metric {
            Metric::Speedup(m) => Some(m),
            _ => self.model,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::spec::checked_str(d, "a threshold such as `p99 < 250ms`", |s| {
            parse(s).map_err(|e| e.to_string())
        })
    }
}

/// A threshold expression that does not parse: the expression as written and why, in words;
/// shown with the forms a threshold takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("threshold `{text}`: {why}; {HELP}")]
pub struct ThresholdError {
    pub text: String,
    pub why: String,
}

const HELP: &str = "write e.g. `p99 < 250ms`, `error_rate < 1%`, `throughput > 100/s`, `speedup(async) > 5`, `p99{threads} < 80ms`, `p99{phase=tls} < 20ms`, `error_rate{category=protocol} < 1%`, `p99 over 1m < 300ms` or `drift(p99) < 10%/h`";

fn model(name: &str) -> Result<Model, String> {
    let name = name.trim();
    Model::from_name(name).ok_or_else(|| {
        format!(
            "unknown model `{name}`, expected {}",
            Model::names_for_humans()
        )
    })
}

/// Parses one threshold expression.
pub fn parse(text: &str) -> Result<Threshold, ThresholdError> {
    let bad = |why: &str| ThresholdError {
        text: text.to_string(),
        why: why.to_string(),
    };
    let s = text.trim();
    let at = s
        .find(['<', '>'])
        .ok_or_else(|| bad("no comparison (<, <=, > or >=)"))?;
    let (lhs, rest) = s.split_at(at);
    let (op, rhs) = if let Some(r) = rest.strip_prefix("<=") {
        (Op::Le, r)
    } else if let Some(r) = rest.strip_prefix(">=") {
        (Op::Ge, r)
    } else if let Some(r) = rest.strip_prefix('<') {
        (Op::Lt, r)
    } else if let Some(r) = rest.strip_prefix('>') {
        (Op::Gt, r)
    } else {
        return Err(bad("no comparison"));
    };
    let (lhs, over) = split_window(lhs.trim()).map_err(|e| bad(&e))?;
    let rhs = rhs.trim();
    if rhs.starts_with(['<', '>', '=']) {
        return Err(bad(&format!(
            "`{}` is not a comparison: use <, <=, > or >=",
            rest.split_whitespace().next().unwrap_or(rest)
        )));
    }
    // `name{model}`, `name{model=…}`, `name{phase=…}`, or several, comma-separated.
    let mut category = None;
    let (name, qualifier, phase, request) = match lhs.split_once('{') {
        Some((n, q)) => {
            let q = q.strip_suffix('}').ok_or_else(|| bad("unclosed `{`"))?;
            let (mut model_q, mut phase_q, mut request_q) = (None, None, None);
            for part in q.split(',').map(str::trim) {
                match part.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                    Some(("phase", v)) => {
                        let p = Phase::ALL
                            .into_iter()
                            .find(|p| p.as_str() == v)
                            .ok_or_else(|| {
                                bad(&format!(
                                    "unknown phase `{v}`, expected dns, connect, tls, ttfb, first_event, event_gap or upgrade"
                                ))
                            })?;
                        phase_q = Some(p);
                    }
                    Some(("category", v)) => {
                        category = Some(ErrorKind::from_name(v).ok_or_else(|| {
                            bad(&format!(
                                "unknown error category `{v}`, expected {}",
                                ErrorKind::names()
                            ))
                        })?);
                    }
                    Some(("model", v)) => model_q = Some(model(v).map_err(|e| bad(&e))?),
                    Some(("request", v)) if !v.is_empty() => request_q = Some(v.to_string()),
                    Some((k, _)) => return Err(bad(&format!("unknown qualifier `{k}`"))),
                    None => model_q = Some(model(part).map_err(|e| bad(&e))?),
                }
            }
            (n.trim(), model_q, phase_q, request_q)
        }
        None => (lhs, None, None, None),
    };
    let metric = match name {
        "min" => Metric::Latency(Stat::Min),
        "mean" => Metric::Latency(Stat::Mean),
        "p50" | "median" => Metric::Latency(Stat::P50),
        "p90" => Metric::Latency(Stat::P90),
        "p99" => Metric::Latency(Stat::P99),
        "p999" | "p99.9" => Metric::Latency(Stat::P999),
        "max" => Metric::Latency(Stat::Max),
        "error_rate" => Metric::ErrorRate,
        "throughput" => Metric::Throughput,
        other if other.starts_with("drift(") => drift(other).map_err(|e| bad(&e))?,
        other if percentile_of(other).is_some() => match percentile_of(other) {
            Some(Ok(500_000)) => Metric::Latency(Stat::P50),
            Some(Ok(900_000)) => Metric::Latency(Stat::P90),
            Some(Ok(990_000)) => Metric::Latency(Stat::P99),
            Some(Ok(999_000)) => Metric::Latency(Stat::P999),
            Some(Ok(ppm)) => Metric::Latency(Stat::Quantile(ppm)),
            Some(Err(e)) => return Err(bad(&e)),
            None => return Err(bad(&format!("unknown metric `{other}`"))),
        },
        "capacity" => Metric::Capacity,
        other => match other
            .strip_prefix("speedup(")
            .and_then(|m| m.strip_suffix(')'))
        {
            Some(m) => {
                let m = model(m).map_err(|e| bad(&e))?;
                if m.is_baseline() {
                    return Err(bad(
                        "speedup is measured against sequential; name another model",
                    ));
                }
                if qualifier.is_some() {
                    return Err(bad("speedup(model) already names its model"));
                }
                Metric::Speedup(m)
            }
            None => {
                let near = match other {
                    "avg" | "average" | "mu" => Some("mean"),
                    "latency" | "p" => Some("p99"),
                    "errors" | "error" | "errorrate" => Some("error_rate"),
                    "rps" | "rate" => Some("throughput"),
                    _ => super::suggest(other, METRIC_NAMES.iter().copied()),
                };
                let hint = near
                    .map(|n| format!(", did you mean `{n}`?"))
                    .unwrap_or_default();
                return Err(bad(&format!("unknown metric `{other}`{hint}")));
            }
        },
    };
    if phase.is_some() && matches!(metric, Metric::Latency(Stat::Quantile(_))) {
        return Err(bad(
            "a phase keeps p50, p90, p99 and p99.9 (its histogram is not saved): use one of them",
        ));
    }
    if phase.is_some() && !matches!(metric, Metric::Latency(_)) {
        return Err(bad("a phase has latencies only: p50, p99, max…"));
    }
    if category.is_some() && metric != Metric::ErrorRate {
        return Err(bad("an error category qualifies error_rate only"));
    }
    if request.is_some() && metric == Metric::Capacity {
        return Err(bad("capacity is the whole cell's: remove the request"));
    }
    if request.is_some() && (phase.is_some() || matches!(metric, Metric::Speedup(_))) {
        return Err(bad(
            "a request has latencies, error_rate and throughput, not phases or speedups",
        ));
    }
    check_window(metric, over, phase, request.is_some(), category.is_some())
        .map_err(|e| bad(&e))?;
    let limit = match metric {
        Metric::Latency(_) => latency_us(rhs).map_err(|e| bad(&e))?,
        Metric::Drift(_) => per_hour(rhs).map_err(|e| bad(&e))?,
        Metric::ErrorRate => {
            let (num, scale) = match rhs.strip_suffix('%') {
                Some(n) => (n, 0.01),
                None => (rhs, 1.0),
            };
            let v = number(num).map_err(|e| bad(&e))? * scale;
            if !(0.0..=1.0).contains(&v) {
                return Err(bad("an error rate lies between 0% and 100%"));
            }
            v
        }
        Metric::Throughput | Metric::Capacity => {
            number(rhs.strip_suffix("/s").unwrap_or(rhs)).map_err(|e| bad(&e))?
        }
        Metric::Speedup(_) => {
            number(rhs.trim_end_matches(['x', '×']).trim_end()).map_err(|e| bad(&e))?
        }
    };
    Ok(Threshold {
        text: s.to_string(),
        metric,
        model: qualifier,
        phase,
        request,
        category,
        op,
        limit,
        over,
    })
}

/// `p99 over 1m` → (`p99`, 60 seconds); a left side without ` over ` is returned as is.
fn split_window(lhs: &str) -> Result<(&str, Option<u32>), String> {
    let Some((name, window)) = lhs.split_once(" over ") else {
        return Ok((lhs, None));
    };
    Ok((name.trim(), Some(window_seconds(window.trim())?)))
}

/// `30s`, `1m`, `2min`, `1h` → whole seconds (the timeline's resolution).
fn window_seconds(s: &str) -> Result<u32, String> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("window `{s}` has no unit: write e.g. 30s, 1m or 1h"))?;
    let (num, unit) = s.split_at(split);
    let scale = match unit.trim() {
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("unknown window unit `{other}`: use s, m or h")),
    };
    let secs = number(num)? * scale;
    if secs.fract() != 0.0 || secs < 1.0 {
        return Err(format!(
            "window `{s}` is not a whole number of seconds (the timeline is per second)"
        ));
    }
    if secs > f64::from(MAX_WINDOW_SECONDS) {
        return Err(format!("window `{s}` is longer than a day"));
    }
    Ok(secs as u32)
}

/// `drift(p99)` → the drift of that latency statistic.
fn drift(name: &str) -> Result<Metric, String> {
    let inner = name
        .strip_prefix("drift(")
        .and_then(|m| m.strip_suffix(')'))
        .ok_or_else(|| format!("`{name}`: write e.g. drift(p99)"))?;
    match inner.trim() {
        "mean" => Ok(Metric::Drift(Stat::Mean)),
        "p50" | "median" => Ok(Metric::Drift(Stat::P50)),
        "p90" => Ok(Metric::Drift(Stat::P90)),
        "p99" => Ok(Metric::Drift(Stat::P99)),
        "p999" | "p99.9" => Ok(Metric::Drift(Stat::P999)),
        other => Err(format!(
            "drift of `{other}`: a drift follows mean, p50, p90, p99 or p99.9"
        )),
    }
}

/// What a window or a drift may qualify: the cell's per-second timeline has latencies, errors
/// and operations, not phases, requests or error categories.
fn check_window(
    metric: Metric,
    over: Option<u32>,
    phase: Option<Phase>,
    request: bool,
    category: bool,
) -> Result<(), String> {
    let timed = over.is_some() || matches!(metric, Metric::Drift(_));
    if !timed {
        return Ok(());
    }
    if matches!(metric, Metric::Drift(_)) && over.is_some() {
        return Err("a drift is fitted over the whole run: drop `over`".into());
    }
    if matches!(metric, Metric::Speedup(_)) {
        return Err("a speedup compares whole cells: it has no window".into());
    }
    if matches!(metric, Metric::Capacity) {
        return Err("a capacity is a search's one result: it has no window".into());
    }
    if phase.is_some() || request || category {
        return Err(
            "windows and drifts read the cell's per-second timeline, which is kept for the cell \
             as a whole: not per phase, request or error category"
                .into(),
        );
    }
    Ok(())
}

/// `10%/h` → 0.10 per hour; `0.1/h` likewise.
fn per_hour(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let v = s
        .strip_suffix("/h")
        .ok_or_else(|| format!("`{s}` is not a rate per hour: write e.g. 10%/h"))?
        .trim();
    match v.strip_suffix('%') {
        Some(n) => Ok(number(n)? / 100.0),
        None => number(v),
    }
}

fn number(s: &str) -> Result<f64, String> {
    let s = s.trim();
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a non-negative number")),
    }
}

/// `250ms`, `1.5s`, `800us` / `800µs` → microseconds.
fn latency_us(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{s}` has no unit: write e.g. 250ms, 1.5s or 800us"))?;
    let (num, unit) = s.split_at(split);
    let scale = match unit.trim() {
        "us" | "µs" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" | "min" => 60e6,
        other => return Err(format!("unknown unit `{other}`: use us, ms, s or m")),
    };
    // Latencies are recorded up to an hour: a limit beyond that is a typo (and one beyond
    // what a float holds would be infinite).
    let us = number(num)? * scale;
    if us.is_finite() && us <= crate::units::MAX_LATENCY_US as f64 {
        Ok(us)
    } else {
        Err(format!(
            "`{s}` is above an hour, the longest latency recorded"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_qualify_latencies_only() {
        type Want = Result<(Option<Phase>, Option<Model>), &'static str>;
        let cases: [(&str, Want); 9] = [
            ("p99{phase=tls} < 20ms", Ok((Some(Phase::Tls), None))),
            ("p99{phase=upgrade} < 5ms", Ok((Some(Phase::Upgrade), None))),
            (
                "p50{threads, phase=connect} < 1ms",
                Ok((Some(Phase::Connect), Some(Model::Threads))),
            ),
            ("max{phase = ttfb} < 1s", Ok((Some(Phase::Ttfb), None))),
            (
                "p99{phase=first_event} < 500ms",
                Ok((Some(Phase::FirstEvent), None)),
            ),
            (
                "p99{phase=event_gap} < 100ms",
                Ok((Some(Phase::EventGap), None)),
            ),
            (
                "p99{phase=handshake} < 1ms",
                Err("unknown phase `handshake`"),
            ),
            ("error_rate{phase=dns} < 1%", Err("latencies only")),
            ("p99{colour=red} < 1ms", Err("unknown qualifier `colour`")),
        ];
        let t = parse("error_rate{request=login, async} < 1%").expect("parses");
        assert_eq!(
            (t.request.as_deref(), t.model),
            (Some("login"), Some(Model::Async))
        );
        assert!(parse("speedup(async){request=login} > 2").is_err());
        for (text, want) in cases {
            match (parse(text), want) {
                (Ok(t), Ok((phase, model))) => assert_eq!((t.phase, t.model), (phase, model)),
                (Err(e), Err(msg)) => assert!(e.to_string().contains(msg), "{text}: {e}"),
                (got, _) => panic!("{text}: {got:?}"),
            }
        }
    }

    #[test]
    fn categories_qualify_error_rates_only() {
        type Want = Result<(Option<ErrorKind>, Option<&'static str>), &'static str>;
        let cases: [(&str, Want); 6] = [
            (
                "error_rate{category=protocol} < 1%",
                Ok((Some(ErrorKind::Protocol), None)),
            ),
            (
                "error_rate{category = dns, request=login} <= 5%",
                Ok((Some(ErrorKind::Dns), Some("login"))),
            ),
            ("error_rate < 1%", Ok((None, None))),
            (
                "error_rate{category=reset} < 1%",
                Err("unknown error category `reset`, expected dns, connect, tls, protocol"),
            ),
            ("p99{category=timeout} < 1s", Err("error_rate only")),
            ("throughput{category=body} > 1/s", Err("error_rate only")),
        ];
        for (text, want) in cases {
            match (parse(text), want) {
                (Ok(t), Ok(want)) => {
                    assert_eq!((t.category, t.request.as_deref()), want, "{text}")
                }
                (Err(e), Err(msg)) => assert!(e.to_string().contains(msg), "{text}: {e}"),
                (got, _) => panic!("{text}: {got:?}"),
            }
        }
    }

    #[test]
    fn parses_every_form() {
        let cases = [
            (
                "p99 < 250ms",
                Metric::Latency(Stat::P99),
                None,
                Op::Lt,
                250_000.0,
            ),
            (
                "p99.9<=1.5s",
                Metric::Latency(Stat::P999),
                None,
                Op::Le,
                1_500_000.0,
            ),
            (
                "max{threads} < 800us",
                Metric::Latency(Stat::Max),
                Some(Model::Threads),
                Op::Lt,
                800.0,
            ),
            (
                "mean{model=async} < 2ms",
                Metric::Latency(Stat::Mean),
                Some(Model::Async),
                Op::Lt,
                2_000.0,
            ),
            ("error_rate < 1%", Metric::ErrorRate, None, Op::Lt, 0.01),
            ("error_rate <= 0.05", Metric::ErrorRate, None, Op::Le, 0.05),
            (
                "throughput > 100/s",
                Metric::Throughput,
                None,
                Op::Gt,
                100.0,
            ),
            (
                "speedup(async) >= 5x",
                Metric::Speedup(Model::Async),
                None,
                Op::Ge,
                5.0,
            ),
        ];
        for (text, metric, model, op, limit) in cases {
            let t = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((t.metric, t.model, t.op), (metric, model, op), "{text}");
            assert!((t.limit - limit).abs() < 1e-9, "{text}: {}", t.limit);
        }
    }

    #[test]
    fn windows_and_drifts() {
        type Want = Result<(Metric, Option<u32>, f64), &'static str>;
        let cases: [(&str, Want); 12] = [
            (
                "p99 over 1m < 300ms",
                Ok((Metric::Latency(Stat::P99), Some(60), 300_000.0)),
            ),
            (
                "error_rate over 30s < 5%",
                Ok((Metric::ErrorRate, Some(30), 0.05)),
            ),
            (
                "throughput over 10s > 50/s",
                Ok((Metric::Throughput, Some(10), 50.0)),
            ),
            (
                "p99{async} over 2min <= 1s",
                Ok((Metric::Latency(Stat::P99), Some(120), 1e6)),
            ),
            (
                "drift(p99) < 10%/h",
                Ok((Metric::Drift(Stat::P99), None, 0.1)),
            ),
            (
                "drift(p50) < 0.2/h",
                Ok((Metric::Drift(Stat::P50), None, 0.2)),
            ),
            ("p99 over 1.5s < 1s", Err("whole number of seconds")),
            ("p99 over 2d < 1s", Err("unknown window unit `d`")),
            ("p99{phase=tls} over 1m < 1s", Err("per-second timeline")),
            ("speedup(async) over 1m > 2", Err("no window")),
            ("drift(p99) < 10%", Err("rate per hour")),
            ("drift(max) < 10%/h", Err("drift of `max`")),
        ];
        for (text, want) in cases {
            match (parse(text), want) {
                (Ok(t), Ok((metric, over, limit))) => {
                    assert_eq!((t.metric, t.over), (metric, over), "{text}");
                    assert!((t.limit - limit).abs() < 1e-9, "{text}: {}", t.limit);
                }
                (Err(e), Err(msg)) => assert!(e.to_string().contains(msg), "{text}: {e}"),
                (got, _) => panic!("{text}: {got:?}"),
            }
        }
        assert_eq!(parse("p99 < 1s").map(|t| t.over), Ok(None));
    }

    #[test]
    fn refuses_with_a_reason() {
        let cases = [
            ("p99 250ms", "no comparison"),
            ("p98.5.1 < 1s", "is not a percentile"),
            ("q98 < 1s", "unknown metric `q98`"),
            ("p99 < 250", "has no unit"),
            ("p99 < 5h", "unknown unit"),
            ("p99 << 3ms", "`<<` is not a comparison"),
            ("p99 <== 3ms", "`<==` is not a comparison"),
            ("error_rate < 150%", "between 0% and 100%"),
            ("speedup(fibers) > 2", "unknown model `fibers`"),
            ("speedup(sequential) > 2", "measured against sequential"),
            ("p99{async < 1s", "unclosed"),
            ("throughput > -3", "non-negative"),
        ];
        for (text, why) in cases {
            let e = parse(text).expect_err(text);
            assert!(e.why.contains(why), "{text}: {e}");
        }
    }
}

#[cfg(test)]
mod percentile_tests {
    use super::*;

    #[test]
    fn any_percentile_parses_and_near_names_are_suggested() {
        let cases: &[(&str, Result<Stat, &str>)] = &[
            ("p95 < 200ms", Ok(Stat::Quantile(950_000))),
            ("p(95) < 200ms", Ok(Stat::Quantile(950_000))),
            ("p99.99 < 1s", Ok(Stat::Quantile(999_900))),
            ("p(97.5){async} < 1s", Ok(Stat::Quantile(975_000))),
            ("p99.9 < 1s", Ok(Stat::P999)),
            ("p(99) < 1s", Ok(Stat::P99)),
            ("p50 < 1s", Ok(Stat::P50)),
            (
                "avg < 1s",
                Err("unknown metric `avg`, did you mean `mean`?"),
            ),
            ("p100 < 1s", Err("below 100")),
            ("p0 < 1s", Err("above 0")),
            ("p99.99999 < 1s", Err("up to four decimals")),
            ("mena < 1s", Err("did you mean `mean`?")),
            ("p95{phase=tls} < 1s", Err("a phase keeps p50")),
        ];
        for (text, want) in cases {
            match (parse(text), want) {
                (Ok(t), Ok(stat)) => assert_eq!(t.metric, Metric::Latency(*stat), "{text}"),
                (Err(e), Err(msg)) => assert!(e.to_string().contains(msg), "{text}: {e}"),
                (got, _) => panic!("{text}: {got:?}"),
            }
        }
        let labels = [
            (950_000, "p95"),
            (999_900, "p99.99"),
            (975_000, "p97.5"),
            (1, "p0.0001"),
        ];
        for (ppm, label) in labels {
            assert_eq!(percentile_label(ppm), label);
        }
    }
}
