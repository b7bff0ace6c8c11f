//! The few probability distributions the gate's statistics need: the binomial (for percentile
//! rank bounds and error counts), Student's t (for figures over rounds and runs) and the normal.
//!
//! Input: plain numbers. Output: probabilities and quantiles. No I/O, no randomness, no panics:
//! arguments out of range give the nearest meaningful answer (each function says which), and a
//! NaN argument gives NaN (a binomial quantile: `n`, its most conservative rank).
//!
//! The maths is the `statrs` crate's (regularised incomplete beta, its inverse, erfc): it is the
//! maintained, widely used statistics crate of the Rust ecosystem and is tested against published
//! reference values, so loadplan writes none of the special functions itself. This module is a thin
//! wrapper: statrs's constructors return `Result` and a few of its functions assert or unwrap on
//! arguments out of range, so every edge is settled here before statrs is called. Two gaps in
//! statrs are closed here too, measured against scipy: its t inverse is only a start, polished by
//! Newton steps on its own sf and pdf (alone it drifts beyond df = 10⁴, and statrs 0.19's never
//! returns at df = 2·10⁷), and beyond df = 10⁸ the t is the normal. Results agree with scipy to
//! 1e-9 relative up to df = 10⁴ (the gate's df count rounds), and to 1e-7 at any df.

use statrs::distribution::{Binomial, Continuous, ContinuousCDF, DiscreteCDF, Normal, StudentsT};
use statrs::function::{beta, gamma};

/// ln Γ(x) for x > 0; +∞ at the pole x = 0, NaN for x < 0 or NaN.
pub fn ln_gamma(x: f64) -> f64 {
    if x > 0.0 {
        gamma::ln_gamma(x)
    } else if x == 0.0 {
        f64::INFINITY
    } else {
        f64::NAN
    }
}

/// The regularised incomplete beta function I_x(a, b), for a, b > 0 (NaN otherwise); x below
/// 0 gives 0 and x above 1 gives 1.
pub fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if !(a > 0.0 && b > 0.0) || x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    beta::checked_beta_reg(a, b, x).map_or(f64::NAN, |v| v.clamp(0.0, 1.0))
}

/// Binomial(n, p) for 0 < p < 1, or the degenerate case that stands in for it (`p ≤ 0`: every
/// trial fails, `p ≥ 1`: every trial succeeds, NaN: no answer).
enum Bin {
    Proper(Binomial),
    AllFail,
    AllSucceed,
    Undefined,
}

fn binomial(n: u64, p: f64) -> Bin {
    if p.is_nan() {
        Bin::Undefined
    } else if p <= 0.0 {
        Bin::AllFail
    } else if p >= 1.0 {
        Bin::AllSucceed
    } else {
        Binomial::new(p, n).map_or(Bin::Undefined, Bin::Proper)
    }
}

/// P(X ≤ k) for X ~ Binomial(n, p). 1 when k ≥ n (n = 0 included); p ≤ 0 gives 1, p ≥ 1 gives 0
/// (for k < n); NaN p gives NaN.
pub fn binomial_cdf(k: u64, n: u64, p: f64) -> f64 {
    if k >= n {
        return 1.0;
    }
    match binomial(n, p) {
        Bin::Proper(d) => d.cdf(k),
        Bin::AllFail => 1.0,
        Bin::AllSucceed => 0.0,
        Bin::Undefined => f64::NAN,
    }
}

/// P(X ≥ k) for X ~ Binomial(n, p). 1 when k = 0, 0 when k > n; p ≤ 0 gives 0, p ≥ 1 gives 1
/// (for 1 ≤ k ≤ n); NaN p gives NaN. Computed as the survival function, not 1 − cdf, so a small
/// tail keeps its precision.
pub fn binomial_sf(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    match binomial(n, p) {
        // P(X ≥ k) = P(X > k − 1).
        Bin::Proper(d) => d.sf(k - 1),
        Bin::AllFail => 0.0,
        Bin::AllSucceed => 1.0,
        Bin::Undefined => f64::NAN,
    }
}

