//! Distribution drift: how far a column's current distribution is from a
//! baseline. Pure statistics on what the caller read (a sample of values,
//! or counts per category or bin).
//!
//! - Numeric: the two-sample Kolmogorov-Smirnov statistic (the largest gap
//!   between the two empirical CDFs, 0..1) with its asymptotic p-value, or
//!   the population stability index over the baseline's quantile bins.
//! - Categorical: PSI over the categories, or Pearson's chi-square of the
//!   current counts against the baseline's shares, with its p-value.
//!
//! PSI reading, by convention: < 0.1 stable, 0.1-0.25 some shift, > 0.25
//! a significant shift.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How a `drift` rule compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftMethod {
    /// Numeric: two-sample Kolmogorov-Smirnov statistic (0..1).
    Ks,
    /// Numeric: population stability index over the baseline's deciles.
    Psi,
    /// Categorical: population stability index over the values.
    CategoricalPsi,
    /// Categorical: Pearson's chi-square statistic against the baseline's shares.
    ChiSquare,
}

impl DriftMethod {
    pub const ALL: [DriftMethod; 4] = [
        DriftMethod::Ks,
        DriftMethod::Psi,
        DriftMethod::CategoricalPsi,
        DriftMethod::ChiSquare,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DriftMethod::Ks => "ks",
            DriftMethod::Psi => "psi",
            DriftMethod::CategoricalPsi => "categorical_psi",
            DriftMethod::ChiSquare => "chi_square",
        }
    }

    pub fn parse(name: &str) -> Option<DriftMethod> {
        DriftMethod::ALL.into_iter().find(|m| m.name() == name)
    }

    pub fn is_categorical(self) -> bool {
        matches!(self, DriftMethod::CategoricalPsi | DriftMethod::ChiSquare)
    }

    /// The fail bound when the manifest gives none: the conventional reading
    /// of the statistic (`None`: chi-square grows with the sample, give one).
    pub fn default_max(self) -> Option<f64> {
        match self {
            DriftMethod::Ks => Some(0.1),
            DriftMethod::Psi | DriftMethod::CategoricalPsi => Some(0.25),
            DriftMethod::ChiSquare => None,
        }
    }

    /// The statistic between `baseline` and `current`; `None` when a side
    /// has nothing to compare.
    pub fn statistic(
        self,
        baseline: &crate::metric::Distribution,
        current: &crate::metric::Distribution,
    ) -> Option<f64> {
        match self {
            DriftMethod::Ks => ks_two_sample(&baseline.values, &current.values).map(|(d, _)| d),
            DriftMethod::Psi => psi_numeric(&baseline.values, &current.values, 10),
            DriftMethod::CategoricalPsi => psi_categorical(&baseline.counts, &current.counts),
            DriftMethod::ChiSquare => chi_square(&baseline.counts, &current.counts).map(|(x, _)| x),
        }
    }
}

/// Share given to an empty bin or category, so PSI stays finite.
const EMPTY_SHARE: f64 = 1e-4;

/// The two-sample KS statistic and its p-value (Smirnov's asymptotic
/// distribution; fine from a few dozen values each). `None` if a side is
/// empty or holds a non-finite value.
pub fn ks_two_sample(baseline: &[f64], current: &[f64]) -> Option<(f64, f64)> {
    if baseline.is_empty()
        || current.is_empty()
        || baseline.iter().chain(current).any(|v| !v.is_finite())
    {
        return None;
    }
    let mut a = baseline.to_vec();
    let mut b = current.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    let effective = (n * m / (n + m)).sqrt();
    let lambda = (effective + 0.12 + 0.11 / effective) * d;
    Some((d, kolmogorov_q(lambda)))
}

/// P(K > lambda) for the Kolmogorov distribution.
fn kolmogorov_q(lambda: f64) -> f64 {
    if lambda < 1e-3 {
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let k = k as f64;
        let term = 2.0 * (-1f64).powf(k - 1.0) * (-2.0 * k * k * lambda * lambda).exp();
        sum += term;
        if term.abs() < 1e-12 {
            break;
        }
    }
    sum.clamp(0.0, 1.0)
}

