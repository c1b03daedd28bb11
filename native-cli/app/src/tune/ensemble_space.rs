//! The objective "blend a config's models": the config runs once (every model, walk-forward);
//! each trial then weighs the models' out-of-sample scores (`weight.<model>` in [0, 1]) and
//! re-trades the blend through the core's what-if, so a trial costs milliseconds.

use strider_core::config::Config;
use strider_core::data::Instrument;
use strider_core::pipeline;
use strider_core::report;
use strider_core::whatif::{ENSEMBLE, WhatIf, WhatIfSettings};
use strider_tune::{Distribution, Outcome, SearchSpace, Study, Trial};

use super::config_space::Metric;

pub struct EnsembleObjective {
    what_if: WhatIf,
    config: Config,
    pub names: Vec<String>,
    objective: Metric,
}

impl EnsembleObjective {
    pub fn new(
        config: Config,
        instruments: Vec<Instrument>,
        objective: Metric,
    ) -> crate::Result<Self> {
        if config.models.len() < 2 {
            crate::bail!("--ensemble needs a config with at least two [[models]]");
        }
        let seed = config.seed_or_default();
        let native = crate::native_gbdt(Vec::new());
        let out = pipeline::RunRequest::new(&config, &instruments, seed)
            .native_gbdt(native.as_deref())
            .run(&mut |_| {})?;
        let names = &out.summary.dataset.instruments;
        let predictions = report::path_predictions(&out, names)?;
        Ok(Self {
            what_if: report::what_if(&config, instruments, &predictions, names)?,
            names: config.models.iter().map(|m| m.name.clone()).collect(),
            config,
            objective,
        })
    }

    pub fn space(&self) -> SearchSpace {
        self.names
            .iter()
            .map(|n| (format!("weight.{n}"), Distribution::float(0.0, 1.0)))
            .collect()
    }

    pub fn evaluate(&self, study: &mut Study, trial: &mut Trial) -> crate::Result<Outcome> {
        let params = trial.params();
        let weights: std::collections::BTreeMap<String, f64> = self
            .names
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    params[&format!("weight.{n}")].as_f64().unwrap_or(0.0),
                )
            })
            .collect();
        if weights.values().all(|w| *w <= 0.0) {
            return Ok(Outcome::Fail("every weight is zero".into()));
        }
        let view = self.what_if.evaluate(&WhatIfSettings {
            strategy: self.config.strategy.clone(),
            ensemble: weights,
            rolling_window: 126,
            statistics: false,
        })?;
        let blend = view
            .models
            .iter()
            .find(|m| m.name == ENSEMBLE)
            .ok_or_else(|| crate::Error::Input("no blend".into()))?;
        super::config_space::objective_value(
            study,
            trial,
            self.objective,
            &blend.series.net,
            blend.evaluation.strategy.sharpe,
            &self.config.metrics,
        )
    }
}

impl strider_tune::Objective for EnsembleObjective {
    fn run(&self, study: &mut Study, trial: &mut Trial) -> Result<Outcome, String> {
        self.evaluate(study, trial).map_err(|e| e.chain())
    }
}
