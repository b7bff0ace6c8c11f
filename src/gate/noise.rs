//! Is a change beyond the tolerance *and* beyond the noise? The tests behind every baseline check,
//! and the one error budget a cell's checks share.
//!
//! Input: a figure's values on both sides (one per round of each baseline run, one per round of
//! this run), the sampling uncertainty of a percentile read from its histogram, or error counts;
//! the tolerance. Output: one-sided p-values for "worse by more than the tolerance" and "better
//! by more than the tolerance", an interval for the change, the smallest change the data could
//! have detected, and whether the change is shown to lie within the tolerance. No I/O, no
//! randomness: a summary re-rendered from saved results reaches the same verdict.
//!
//! Timings compare on a log scale (a ratio is what a tolerance means, and timings are skewed):
//! the difference of the two sides' mean logarithms, against the noise measured as the pooled
//! spread of all values (Student's t, m + n − 2 degrees of freedom). A percentile's own sampling
//! uncertainty (its binomial rank interval) is a floor under that noise, and the only noise known
//! when each side has one value. Error rates compare as counts: given the errors of both sides
//! together, how many fell to this run is binomial (an exact conditional test, no normal
//! approximation at small counts). A cell's checks are one family: Holm's step-down rule keeps
//! the chance of any false *regressed* in a cell at or below [`ALPHA`].

use crate::stats::distribution::{binomial_cdf, binomial_sf, t_sf, t_upper_quantile};

/// The family-wise false-alarm rate of one cell's checks (Holm).
pub const ALPHA: f64 = 0.05;
/// Confidence of the intervals reported (a percentile's, a change's).
pub const CONFIDENCE: f64 = 0.95;
/// Each side of the equivalence test (two one-sided tests): a change is *unchanged* when its
/// 90 % interval lies within ± the tolerance.
const EQUIVALENCE_ALPHA: f64 = 0.05;
/// The standard normal's 97.5 % point: a 95 % interval is ± this many standard errors.
const Z_95: f64 = 1.959_964;

/// A figure compared on a log scale. `d` is oriented so that positive is worse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogTest {
    /// Worse-oriented difference of mean logarithms (0.1 ≈ 10.5 % worse).
    pub d: f64,
    /// Standard error of `d`; None when nothing measured the noise (one value a side, no
    /// histogram).
    pub se: Option<f64>,
    /// Degrees of freedom of the t distribution (infinite: only a histogram's uncertainty).
    pub df: f64,
    /// ln(1 + tolerance), or −ln(1 − tolerance) when lower is worse.
    pub margin: f64,
    /// P(at least this far beyond the tolerance | the change is exactly the tolerance).
    pub p_worse: f64,
    pub p_better: f64,
    /// The 90 % interval of `d` lies within ± margin.
    pub equivalent: bool,
}

/// The spread of `values`' logarithms as a standard error, from a 95 % interval [low, high].
pub fn se_of_interval(low: f64, high: f64) -> Option<f64> {
    (low > 0.0 && high >= low).then(|| (high / low).ln() / (2.0 * Z_95))
}

fn ln_values(v: &[f64]) -> Vec<f64> {
    // A zero (no success at all) is a very bad figure, not a missing one.
    v.iter().map(|x| x.max(1e-9).ln()).collect()
}

fn mean_and_ss(v: &[f64]) -> (f64, f64) {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    (mean, v.iter().map(|x| (x - mean).powi(2)).sum())
}

/// Compares `current` with `baseline` on a log scale. `sampling_var` is the variance (log
/// scale) a percentile's histograms alone put on the difference (0 for other figures).
/// `lower_is_worse` for throughput. None when either side has no value.
pub fn log_test(
    baseline: &[f64],
    current: &[f64],
    sampling_var: f64,
    tolerance: f64,
    lower_is_worse: bool,
) -> Option<LogTest> {
    let (m, n) = (baseline.len(), current.len());
    if m == 0 || n == 0 {
        return None;
    }
    let (mb, ssb) = mean_and_ss(&ln_values(baseline));
    let (mc, ssc) = mean_and_ss(&ln_values(current));
    let raw = mc - mb;
    let d = if lower_is_worse { -raw } else { raw };
    let margin = if lower_is_worse {
        -(1.0 - tolerance.min(0.999_999)).ln()
    } else {
        (1.0 + tolerance).ln()
    };
    let dof = (m + n).saturating_sub(2);
    let measured = (dof >= 1).then(|| (ssb + ssc) / dof as f64 * (1.0 / m as f64 + 1.0 / n as f64));
    let (var, df) = match measured {
        Some(v) => (v.max(sampling_var), dof as f64),
        None if sampling_var > 0.0 => (sampling_var, f64::INFINITY),
        None => {
            return Some(LogTest {
                d,
                se: None,
                df: 0.0,
                margin,
                p_worse: 1.0,
                p_better: 1.0,
                equivalent: false,
            });
        }
    };
    // Identical values on both sides: no noise, and any difference is certain.
    let se = var.sqrt().max(1e-12);
    let t90 = t_upper_quantile(EQUIVALENCE_ALPHA, df);
    Some(LogTest {
        d,
        se: Some(se),
        df,
        margin,
        p_worse: t_sf((d - margin) / se, df),
        p_better: t_sf((-d - margin) / se, df),
        equivalent: d - t90 * se > -margin && d + t90 * se < margin,
    })
}

