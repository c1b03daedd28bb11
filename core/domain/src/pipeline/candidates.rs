//! A run's models as model selection sees them.

use super::RunOutput;
use crate::config::Config;
use crate::selection::{Candidate, SelectionInput};

impl RunOutput {
    /// Each model's path-0 net and benchmark returns, fold Sharpe ratios and fitted parameters;
    /// `other_trials` counts what was tried besides these models (a tuning study's trials).
    pub fn selection_input(&self, config: &Config, other_trials: usize) -> SelectionInput {
        let candidates = self
            .models
            .iter()
            .zip(&self.summary.models)
            .map(|(m, s)| {
                let days = &m.backtest.portfolio;
                Candidate {
                    name: m.name.clone(),
                    kind: s.kind.clone(),
                    dates: days.iter().map(|d| d.date).collect(),
                    net: days.iter().map(|d| d.strategy).collect(),
                    benchmark: days.iter().map(|d| d.benchmark).collect(),
                    fold_sharpes: self
                        .summary
                        .folds
                        .iter()
                        .filter(|f| f.model == m.name)
                        .map(|f| f.metrics.strategy_sharpe)
                        .collect(),
                    fitted: m.fitted.clone(),
                }
            })
            .collect();
        SelectionInput {
            candidates,
            other_trials,
            metrics: config.metrics.clone(),
            seed: self.summary.seed,
        }
    }
}
