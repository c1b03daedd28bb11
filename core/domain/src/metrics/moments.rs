//! Sample statistics with the conventions of the references: pandas for skew / kurtosis
//! (bias-adjusted), NumPy's linear interpolation for quantiles, ddof = 1 for std.

use statrs::distribution::{Continuous, ContinuousCDF, Normal};

/// The finite values of `x`, in order (quantstats turns ±inf into NaN and skips NaN).
pub fn finite(x: &[f64]) -> Vec<f64> {
    x.iter().copied().filter(|v| v.is_finite()).collect()
}

pub fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample variance (ddof = 1).
pub fn var(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64
}

/// Sample standard deviation (ddof = 1).
pub fn std(x: &[f64]) -> f64 {
    var(x).sqrt()
}

/// Adjusted Fisher-Pearson skewness G1 (pandas `Series.skew`).
pub fn skew(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    if x.len() < 3 {
        return f64::NAN;
    }
    let m = mean(x);
    let (m2, m3) = x.iter().fold((0.0, 0.0), |(a, b), v| {
        let d = v - m;
        (a + d * d, b + d * d * d)
    });
    let (m2, m3) = (m2 / n, m3 / n);
    if m2 == 0.0 {
        return 0.0;
    }
    (n * (n - 1.0)).sqrt() / (n - 2.0) * m3 / m2.powf(1.5)
}

/// Bias-adjusted excess kurtosis G2 (pandas `Series.kurt`).
pub fn kurtosis(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    if x.len() < 4 {
        return f64::NAN;
    }
    let m = mean(x);
    let (m2, m4) = x.iter().fold((0.0, 0.0), |(a, b), v| {
        let d2 = (v - m) * (v - m);
        (a + d2, b + d2 * d2)
    });
    let denominator = (n - 2.0) * (n - 3.0) * m2 * m2;
    if denominator == 0.0 {
        return 0.0;
    }
    let adj = 3.0 * (n - 1.0) * (n - 1.0) / ((n - 2.0) * (n - 3.0));
    n * (n + 1.0) * (n - 1.0) * m4 / denominator - adj
}

pub use strider_base::quantile_sorted;

/// The same quantile without sorting: two O(n) selections (`x` is reordered).
pub fn quantile_select(x: &mut [f64], q: f64) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    let pos = q * (x.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let (_, &mut a, right) = x.select_nth_unstable_by(lo, f64::total_cmp);
    let b = right.iter().copied().fold(f64::INFINITY, f64::min);
    let b = if b.is_finite() { b } else { a };
    let t = pos - lo as f64;
    if t >= 0.5 {
        b - (b - a) * (1.0 - t)
    } else {
        a + (b - a) * t
    }
}

pub fn sorted(x: &[f64]) -> Vec<f64> {
    let mut s = x.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

pub fn std_normal() -> Normal {
    Normal::standard()
}

pub fn norm_cdf(z: f64) -> f64 {
    std_normal().cdf(z)
}

pub fn norm_ppf(p: f64) -> f64 {
    std_normal().inverse_cdf(p)
}

pub fn norm_pdf(z: f64) -> f64 {
    std_normal().pdf(z)
}

/// Pearson correlation.
pub fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        cov += (x - ma) * (y - mb);
        va += (x - ma) * (x - ma);
        vb += (y - mb) * (y - mb);
    }
    cov / (va * vb).sqrt()
}

/// Sample covariance (ddof = 1).
pub fn covariance(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / (a.len() as f64 - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_pandas_and_numpy() {
        let x = [0.01, -0.02, 0.03, 0.0, 0.05, -0.04];
        // pandas: Series(x).skew(), .kurt(); numpy: percentile(x, 5)
        assert!(skew(&x).abs() < 1e-12, "{}", skew(&x));
        assert!(
            (kurtosis(&x) - (-0.7572713774128759)).abs() < 1e-12,
            "{}",
            kurtosis(&x)
        );
        assert!((quantile_sorted(&sorted(&x), 0.05) - (-0.035)).abs() < 1e-15);
        for q in [0.0, 0.05, 0.3, 0.5, 0.95, 1.0] {
            assert_eq!(
                quantile_select(&mut x.to_vec(), q),
                quantile_sorted(&sorted(&x), q)
            );
        }
        assert!((norm_ppf(0.05) + 1.6448536269514729).abs() < 1e-12);
    }
}
