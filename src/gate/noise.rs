//! Is a change beyond the noise the rounds show? An exact one-sided Mann–Whitney U test on the
//! per-round values of two runs.
//!
//! Input: the baseline's and the current run's values of one metric, one per round, oriented so
//! that larger is worse. Output: the probability that the current rounds would rank at least
//! this far above the baseline's if both came from the same machine and the same code (the
//! p-value). No I/O, no randomness.
//!
//! Why this test: rounds are few (3 to 10), timings are skewed, and one round may be hit by a
//! noisy neighbour. The U test compares ranks, so it assumes no distribution and one outlier
//! round cannot manufacture a difference; computed exactly over every way of splitting the
//! pooled values (ties given their mid-ranks), it is right at these tiny sizes, where a
//! bootstrap's interval would be built from a handful of distinct resamples. And it is
//! deterministic, so a summary re-rendered from saved results reaches the same verdict.
//! With 3 rounds on each side the smallest possible p-value is 1/20 = 0.05: only when every
//! current round is worse than every baseline round is the change beyond noise.

/// p-value at or below which a change counts as beyond the noise.
pub const ALPHA: f64 = 0.05;
/// Both runs need at least this many rounds for the test to apply.
pub const MIN_ROUNDS: usize = 3;
/// Above this many rounds in all, the normal approximation (with its tie correction) replaces
/// the exact count, whose cost grows with the cube of the rounds.
const EXACT_UP_TO: usize = 40;

/// One-sided exact p-value that `current` ranks this high above `baseline` by chance (larger
/// values are worse). 1 when either side is empty.
pub fn worse_p_value(baseline: &[f64], current: &[f64]) -> f64 {
    let (n, m) = (current.len(), baseline.len());
    if n == 0 || m == 0 {
        return 1.0;
    }
    let pooled: Vec<f64> = current.iter().chain(baseline).copied().collect();
    let ranks = doubled_mid_ranks(&pooled);
    let observed: usize = ranks[..n].iter().sum();
    if n + m > EXACT_UP_TO {
        return approximate(&pooled, observed, n);
    }
    // ways[k][s]: subsets of k of the pooled values whose doubled ranks add up to s.
    let max_sum: usize = ranks.iter().sum();
    let mut ways = vec![vec![0f64; max_sum + 1]; n + 1];
    ways[0][0] = 1.0;
    for r in &ranks {
        for k in (1..=n).rev() {
            for s in (*r..=max_sum).rev() {
                let from = ways[k - 1][s - r];
                if from > 0.0 {
                    ways[k][s] += from;
                }
            }
        }
    }
    let total: f64 = ways[n].iter().sum();
    let at_least: f64 = ways[n][observed..].iter().sum();
    (at_least / total).clamp(0.0, 1.0)
}

/// The normal approximation of the rank-sum distribution, ties corrected, with a continuity
/// correction.
fn approximate(pooled: &[f64], doubled_sum: usize, n: usize) -> f64 {
    let big_n = pooled.len() as f64;
    let (n, m) = (n as f64, big_n - n as f64);
    let mut sorted = pooled.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut ties = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let j = sorted[i..].iter().take_while(|v| **v == sorted[i]).count();
        let t = j as f64;
        ties += t * t * t - t;
        i += j;
    }
    let mean = n * (big_n + 1.0) / 2.0;
    let var = n * m / 12.0 * ((big_n + 1.0) - ties / (big_n * (big_n - 1.0)));
    if var <= 0.0 {
        return 1.0;
    }
    let z = (doubled_sum as f64 / 2.0 - mean - 0.5) / var.sqrt();
    (0.5 * erfc(z / std::f64::consts::SQRT_2)).clamp(0.0, 1.0)
}

/// The complementary error function (Numerical Recipes' erfcc, relative error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Twice the mid-rank of each value (1-based ranks; tied values share the mean of their ranks),
/// so that every rank is a whole number.
fn doubled_mid_ranks(values: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    let mut ranks = vec![0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean, (i + j + 2) / 2; doubled: i + j + 2.
        for &k in &order[i..=j] {
            ranks[k] = i + j + 2;
        }
        i = j + 1;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_values_of_small_samples_are_exact() {
        // (baseline, current, p-value)
        let cases: &[(&[f64], &[f64], f64)] = &[
            // Every current round worse: 1 split in C(6,3) = 20, C(10,5) = 252.
            (&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], 1.0 / 20.0),
            (
                &[1.0, 2.0, 3.0, 4.0, 5.0],
                &[6.0, 7.0, 8.0, 9.0, 10.0],
                1.0 / 252.0,
            ),
            // Every current round better: nothing is worse.
            (&[4.0, 5.0, 6.0], &[1.0, 2.0, 3.0], 1.0),
            // All alike: no evidence at all.
            (&[7.0, 7.0, 7.0], &[7.0, 7.0, 7.0], 1.0),
            // The top two of six: rank sums 11 and 12 reach or beat it.
            (&[1.0, 2.0, 3.0], &[5.0, 6.0, 4.0], 1.0 / 20.0),
            (&[1.0, 2.0, 5.0], &[3.0, 6.0, 4.0], 4.0 / 20.0),
            (&[], &[1.0], 1.0),
        ];
        for (base, cur, want) in cases {
            let p = worse_p_value(base, cur);
            assert!(
                (p - want).abs() < 1e-12,
                "{base:?} → {cur:?}: {p}, want {want}"
            );
        }
    }

    #[test]
    fn one_outlier_round_is_not_a_difference() {
        let base = [100.0, 101.0, 99.0, 100.5, 99.5];
        let noisy = [100.2, 99.8, 100.1, 99.7, 400.0];
        assert!(worse_p_value(&base, &noisy) > ALPHA);
        let slower = [200.0, 201.0, 199.0, 200.5, 199.5];
        assert!(worse_p_value(&base, &slower) <= ALPHA);
    }

    #[test]
    fn many_rounds_use_the_normal_approximation() {
        let base: Vec<f64> = (0..30).map(f64::from).collect();
        let same: Vec<f64> = (0..30).map(|i| f64::from(i) + 0.5).collect();
        let slower: Vec<f64> = (0..30).map(|i| f64::from(i) + 20.0).collect();
        let p_same = worse_p_value(&base, &same);
        assert!((0.3..0.7).contains(&p_same), "{p_same}");
        assert!(worse_p_value(&base, &slower) < 1e-3);
        assert!((erfc(0.0) - 1.0).abs() < 1e-7 && (erfc(1.0) - 0.157_299_2).abs() < 1e-6);
    }

    #[test]
    fn ties_share_their_mid_rank() {
        assert_eq!(doubled_mid_ranks(&[3.0, 1.0, 3.0, 2.0]), vec![7, 2, 7, 4]);
    }
}
