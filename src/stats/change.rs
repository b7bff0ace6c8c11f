//! Change points: where a series of nightly figures (one value per run) shifted, by e-divisive
//! means (Matteson & James, 2014, with α = 1, as Apache Otava and MongoDB's CI use it) and a
//! permutation test of each split.
//!
//! The statistic of a split at τ compares the mean distance between the two sides with the mean
//! distances within each side, weighted by τ(n−τ)/n; the best split is tested by shuffling the
//! series [`PERMUTATIONS`] times with a fixed seed (the same series always gives the same answer)
//! and counting how often a shuffled series splits at least as well. A split with a p-value at
//! or under [`ALPHA`], leaving [`MIN_SEGMENT`] runs on each side, and a shift of the segment
//! means of at least the caller's minimum, is kept; the search then goes on in each side. The
//! size of a change is measured between the final segments around it.
//!
//! No crate did this when it was written: `pelt` (PELT, a penalty to tune and no significance
//! test) and `changepoint` (Bayesian online detection, with a linear-algebra stack) were the
//! candidates on crates.io. Input: values in run order. Output: [`ChangePoint`]s. Pure.

/// By default, `loadplan trend --fail-on-change` fails on a shift for the worse whose first run
/// is among this many latest runs.
pub const RECENT_RUNS: usize = 5;

/// Permutations per test: p-values down to 1/(1 + this).
pub const PERMUTATIONS: usize = 999;
/// A split is significant at or under this p-value.
pub const ALPHA: f64 = 0.01;
/// Runs on each side of a change at least: a change is found once this many runs show it.
pub const MIN_SEGMENT: usize = 3;
/// The permutation test's seed: fixed, so a history always gives the same change points.
const SEED: u64 = 0x10AD_91A2_C4A1_6E5D;

/// A shift in a series: from run `index` (0-based in the series) on, the values moved.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangePoint {
    /// The first value of the new level.
    pub index: usize,
    /// Mean of the segment before it (back to the previous change point or the start).
    pub before: f64,
    /// Mean of the segment from it (up to the next change point or the end).
    pub after: f64,
    /// The permutation test's p-value; confidence is 1 − p.
    pub p_value: f64,
}

impl ChangePoint {
    /// after ÷ before − 1; `None` when the level before was 0.
    pub fn relative(&self) -> Option<f64> {
        (self.before != 0.0).then(|| self.after / self.before - 1.0)
    }

    pub fn confidence(&self) -> f64 {
        1.0 - self.p_value
    }
}

/// How big a shift must be to count, besides being significant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MinShift {
    /// |after ÷ before − 1| at least this (latency, throughput).
    Relative(f64),
    /// |after − before| at least this (an error rate, often 0).
    Absolute(f64),
}

impl MinShift {
    fn holds(self, before: f64, after: f64) -> bool {
        match self {
            MinShift::Relative(r) => before != 0.0 && (after / before - 1.0).abs() >= r,
            MinShift::Absolute(a) => (after - before).abs() >= a,
        }
    }
}

