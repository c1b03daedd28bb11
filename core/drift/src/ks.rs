//! The two-sample Kolmogorov-Smirnov test, two-sided, as `scipy.stats.ks_2samp(a, b)` with its
//! default `method="auto"`: the exact p-value when neither sample exceeds 10,000 values, the
//! `kstwo` distribution at the effective size `round(n1·n2 / (n1 + n2))` otherwise.

use serde::Serialize;

use crate::kolmogorov::kstwo_sf;

/// scipy's `MAX_AUTO_N`: larger samples take the asymptotic branch.
const MAX_EXACT_N: usize = 10_000;

/// Which distribution gave the p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KsMethod {
    Exact,
    Asymptotic,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KsResult {
    /// sup |F_a − F_b| (on the exact branch rounded to the lattice `h / lcm(n1, n2)`, as scipy).
    pub statistic: f64,
    pub pvalue: f64,
    pub method: KsMethod,
}

/// The test on two samples of finite values (callers drop NaN first); `None` if either is empty.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Option<KsResult> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let a = sorted(a);
    let b = sorted(b);
    let d = statistic(&a, &b);
    let (n1, n2) = (a.len() as u64, b.len() as u64);
    if a.len().max(b.len()) <= MAX_EXACT_N {
        let (d, p) = exact(n1, n2, d);
        if (0.0..=1.0).contains(&p) {
            return Some(KsResult {
                statistic: d,
                pvalue: p,
                method: KsMethod::Exact,
            });
        }
        return Some(asymptotic(n1, n2, d));
    }
    Some(asymptotic(n1, n2, d))
}

fn sorted(x: &[f64]) -> Vec<f64> {
    let mut x = x.to_vec();
    x.sort_by(f64::total_cmp);
    x
}

/// The number of values in sorted `x` that are ≤ `v` (NumPy's `searchsorted(side="right")`).
fn count_le(x: &[f64], v: f64) -> usize {
    x.partition_point(|&y| y <= v)
}

/// scipy's statistic: the largest of max(F_a − F_b) and max(F_b − F_a), evaluated at every
/// observation of either sample.
fn statistic(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let mut max_diff = f64::NEG_INFINITY;
    let mut min_diff = f64::INFINITY;
    for &v in a.iter().chain(b) {
        let diff = count_le(a, v) as f64 / n1 - count_le(b, v) as f64 / n2;
        max_diff = max_diff.max(diff);
        min_diff = min_diff.min(diff);
    }
    let min_s = (-min_diff).clamp(0.0, 1.0);
    if min_s > max_diff { min_s } else { max_diff }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The exact p-value and the statistic rounded onto the lattice of attainable values.
fn exact(n1: u64, n2: u64, d: f64) -> (f64, f64) {
    let g = gcd(n1, n2);
    let lcm = (n1 / g) * n2;
    let h = (d * lcm as f64).round_ties_even() as u64;
    let d = h as f64 / lcm as f64;
    if h == 0 {
        return (d, 1.0);
    }
    let p = if n1 == n2 {
        prob_outside_square(n1, h)
    } else {
        prob_outside_band(n1, n2, g, h)
    };
    (d, p)
}

/// P(D_{n,n} ≥ h/n) by the alternating binomial sum, written Horner-like with each term divided
/// by binom(2n, n) so nothing cancels or overflows.
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let (n, h) = (n as f64, h as f64);
    let mut p = 0.0;
    let mut k = (n / h).floor();
    while k >= 0.0 {
        let mut term = 1.0;
        let mut j = 0.0;
        while j < h {
            term = (n - k * h - j) * term / (n + k * h + j + 1.0);
            j += 1.0;
        }
        p = term * (1.0 - p);
        k -= 1.0;
    }
    2.0 * p
}

/// The share of lattice paths from (0, 0) to (m, n) that leave the band |x/m − y/n| < h/lcm,
/// by Hodges' inside method with Viehmann's recursion for 1 − p (one sliding column).
fn prob_outside_band(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = ((m / g) as i64, (n / g) as i64);
    let (n, h) = (n as i64, h as i64);
    let mut minj: i64 = 0;
    let mut maxj: i64 = (h as f64 / mg as f64).ceil().min((n + 1) as f64) as i64;
    let mut curlen = maxj - minj;
    let len = (2 * maxj + 2).min(n + 1).max(1) as usize;
    let mut col = vec![1.0_f64; len];
    col.iter_mut()
        .take(maxj.max(0) as usize)
        .for_each(|v| *v = 0.0);
    for i in 1..=m as i64 {
        let (lastminj, lastlen) = (minj, curlen);
        minj = ((((ng * i - h) as f64) / mg as f64).floor() as i64 + 1)
            .max(0)
            .min(n);
        maxj = ((((ng * i + h) as f64) / mg as f64).ceil() as i64).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = (jj + minj) as f64;
            let prev = col
                .get((jj + minj - lastminj) as usize)
                .copied()
                .unwrap_or(1.0);
            val = (prev * i as f64 + val * j) / (i as f64 + j);
            if let Some(slot) = col.get_mut(jj as usize) {
                *slot = val;
            }
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let from = (maxj - minj) as usize;
            let to = (from + (lastlen - curlen) as usize).min(col.len());
            col.iter_mut().take(to).skip(from).for_each(|v| *v = 1.0);
        }
    }
    col.get((maxj - minj - 1).max(0) as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

/// The asymptotic branch: `kstwo.sf(d, round(n1·n2 / (n1 + n2)))`.
fn asymptotic(n1: u64, n2: u64, d: f64) -> KsResult {
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let en = (m * n / (m + n)).round_ties_even().max(1.0) as u64;
    KsResult {
        statistic: d,
        pvalue: kstwo_sf(en, d).clamp(0.0, 1.0),
        method: KsMethod::Asymptotic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_do_not_differ() {
        let a = [1.0, 2.0, 3.0, 4.0];
        let r = ks_2samp(&a, &a).unwrap();
        assert_eq!((r.statistic, r.pvalue), (0.0, 1.0));
    }

    #[test]
    fn disjoint_samples_differ_completely() {
        let r = ks_2samp(&[1.0, 2.0, 3.0], &[10.0, 11.0, 12.0, 13.0]).unwrap();
        assert_eq!(r.statistic, 1.0);
        // scipy: ks_2samp([1,2,3],[10,11,12,13]).pvalue == 0.05714285714285714
        assert!(
            (r.pvalue - 0.05714285714285714).abs() < 1e-15,
            "{}",
            r.pvalue
        );
    }

    #[test]
    fn empty_samples_have_no_test() {
        assert!(ks_2samp(&[], &[1.0]).is_none());
    }
}
