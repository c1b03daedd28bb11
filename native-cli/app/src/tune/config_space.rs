//! The objective "validate a config": built-in search spaces for the model being tuned (LightGBM
//! parameters for trees, the penalty for ridge / logistic) and feature selection (each
//! `[[features]]` table in or out), a walk-forward run per trial, the out-of-sample net Sharpe
//! (or its deflated value) as the objective and the running mean of fold Sharpes as
//! intermediate values for the pruner.

use std::cell::Cell;

use serde_json::{Value, json};
use strider_core::config::Config;
use strider_core::data::Instrument;
use strider_core::model::ModelParams;
use strider_core::pipeline::{self, Event};
use strider_tune::{Distribution, Outcome, SearchSpace, Study, Trial};

pub struct ConfigObjective {
    pub config: Config,
    pub instruments: Vec<Instrument>,
    pub model: usize,
    pub seed: u64,
    pub objective: Metric,
    pub tune_features: bool,
    /// Where each trial's intermediate values and training metrics go as they happen.
    pub sink: Option<std::sync::Arc<dyn super::tracking::TrialSink>>,
}

/// What a config trial maximises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Out-of-sample net Sharpe ratio.
    Sharpe,
    /// Its deflated value (DSR over the trials so far).
    Dsr,
}

impl Metric {
    /// The names a user gives (`--objective`).
    pub const NAMES: [&str; 2] = ["sharpe", "dsr"];
}

impl std::str::FromStr for Metric {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sharpe" => Ok(Metric::Sharpe),
            "dsr" => Ok(Metric::Dsr),
            other => Err(format!("unknown objective `{other}` (sharpe, dsr)")),
        }
    }
}

fn float(low: f64, high: f64, log: bool) -> Distribution {
    Distribution::Float {
        low,
        high,
        log,
        step: None,
    }
}

fn int(low: i64, high: i64, log: bool) -> Distribution {
    Distribution::Int {
        low,
        high,
        log,
        step: 1,
    }
}

const SHARPE_ATTR: &str = "strider:sharpe_per_period";

impl ConfigObjective {
    /// `model.<key>` for the model's parameters, `feature.<k>` for feature groups.
    pub fn space(&self) -> SearchSpace {
        let mut s = SearchSpace::new();
        match &self.config.models[self.model].params {
            ModelParams::Gbdt(_) => {
                s.insert("model.learning_rate".into(), float(0.01, 0.3, true));
                s.insert("model.num_leaves".into(), int(4, 64, true));
                s.insert("model.num_iterations".into(), int(20, 300, true));
                s.insert("model.min_data_in_leaf".into(), int(10, 300, true));
                s.insert("model.feature_fraction".into(), float(0.4, 1.0, false));
                s.insert("model.lambda_l2".into(), float(1e-3, 100.0, true));
            }
            ModelParams::Ridge(_) => {
                s.insert("model.alpha".into(), float(1e-3, 1e6, true));
            }
            ModelParams::Logistic(_) => {
                s.insert("model.c".into(), float(1e-4, 1e3, true));
            }
            ModelParams::Lstm(_) => {
                s.insert("model.layers".into(), int(1, 3, false));
                s.insert("model.hidden".into(), int(8, 128, true));
                s.insert("model.learning_rate".into(), float(1e-4, 3e-2, true));
                s.insert("model.dropout".into(), float(0.0, 0.5, false));
                s.insert("model.window".into(), int(5, 60, true));
            }
            // The members keep their parameters; the blend's split is the ensemble's own knob.
            ModelParams::Ensemble(e) => {
                if e.method == strider_core::model::ensemble::EnsembleMethod::Blending {
                    s.insert("model.blend_fraction".into(), float(0.1, 0.5, false));
                }
            }
        }
        if self.tune_features && self.config.features.len() > 1 {
            for k in 0..self.config.features.len() {
                s.insert(
                    format!("feature.{k}"),
                    Distribution::Categorical {
                        choices: vec![Value::Bool(true), Value::Bool(false)],
                    },
                );
            }
        }
        s
    }

    /// The config with a trial's parameters applied (only the tuned model changes).
    pub fn apply(
        &self,
        params: &std::collections::BTreeMap<String, Value>,
    ) -> crate::Result<Config> {
        let mut config = self.config.clone();
        let mut spec = serde_json::to_value(&config.models[self.model])?;
        for (k, v) in params {
            if let Some(key) = k.strip_prefix("model.") {
                spec[key] = v.clone();
            }
        }
        config.models[self.model] = serde_json::from_value(spec)?;
        if self.tune_features && self.config.features.len() > 1 {
            let keep: Vec<_> = config
                .features
                .iter()
                .enumerate()
                .filter(|(k, _)| {
                    params
                        .get(&format!("feature.{k}"))
                        .and_then(Value::as_bool)
                        .unwrap_or(true)
                })
                .map(|(_, f)| f.clone())
                .collect();
            if keep.is_empty() {
                crate::bail!("every feature group is switched off");
            }
            config.features = keep;
        }
        config.validate()?;
        Ok(config)
    }

