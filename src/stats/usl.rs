//! The Universal Scalability Law, fitted: X(N) = λN / (1 + σ(N−1) + κN(N−1)).
//!
//! Input: (concurrency, throughput) pairs of one scenario × model sweep. Output: λ (the
//! throughput of one user), σ (contention: the share of the work that serialises), κ
//! (coherency: the cost of keeping N users consistent, which makes throughput fall past a
//! peak), the peak N* = √((1−σ)/κ) and its throughput, and R²; and, model-free, the knee
//! (the lowest concurrency within 10% of the best throughput). No I/O.
//!
//! The fit is non-linear least squares with σ, κ ∈ [0, 1]. For given σ and κ the best λ is
//! closed-form (X is linear in λ: λ = Σ X·g / Σ g², g(N) = N / (1 + σ(N−1) + κN(N−1))), so
//! only two parameters are searched: a log-spaced grid over both (zero included) finds the
//! basin, and a compass search that halves its step refines it. With two bounded parameters and
//! a cheap objective this cannot diverge or leave the bounds (a Gauss–Newton step can, and needs
//! projecting), and its answer is checked against curves of known parameters below.

/// Sweeps with fewer concurrency levels than this are not fitted.
pub const MIN_LEVELS: usize = 4;
/// Below this R² the fit is called poor.
pub const GOOD_R2: f64 = 0.9;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UslFit {
    /// Throughput of one user, operations per second.
    pub lambda: f64,
    /// Contention, 0 to 1.
    pub sigma: f64,
    /// Coherency, 0 to 1.
    pub kappa: f64,
    /// Coefficient of determination of the fitted curve against the measured throughput.
    pub r2: f64,
}

impl UslFit {
    /// The predicted throughput at concurrency `n`.
    pub fn throughput(&self, n: f64) -> f64 {
        self.lambda * g(n, self.sigma, self.kappa)
    }

    /// The concurrency of peak throughput, √((1−σ)/κ); `None` when κ = 0 (throughput rises
    /// towards λ/σ and never falls) and 0 when σ = 1 (no speedup at all).
    pub fn peak(&self) -> Option<f64> {
        if self.kappa <= 0.0 {
            return None;
        }
        Some(((1.0 - self.sigma).max(0.0) / self.kappa).sqrt())
    }

    /// The throughput at the peak, or the ceiling λ/σ with no peak (infinite when σ = 0 too).
    pub fn peak_throughput(&self) -> f64 {
        match self.peak() {
            Some(n) if n >= 1.0 => self.throughput(n),
            Some(_) => self.throughput(1.0),
            None if self.sigma > 0.0 => self.lambda / self.sigma,
            None => f64::INFINITY,
        }
    }
}

/// The knee, model-free: the lowest concurrency whose throughput reaches [`KNEE_SHARE`] of the
/// highest measured; `None` without points. Where the law cannot bend sharply (work bound by
/// cores: doubling up to the cores, flat after), this is where the sweep bent.
pub fn knee(points: &[(f64, f64)]) -> Option<f64> {
    let top = points.iter().map(|p| p.1).fold(f64::NAN, f64::max);
    if !top.is_finite() {
        return None;
    }
    points
        .iter()
        .filter(|p| p.1 >= KNEE_SHARE * top)
        .map(|p| p.0)
        .min_by(f64::total_cmp)
}

/// The share of the highest throughput that marks the knee.
pub const KNEE_SHARE: f64 = 0.9;

fn g(n: f64, sigma: f64, kappa: f64) -> f64 {
    n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))
}

/// The best λ for σ, κ and its sum of squared residuals.
fn lambda_and_ssr(points: &[(f64, f64)], sigma: f64, kappa: f64) -> (f64, f64) {
    let (mut xg, mut gg) = (0.0, 0.0);
    for &(n, x) in points {
        let gn = g(n, sigma, kappa);
        xg += x * gn;
        gg += gn * gn;
    }
    let lambda = if gg > 0.0 { xg / gg } else { 0.0 };
    let ssr = points
        .iter()
        .map(|&(n, x)| {
            let r = x - lambda * g(n, sigma, kappa);
            r * r
        })
        .sum();
    (lambda, ssr)
}

/// Fits the law to `points` (concurrency, throughput); `None` with fewer than [`MIN_LEVELS`]
/// distinct concurrency levels, a level below 1, or a figure that is not finite.
pub fn fit(points: &[(f64, f64)]) -> Option<UslFit> {
    if points
        .iter()
        .any(|&(n, x)| !(n.is_finite() && x.is_finite() && n >= 1.0 && x >= 0.0))
    {
        return None;
    }
    let mut levels: Vec<f64> = points.iter().map(|p| p.0).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    if levels.len() < MIN_LEVELS {
        return None;
    }
    // The grid: 0 and 48 log-spaced values per parameter.
    let axis = |lo: f64| {
        let mut v = vec![0.0];
        let steps = 48;
        for i in 0..=steps {
            v.push(lo * (1.0 / lo).powf(i as f64 / steps as f64));
        }
        v
    };
    let (sigmas, kappas) = (axis(1e-4), axis(1e-6));
    let mut best = (0.0, 0.0, f64::INFINITY);
    for &s in &sigmas {
        for &k in &kappas {
            let (_, ssr) = lambda_and_ssr(points, s, k);
            if ssr < best.2 {
                best = (s, k, ssr);
            }
        }
    }
    // Compass search, in absolute steps, kept in [0, 1].
    let (mut s, mut k, mut ssr) = best;
    let (mut ds, mut dk) = ((s * 0.5).max(1e-4), (k * 0.5).max(1e-6));
    for _ in 0..400 {
        let mut moved = false;
        for (ts, tk) in [(s + ds, k), (s - ds, k), (s, k + dk), (s, k - dk)] {
            let (ts, tk) = (ts.clamp(0.0, 1.0), tk.clamp(0.0, 1.0));
            let (_, t) = lambda_and_ssr(points, ts, tk);
            if t < ssr {
                (s, k, ssr) = (ts, tk, t);
                moved = true;
            }
        }
        if !moved {
            ds *= 0.5;
            dk *= 0.5;
            if ds < 1e-9 && dk < 1e-12 {
                break;
            }
        }
    }
    let (lambda, ssr) = lambda_and_ssr(points, s, k);
    let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
    let sst: f64 = points.iter().map(|p| (p.1 - mean).powi(2)).sum();
    // A flat series (no variance) is fitted exactly or not at all.
    let r2 = if sst > 0.0 {
        1.0 - ssr / sst
    } else if ssr <= 1e-12 * mean.abs().max(1.0) {
        1.0
    } else {
        0.0
    };
    Some(UslFit {
        lambda,
        sigma: s,
        kappa: k,
        r2,
    })
}

