//! Figures of a cell over time, from its per-second timeline: every window of a given length
//! (sliding by one second) and the drift of a latency statistic over the run.
//!
//! Input: a cell's [`TimelinePoint`]s (each second's counts and its latency histogram, as the
//! summary keeps them, shards and rounds already merged). Output: each window's figures, merged
//! exactly from its seconds (histogram buckets and counts added, never percentiles averaged),
//! and a least-squares slope. Pure: no I/O, no verdict (the gate compares with limits).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::recorder::{TimelinePoint, new_histogram};
use super::saved::{HistogramError, decode_histogram};
use crate::plan::threshold::Stat;

/// One window of a cell: seconds `[from_s, to_s)` since its measured start, merged.
pub struct Window {
    pub from_s: u32,
    pub to_s: u32,
    pub operations: u64,
    pub errors: u64,
    /// The time the window's points cover, in seconds (a partial last second counts its part).
    pub seconds: f64,
    latency: Histogram<u64>,
}

impl Window {
    /// The statistic of the window's latencies, in µs; `None` when it holds none.
    pub fn latency(&self, stat: Stat) -> Option<f64> {
        (!self.latency.is_empty()).then(|| stat_of(&self.latency, stat))
    }

    /// Errors ÷ operations; `None` for a window without operations.
    pub fn error_rate(&self) -> Option<f64> {
        (self.operations > 0).then(|| self.errors as f64 / self.operations as f64)
    }

    /// Successful operations per second over the time the window covers.
    pub fn throughput(&self) -> Option<f64> {
        (self.seconds > 0.0)
            .then(|| self.operations.saturating_sub(self.errors) as f64 / self.seconds)
    }
}

/// A latency statistic of a histogram, by HdrHistogram's rank rule (as the cell's own figures).
pub fn stat_of(h: &Histogram<u64>, stat: Stat) -> f64 {
    match stat {
        Stat::Min => h.min() as f64,
        Stat::Mean => h.mean(),
        Stat::P50 => h.value_at_quantile(0.5) as f64,
        Stat::P90 => h.value_at_quantile(0.9) as f64,
        Stat::P99 => h.value_at_quantile(0.99) as f64,
        Stat::P999 => h.value_at_quantile(0.999) as f64,
        Stat::Max => h.max() as f64,
        Stat::Quantile(ppm) => h.value_at_quantile(f64::from(ppm) / 1e6) as f64,
    }
}

/// One second, sparse: its histogram's recorded buckets (highest equivalent value, count).
struct SparseSecond {
    operations: u64,
    errors: u64,
    seconds: f64,
    buckets: Vec<(u64, u64)>,
}

fn sparse(points: &[TimelinePoint]) -> Result<BTreeMap<u32, SparseSecond>, HistogramError> {
    let mut out = BTreeMap::new();
    for p in points {
        let buckets = if p.histogram.is_empty() {
            Vec::new()
        } else {
            decode_histogram(&p.histogram)?
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect()
        };
        out.insert(
            p.second,
            SparseSecond {
                operations: p.operations,
                errors: p.errors,
                seconds: p.seconds,
                buckets,
            },
        );
    }
    Ok(out)
}

