//! How sure a percentile is: a distribution-free confidence interval for a quantile, read from
//! the histogram itself.
//!
//! Input: an HdrHistogram (or its base64 text as summary.json keeps it), a quantile q and a
//! confidence. Output: a [`QuantileInterval`]: the values at two ranks l ≤ u chosen so that the
//! true q-quantile of what was measured lies in [x_(l), x_(u)] with at least that confidence
//! (the ranks come from Binomial(n, q): the number of values below the true quantile is binomial,
//! whatever the latencies' own distribution). When u would lie beyond the last value the interval
//! is open above and says so (`upper_is_max`): a p99 of 100 operations is the maximum, and no
//! data bounds it. No I/O.

use hdrhistogram::Histogram;

use super::distribution::binomial_quantile;

/// A percentile's confidence interval, in the histogram's unit (microseconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantileInterval {
    /// Values in the histogram.
    pub count: u64,
    /// 1-based ranks of the bounds.
    pub low_rank: u64,
    pub high_rank: u64,
    pub low: u64,
    pub high: u64,
    /// No rank below the percentile's lower bound: the interval starts at the minimum.
    pub lower_is_min: bool,
    /// No rank beyond the percentile's upper bound: the interval ends at the maximum, which
    /// bounds nothing (more operations could have gone higher).
    pub upper_is_max: bool,
}

/// The 1-based ranks [l, u] bounding the q-quantile of n values with at least `confidence`,
/// and whether each was cut at the data's edge. None without values.
pub fn rank_bounds(n: u64, q: f64, confidence: f64) -> Option<(u64, u64, bool, bool)> {
    if n == 0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let tail = (1.0 - confidence) / 2.0;
    // X = values below the true quantile ~ Binomial(n, q);
    // P(x_(l) ≤ ξ ≤ x_(u)) = P(l ≤ X ≤ u − 1) ≥ 1 − 2·tail.
    let l = binomial_quantile(tail, n, q);
    let u = binomial_quantile(1.0 - tail, n, q) + 1;
    let lower_is_min = l < 1;
    let upper_is_max = u > n;
    Some((l.max(1), u.min(n), lower_is_min, upper_is_max))
}

/// The confidence interval of the q-quantile of what `h` holds.
pub fn interval(h: &Histogram<u64>, q: f64, confidence: f64) -> Option<QuantileInterval> {
    let n = h.len();
    let (l, u, lower_is_min, upper_is_max) = rank_bounds(n, q, confidence)?;
    Some(QuantileInterval {
        count: n,
        low_rank: l,
        high_rank: u,
        low: value_at_rank(h, l),
        high: value_at_rank(h, u),
        lower_is_min,
        upper_is_max,
    })
}

/// The interval of a percentile from a histogram as summary.json keeps it (base64); None when
/// there is none or it cannot be read.
pub fn interval_of_saved(b64: &str, q: f64, confidence: f64) -> Option<QuantileInterval> {
    if b64.is_empty() {
        return None;
    }
    let h = super::saved::decode_histogram(b64).ok()?;
    interval(&h, q, confidence)
}

/// The value at a 1-based rank, as `value_at_quantile` reports values (the highest value
/// equivalent to the bucket's).
fn value_at_rank(h: &Histogram<u64>, rank: u64) -> u64 {
    let mut seen = 0u64;
    for v in h.iter_recorded() {
        seen += v.count_since_last_iteration();
        if seen >= rank {
            return h.highest_equivalent(v.value_iterated_to());
        }
    }
    h.max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("bounds");
        for v in values {
            h.record(v).expect("in range");
        }
        h
    }

    #[test]
    fn rank_bounds_come_from_the_binomial() {
        // (n, q, l, u, lower is the minimum, upper is the maximum)
        let cases = [
            // The median of 100: ranks 40..61 (scipy: binom.ppf(0.025) = 40, ppf(0.975) + 1 = 61).
            (100, 0.5, 40, 61, false, false),
            // A p99 of 100 operations is the maximum, and says so.
            (100, 0.99, 97, 100, false, true),
            // A p50 of 3 values: nothing bounds it at 95%.
            (3, 0.5, 1, 3, true, true),
            (1_000, 0.99, 983, 997, false, false),
        ];
        for (n, q, l, u, lo_min, hi_max) in cases {
            assert_eq!(
                rank_bounds(n, q, 0.95),
                Some((l, u, lo_min, hi_max)),
                "n = {n}, q = {q}"
            );
        }
        assert_eq!(rank_bounds(0, 0.5, 0.95), None);
    }

    #[test]
    fn interval_values_are_read_at_their_ranks() {
        let h = histogram(1..=100);
        let p50 = interval(&h, 0.5, 0.95).expect("values");
        assert_eq!((p50.low, p50.high), (40, 61));
        let p99 = interval(&h, 0.99, 0.95).expect("values");
        assert_eq!((p99.low, p99.high, p99.upper_is_max), (97, 100, true));
        assert!(p99.low <= h.value_at_quantile(0.99) && h.value_at_quantile(0.99) <= p99.high);
        assert_eq!(interval_of_saved("", 0.5, 0.95), None);
    }
}