/// A sweep that doubles to two cores, then goes flat: a knee the law cannot bend to (a poor fit),
/// for this file's tests and those of the words about a fit.
#[cfg(test)]
pub const HARD_KNEE: [(f64, f64); 6] = [
    (1.0, 30.0),
    (2.0, 58.0),
    (4.0, 57.0),
    (8.0, 55.0),
    (16.0, 53.0),
    (32.0, 50.0),
];

#[cfg(test)]
mod tests {
    use super::*;

    const SWEEP: [f64; 6] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0];

    fn curve(lambda: f64, sigma: f64, kappa: f64) -> Vec<(f64, f64)> {
        SWEEP
            .iter()
            .map(|&n| (n, lambda * g(n, sigma, kappa)))
            .collect()
    }

    #[test]
    fn recovers_known_parameters() {
        let table = [
            (100.0, 0.0, 0.0),
            (100.0, 0.05, 0.0),
            (100.0, 0.1, 0.01),
            (50.0, 0.02, 0.001),
            (20.0, 1.0, 0.0),
        ];
        for (lambda, sigma, kappa) in table {
            let f = fit(&curve(lambda, sigma, kappa)).expect("fits");
            assert!((f.lambda - lambda).abs() < 1e-3 * lambda, "{f:?}");
            assert!((f.sigma - sigma).abs() < 1e-3, "{f:?} σ {sigma}");
            assert!((f.kappa - kappa).abs() < 1e-4, "{f:?} κ {kappa}");
            assert!(f.r2 > 0.9999, "{f:?}");
        }
    }

    #[test]
    fn the_peak_follows_sigma_and_kappa() {
        let f = UslFit {
            lambda: 100.0,
            sigma: 0.1,
            kappa: 0.01,
            r2: 1.0,
        };
        let peak = f.peak().expect("κ > 0");
        assert!((peak - (0.9f64 / 0.01).sqrt()).abs() < 1e-9);
        // No coherency cost: no peak, a ceiling at λ/σ.
        let f = UslFit { kappa: 0.0, ..f };
        assert_eq!(f.peak(), None);
        assert!((f.peak_throughput() - 1000.0).abs() < 1e-9);
    }

    #[test]
    fn a_sweep_that_bends_at_two_peaks_near_two() {
        // Coherency that bends the curve at two users (N* = √(0.98 / 0.2) ≈ 2.2), with noise.
        let noise = [1.02, 0.97, 1.03, 0.98, 1.01, 0.99];
        let points: Vec<(f64, f64)> = curve(30.0, 0.02, 0.2)
            .into_iter()
            .zip(noise)
            .map(|((n, x), e)| (n, x * e))
            .collect();
        let f = fit(&points).expect("fits");
        let peak = f.peak().expect("a peak");
        assert!((1.0..=3.0).contains(&peak), "{f:?} N* {peak}");
        assert!(f.r2 >= GOOD_R2, "{f:?}");
    }

    #[test]
    fn a_hard_knee_is_a_poor_fit() {
        // The law has no sharp knee, and says so with R².
        let points = HARD_KNEE;
        let f = fit(&points).expect("fits");
        assert!(f.r2 < GOOD_R2, "{f:?}");
        assert_eq!(knee(&points), Some(2.0));
    }

    #[test]
    fn one_event_loop_has_no_speedup() {
        let points: Vec<(f64, f64)> = SWEEP.iter().map(|&n| (n, 30.0)).collect();
        let f = fit(&points).expect("fits");
        assert!(f.sigma > 0.99, "{f:?}");
        assert!(f.peak_throughput() <= 30.0 * 1.01, "{f:?}");
    }

    #[test]
    fn too_few_levels_or_bad_figures_are_not_fitted() {
        assert!(fit(&[(1.0, 1.0), (2.0, 2.0), (4.0, 4.0)]).is_none());
        assert!(fit(&[(1.0, 1.0), (2.0, 2.0), (2.0, 2.0), (2.0, 2.0)]).is_none());
        assert!(fit(&[(1.0, 1.0), (2.0, f64::NAN), (4.0, 4.0), (8.0, 8.0)]).is_none());
        assert!(fit(&[(0.0, 1.0), (2.0, 2.0), (4.0, 4.0), (8.0, 8.0)]).is_none());
    }
}
