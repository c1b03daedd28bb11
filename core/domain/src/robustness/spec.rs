//! `[robustness]`: which stresses to run and how much of a model's Sharpe ratio must survive them.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RobustnessSpec {
    /// Costs multiplied by each factor.
    pub cost_multipliers: Vec<f64>,
    /// Extra bars between signal and trade.
    pub extra_delays: Vec<usize>,
    /// Gaussian noise of each many standard deviations on the test features.
    pub feature_noise: Vec<f64>,
    /// Other seeds for the stochastic models (trees, LSTMs, ensembles of them).
    pub seeds: usize,
    /// Runs that drop each many first years of data.
    pub drop_years: Vec<u32>,
    /// Sharpe ratios in high / low volatility terciles and up / down benchmark trends.
    pub regimes: bool,
    /// A stressed Sharpe ratio passes at `base - (1 - min_retained) * |base|` or above.
    pub min_retained: f64,
}

impl Default for RobustnessSpec {
    fn default() -> Self {
        Self {
            cost_multipliers: vec![2.0, 5.0, 10.0],
            extra_delays: vec![1, 2],
            feature_noise: vec![0.1, 0.5],
            seeds: 3,
            drop_years: vec![1, 2],
            regimes: true,
            min_retained: 0.5,
        }
    }
}

impl RobustnessSpec {
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, msg: String| Err(Error::config(format!("robustness.{key}"), msg));
        if let Some(m) = self
            .cost_multipliers
            .iter()
            .find(|m| !(0.0..=1000.0).contains(*m))
        {
            return bad("cost_multipliers", format!("{m} must be in [0, 1000]"));
        }
        if let Some(d) = self.extra_delays.iter().find(|d| **d > 100) {
            return bad("extra_delays", format!("{d} must be at most 100 bars"));
        }
        if let Some(k) = self
            .feature_noise
            .iter()
            .find(|k| !(0.0..=100.0).contains(*k))
        {
            return bad("feature_noise", format!("{k} must be in [0, 100]"));
        }
        if self.seeds > 50 {
            return bad("seeds", format!("{} must be at most 50", self.seeds));
        }
        if let Some(y) = self.drop_years.iter().find(|y| **y > 100) {
            return bad("drop_years", format!("{y} must be at most 100"));
        }
        if !(0.0..=1.0).contains(&self.min_retained) {
            return bad(
                "min_retained",
                format!("{} must be in [0, 1]", self.min_retained),
            );
        }
        Ok(())
    }
}
