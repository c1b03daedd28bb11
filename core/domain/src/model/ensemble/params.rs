//! `kind = "ensemble"`: members (other `[[models]]` entries, by name) and how their predictions
//! are combined.

use serde::{Deserialize, Serialize};

use crate::labels::Task;
use crate::model::{ModelParams, ModelSpec};

/// How the members' predictions become one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EnsembleMethod {
    /// The plain mean.
    #[default]
    Mean,
    /// Non-negative weights summing to 1, learned from earlier folds' out-of-fold predictions.
    Weighted,
    /// A meta-learner trained on earlier folds' out-of-fold predictions.
    Stacking,
    /// A meta-learner trained inside each training window on its newest part.
    Blending,
}

/// What `weighted` optimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WeightObjective {
    /// Least squares of the combined prediction against the label.
    #[default]
    Mse,
    /// The Sharpe ratio of the weighted members' strategy returns.
    Sharpe,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleParams {
    pub members: Vec<String>,
    #[serde(default)]
    pub method: EnsembleMethod,
    #[serde(default)]
    pub objective: WeightObjective,
    /// The meta-learner of `stacking` and `blending` (ridge, logistic or gbdt); default ridge
    /// (alpha 1) for returns, logistic (c 1) for direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Box<ModelSpec>>,
    /// `blending`: the newest share of each training window the meta-learner is fit on.
    #[serde(default = "default_blend_fraction")]
    pub blend_fraction: f64,
}

fn default_blend_fraction() -> f64 {
    0.2
}

impl EnsembleParams {
    /// The meta-learner to fit (the configured one, or the task's default).
    pub fn meta_spec(&self, task: Task) -> ModelSpec {
        if let Some(m) = &self.meta {
            return (**m).clone();
        }
        let params = match task {
            Task::Regression => ModelParams::Ridge(crate::model::RidgeParams { alpha: 1.0 }),
            Task::Classification => ModelParams::Logistic(crate::model::LogisticParams::default()),
        };
        ModelSpec {
            name: "meta".into(),
            features: None,
            params,
        }
    }

    pub fn validate(&self, task: Task) -> std::result::Result<(), String> {
        if self.members.len() < 2 {
            return Err("`members` needs at least two models".into());
        }
        let mut sorted = self.members.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("`members` lists `{}` twice", w[0]));
        }
        if !(self.blend_fraction > 0.0 && self.blend_fraction <= 0.5) {
            return Err(format!(
                "`blend_fraction` = {} must be in (0, 0.5]",
                self.blend_fraction
            ));
        }
        if self.objective == WeightObjective::Sharpe && self.method != EnsembleMethod::Weighted {
            return Err("`objective` applies to method = \"weighted\" only".into());
        }
        if let Some(m) = &self.meta {
            if !matches!(
                self.method,
                EnsembleMethod::Stacking | EnsembleMethod::Blending
            ) {
                return Err("`meta` applies to method = \"stacking\" or \"blending\" only".into());
            }
            if !matches!(
                m.params,
                ModelParams::Ridge(_) | ModelParams::Logistic(_) | ModelParams::Gbdt(_)
            ) || m.features.is_some()
            {
                return Err(
                    "`meta` must be a ridge, logistic or gbdt model without `features`".into(),
                );
            }
            m.validate(task).map_err(|e| format!("`meta`: {e}"))?;
        }
        Ok(())
    }
}