/// Calls `each` with every window of `len` seconds during the cell, oldest first, sliding by
/// one second from second 0 to the last second that holds operations. A cell shorter than the
/// window is one window, as long as the cell. Memory: one window's buckets at a time.
pub fn each_window(
    points: &[TimelinePoint],
    len: u32,
    mut each: impl FnMut(&Window),
) -> Result<u32, HistogramError> {
    let seconds = sparse(points)?;
    let Some(last) = seconds.keys().next_back().copied() else {
        return Ok(0);
    };
    let len = len.max(1);
    let end = last.saturating_add(1);
    let starts = end.saturating_sub(len);
    // Bucket counts of the current window, kept as one sorted map: a second enters when the
    // window reaches it and leaves when the window passes it; integers, so exact.
    let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
    let (mut operations, mut errors, mut covered) = (0u64, 0u64, 0f64);
    let add = |s: &SparseSecond, sign: bool, counts: &mut BTreeMap<u64, u64>| {
        for &(v, n) in &s.buckets {
            let c = counts.entry(v).or_insert(0);
            *c = if sign {
                c.saturating_add(n)
            } else {
                c.saturating_sub(n)
            };
            if *c == 0 {
                counts.remove(&v);
            }
        }
    };
    for s in seconds.range(0..len.min(end)).map(|(_, s)| s) {
        add(s, true, &mut counts);
        operations = operations.saturating_add(s.operations);
        errors = errors.saturating_add(s.errors);
        covered += s.seconds;
    }
    let mut checked = 0u32;
    for from in 0..=starts {
        if from > 0 {
            if let Some(s) = seconds.get(&(from - 1)) {
                add(s, false, &mut counts);
                operations = operations.saturating_sub(s.operations);
                errors = errors.saturating_sub(s.errors);
                covered -= s.seconds;
            }
            if let Some(s) = seconds.get(&(from + len - 1)) {
                add(s, true, &mut counts);
                operations = operations.saturating_add(s.operations);
                errors = errors.saturating_add(s.errors);
                covered += s.seconds;
            }
        }
        let mut latency = new_histogram();
        for (&v, &n) in &counts {
            // Every value came out of a histogram with the same buckets: it fits.
            let _ = latency.record_n(v, n);
        }
        each(&Window {
            from_s: from,
            to_s: from.saturating_add(len).min(end),
            operations,
            errors,
            seconds: covered.max(0.0),
            latency,
        });
        checked += 1;
    }
    Ok(checked)
}

/// The fewest points a drift is fitted through.
pub const MIN_DRIFT_POINTS: usize = 3;
/// How many stretches a run is cut into for a drift (fewer for a run of fewer seconds).
const DRIFT_STRETCHES: u32 = 20;

/// The drift of a latency statistic over the cell: the run is cut into (up to) 20 equal
/// stretches of whole seconds, the statistic taken from each stretch's merged histogram, and a
/// least-squares line fitted through (mid-time, statistic); the result is its slope per hour as
/// a fraction of the statistic's mean over the stretches (+0.10: it grows 10 % of its typical
/// value per hour). `None` for fewer than [`MIN_DRIFT_POINTS`] stretches with latencies.
pub fn drift(points: &[TimelinePoint], stat: Stat) -> Result<Option<f64>, HistogramError> {
    let Some(last) = points.iter().map(|p| p.second).max() else {
        return Ok(None);
    };
    let end = last.saturating_add(1);
    let stretch = end.div_ceil(DRIFT_STRETCHES).max(1);
    let mut fit = Vec::new();
    let mut from = 0u32;
    while from < end {
        let to = from.saturating_add(stretch).min(end);
        let mut h = new_histogram();
        for p in points
            .iter()
            .filter(|p| p.second >= from && p.second < to && !p.histogram.is_empty())
        {
            let _ = h.add(decode_histogram(&p.histogram)?);
        }
        if !h.is_empty() {
            fit.push((
                f64::from(from) + f64::from(to - from) / 2.0,
                stat_of(&h, stat),
            ));
        }
        from = to;
    }
    Ok(relative_slope_per_hour(&fit))
}