impl LogTest {
    /// The 95 % interval of the worse-oriented log change.
    pub fn interval(&self) -> Option<(f64, f64)> {
        let se = self.se?;
        let t = t_upper_quantile((1.0 - CONFIDENCE) / 2.0, self.df);
        Some((self.d - t * se, self.d + t * se))
    }

    /// The smallest worse-oriented log change this test calls a regression at `level`.
    pub fn detectable(&self, level: f64) -> Option<f64> {
        Some(self.margin + t_upper_quantile(level, self.df) * self.se?)
    }
}

/// Error counts compared: `(errors, operations)` on each side (a history's runs pooled).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountTest {
    pub p_worse: f64,
    pub p_better: f64,
    /// No error on either side, or the rate shown to lie within ± the tolerance.
    pub equivalent: bool,
}

/// The exact conditional test: of all errors, the share that fell to this run is binomial with
/// p = n_c·r / (n_c·r + n_b) when this run's rate is r times the baseline's.
pub fn count_test(baseline: (u64, u64), current: (u64, u64), tolerance: f64) -> CountTest {
    let ((kb, nb), (kc, nc)) = (baseline, current);
    let total = kb + kc;
    if total == 0 || nb == 0 || nc == 0 {
        return CountTest {
            p_worse: 1.0,
            p_better: 1.0,
            equivalent: total == 0 && nb > 0 && nc > 0,
        };
    }
    let share = |ratio: f64| nc as f64 * ratio / (nc as f64 * ratio + nb as f64);
    let (up, down) = (share(1.0 + tolerance), share(1.0 / (1.0 + tolerance)));
    CountTest {
        p_worse: binomial_sf(kc, total, up),
        p_better: binomial_cdf(kc, total, down),
        equivalent: binomial_cdf(kc, total, up) <= EQUIVALENCE_ALPHA
            && binomial_sf(kc, total, down) <= EQUIVALENCE_ALPHA,
    }
}

/// The fewest errors out of `nc` operations this test calls a regression at `level`, against
/// `baseline`; None when even all of them would not be.
pub fn detectable_errors(baseline: (u64, u64), nc: u64, tolerance: f64, level: f64) -> Option<u64> {
    let worse = |k: u64| count_test(baseline, (k, nc), tolerance).p_worse <= level;
    if nc == 0 || !worse(nc) {
        return None;
    }
    let (mut lo, mut hi) = (0, nc);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if worse(mid) { hi = mid } else { lo = mid + 1 }
    }
    Some(lo)
}

