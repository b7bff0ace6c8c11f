//! How each model scales, in numbers and words: the Universal Scalability Law fitted to every
//! scenario × model sweep of at least four concurrency levels (`stats/usl.rs`), with the knee
//! the sweep showed, and plain words when the fit is poor, the peak lies far beyond the
//! measured range, or there is no speedup at all.
//!
//! Input: one scenario of a summary. Output: one [`ModelScaling`] per model (and worker count)
//! that swept enough levels. No markup, no I/O.

use crate::plan::Model;
use crate::stats::ScenarioSummary;
use crate::stats::usl::{self, GOOD_R2, MIN_LEVELS, UslFit};
use crate::units;

/// A peak beyond this many times the highest measured concurrency is "far beyond" it.
pub const FAR_BEYOND: f64 = 2.0;
/// A best throughput within this factor of one user's is no speedup.
pub const NO_SPEEDUP: f64 = 1.2;

#[derive(Debug, Clone, PartialEq)]
pub struct ModelScaling {
    pub model: Model,
    /// The most workers any of its cells had (a cell has at most one per user).
    pub workers: usize,
    /// (concurrency, successful throughput per second), by concurrency.
    pub points: Vec<(f64, f64)>,
    /// (achieved throughput per second, p50 µs, p99 µs), by concurrency.
    pub latency: Vec<(f64, u64, u64)>,
    pub fit: UslFit,
    /// The lowest concurrency within 10% of the best throughput.
    pub knee: Option<f64>,
    /// No speedup: the best throughput is within [`NO_SPEEDUP`] of the lowest level's.
    pub flat: bool,
    /// The fit's R² is below [`GOOD_R2`].
    pub poor: bool,
    /// N* lies beyond [`FAR_BEYOND`] × the highest level measured.
    pub far: bool,
    /// What it says, in one sentence or two.
    pub words: String,
}

impl ModelScaling {
    /// `threads`, `async w=1`, `processes w=2`: the model and, where it varies, its workers.
    pub fn label(&self) -> String {
        match self.model {
            Model::Async | Model::Processes => {
                format!("{} w={}", self.model.as_str(), self.workers)
            }
            Model::Sequential | Model::Threads => self.model.as_str().to_string(),
        }
    }
}

/// Every model of `s` that swept at least [`MIN_LEVELS`] concurrency levels, fitted.
pub fn scalability(s: &ScenarioSummary) -> Vec<ModelScaling> {
    // By model: a scenario sets one `workers`, but a cell has at most one worker per user (and
    // `threads` one thread per user), so workers vary along a sweep.
    let mut models: Vec<Model> = Vec::new();
    for c in &s.cells {
        if !models.contains(&c.model) {
            models.push(c.model);
        }
    }
    let mut out = Vec::new();
    for model in models {
        let mut cells: Vec<_> = s
            .cells
            .iter()
            .filter(|c| c.model == model && c.capacity.is_none())
            .collect();
        let workers = cells.iter().map(|c| c.workers).max().unwrap_or(1);
        cells.sort_by_key(|c| c.concurrency);
        let points: Vec<(f64, f64)> = cells
            .iter()
            .map(|c| (c.concurrency as f64, c.throughput_per_s))
            .collect();
        let levels = {
            let mut l: Vec<usize> = cells.iter().map(|c| c.concurrency).collect();
            l.dedup();
            l.len()
        };
        if levels < MIN_LEVELS {
            continue;
        }
        let Some(fit) = usl::fit(&points) else {
            continue;
        };
        let latency = cells
            .iter()
            .map(|c| (c.throughput_per_s, c.latency_us.p50, c.latency_us.p99))
            .collect();
        out.push(describe(model, workers, points, latency, fit));
    }
    out
}

fn describe(
    model: Model,
    workers: usize,
    points: Vec<(f64, f64)>,
    latency: Vec<(f64, u64, u64)>,
    fit: UslFit,
) -> ModelScaling {
    let knee = usl::knee(&points);
    let first = points.first().map_or(0.0, |p| p.1);
    let best = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let top_n = points.iter().map(|p| p.0).fold(1.0, f64::max);
    let flat = best <= NO_SPEEDUP * first;
    let poor = fit.r2 < GOOD_R2;
    let peak = fit.peak();
    let far = peak.is_none_or(|n| n > FAR_BEYOND * top_n);
    let rate = |x: f64| format!("{}/s", units::number(x));
    let mut words = format!(
        "λ {} per user, σ {} (contention), κ {} (coherency), R² {}",
        rate(fit.lambda),
        short(fit.sigma),
        short(fit.kappa),
        units::number(fit.r2)
    );
    match peak {
        Some(n) => words.push_str(&format!(
            "; peak N* {} at {}",
            units::number(n),
            rate(fit.peak_throughput())
        )),
        None if fit.sigma > 0.0 => words.push_str(&format!(
            "; no peak (κ = 0): throughput approaches λ/σ = {}",
            rate(fit.peak_throughput())
        )),
        None => words.push_str("; no peak and no contention: linear as far as it was measured"),
    }
    if let Some(k) = knee {
        words.push_str(&format!(
            "; the sweep bent at {}",
            units::count(k as usize, "user")
        ));
    }
    words.push('.');
    if flat {
        words.push_str(&format!(
            " No speedup: {} users gave at most {}× one user's throughput.",
            units::number(top_n),
            units::number(if first > 0.0 { best / first } else { 0.0 })
        ));
    }
    // Flat is the finding; a flat series' R² measures only its noise.
    if poor && !flat {
        words.push_str(
            " Poor fit: the law does not describe this sweep (a sharp knee, or noise); read the knee, not N*.",
        );
    } else if far && !flat {
        words.push_str(&format!(
            " N* lies far beyond the measured range (up to {}): a prediction, not a measurement.",
            units::number(top_n)
        ));
    }
    ModelScaling {
        model,
        workers,
        points,
        latency,
        fit,
        knee,
        flat,
        poor,
        far,
        words,
    }
}

/// A small coefficient with its significant digits: `0.0203`, `1.2e-5`, `0`.
fn short(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x >= 0.001 {
        format!("{x:.3}")
    } else {
        format!("{x:.1e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scaling(points: &[(f64, f64)]) -> ModelScaling {
        let fit = usl::fit(points).expect("fits");
        describe(Model::Threads, 1, points.to_vec(), Vec::new(), fit)
    }

    #[test]
    fn words_say_when_there_is_no_speedup_a_poor_fit_or_a_far_peak() {
        let flat = scaling(&[(1.0, 30.0), (2.0, 30.5), (4.0, 29.8), (8.0, 30.1)]);
        assert!(
            flat.flat && flat.words.contains("No speedup"),
            "{}",
            flat.words
        );
        let knee = scaling(&usl::HARD_KNEE);
        assert!(
            knee.poor && knee.words.contains("Poor fit"),
            "{}",
            knee.words
        );
        assert!(knee.words.contains("bent at 2 users"), "{}", knee.words);
        let linear = scaling(&[(1.0, 10.0), (2.0, 20.0), (4.0, 40.0), (8.0, 79.0)]);
        assert!(!linear.poor && linear.far, "{}", linear.words);
        assert!(linear.words.contains("far beyond"), "{}", linear.words);
    }
}