    pub fn evaluate(&self, study: &mut Study, trial: &mut Trial) -> crate::Result<Outcome> {
        let config = match self.apply(&trial.params()) {
            Ok(c) => c,
            Err(e) => return Ok(Outcome::Fail(e.chain())),
        };
        let prune = Cell::new(false);
        let mut sharpes: Vec<f64> = Vec::new();
        let mut error: Option<crate::Error> = None;
        let mut last_beat = std::time::Instant::now();
        let native = crate::native_gbdt(Vec::new());
        let cancel = || prune.get();
        let models = [self.model];
        let request = pipeline::RunRequest::new(&config, &self.instruments, self.seed)
            .models(&models)
            .native_gbdt(native.as_deref())
            .cancel(&cancel);
        let sink = self.sink.as_deref();
        let result = request.run(&mut |e| {
            if let Some(sink) = sink {
                sink.event(trial.number, &e);
            }
            if let Event::FoldDone { split, sharpe, .. } = e {
                sharpes.push(if sharpe.is_finite() { sharpe } else { 0.0 });
                let running = sharpes.iter().sum::<f64>() / sharpes.len() as f64;
                let r = (|| -> crate::Result<()> {
                    study.report(trial, split as i64, running)?;
                    if let Some(sink) = sink {
                        sink.intermediate(trial.number, split as i64, running);
                    }
                    if last_beat.elapsed().as_secs() >= 2 {
                        study.storage().heartbeat(trial.id)?;
                        last_beat = std::time::Instant::now();
                    }
                    if study.should_prune(trial)? {
                        prune.set(true);
                    }
                    Ok(())
                })();
                if let Err(err) = r {
                    error.get_or_insert(err);
                    prune.set(true);
                }
            }
        });
        if let Some(e) = error {
            return Err(e);
        }
        let out = match result {
            Ok(o) => o,
            Err(strider_core::Error::Cancelled) => return Ok(Outcome::Pruned),
            Err(e) => return Ok(Outcome::Fail(e.to_string())),
        };
        let m = &out.summary.models[0];
        let net: Vec<f64> = out.models[0]
            .backtest
            .portfolio
            .iter()
            .map(|d| d.strategy)
            .collect();
        study.set_user_attr(
            trial,
            "strider:max_drawdown",
            json!(m.evaluation.strategy.max_drawdown),
        )?;
        objective_value(
            study,
            trial,
            self.objective,
            &net,
            m.evaluation.strategy.sharpe,
            &config.metrics,
        )
    }
}

/// The trial's objective from its net returns: the annualised Sharpe ratio, or its deflated
/// value against every trial the study has completed (this one included). Records the
/// per-period Sharpe the deflation of later trials needs.
pub fn objective_value(
    study: &mut Study,
    trial: &mut Trial,
    metric: Metric,
    net: &[f64],
    sharpe: f64,
    spec: &strider_core::metrics::MetricsSpec,
) -> crate::Result<Outcome> {
    let per_period = strider_core::metrics::sharpe_per_period(net, spec);
    study.set_user_attr(trial, SHARPE_ATTR, json!(per_period))?;
    let value = match metric {
        Metric::Sharpe => sharpe,
        Metric::Dsr => {
            let mut trials: Vec<f64> = study
                .trials()?
                .iter()
                .filter_map(|t| t.user_attrs.get(SHARPE_ATTR).and_then(Value::as_f64))
                .collect();
            trials.push(per_period);
            if trials.len() < 2 {
                strider_core::metrics::psr(net, 0.0, spec)
            } else {
                strider_core::stats::deflated_sharpe(net, &trials, spec).dsr
            }
        }
    };
    Ok(Outcome::Complete(vec![if value.is_finite() {
        value
    } else {
        f64::NAN
    }]))
}

impl strider_tune::Objective for ConfigObjective {
    fn run(&self, study: &mut Study, trial: &mut Trial) -> Result<Outcome, String> {
        self.evaluate(study, trial).map_err(|e| e.chain())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The LSTM's built-in space: its five keys, and a trial's values land in a valid config.
    #[test]
    fn lstm_space_applies_to_the_lstm_model_only() {
        let config = Config::from_toml(crate::bundled::CONFIG).unwrap();
        let model = config.models.iter().position(|m| m.name == "lstm").unwrap();
        let objective = ConfigObjective {
            config,
            instruments: Vec::new(),
            model,
            seed: 1,
            objective: Metric::Sharpe,
            tune_features: false,
            sink: None,
        };
        let space = objective.space();
        let keys: Vec<&str> = space.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "model.dropout",
                "model.hidden",
                "model.layers",
                "model.learning_rate",
                "model.window"
            ]
        );
        let params: std::collections::BTreeMap<String, Value> = [
            ("model.layers", json!(2)),
            ("model.hidden", json!(24)),
            ("model.learning_rate", json!(0.002)),
            ("model.dropout", json!(0.25)),
            ("model.window", json!(12)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let applied = objective.apply(&params).unwrap();
        let ModelParams::Lstm(p) = &applied.models[model].params else {
            panic!("not an LSTM");
        };
        assert_eq!((p.layers, p.hidden, p.window), (2, 24, 12));
        assert_eq!((p.learning_rate, p.dropout), (0.002, 0.25));
        // The other models are untouched.
        assert_eq!(applied.models[0], objective.config.models[0]);
    }
}
