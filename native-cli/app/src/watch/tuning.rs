//! The optional tuning budget of a cycle (`[retrain] tune_trials`): the model's parameters tuned
//! by TPE on the data the challenger may see, each trial a walk-forward run scored by its
//! out-of-sample Sharpe ratio. In memory and seeded, so a step redone after `kill -9` tunes to the
//! very same parameters.

use std::collections::BTreeMap;

use serde_json::Value;
use strider_core::config::Config;
use strider_core::data::Instrument;
use strider_tune::{Direction, InMemoryStorage, PrunerSpec, Study, TpeSampler};

use crate::Result;
use crate::tune::config_space::{ConfigObjective, Metric};

/// The config with the model tuned on `instruments` over `trials` trials, and the parameters
/// chosen (`None` when nothing was tuned).
pub fn tuned(
    config: &Config,
    model: usize,
    instruments: &[Instrument],
    trials: usize,
) -> Result<(Config, Option<BTreeMap<String, Value>>)> {
    let seed = config.seed_or_default();
    let objective = ConfigObjective {
        config: config.clone(),
        instruments: instruments.to_vec(),
        model,
        seed,
        objective: Metric::Sharpe,
        tune_features: false,
        sink: None,
    };
    let space = objective.space();
    if trials == 0 || space.is_empty() {
        return Ok((config.clone(), None));
    }
    let mut storage = InMemoryStorage::default();
    let sampler = TpeSampler::new(seed);
    let directions = [Direction::Maximize];
    let mut study = Study::open(
        &mut storage,
        "retrain",
        &directions,
        &sampler,
        PrunerSpec::None,
    )?;
    for _ in 0..trials {
        let mut trial = study.ask(Some(&space))?;
        let outcome = objective.evaluate(&mut study, &mut trial)?;
        study.tell(trial, outcome)?;
    }
    let Some(best) = study.best_trial()? else {
        return Ok((config.clone(), None));
    };
    let params = best.external_params();
    Ok((objective.apply(&params)?, Some(params)))
}
