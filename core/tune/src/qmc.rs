//! Quasi-Monte Carlo (scrambled Sobol) sampling of the declared space: trial `n` takes point `n`
//! of an Owen-scrambled Sobol sequence seeded by the study seed, so the study covers the space
//! more evenly than random points, whatever the order workers finish in.

use std::collections::BTreeMap;

use serde_json::Value;

use super::distribution::Distribution;
use super::sampler::{RandomSampler, Sampler, SearchSpace, StudyView, from_unit};
use super::trial::FrozenTrial;

pub struct QmcSampler {
    pub seed: u64,
}

impl Sampler for QmcSampler {
    fn relative_search_space(&self, study: &StudyView, _: &FrozenTrial) -> SearchSpace {
        match study.declared {
            Some(s) => s.clone(),
            // Optuna's rule without a declared space: the first trial's parameters.
            None => study
                .trials
                .iter()
                .find(|t| t.state.is_finished())
                .map(|t| {
                    t.params
                        .iter()
                        .map(|(k, (d, _))| (k.clone(), d.clone()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    fn sample_relative(
        &self,
        _: &StudyView,
        trial: &FrozenTrial,
        space: &SearchSpace,
    ) -> (BTreeMap<String, f64>, BTreeMap<String, Value>) {
        let seed = (self.seed ^ (self.seed >> 32)) as u32;
        let params = space
            .iter()
            .enumerate()
            .map(|(dim, (k, d))| {
                let u = sobol_burley::sample(trial.number as u32, dim as u32, seed) as f64;
                (k.clone(), from_unit(d, u))
            })
            .collect();
        (params, BTreeMap::new())
    }

    fn sample_independent(
        &self,
        study: &StudyView,
        trial: &FrozenTrial,
        name: &str,
        dist: &Distribution,
    ) -> f64 {
        RandomSampler { seed: self.seed }.sample_independent(study, trial, name, dist)
    }
}