/// The change points of `values` (in run order), earliest first. Non-finite values make no
/// series: the caller leaves them out.
pub fn change_points(values: &[f64], min_shift: MinShift) -> Vec<ChangePoint> {
    if values.iter().any(|v| !v.is_finite()) {
        return Vec::new();
    }
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut found: Vec<(usize, f64)> = Vec::new();
    let mut todo = vec![(0, values.len())];
    while let Some((lo, hi)) = todo.pop() {
        let part = &values[lo..hi];
        let Some((tau, q)) = best_split(part) else {
            continue;
        };
        if !min_shift.holds(mean(&part[..tau]), mean(&part[tau..])) {
            continue;
        }
        let p = p_value(part, q, &mut rng);
        if p > ALPHA {
            continue;
        }
        found.push((lo + tau, p));
        todo.push((lo, lo + tau));
        todo.push((lo + tau, hi));
    }
    found.sort_by_key(|f| f.0);
    // Sizes between the final segments, and only changes that still hold between them.
    let bounds: Vec<usize> = std::iter::once(0)
        .chain(found.iter().map(|f| f.0))
        .chain(std::iter::once(values.len()))
        .collect();
    found
        .iter()
        .enumerate()
        .map(|(i, &(index, p_value))| ChangePoint {
            index,
            before: mean(&values[bounds[i]..index]),
            after: mean(&values[index..bounds[i + 2]]),
            p_value,
        })
        .filter(|c| min_shift.holds(c.before, c.after))
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// The split of `x` with the largest e-divisive statistic, both sides at least [`MIN_SEGMENT`]
/// long: (τ, statistic).
fn best_split(x: &[f64]) -> Option<(usize, f64)> {
    let n = x.len();
    if n < 2 * MIN_SEGMENT {
        return None;
    }
    // Moving element t from the right side to the left: the sum of distances within the left
    // grows by its distances to the left, the cross sum loses those and gains its distances to
    // the right; the right side's sum is what remains of the total.
    let total: f64 = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .map(|(i, j)| (x[i] - x[j]).abs())
        .sum();
    let (mut within_left, mut cross) = (0.0, 0.0);
    let mut best: Option<(usize, f64)> = None;
    for t in 0..n - MIN_SEGMENT {
        let to_left: f64 = x[..t].iter().map(|v| (v - x[t]).abs()).sum();
        let to_right: f64 = x[t + 1..].iter().map(|v| (v - x[t]).abs()).sum();
        within_left += to_left;
        cross += to_right - to_left;
        let tau = t + 1;
        if tau < MIN_SEGMENT {
            continue;
        }
        let within_right = total - within_left - cross;
        let (a, b) = (tau as f64, (n - tau) as f64);
        let pairs = |k: f64| k * (k - 1.0) / 2.0;
        let q = (a * b / n as f64)
            * (2.0 * cross / (a * b) - within_left / pairs(a) - within_right / pairs(b));
        if best.is_none_or(|(_, bq)| q > bq) {
            best = Some((tau, q));
        }
    }
    best
}

/// The share of shuffles of `x` whose best split is at least `q` (the observed one counted).
fn p_value(x: &[f64], q: f64, rng: &mut fastrand::Rng) -> f64 {
    let mut shuffled = x.to_vec();
    let mut as_good = 0usize;
    for _ in 0..PERMUTATIONS {
        rng.shuffle(&mut shuffled);
        if best_split(&shuffled).is_some_and(|(_, s)| s >= q) {
            as_good += 1;
        }
    }
    (as_good + 1) as f64 / (PERMUTATIONS + 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Noise within ±5 %, the same every time (a fixed-seed generator, not the test's RNG).
    fn noisy(n: usize, level: impl Fn(usize) -> f64, seed: u64) -> Vec<f64> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..n)
            .map(|i| level(i) * (1.0 + (rng.f64() - 0.5) * 0.10))
            .collect()
    }

    #[test]
    fn a_thirty_percent_slowdown_from_the_seventh_run_is_one_change_at_run_seven() {
        for seed in 1..=20 {
            let p99 = noisy(12, |i| if i >= 6 { 130_000.0 } else { 100_000.0 }, seed);
            let found = change_points(&p99, MinShift::Relative(0.05));
            assert_eq!(found.len(), 1, "seed {seed}: {p99:?} → {found:?}");
            assert_eq!(found[0].index, 6, "seed {seed}: run 7 is index 6");
            let size = found[0].relative().expect("a size");
            assert!((0.2..0.4).contains(&size), "seed {seed}: {size}");
            assert!(found[0].confidence() >= 0.99);
        }
    }

    #[test]
    fn a_flat_noisy_history_has_no_change() {
        for seed in 1..=20 {
            let p99 = noisy(12, |_| 100_000.0, seed);
            let found = change_points(&p99, MinShift::Relative(0.05));
            assert!(found.is_empty(), "seed {seed}: {p99:?} → {found:?}");
        }
    }

    #[test]
    fn edges_and_odd_series() {
        let shift = MinShift::Relative(0.05);
        // (series, change indexes)
        let cases: [(Vec<f64>, Vec<usize>); 6] = [
            (Vec::new(), vec![]),
            (vec![1.0; 5], vec![]),
            (vec![1.0; 12], vec![]),
            // A step too close to the end to be told from noise yet: 2 runs after it.
            ([vec![1.0; 10], vec![2.0; 2]].concat(), vec![]),
            // Two steps up. (A step up and back down within a few runs is a weak single
            // split: e-divisive means finds it only once each level is long.)
            (
                [vec![1.0; 6], vec![2.0; 6], vec![3.0; 6]].concat(),
                vec![6, 12],
            ),
            (vec![1.0, f64::NAN, 1.0, 1.0, 1.0, 1.0], vec![]),
        ];
        for (series, want) in cases {
            let got: Vec<usize> = change_points(&series, shift)
                .iter()
                .map(|c| c.index)
                .collect();
            assert_eq!(got, want, "{series:?}");
        }
        // Error rates: 0 then 5 %, an absolute shift.
        let errors = [vec![0.0; 6], vec![0.05; 6]].concat();
        let found = change_points(&errors, MinShift::Absolute(0.01));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].relative(), None, "no relative size from 0");
        // The same history twice gives the same answer (the seed is fixed).
        let p99 = noisy(12, |i| if i >= 6 { 130.0 } else { 100.0 }, 7);
        assert_eq!(change_points(&p99, shift), change_points(&p99, shift));
    }
}
