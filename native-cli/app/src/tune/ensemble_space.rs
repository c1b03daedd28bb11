//! The objective "combine a config's models": each trial adds one `kind = "ensemble"` model over
//! every model of the config (method, weight objective, blend fraction from the trial) and walks
//! it forward. Its weights or meta-model are learned fold by fold from earlier folds only, so the
//! trial's value is out-of-sample; nothing is fit on the returns it is judged on.

use serde_json::Value;
use strider_core::config::Config;
use strider_core::data::Instrument;
use strider_core::model::ensemble::{EnsembleMethod, EnsembleParams, WeightObjective};
use strider_core::model::{ModelParams, ModelSpec};
use strider_core::pipeline;
use strider_tune::{Distribution, Outcome, SearchSpace, Study, Trial};

use super::config_space::Metric;

/// The tuned ensemble's model name.
pub const TUNED: &str = "tuned-ensemble";

pub struct EnsembleObjective {
    config: Config,
    instruments: Vec<Instrument>,
    pub objective: Metric,
    /// Where each trial's training metrics go as they happen.
    pub sink: Option<std::sync::Arc<dyn super::tracking::TrialSink>>,
}

fn categorical(choices: &[&str]) -> Distribution {
    Distribution::Categorical {
        choices: choices.iter().map(|c| Value::from(*c)).collect(),
    }
}

impl EnsembleObjective {
    pub fn new(
        config: Config,
        instruments: Vec<Instrument>,
        objective: Metric,
    ) -> crate::Result<Self> {
        let members = config
            .models
            .iter()
            .filter(|m| !matches!(m.params, ModelParams::Ensemble(_)))
            .count();
        if members < 2 {
            crate::bail!(
                "--ensemble needs a config with at least two [[models]] that are not ensembles"
            );
        }
        if config.models.iter().any(|m| m.name == TUNED) {
            crate::bail!("--ensemble adds a model `{TUNED}`; the config already has one");
        }
        Ok(Self {
            config,
            instruments,
            objective,
            sink: None,
        })
    }

    pub fn space(&self) -> SearchSpace {
        [
            (
                "ensemble.method".to_string(),
                categorical(&["mean", "weighted", "stacking", "blending"]),
            ),
            (
                "ensemble.objective".to_string(),
                categorical(&["mse", "sharpe"]),
            ),
            (
                "ensemble.blend_fraction".to_string(),
                Distribution::float(0.1, 0.5),
            ),
        ]
        .into_iter()
        .collect()
    }

    /// The config with the trial's ensemble over every other model appended.
    pub fn apply(
        &self,
        params: &std::collections::BTreeMap<String, Value>,
    ) -> crate::Result<Config> {
        let text = |k: &str| {
            params
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let method = match text("ensemble.method").as_str() {
            "weighted" => EnsembleMethod::Weighted,
            "stacking" => EnsembleMethod::Stacking,
            "blending" => EnsembleMethod::Blending,
            _ => EnsembleMethod::Mean,
        };
        // The weight objective means something for weighted ensembles only.
        let objective = match (method, text("ensemble.objective").as_str()) {
            (EnsembleMethod::Weighted, "sharpe") => WeightObjective::Sharpe,
            _ => WeightObjective::Mse,
        };
        let blend_fraction = params
            .get("ensemble.blend_fraction")
            .and_then(Value::as_f64)
            .unwrap_or(0.2);
        let mut config = self.config.clone();
        let members = config
            .models
            .iter()
            .filter(|m| !matches!(m.params, ModelParams::Ensemble(_)))
            .map(|m| m.name.clone())
            .collect();
        config.models.push(ModelSpec {
            name: TUNED.into(),
            features: None,
            params: ModelParams::Ensemble(EnsembleParams {
                members,
                method,
                objective,
                meta: None,
                blend_fraction,
            }),
        });
        config.validate()?;
        Ok(config)
    }

    pub fn evaluate(&self, study: &mut Study, trial: &mut Trial) -> crate::Result<Outcome> {
        let config = self.apply(&trial.params())?;
        let native = crate::native_gbdt(Vec::new());
        let idx = [config.models.len() - 1];
        let out = pipeline::RunRequest::new(&config, &self.instruments, config.seed_or_default())
            .native_gbdt(native.as_deref())
            .models(&idx)
            .run(&mut |e| {
                if let Some(sink) = self.sink.as_deref() {
                    sink.event(trial.number, &e);
                }
            })?;
        let net: Vec<f64> = out.models[0]
            .backtest
            .portfolio
            .iter()
            .map(|d| d.strategy)
            .collect();
        super::config_space::objective_value(
            study,
            trial,
            self.objective,
            &net,
            out.summary.models[0].evaluation.strategy.sharpe,
            &config.metrics,
        )
    }
}

impl strider_tune::Objective for EnsembleObjective {
    fn run(&self, study: &mut Study, trial: &mut Trial) -> Result<Outcome, String> {
        self.evaluate(study, trial).map_err(|e| e.chain())
    }
}
