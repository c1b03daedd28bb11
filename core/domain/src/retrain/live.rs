//! Live statistics of paper trading: what the champion's scores would have earned on the bars
//! that have happened, and how well its scores matched the forward returns that have matured.

use serde::Serialize;

use super::spec::LiveMetric;
use crate::backtest::PortfolioDay;
use crate::metrics::{self, MetricsSpec};

/// One matured prediction: the score and the forward return it predicted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Matured {
    pub score: f64,
    pub forward_return: f64,
    /// The position the score took.
    pub position: f64,
}

/// A live statistic over the given days (Sharpe) or matured predictions (hit rate, IC); `None`
/// when there is nothing to measure.
pub fn live_metric(
    metric: LiveMetric,
    days: &[PortfolioDay],
    matured: &[Matured],
    spec: &MetricsSpec,
) -> Option<f64> {
    let value = match metric {
        LiveMetric::Sharpe => {
            let r: Vec<f64> = days.iter().map(|d| d.strategy).collect();
            if r.len() < 2 {
                return None;
            }
            let s = metrics::sharpe(&r, spec);
            // A flat book has no volatility: no skill either way.
            if s.is_finite() { s } else { 0.0 }
        }
        LiveMetric::HitRate => {
            let taken: Vec<&Matured> = matured.iter().filter(|m| m.position != 0.0).collect();
            if taken.is_empty() {
                return None;
            }
            let hits = taken
                .iter()
                .filter(|m| m.position * m.forward_return > 0.0)
                .count();
            hits as f64 / taken.len() as f64
        }
        LiveMetric::Ic => {
            let s: Vec<f64> = matured.iter().map(|m| m.score).collect();
            let f: Vec<f64> = matured.iter().map(|m| m.forward_return).collect();
            pearson(&s, &f)?
        }
    };
    value.is_finite().then_some(value)
}

fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() < 3 {
        return None;
    }
    let (ma, mb) = (metrics::mean(a), metrics::mean(b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    let r = sab / (saa * sbb).sqrt();
    r.is_finite().then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(strategy: f64) -> PortfolioDay {
        PortfolioDay {
            date: chrono::NaiveDate::default(),
            strategy,
            gross: strategy,
            cost: 0.0,
            benchmark: 0.0,
            exposure: 1.0,
            turnover: 0.0,
        }
    }

    #[test]
    fn metrics_of_a_window() {
        let spec = MetricsSpec::default();
        let days: Vec<PortfolioDay> = [0.01, -0.005, 0.02, 0.0].into_iter().map(day).collect();
        let s = live_metric(LiveMetric::Sharpe, &days, &[], &spec).unwrap();
        assert!((s - metrics::sharpe(&[0.01, -0.005, 0.02, 0.0], &spec)).abs() < 1e-15);
        let m = |score: f64, fwd: f64| Matured {
            score,
            forward_return: fwd,
            position: score.signum(),
        };
        let matured = [m(1.0, 0.02), m(-1.0, 0.01), m(0.5, 0.03), m(-0.5, -0.02)];
        assert_eq!(
            live_metric(LiveMetric::HitRate, &[], &matured, &spec),
            Some(0.75)
        );
        assert!(live_metric(LiveMetric::Ic, &[], &matured, &spec).unwrap() > 0.0);
        assert_eq!(live_metric(LiveMetric::HitRate, &[], &[], &spec), None);
    }
}
