//! A strategy against a benchmark, on the periods where both are finite.

use serde::Serialize;

use super::moments::*;
use crate::metrics::MetricsSpec;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchmarkMetrics {
    /// quantstats `greeks`: `(mean(r) - beta mean(b)) * P`, linear, no risk-free rate.
    pub alpha: f64,
    pub beta: f64,
    pub correlation: f64,
    /// quantstats / empyrical `information_ratio`: `mean(r - b) / std(r - b)`, per period.
    pub information_ratio: f64,
    /// The same, annualised by `sqrt(P)`.
    pub information_ratio_annualized: f64,
    /// `std(r - b) * sqrt(P)`.
    pub tracking_error: f64,
    /// empyrical `up_capture`: annual return of `r` over annual return of `b`, on periods `b > 0`.
    pub up_capture: f64,
    /// empyrical `down_capture`, on periods `b < 0`.
    pub down_capture: f64,
}

/// empyrical `annual_return`: `prod(1 + r)^(P / n) - 1`.
fn annual_return(r: &[f64], p: f64) -> f64 {
    let growth: f64 = r.iter().map(|v| 1.0 + v).product();
    growth.powf(p / r.len() as f64) - 1.0
}

pub fn benchmark_metrics(r: &[f64], b: &[f64], spec: &MetricsSpec) -> BenchmarkMetrics {
    let (r, b): (Vec<f64>, Vec<f64>) = r
        .iter()
        .zip(b)
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(x, y)| (*x, *y))
        .unzip();
    let p = spec.periods_per_year;
    let beta = covariance(&r, &b) / var(&b);
    let diff: Vec<f64> = r.iter().zip(&b).map(|(x, y)| x - y).collect();
    let ir = mean(&diff) / std(&diff);
    let capture = |keep: fn(f64) -> bool| {
        let (rr, bb): (Vec<f64>, Vec<f64>) = r
            .iter()
            .zip(&b)
            .filter(|(_, y)| keep(**y))
            .map(|(x, y)| (*x, *y))
            .unzip();
        annual_return(&rr, p) / annual_return(&bb, p)
    };
    BenchmarkMetrics {
        alpha: (mean(&r) - beta * mean(&b)) * p,
        beta,
        correlation: correlation(&r, &b),
        information_ratio: ir,
        information_ratio_annualized: ir * p.sqrt(),
        tracking_error: std(&diff) * p.sqrt(),
        up_capture: capture(|y| y > 0.0),
        down_capture: capture(|y| y < 0.0),
    }
}
