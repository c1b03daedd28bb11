//! Deflated Sharpe ratio (Bailey & López de Prado 2014): the PSR of the selected strategy against
//! the Sharpe ratio expected from the best of `N` unskilled trials,
//! `SR0 = sqrt(V) ((1 - g) z(1 - 1/N) + g z(1 - 1/(N e)))`, `g` the Euler-Mascheroni constant,
//! `V` the variance (ddof = 1) of the trials' per-period Sharpe ratios. As in the paper, the
//! trials' Sharpe ratios are taken to have mean zero.

use serde::Serialize;

use crate::metrics::MetricsSpec;
use crate::metrics::moments::{norm_ppf, var};
use crate::metrics::{psr, sharpe_per_period};

const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeflatedSharpe {
    pub n_trials: usize,
    /// Per-period Sharpe ratio of the selected strategy.
    pub sharpe: f64,
    /// Variance of the trials' per-period Sharpe ratios.
    pub sharpe_variance: f64,
    /// `SR0`, the expected maximum per-period Sharpe ratio under no skill.
    pub expected_max_sharpe: f64,
    pub dsr: f64,
}

/// `E[max]` of `n` standard normal trials (in units of their standard deviation).
pub fn expected_max_sharpe(n: usize) -> f64 {
    let n = n as f64;
    (1.0 - EULER_GAMMA) * norm_ppf(1.0 - 1.0 / n)
        + EULER_GAMMA * norm_ppf(1.0 - 1.0 / (n * std::f64::consts::E))
}

/// DSR of `selected` (its returns) given every trial's per-period Sharpe ratio (selected included).
/// Undefined (`NaN`) with fewer than two trials.
pub fn deflated_sharpe(
    selected: &[f64],
    trial_sharpes: &[f64],
    spec: &MetricsSpec,
) -> DeflatedSharpe {
    let n = trial_sharpes.len();
    let v = var(trial_sharpes);
    let sr0 = if n >= 2 {
        v.sqrt() * expected_max_sharpe(n)
    } else {
        f64::NAN
    };
    DeflatedSharpe {
        n_trials: n,
        sharpe: sharpe_per_period(selected, spec),
        sharpe_variance: v,
        expected_max_sharpe: sr0,
        dsr: psr(selected, sr0, spec),
    }
}
