//! Performance metrics of a return series. Conventions (checked against quantstats 0.0.86):
//! sample std (ddof = 1); annual risk-free rate de-annualised geometrically
//! (`(1 + rf)^(1/P) - 1`), negative rates honoured (quantstats ignores them); max drawdown on
//! wealth compounded from a base of 1, so a first-day loss counts; CAGR over `n / P` years.
//! Undefined values (e.g. Sharpe of a constant series) are `NaN`, written as JSON `null`.

use serde::Serialize;

use crate::config::MetricsSpec;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub n_periods: usize,
    pub total_return: f64,
    pub cagr: f64,
    pub volatility: f64,
    pub sharpe: f64,
    pub sortino: f64,
    pub max_drawdown: f64,
    /// Share of periods with a positive return, zeros included in the denominator.
    pub hit_rate: f64,
    /// quantstats' win rate: positive periods over non-zero periods.
    pub win_rate: f64,
}

pub fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample standard deviation (ddof = 1).
pub fn std(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
}

/// Per-period risk-free rate from an annual one.
pub fn periodic_rf(annual: f64, periods: f64) -> f64 {
    (1.0 + annual).powf(1.0 / periods) - 1.0
}

pub fn sharpe(r: &[f64], spec: &MetricsSpec) -> f64 {
    let rf = periodic_rf(spec.risk_free, spec.periods_per_year);
    let x: Vec<f64> = r.iter().map(|v| v - rf).collect();
    let s = std(&x);
    if s > 0.0 {
        mean(&x) / s * spec.periods_per_year.sqrt()
    } else {
        f64::NAN
    }
}

pub fn sortino(r: &[f64], spec: &MetricsSpec) -> f64 {
    let rf = periodic_rf(spec.risk_free, spec.periods_per_year);
    let x: Vec<f64> = r.iter().map(|v| v - rf).collect();
    let dd = (x.iter().map(|v| v.min(0.0).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    if dd > 0.0 {
        mean(&x) / dd * spec.periods_per_year.sqrt()
    } else {
        f64::NAN
    }
}

pub fn max_drawdown(r: &[f64]) -> f64 {
    let (mut wealth, mut peak, mut worst) = (1.0f64, 1.0f64, 0.0f64);
    for v in r {
        wealth *= 1.0 + v;
        peak = peak.max(wealth);
        worst = worst.min(wealth / peak - 1.0);
    }
    worst
}

pub fn summarize(r: &[f64], spec: &MetricsSpec) -> Summary {
    let n = r.len();
    let growth: f64 = r.iter().map(|v| 1.0 + v).product();
    let years = n as f64 / spec.periods_per_year;
    let positive = r.iter().filter(|v| **v > 0.0).count();
    let nonzero = r.iter().filter(|v| **v != 0.0).count();
    let ratio = |a: usize, b: usize| if b > 0 { a as f64 / b as f64 } else { f64::NAN };
    Summary {
        n_periods: n,
        total_return: growth - 1.0,
        cagr: if n > 0 && growth >= 0.0 {
            growth.powf(1.0 / years) - 1.0
        } else {
            f64::NAN
        },
        volatility: std(r) * spec.periods_per_year.sqrt(),
        sharpe: sharpe(r, spec),
        sortino: sortino(r, spec),
        max_drawdown: max_drawdown(r),
        hit_rate: ratio(positive, n),
        win_rate: ratio(positive, nonzero),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_values() {
        let spec = MetricsSpec::default();
        let r = [0.01, -0.02, 0.0, 0.03];
        let s = summarize(&r, &spec);
        assert!((s.total_return - (1.01 * 0.98 * 1.03 - 1.0)).abs() < 1e-15);
        assert!((s.max_drawdown - (-0.02)).abs() < 1e-15);
        assert_eq!(s.hit_rate, 0.5);
        assert!((s.win_rate - 2.0 / 3.0).abs() < 1e-15);
        // A first-day loss is a drawdown from the starting wealth.
        assert!((max_drawdown(&[-0.1, 0.05]) + 0.1).abs() < 1e-15);
        assert!(summarize(&[0.01, 0.01], &spec).sharpe.is_nan());
    }
}