/// The smallest k with P(X ≤ k) ≥ `prob`, X ~ Binomial(n, p) (the binomial quantile). `prob ≤ 0`
/// gives 0; `prob > 1` or NaN (in `prob` or `p`) gives `n`.
///
/// The search over k is ours, over statrs's cdf: statrs's own discrete `inverse_cdf` panics on a
/// probability outside [0, 1] and unwraps a search that fails should the floating-point cdf ever
/// be non-monotone, which this module promises never to do.
pub fn binomial_quantile(prob: f64, n: u64, p: f64) -> u64 {
    let (mut lo, mut hi) = (0u64, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if binomial_cdf(mid, n, p) >= prob {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// The largest df at which statrs's t inverse is a good start (measured against scipy 1.17).
const T_INVERSE_MAX_DF: f64 = 1e4;

/// Beyond this df the t is taken as the normal: the two differ by less than (1 + t²)/(4·df)
/// relative (under 1e-7 for |t| < 6), while statrs's t sf loses accuracy beyond it (3e-3 at
/// df = 10¹², nonsense at 10³⁰⁰).
const NORMAL_BEYOND_DF: f64 = 1e8;

/// Student's t with `df` degrees of freedom (df > 0, possibly infinite: the normal), or None
/// when df ≤ 0 or NaN.
fn students_t(df: f64) -> Option<StudentsT> {
    StudentsT::new(0.0, 1.0, df).ok()
}

/// P(T > t) for T ~ Student's t with `df` degrees of freedom; the normal's for an infinite df.
/// df ≤ 0 gives the limit as df → 0⁺ (½ for a finite t: no information either way; 0 or 1 at
/// t = ±∞); NaN in t or df gives NaN.
pub fn t_sf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() {
        return f64::NAN;
    }
    if t == f64::INFINITY {
        return 0.0;
    }
    if t == f64::NEG_INFINITY {
        return 1.0;
    }
    if df > NORMAL_BEYOND_DF {
        return normal_sf(t);
    }
    match students_t(df) {
        Some(d) => d.sf(t),
        None => 0.5,
    }
}

/// The t with P(T > t) = `upper`. `upper ≤ 0` gives +∞, `upper ≥ 1` gives −∞; df ≤ 0 gives the
/// limit as df → 0⁺ (±∞ either side of ½, 0 at ½); NaN in upper or df gives NaN.
pub fn t_upper_quantile(upper: f64, df: f64) -> f64 {
    if upper.is_nan() || df.is_nan() {
        return f64::NAN;
    }
    if upper <= 0.0 {
        return f64::INFINITY;
    }
    if upper >= 1.0 {
        return f64::NEG_INFINITY;
    }
    // By symmetry t = −F⁻¹(upper): the lower tail's inverse keeps a small `upper` precise.
    let normal = -Normal::standard().inverse_cdf(upper);
    if df > NORMAL_BEYOND_DF {
        return normal;
    }
    match students_t(df) {
        Some(d) => {
            // statrs's t inverse is good to 1e-8 up to df = 10⁴ but not beyond (3e-4 off at
            // 10⁶, 7 % off at 10⁷, and 0.19's never returns at 2·10⁷), where the normal's point is
            // the closer start. Newton steps on statrs's t sf and pdf then polish either start.
            let mut t = if df <= T_INVERSE_MAX_DF {
                -d.inverse_cdf(upper)
            } else {
                normal
            };
            for _ in 0..10 {
                let step = (d.sf(t) - upper) / d.pdf(t);
                if !step.is_finite() {
                    break;
                }
                t += step;
                if step.abs() <= 1e-15 * t.abs() {
                    break;
                }
            }
            t
        }
        None if upper < 0.5 => f64::INFINITY,
        None if upper > 0.5 => f64::NEG_INFINITY,
        None => 0.0,
    }
}

/// P(Z > z) for a standard normal Z (0 at +∞, 1 at −∞, NaN for NaN).
pub fn normal_sf(z: f64) -> f64 {
    Normal::standard().sf(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    #[test]
    fn special_functions_match_published_values() {
        // (what, got, want, relative tolerance). Reference values from scipy 1.17 (stats.binom,
        // stats.t, stats.norm, special.betainc) and Python's math.lgamma, or exact fractions.
        let cases = [
            ("lnΓ(5)", ln_gamma(5.0), 24f64.ln(), 1e-12),
            (
                "lnΓ(0.5)",
                ln_gamma(0.5),
                std::f64::consts::PI.sqrt().ln(),
                1e-12,
            ),
            ("lnΓ(100.5)", ln_gamma(100.5), 361.435_540_467_777_6, 1e-12),
            ("I_0.5(2,3)", beta_inc(2.0, 3.0, 0.5), 0.6875, 1e-12),
            (
                "I_0.3(½,½)",
                beta_inc(0.5, 0.5, 0.3),
                0.369_010_119_565_545_4,
                1e-10,
            ),
            (
                "Bin(10,0.5) ≤ 3",
                binomial_cdf(3, 10, 0.5),
                176.0 / 1024.0,
                1e-10,
            ),
            (
                "Bin(100,0.99) ≤ 99",
                binomial_cdf(99, 100, 0.99),
                1.0 - 0.99f64.powi(100),
                1e-10,
            ),
            (
                "Bin(1000,0.5) ≤ 450",
                binomial_cdf(450, 1000, 0.5),
                8.652_680_424_881_513e-4,
                1e-8,
            ),
            (
                "Bin(20,0.3) ≥ 10",
                binomial_sf(10, 20, 0.3),
                0.047_961_897_331_343_42,
                1e-10,
            ),
            (
                "Bin(1000,0.01) ≥ 30",
                binomial_sf(30, 1000, 0.01),
                2.059_988_850_971_949e-7,
                1e-8,
            ),
            (
                "Bin(1e6,1e-6) ≥ 5",
                binomial_sf(5, 1_000_000, 1e-6),
                3.659_823_834_902_278e-3,
                1e-8,
            ),
            (
                "t(4) > 2.776",
                t_sf(2.776_445, 4.0),
                0.025_000_002_691_045_78,
                1e-9,
            ),
            ("t(1) > 1", t_sf(1.0, 1.0), 0.25, 1e-12),
            (
                "t(10) > -1.812",
                t_sf(-1.812_461, 10.0),
                0.949_999_989_981_125,
                1e-10,
            ),
            (
                "t(30) > 3",
                t_sf(3.0, 30.0),
                2.694_982_032_825_972_7e-3,
                1e-9,
            ),
            ("t(5) > 8", t_sf(8.0, 5.0), 2.464_533_302_862_221e-4, 1e-9),
            (
                "t(∞) > 1.96",
                t_sf(1.959_964, f64::INFINITY),
                0.024_999_999_096_442_4,
                1e-9,
            ),
            (
                "Z > 1.96",
                normal_sf(1.959_964),
                0.024_999_999_096_442_4,
                1e-9,
            ),
            ("Z > 0.5", normal_sf(0.5), 0.308_537_538_725_986_9, 1e-10),
            // statrs's erfc is good to about 1e-10 relative here, far finer than the gate needs.
            ("Z > -1", normal_sf(-1.0), 0.841_344_746_068_542_9, 1e-10),
            ("Z > 6", normal_sf(6.0), 9.865_876_450_376_946e-10, 1e-9),
            (
                "t⁻¹(8) 0.01",
                t_upper_quantile(0.01, 8.0),
                2.896_459_447_709_622_4,
                1e-9,
            ),
            (
                "t⁻¹(2) 0.025",
                t_upper_quantile(0.025, 2.0),
                4.302_652_729_749_464,
                1e-9,
            ),
            (
                "t⁻¹(1000) 0.05",
                t_upper_quantile(0.05, 1000.0),
                1.646_378_817_285_464_8,
                1e-8,
            ),
            (
                "t⁻¹(5) 0.9",
                t_upper_quantile(0.9, 5.0),
                -1.475_884_048_824_481_5,
                1e-9,
            ),
            (
                "t⁻¹(3) 1e-6",
                t_upper_quantile(1e-6, 3.0),
                103.299_467_780_419_35,
                1e-8,
            ),
            (
                "t⁻¹(0.5) 0.025",
                t_upper_quantile(0.025, 0.5),
                164.557_673_480_488_46,
                1e-8,
            ),
            (
                "z⁻¹ 0.025",
                t_upper_quantile(0.025, f64::INFINITY),
                1.959_963_984_540_054_5,
                1e-9,
            ),
            (
                "z⁻¹ 0.05",
                t_upper_quantile(0.05, f64::INFINITY),
                1.644_853_626_951_472_9,
                1e-9,
            ),
        ];
        for (what, got, want, tol) in cases {
            assert!(close(got, want, tol), "{what}: {got}, want {want}");
        }
    }

    #[test]
    fn binomial_quantiles_are_the_smallest_rank_reaching_the_probability() {
        // (prob, n, p, quantile); the non-trivial ones are scipy's binom.ppf.
        let cases = [
            (0.025, 100, 0.5, 40),
            (0.975, 100, 0.5, 60),
            (0.975, 100, 0.99, 100),
            (0.025, 1000, 0.99, 983),
            (0.975, 1000, 0.99, 996),
            (0.025, 10_000, 0.999, 9983),
            (0.975, 20, 0.5, 14),
            (0.4, 1, 0.5, 0),
            (0.6, 1, 0.5, 1),
            (0.0, 10, 0.5, 0),
        ];
        for (prob, n, p, want) in cases {
            assert_eq!(binomial_quantile(prob, n, p), want, "{prob} {n} {p}");
        }
    }

    #[test]
    fn out_of_range_arguments_give_edges_not_panics() {
        let nan = f64::NAN;
        // (what, got, want); NaN wants NaN.
        let cases = [
            ("cdf k = n", binomial_cdf(5, 5, 0.3), 1.0),
            ("cdf n = 0", binomial_cdf(0, 0, 0.3), 1.0),
            ("cdf p < 0", binomial_cdf(2, 5, -0.1), 1.0),
            ("cdf p = 0", binomial_cdf(2, 5, 0.0), 1.0),
            ("cdf p = 1", binomial_cdf(2, 5, 1.0), 0.0),
            ("cdf p > 1", binomial_cdf(2, 5, 1.5), 0.0),
            ("cdf p NaN", binomial_cdf(2, 5, nan), nan),
            ("sf k = 0", binomial_sf(0, 5, 0.3), 1.0),
            ("sf k = 0, n = 0", binomial_sf(0, 0, 0.3), 1.0),
            ("sf k > n", binomial_sf(6, 5, 0.3), 0.0),
            ("sf p < 0", binomial_sf(2, 5, -0.1), 0.0),
            ("sf p > 1", binomial_sf(2, 5, 1.5), 1.0),
            ("sf p NaN", binomial_sf(2, 5, nan), nan),
            ("t_sf +∞", t_sf(f64::INFINITY, 3.0), 0.0),
            ("t_sf −∞", t_sf(f64::NEG_INFINITY, 3.0), 1.0),
            ("t_sf 0", t_sf(0.0, 3.0), 0.5),
            ("t_sf df = 0", t_sf(2.0, 0.0), 0.5),
            ("t_sf df < 0", t_sf(-2.0, -1.0), 0.5),
            ("t_sf df = −∞", t_sf(2.0, f64::NEG_INFINITY), 0.5),
            ("t_sf df NaN", t_sf(2.0, nan), nan),
            ("t_sf t NaN", t_sf(nan, 3.0), nan),
            ("t⁻¹ 0", t_upper_quantile(0.0, 3.0), f64::INFINITY),
            ("t⁻¹ < 0", t_upper_quantile(-0.5, 3.0), f64::INFINITY),
            ("t⁻¹ 1", t_upper_quantile(1.0, 3.0), f64::NEG_INFINITY),
            (
                "t⁻¹ > 1",
                t_upper_quantile(2.0, f64::INFINITY),
                f64::NEG_INFINITY,
            ),
            ("t⁻¹ ½", t_upper_quantile(0.5, 3.0), 0.0),
            ("t⁻¹ df = 0", t_upper_quantile(0.025, 0.0), f64::INFINITY),
            (
                "t⁻¹ df < 0",
                t_upper_quantile(0.975, -3.0),
                f64::NEG_INFINITY,
            ),
            ("t⁻¹ df < 0, ½", t_upper_quantile(0.5, -3.0), 0.0),
            ("t⁻¹ NaN", t_upper_quantile(nan, 3.0), nan),
            ("t⁻¹ df NaN", t_upper_quantile(0.025, nan), nan),
            ("Z +∞", normal_sf(f64::INFINITY), 0.0),
            ("Z −∞", normal_sf(f64::NEG_INFINITY), 1.0),
            ("Z NaN", normal_sf(nan), nan),
            ("I a ≤ 0", beta_inc(-1.0, 1.0, 0.5), nan),
            ("I b = 0", beta_inc(1.0, 0.0, 0.5), nan),
            ("I x NaN", beta_inc(1.0, 1.0, nan), nan),
            ("I x < 0", beta_inc(2.0, 3.0, -0.5), 0.0),
            ("I x > 1", beta_inc(2.0, 3.0, 1.5), 1.0),
            ("lnΓ(0)", ln_gamma(0.0), f64::INFINITY),
            ("lnΓ(−1.5)", ln_gamma(-1.5), nan),
            ("lnΓ(NaN)", ln_gamma(nan), nan),
        ];
        for (what, got, want) in cases {
            let same = if want.is_nan() {
                got.is_nan()
            } else {
                got == want
            };
            assert!(same, "{what}: {got}, want {want}");
        }
        // (prob, n, p, quantile)
        let quantiles = [
            (-1.0, 10, 0.5, 0),
            (2.0, 10, 0.5, 10),
            (nan, 10, 0.5, 10),
            (0.5, 10, nan, 10),
            (0.5, 0, 0.5, 0),
            (0.5, 10, 0.0, 0),
            (0.5, 10, 1.0, 10),
            (0.5, 10, -3.0, 0),
        ];
        for (prob, n, p, want) in quantiles {
            assert_eq!(binomial_quantile(prob, n, p), want, "{prob} {n} {p}");
        }
    }
}
