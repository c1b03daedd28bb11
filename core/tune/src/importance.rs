//! Parameter importance: permutation importance on a gradient-boosted surrogate of the
//! objective (our own trees), normalised to sum to 1. Optuna's default is fANOVA on a random
//! forest; both ask how much of the objective's variation each parameter explains.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::seq::SliceRandom;

use super::sampler::{intersection_search_space, rng_for, transform};
use super::trial::{FrozenTrial, TrialState};
use strider_gbdt::{GbdtParams, TrainData, train};

/// Importance of each parameter every complete trial has; empty with fewer than 4 trials.
pub fn param_importance(
    trials: &[Arc<FrozenTrial>],
    objective: usize,
    seed: u64,
) -> BTreeMap<String, f64> {
    let done: Vec<&Arc<FrozenTrial>> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter(|t| {
            t.values
                .as_ref()
                .is_some_and(|v| v.get(objective).is_some_and(|x| x.is_finite()))
        })
        .collect();
    let space = intersection_search_space(
        &done.iter().map(|t| Arc::clone(t)).collect::<Vec<_>>(),
        false,
    );
    if done.len() < 4 || space.is_empty() {
        return BTreeMap::new();
    }
    let names: Vec<String> = space.keys().cloned().collect();
    let f = names.len();
    let x: Vec<f64> = done
        .iter()
        .flat_map(|t| space.iter().map(|(k, d)| transform(d, t.params[k].1)))
        .collect();
    let y: Vec<f64> = done
        .iter()
        .map(|t| t.values.as_ref().map_or(f64::NAN, |v| v[objective]))
        .collect();
    let params = GbdtParams {
        num_iterations: 64,
        num_leaves: 7,
        min_data_in_leaf: (done.len() / 10).max(2),
        learning_rate: 0.1,
        seed: seed.max(1),
        ..GbdtParams::default()
    };
    let data = TrainData {
        groups: &[],
        x: &x,
        n_features: f,
        y: &y,
        feature_names: names.clone(),
    };
    let Ok(model) = train(&params, &data, None, &mut |_, _, _| {}) else {
        return BTreeMap::new();
    };
    let mse = |x: &[f64]| -> f64 {
        x.chunks(f)
            .zip(&y)
            .map(|(row, y)| (model.predict(row)[0] - y).powi(2))
            .sum::<f64>()
            / y.len() as f64
    };
    let base = mse(&x);
    let mut rng = rng_for(seed, 0, "importance");
    let mut raw: Vec<f64> = (0..f)
        .map(|j| {
            let mut total = 0.0;
            for _ in 0..5 {
                let mut col: Vec<f64> = x.chunks(f).map(|r| r[j]).collect();
                col.shuffle(&mut rng);
                let mut xp = x.clone();
                for (row, v) in xp.chunks_mut(f).zip(col) {
                    row[j] = v;
                }
                total += (mse(&xp) - base).max(0.0);
            }
            total / 5.0
        })
        .collect();
    let sum: f64 = raw.iter().sum();
    if sum > 0.0 {
        raw.iter_mut().for_each(|v| *v /= sum);
    }
    names.into_iter().zip(raw).collect()
}
