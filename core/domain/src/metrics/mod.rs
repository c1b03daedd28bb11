//! Performance metrics, NaN-aware, in pure f64 (wasm-safe).
//!
//! Conventions, each tested against its reference (`tests/metrics_golden.rs`):
//! - quantstats 0.0.86 for Sharpe, Sortino, volatility, CAGR (`n_finite / P` years), Calmar,
//!   max drawdown (phantom base of 1, so a first-day loss counts), drawdown episodes
//!   (`longest_drawdown_days` in calendar days, `avg_drawdown` = mean episode depth), win rate
//!   (zeros excluded), profit factor, payoff ratio, tail ratio, Omega, parametric VaR / CVaR,
//!   skew and excess kurtosis (pandas, bias-adjusted), PSR, alpha / beta (`greeks`, linear alpha)
//!   and the information ratio (per period, as both references);
//! - empyrical-reloaded for historical VaR (`np.percentile`, linear) and up / down capture;
//!   historical CVaR is quantstats' `method="historical"` (mean of returns <= the 5% quantile);
//! - hit rate counts zeros in the denominator (unlike win rate).
//!
//! The annual risk-free rate is de-annualised geometrically, `(1 + rf)^(1/P) - 1`, and a
//! negative rate is honoured (quantstats silently ignores `rf < 0`). Undefined values are `NaN`
//! (JSON `null`).

use serde::{Deserialize, Serialize};

mod attribution;
mod benchmark;
mod drawdown;
pub mod moments;
mod series;

pub use attribution::{GroupMetrics, YearRow, calendar_table};
pub use benchmark::{BenchmarkMetrics, benchmark_metrics};
pub use drawdown::{DrawdownTracker, Episode, drawdown_series, episodes, max_drawdown};
pub use moments::{mean, std};
pub use series::{
    SeriesMetrics, min_track_record_length, periodic_rf, psr, rolling_sharpe, series_metrics,
    sharpe, sharpe_per_period,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSpec {
    #[serde(default = "default_periods")]
    pub periods_per_year: f64,
    /// Annual risk-free rate, de-annualised geometrically; negative rates are honoured.
    #[serde(default)]
    pub risk_free: f64,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        Self {
            periods_per_year: default_periods(),
            risk_free: 0.0,
        }
    }
}

fn default_periods() -> f64 {
    252.0
}
