//! The hyper-parameters a report page lets a reader edit before retraining a model in the
//! browser: which models can be retrained there, and each parameter's label, lower bound, step
//! and current value. The page reads this from the wasm core instead of repeating Rust's names.

use serde::Serialize;

use super::{ModelParams, ModelSpec};
use crate::gbdt::Engine;
use crate::model::lstm::Backend;

/// One editable hyper-parameter of a model, with its value in the run's config.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EditableParam {
    /// The `[[models]]` key.
    pub key: &'static str,
    /// What the page shows.
    pub label: &'static str,
    /// The smallest value the model accepts.
    pub min: f64,
    /// The input's step.
    pub step: f64,
    /// The value in the run's config.
    pub value: serde_json::Value,
}

/// (key, label, min, step) of a tree model's editable parameters.
const GBDT: [(&str, &str, f64, f64); 9] = [
    ("num_iterations", "trees", 1.0, 1.0),
    ("learning_rate", "learning rate", 0.001, 0.01),
    ("num_leaves", "leaves", 2.0, 1.0),
    ("max_depth", "max depth (-1 none)", -1.0, 1.0),
    ("min_data_in_leaf", "min rows per leaf", 1.0, 1.0),
    ("feature_fraction", "feature fraction", 0.05, 0.05),
    ("bagging_fraction", "bagging fraction", 0.05, 0.05),
    ("bagging_freq", "bagging every", 0.0, 1.0),
    ("lambda_l2", "L2", 0.0, 0.5),
];

/// (key, label, min, step) of an LSTM's editable parameters.
const LSTM: [(&str, &str, f64, f64); 8] = [
    ("window", "window (rows)", 1.0, 1.0),
    ("hidden", "hidden units", 1.0, 1.0),
    ("layers", "layers", 1.0, 1.0),
    ("dropout", "dropout", 0.0, 0.05),
    ("epochs", "max epochs", 1.0, 1.0),
    ("batch_size", "batch size", 1.0, 1.0),
    ("learning_rate", "learning rate", 0.0001, 0.0005),
    ("patience", "early-stopping patience", 0.0, 1.0),
];

impl ModelSpec {
    /// The parameters a browser can retrain this model with, or `None` when it cannot be
    /// retrained there: only Strider's own trees (native LightGBM is not in the browser) and
    /// LSTMs on the CPU engines.
    pub fn editable_params(&self) -> Option<Vec<EditableParam>> {
        let table = match &self.params {
            ModelParams::Gbdt(p) if p.engine == Engine::Strider => &GBDT[..],
            ModelParams::Lstm(p) if p.backend != Backend::Wgpu => &LSTM[..],
            _ => return None,
        };
        let values = serde_json::to_value(&self.params).ok()?;
        Some(
            table
                .iter()
                .map(|&(key, label, min, step)| EditableParam {
                    key,
                    label,
                    min,
                    step,
                    value: values.get(key).cloned().unwrap_or(serde_json::Value::Null),
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml_text: &str) -> ModelSpec {
        let v: toml::Value = toml::from_str(toml_text).unwrap();
        v.try_into().unwrap()
    }

    #[test]
    fn trees_and_cpu_lstms_are_editable_with_their_config_values() {
        let g = spec("kind = \"gbdt\"\nnum_leaves = 7\n")
            .editable_params()
            .unwrap();
        assert_eq!(g.len(), GBDT.len());
        let leaves = g.iter().find(|p| p.key == "num_leaves").unwrap();
        assert_eq!(leaves.value, serde_json::json!(7));
        assert!(g.iter().all(|p| !p.value.is_null()), "{g:?}");
        let l = spec("kind = \"lstm\"\nhidden = 9\n")
            .editable_params()
            .unwrap();
        assert_eq!(l.iter().find(|p| p.key == "hidden").unwrap().value, 9);
        assert!(l.iter().all(|p| !p.value.is_null()), "{l:?}");
    }

    #[test]
    fn native_engines_and_linear_models_are_not() {
        assert!(spec("kind = \"ridge\"\n").editable_params().is_none());
        assert!(
            spec("kind = \"gbdt\"\nengine = \"lightgbm\"\n")
                .editable_params()
                .is_none()
        );
        assert!(
            spec("kind = \"lstm\"\nbackend = \"wgpu\"\n")
                .editable_params()
                .is_none()
        );
    }
}