/// PSI of numeric values over `bins` quantile bins of the baseline.
pub fn psi_numeric(baseline: &[f64], current: &[f64], bins: usize) -> Option<f64> {
    if baseline.is_empty() || current.is_empty() || bins < 2 {
        return None;
    }
    let mut sorted = baseline.to_vec();
    sorted.sort_by(f64::total_cmp);
    let edges: Vec<f64> = (1..bins)
        .map(|k| sorted[(k * sorted.len() / bins).min(sorted.len() - 1)])
        .collect();
    let bin_of = |v: f64| edges.partition_point(|edge| *edge <= v);
    let shares = |values: &[f64]| {
        let mut counts = vec![0.0; bins];
        for v in values {
            counts[bin_of(*v)] += 1.0;
        }
        counts
            .into_iter()
            .map(|c| c / values.len() as f64)
            .collect::<Vec<f64>>()
    };
    Some(psi(&shares(baseline), &shares(current)))
}

/// PSI between two distributions given as counts per category.
pub fn psi_categorical(
    baseline: &BTreeMap<String, u64>,
    current: &BTreeMap<String, u64>,
) -> Option<f64> {
    let (expected, actual) = aligned_shares(baseline, current)?;
    Some(psi(&expected, &actual))
}

/// Pearson's chi-square of the current counts against the baseline's
/// shares, and its p-value. Categories the baseline never saw get a tiny
/// expected share, so they weigh heavily, as they should.
pub fn chi_square(
    baseline: &BTreeMap<String, u64>,
    current: &BTreeMap<String, u64>,
) -> Option<(f64, f64)> {
    let (expected, _) = aligned_shares(baseline, current)?;
    let total: u64 = current.values().sum();
    if total == 0 {
        return None;
    }
    let keys = keys(baseline, current);
    let statistic: f64 = keys
        .iter()
        .zip(&expected)
        .map(|(key, share)| {
            let observed = current.get(*key).copied().unwrap_or(0) as f64;
            let expected = share * total as f64;
            (observed - expected).powi(2) / expected
        })
        .sum();
    let dof = (keys.len().max(2) - 1) as f64;
    Some((statistic, chi_square_survival(statistic, dof)))
}

fn keys<'a>(a: &'a BTreeMap<String, u64>, b: &'a BTreeMap<String, u64>) -> Vec<&'a String> {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys
}

fn aligned_shares(
    baseline: &BTreeMap<String, u64>,
    current: &BTreeMap<String, u64>,
) -> Option<(Vec<f64>, Vec<f64>)> {
    let (b_total, c_total): (u64, u64) = (baseline.values().sum(), current.values().sum());
    if b_total == 0 || c_total == 0 {
        return None;
    }
    let keys = keys(baseline, current);
    let share = |map: &BTreeMap<String, u64>, total: u64, key: &String| {
        (map.get(key).copied().unwrap_or(0) as f64 / total as f64).max(EMPTY_SHARE)
    };
    Some((
        keys.iter().map(|k| share(baseline, b_total, k)).collect(),
        keys.iter().map(|k| share(current, c_total, k)).collect(),
    ))
}

fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(e, a)| {
            let (e, a) = (e.max(EMPTY_SHARE), a.max(EMPTY_SHARE));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// P(X > x) for chi-square with `k` degrees of freedom: the regularized
/// upper incomplete gamma Q(k/2, x/2), by series or continued fraction.
fn chi_square_survival(x: f64, k: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let (a, x) = (k / 2.0, x / 2.0);
    if x < a + 1.0 {
        1.0 - lower_gamma_series(a, x)
    } else {
        upper_gamma_fraction(a, x)
    }
}

fn ln_gamma(z: f64) -> f64 {
    // Lanczos approximation (g = 7, n = 9).
    const C: [f64; 9] = [
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
    let z = z - 1.0;
    let t = z + 7.5;
    let series: f64 = C[0] + (1..9).map(|i| C[i] / (z + i as f64)).sum::<f64>();
    0.5 * (2.0 * std::f64::consts::PI).ln() + (z + 0.5) * t.ln() - t + series.ln()
}

fn lower_gamma_series(a: f64, x: f64) -> f64 {
    let (mut sum, mut term, mut n) = (1.0 / a, 1.0 / a, a);
    for _ in 0..500 {
        n += 1.0;
        term *= x / n;
        sum += term;
        if term.abs() < sum.abs() * 1e-14 {
            break;
        }
    }
    (sum * (-x + a * x.ln() - ln_gamma(a)).exp()).clamp(0.0, 1.0)
}

fn upper_gamma_fraction(a: f64, x: f64) -> f64 {
    // Lentz's method.
    let tiny = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / tiny;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..500 {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < tiny {
            d = tiny;
        }
        c = b + an / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-14 {
            break;
        }
    }
    ((-x + a * x.ln() - ln_gamma(a)).exp() * h).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    fn uniform(n: usize, from: f64, to: f64) -> Vec<f64> {
        (0..n)
            .map(|i| from + (to - from) * (i as f64 + 0.5) / n as f64)
            .collect()
    }

    #[test]
    fn ks_is_zero_for_the_same_distribution_and_large_for_a_shift() {
        let base = uniform(1000, 0.0, 1.0);
        let (d, p) = ks_two_sample(&base, &uniform(800, 0.0, 1.0)).unwrap();
        assert!(d < 0.01 && p > 0.99, "{d} {p}");
        let (d, p) = ks_two_sample(&base, &uniform(800, 0.3, 1.3)).unwrap();
        assert!((d - 0.3).abs() < 0.01 && p < 1e-6, "{d} {p}");
        assert_eq!(ks_two_sample(&[], &base), None);
        assert_eq!(ks_two_sample(&[f64::NAN], &base), None);
    }

    #[test]
    fn psi_reads_stable_then_shifted() {
        let base = uniform(1000, 0.0, 100.0);
        assert!(psi_numeric(&base, &uniform(500, 0.0, 100.0), 10).unwrap() < 0.01);
        let moved = psi_numeric(&base, &uniform(500, 20.0, 120.0), 10).unwrap();
        assert!(moved > 0.25, "{moved}");
        let before = counts(&[("paid", 700), ("open", 250), ("void", 50)]);
        let same = counts(&[("paid", 140), ("open", 50), ("void", 10)]);
        assert!(psi_categorical(&before, &same).unwrap() < 1e-9);
        let new_value = counts(&[("paid", 100), ("open", 50), ("refund", 50)]);
        assert!(psi_categorical(&before, &new_value).unwrap() > 0.25);
    }

    #[test]
    fn chi_square_against_the_baseline_shares() {
        let before = counts(&[("a", 500), ("b", 300), ("c", 200)]);
        let (statistic, p) =
            chi_square(&before, &counts(&[("a", 50), ("b", 30), ("c", 20)])).unwrap();
        assert!(statistic < 1e-9 && p > 0.99, "{statistic} {p}");
        let (statistic, p) =
            chi_square(&before, &counts(&[("a", 20), ("b", 30), ("c", 50)])).unwrap();
        // (20-50)^2/50 + 0 + (50-20)^2/20 = 18 + 45 = 63 on 2 degrees of freedom.
        assert!((statistic - 63.0).abs() < 1e-9, "{statistic}");
        assert!(p < 1e-12, "{p}");
        // Known values of the chi-square survival function.
        assert!((chi_square_survival(5.991, 2.0) - 0.05).abs() < 1e-3);
        assert!((chi_square_survival(3.841, 1.0) - 0.05).abs() < 1e-3);
        assert!((chi_square_survival(18.307, 10.0) - 0.05).abs() < 1e-3);
    }
}
