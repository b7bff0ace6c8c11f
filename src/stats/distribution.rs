//! The few probability distributions the gate's statistics need, computed in closed form: the
//! binomial (for percentile rank bounds and error counts), Student's t (for figures over rounds
//! and runs) and the normal.
//!
//! Input: plain numbers. Output: probabilities and quantiles. No I/O, no randomness, no panics:
//! arguments out of range give the nearest meaningful answer (a probability of 0 or 1).
//! Everything rests on the regularised incomplete beta function, evaluated by its continued
//! fraction (Lentz), which is accurate to about 1e-12 over the range used here.

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms: relative error below 1e-13).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularised incomplete beta function I_x(a, b), for a, b > 0.
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
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use symmetry beyond.
    if x < (a + 1.0) / (a + b + 2.0) {
        (front * beta_fraction(a, b, x) / a).clamp(0.0, 1.0)
    } else {
        (1.0 - front * beta_fraction(b, a, 1.0 - x) / b).clamp(0.0, 1.0)
    }
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// P(X ≤ k) for X ~ Binomial(n, p).
pub fn binomial_cdf(k: u64, n: u64, p: f64) -> f64 {
    if k >= n {
        return 1.0;
    }
    if p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return 0.0;
    }
    // P(X ≤ k) = I_{1−p}(n − k, k + 1).
    beta_inc((n - k) as f64, k as f64 + 1.0, 1.0 - p)
}

/// P(X ≥ k) for X ~ Binomial(n, p).
pub fn binomial_sf(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    1.0 - binomial_cdf(k - 1, n, p)
}

/// The smallest k with P(X ≤ k) ≥ `prob`, X ~ Binomial(n, p) (the binomial quantile).
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

/// P(T > t) for T ~ Student's t with `df` degrees of freedom (df > 0); the normal's for an
/// infinite df.
pub fn t_sf(t: f64, df: f64) -> f64 {
    if t.is_nan() {
        return f64::NAN;
    }
    if !df.is_finite() {
        return normal_sf(t);
    }
    let tail = 0.5 * beta_inc(df / 2.0, 0.5, df / (df + t * t));
    if t >= 0.0 { tail } else { 1.0 - tail }
}

/// The t with P(T > t) = `upper` (0 < upper < 1), by bisection.
pub fn t_upper_quantile(upper: f64, df: f64) -> f64 {
    if upper <= 0.0 {
        return f64::INFINITY;
    }
    if upper >= 1.0 {
        return f64::NEG_INFINITY;
    }
    let (mut lo, mut hi) = (-1e6, 1e6);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_sf(mid, df) > upper {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// P(Z > z) for a standard normal Z.
pub fn normal_sf(z: f64) -> f64 {
    // The normal is the t with infinite df; through the same beta function for one code path:
    // P(Z > z) = ½ erfc(z/√2) = ½ Q(½, z²/2) for z ≥ 0, with the regularised upper gamma Q.
    let q = 0.5 * upper_gamma_half(z * z / 2.0);
    if z >= 0.0 { q } else { 1.0 - q }
}

/// Q(½, x), the regularised upper incomplete gamma function at a = ½ (= erfc(√x)).
fn upper_gamma_half(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let a = 0.5;
    let ln_front = -x + a * x.ln() - ln_gamma(a);
    if x < a + 1.0 {
        // The series for P(a, x).
        let (mut sum, mut term, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..500 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - sum * ln_front.exp()).clamp(0.0, 1.0)
    } else {
        // The continued fraction for Q(a, x) (modified Lentz).
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..500 {
            let an = -f64::from(i) * (f64::from(i) - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-15 {
                break;
            }
        }
        (ln_front.exp() * h).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    #[test]
    fn special_functions_match_published_values() {
        // (what, got, want, relative tolerance)
        let cases = [
            ("lnΓ(5)", ln_gamma(5.0), 24f64.ln(), 1e-12),
            (
                "lnΓ(0.5)",
                ln_gamma(0.5),
                std::f64::consts::PI.sqrt().ln(),
                1e-12,
            ),
            ("I_0.5(2,3)", beta_inc(2.0, 3.0, 0.5), 0.6875, 1e-12),
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
                "Bin(20,0.3) ≥ 10",
                binomial_sf(10, 20, 0.3),
                0.047_961_897_7,
                1e-8,
            ),
            ("t(4) > 2.776", t_sf(2.776_445, 4.0), 0.025, 1e-5),
            ("t(1) > 1", t_sf(1.0, 1.0), 0.25, 1e-10),
            ("t(10) > -1.812", t_sf(-1.812_461, 10.0), 0.95, 1e-5),
            ("Z > 1.96", normal_sf(1.959_964), 0.025, 1e-6),
            ("Z > 0.5", normal_sf(0.5), 0.308_537_538_7, 1e-8),
            (
                "t quantile df 8, 0.01",
                t_upper_quantile(0.01, 8.0),
                2.896_459,
                1e-5,
            ),
        ];
        for (what, got, want, tol) in cases {
            assert!(close(got, want, tol), "{what}: {got}, want {want}");
        }
    }

    #[test]
    fn binomial_quantiles_are_the_smallest_rank_reaching_the_probability() {
        // (prob, n, p, quantile)
        let cases = [
            (0.025, 100, 0.5, 40),
            (0.975, 100, 0.5, 60),
            (0.975, 100, 0.99, 100),
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
        assert_eq!(binomial_cdf(5, 5, 0.3), 1.0);
        assert_eq!(binomial_sf(0, 5, 0.3), 1.0);
        assert_eq!(t_upper_quantile(0.0, 3.0), f64::INFINITY);
        assert!(beta_inc(-1.0, 1.0, 0.5).is_nan());
        assert_eq!(t_sf(f64::INFINITY, 3.0), 0.0);
    }
}