/// Least-squares slope of `(seconds, value)` per hour, over the values' mean.
fn relative_slope_per_hour(fit: &[(f64, f64)]) -> Option<f64> {
    if fit.len() < MIN_DRIFT_POINTS {
        return None;
    }
    let n = fit.len() as f64;
    let mx = fit.iter().map(|p| p.0).sum::<f64>() / n;
    let my = fit.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = fit.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = fit.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx <= 0.0 || my <= 0.0 {
        return None;
    }
    let slope = sxy / sxx * 3600.0 / my;
    slope.is_finite().then_some(slope)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::stats::histogram_to_base64;

    /// A second with `n` operations of `us` each (and `errors` of them failed); the gate's
    /// window tests build their timelines with it too.
    pub(crate) fn second(s: u32, n: u64, us: u64, errors: u64) -> TimelinePoint {
        let mut h = new_histogram();
        h.record_n(us, n).expect("in range");
        TimelinePoint {
            second: s,
            operations: n,
            errors,
            bytes: 0,
            p50_us: us,
            p99_us: us,
            max_us: us,
            in_flight: 0.0,
            histogram: histogram_to_base64(&h),
            seconds: 1.0,
            requests: None,
            error_kinds: Default::default(),
        }
    }

    #[test]
    fn windows_merge_their_seconds_exactly() {
        // 10 s at 1 ms, but seconds 4 and 5 at 200 ms with few operations (a closed model).
        let points: Vec<TimelinePoint> = (0..10)
            .map(|s| match s {
                4 | 5 => second(s, 5, 200_000, 1),
                _ => second(s, 1000, 1_000, 0),
            })
            .collect();
        let mut seen = Vec::new();
        let checked = each_window(&points, 2, |w| {
            // The sliding merge equals a merge from scratch.
            let mut h = new_histogram();
            for p in points
                .iter()
                .filter(|p| p.second >= w.from_s && p.second < w.to_s)
            {
                h.add(decode_histogram(&p.histogram).expect("decodes"))
                    .expect("adds");
            }
            assert_eq!(w.latency(Stat::P99), Some(stat_of(&h, Stat::P99)));
            assert_eq!(w.latency(Stat::Max), Some(h.max() as f64));
            seen.push((
                w.from_s,
                w.to_s,
                w.operations,
                w.errors,
                w.latency(Stat::P99),
            ));
        })
        .expect("decodes");
        assert_eq!(checked, 9);
        let slow: Vec<(u32, u32)> = seen
            .iter()
            .filter(|w| w.4.is_some_and(|p| p > 100_000.0))
            .map(|w| (w.0, w.1))
            .collect();
        assert_eq!(slow, [(4, 6)]);
        assert_eq!(seen[3].2, 1005);
        assert_eq!(seen[4].3, 2);
    }

    #[test]
    fn a_cell_shorter_than_its_window_is_one_window() {
        let points = [second(0, 3, 10, 0), second(1, 3, 20, 3)];
        let mut seen = Vec::new();
        let n = each_window(&points, 60, |w| {
            seen.push((w.from_s, w.to_s, w.error_rate(), w.throughput()))
        })
        .expect("decodes");
        assert_eq!(n, 1);
        assert_eq!(seen, [(0, 2, Some(0.5), Some(1.5))]);
        assert_eq!(each_window(&[], 5, |_| {}).expect("empty"), 0);
    }

    #[test]
    fn drift_is_the_slope_per_hour_over_the_mean() {
        type Fit = &'static [(f64, f64)];
        let cases: [(Fit, Option<f64>); 4] = [
            (&[(0.0, 100.0), (1.0, 100.0), (2.0, 100.0)], Some(0.0)),
            // +1 per second around a mean of 100: 3,600 per hour, 36× the mean.
            (&[(0.0, 99.0), (1.0, 100.0), (2.0, 101.0)], Some(36.0)),
            (&[(0.0, 99.0), (1.0, 100.0)], None),
            (&[(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)], None),
        ];
        for (fit, want) in cases {
            let got = relative_slope_per_hour(fit);
            match (got, want) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "{fit:?}: {g}"),
                _ => assert_eq!(got, want, "{fit:?}"),
            }
        }
        // From a timeline: p99 doubles from the first to the last second of a 40 s run.
        let points: Vec<TimelinePoint> = (0..40)
            .map(|s| second(s, 100, 1_000 + 25 * u64::from(s), 0))
            .collect();
        let d = drift(&points, Stat::P99).expect("decodes").expect("fits");
        assert!(d > 50.0, "{d}");
    }
}