/// Holm's step-down rule over one family's p-values: for each, the level it was held to and
/// whether it was rejected. The smallest p-value is held to α/k, the next to α/(k−1), …; the
/// first one that fails stops the rejections. Keeps the family-wise error rate at α.
pub fn holm(p_values: &[f64], alpha: f64) -> Vec<(f64, bool)> {
    let k = p_values.len();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|a, b| p_values[*a].total_cmp(&p_values[*b]));
    let mut out = vec![(alpha, false); k];
    let mut rejecting = true;
    for (step, &i) in order.iter().enumerate() {
        let level = alpha / (k - step) as f64;
        rejecting &= p_values[i] <= level;
        out[i] = (level, rejecting);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_95_percent_point_is_the_normals() {
        // Z_95 is a literal (a const cannot call statrs); it must stay the normal's 97.5 % point.
        let z = t_upper_quantile(0.025, f64::INFINITY);
        assert!((Z_95 - z).abs() < 1e-6, "Z_95 {Z_95}, normal {z}");
    }

    #[test]
    fn holm_steps_down_and_stops_at_the_first_failure() {
        // (p-values, rejected)
        let cases: &[(&[f64], &[bool])] = &[
            (&[0.01, 0.04, 0.03, 0.005], &[true, false, false, true]),
            (&[0.001, 0.002, 0.003], &[true, true, true]),
            (&[0.5], &[false]),
            (&[0.05], &[true]),
            (&[0.02, 0.02], &[true, true]),
            (&[], &[]),
        ];
        for (p, want) in cases {
            let got: Vec<bool> = holm(p, 0.05).iter().map(|x| x.1).collect();
            assert_eq!(&got, want, "{p:?}");
        }
        assert_eq!(holm(&[0.3, 0.001], 0.05)[1].0, 0.025);
    }

    /// (baseline, current, tolerance, lower is worse, p_worse ≤ 0.003, p_better ≤ 0.003, equivalent)
    type Case<'a> = (&'a [f64], &'a [f64], f64, bool, bool, bool, bool);

    #[test]
    fn log_tests_weigh_the_change_against_the_measured_noise() {
        let quiet = [100.0, 101.0, 99.0, 100.5, 99.5];
        let cases: &[Case] = &[
            // Five quiet runs; today 50 % slower: beyond tolerance and noise.
            (&quiet, &[150.0], 0.1, false, true, false, false),
            // Today the same: unchanged (the interval sits inside ±10 %).
            (&quiet, &[100.2], 0.1, false, false, false, true),
            // Today 15 % slower, noisy history: beyond the tolerance, not beyond the noise.
            (
                &[80.0, 120.0, 95.0, 130.0, 90.0],
                &[115.0],
                0.1,
                false,
                false,
                false,
                false,
            ),
            // Throughput: lower is worse.
            (
                &[100.0, 101.0, 99.0],
                &[60.0, 61.0, 59.0],
                0.1,
                true,
                true,
                false,
                false,
            ),
            (
                &[100.0, 101.0, 99.0],
                &[160.0, 161.0, 159.0],
                0.1,
                true,
                false,
                true,
                false,
            ),
        ];
        for (b, c, tol, lower, worse, better, same) in cases {
            let t = log_test(b, c, 0.0, *tol, *lower).expect("values");
            assert_eq!(t.p_worse <= 0.003, *worse, "{b:?} → {c:?}: {t:?}");
            assert_eq!(t.p_better <= 0.003, *better, "{b:?} → {c:?}: {t:?}");
            assert_eq!(t.equivalent, *same, "{b:?} → {c:?}: {t:?}");
        }
    }

    #[test]
    fn one_value_a_side_has_only_the_histograms_noise() {
        let none = log_test(&[100.0], &[200.0], 0.0, 0.1, false).expect("values");
        assert_eq!((none.se, none.p_worse), (None, 1.0));
        // A histogram that pins each p50 to ±2 %: a doubling is certain.
        let se = se_of_interval(98.0, 102.0).expect("interval");
        let pinned = log_test(&[100.0], &[200.0], 2.0 * se * se, 0.1, false).expect("values");
        assert!(
            pinned.p_worse < 1e-6 && pinned.df.is_infinite(),
            "{pinned:?}"
        );
        // A p99 only bounded by the maximum (100 → 400): a 20 % rise is not evidence.
        let se = se_of_interval(100.0, 400.0).expect("interval");
        let loose = log_test(&[100.0], &[120.0], 2.0 * se * se, 0.1, false).expect("values");
        assert!(loose.p_worse > 0.3, "{loose:?}");
        assert!(log_test(&[], &[1.0], 0.0, 0.1, false).is_none());
    }

    #[test]
    fn the_detectable_change_is_where_the_test_would_have_fired() {
        let t = log_test(
            &[100.0, 101.0, 99.0, 100.5, 99.5],
            &[100.0],
            0.0,
            0.1,
            false,
        )
        .expect("values");
        let at = t.detectable(0.01).expect("noise measured");
        let shifted = log_test(
            &[100.0, 101.0, 99.0, 100.5, 99.5],
            &[100.0 * (at + t.d + 1e-6).exp()],
            0.0,
            0.1,
            false,
        )
        .expect("values");
        assert!(shifted.p_worse <= 0.01 + 1e-9, "{at}: {shifted:?}");
        let (lo, hi) = t.interval().expect("interval");
        assert!(lo < t.d && t.d < hi);
    }

    #[test]
    fn error_counts_compare_exactly() {
        // (baseline (errors, ops), current (errors, ops), worse at 0.05, better at 0.05, equivalent)
        let cases = [
            ((0, 1_000), (0, 200), false, false, true),
            // One error where there were none: not evidence of a regression.
            ((0, 1_000), (1, 200), false, false, false),
            ((0, 1_000), (30, 200), true, false, false),
            ((50, 1_000), (0, 1_000), false, true, false),
            ((500, 10_000), (100, 2_000), false, false, false),
        ];
        for (b, c, worse, better, same) in cases {
            let t = count_test(b, c, 0.1);
            assert_eq!(t.p_worse <= 0.05, worse, "{b:?} → {c:?}: {t:?}");
            assert_eq!(t.p_better <= 0.05, better, "{b:?} → {c:?}: {t:?}");
            assert_eq!(t.equivalent, same, "{b:?} → {c:?}: {t:?}");
        }
        let k = detectable_errors((0, 1_000), 200, 0.1, 0.05).expect("detectable");
        assert!(count_test((0, 1_000), (k, 200), 0.1).p_worse <= 0.05);
        assert!(count_test((0, 1_000), (k - 1, 200), 0.1).p_worse > 0.05);
    }
}
