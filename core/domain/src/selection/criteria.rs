//! The `[selection]` table: how models are ranked and what a recommended model must pass.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// What ranks the models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The deflated Sharpe ratio (against the benchmark, deflated by every trial).
    #[default]
    MaxDsr,
    /// The annualised net Sharpe ratio.
    MaxSharpe,
    /// The annualised net Sortino ratio.
    MaxSortino,
}

/// What a model must beat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Benchmark {
    /// Buy-and-hold of the same instruments over the same days: the DSR is of the excess returns.
    #[default]
    BuyAndHold,
    /// Cash: the DSR is of the net returns.
    Zero,
}

impl Benchmark {
    pub fn label(self) -> &'static str {
        match self {
            Benchmark::BuyAndHold => "buy-and-hold",
            Benchmark::Zero => "cash",
        }
    }
}

/// The selection criteria. The defaults deflate for every model tried (DSR >= 0.95 against
/// buy-and-hold), require membership of the 90% model confidence set and a positive Sharpe
/// ratio in at least half of the folds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelectionSpec {
    pub rule: Rule,
    /// The least deflated Sharpe ratio (a probability) a recommended model has.
    pub min_dsr: f64,
    /// The deepest drawdown allowed, e.g. -0.35 (`None`: any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_drawdown: Option<f64>,
    /// A recommended model must be in the model confidence set.
    pub require_mcs: bool,
    /// The MCS size: models with an MCS p-value above it are in the set.
    pub mcs_size: f64,
    /// The least share of folds with a positive net Sharpe ratio.
    pub min_positive_folds: f64,
    pub benchmark: Benchmark,
    /// The largest SPA p-value against the benchmark a recommended model may have (`None`: not
    /// required; the DSR already asks for an excess over the benchmark).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_spa_p_value: Option<f64>,
    /// Bootstrap repetitions for SPA and MCS.
    pub reps: usize,
}

impl Default for SelectionSpec {
    fn default() -> Self {
        Self {
            rule: Rule::MaxDsr,
            min_dsr: 0.95,
            max_drawdown: None,
            require_mcs: true,
            mcs_size: 0.1,
            min_positive_folds: 0.5,
            benchmark: Benchmark::BuyAndHold,
            max_spa_p_value: None,
            reps: 1000,
        }
    }
}

impl SelectionSpec {
    pub fn validate(&self) -> Result<()> {
        let within = |key: &str, v: f64, lo: f64, hi: f64| {
            if v >= lo && v <= hi {
                Ok(())
            } else {
                Err(Error::config(
                    format!("selection.{key}"),
                    format!("= {v} must be in [{lo}, {hi}]"),
                ))
            }
        };
        within("min_dsr", self.min_dsr, 0.0, 1.0)?;
        within("min_positive_folds", self.min_positive_folds, 0.0, 1.0)?;
        within("mcs_size", self.mcs_size, 1e-9, 1.0 - 1e-9)?;
        if let Some(d) = self.max_drawdown {
            within("max_drawdown", d, -1.0, 0.0)?;
        }
        if let Some(p) = self.max_spa_p_value {
            within("max_spa_p_value", p, 0.0, 1.0)?;
        }
        if self.reps == 0 || self.reps > 100_000 {
            return Err(Error::config(
                "selection.reps",
                format!("= {} must be in 1..=100000", self.reps),
            ));
        }
        Ok(())
    }
}
