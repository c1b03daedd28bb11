//! Grid search as Optuna's `GridSampler`: every combination of the declared values, in an order
//! shuffled once by the seed; each trial takes the first combination no other trial has taken
//! (`grid_id`), so parallel workers split the grid; the study ends when the grid is done.

use std::collections::{BTreeMap, BTreeSet};

use rand::seq::SliceRandom;
use serde_json::Value;

use super::distribution::Distribution;
use super::sampler::{RandomSampler, Sampler, SearchSpace, StudyView, rng_for};
use super::trial::{FrozenTrial, TrialState};
use crate::error::{Error, Result};

pub const GRID_ID_ATTR: &str = "grid_id";

/// The most combinations a grid may have (each is held in memory and becomes a trial).
pub const MAX_GRID_CELLS: u128 = 1_000_000;

/// Refuses a grid over [`MAX_GRID_CELLS`] before any of it is built.
fn check_size(space: &SearchSpace) -> Result<()> {
    let mut cells: u128 = 1;
    for (name, d) in space {
        let n: u128 = match d {
            Distribution::Categorical { choices } => choices.len() as u128,
            Distribution::Int {
                low, high, step, ..
            } => ((i128::from(*high) - i128::from(*low)) / i128::from((*step).max(1)) + 1).max(0)
                as u128,
            Distribution::Float {
                low,
                high,
                step: Some(s),
                ..
            } => ((high - low) / s + 1e-9).floor().clamp(0.0, 1e30) as u128 + 1,
            Distribution::Float { .. } => 1,
        };
        cells = cells.saturating_mul(n);
        if cells > MAX_GRID_CELLS {
            return Err(Error::Space(format!(
                "grid sampler: the grid reaches {cells} combinations at `{name}`, more than \
                 {MAX_GRID_CELLS} (MAX_GRID_CELLS); give fewer values or a larger step"
            )));
        }
    }
    Ok(())
}

pub struct GridSampler {
    seed: u64,
    names: Vec<String>,
    /// Internal values per combination, in `names` order, shuffled.
    grid: Vec<Vec<f64>>,
}

impl GridSampler {
    /// The grid of a space: categorical choices, every int on its step, stepped floats on
    /// their grid. Continuous floats have no grid.
    pub fn new(space: &SearchSpace, seed: u64) -> Result<Self> {
        let mut axes: Vec<(String, Vec<f64>)> = Vec::new();
        check_size(space)?;
        for (name, d) in space {
            let values: Vec<f64> = match d {
                Distribution::Categorical { choices } => {
                    (0..choices.len()).map(|i| i as f64).collect()
                }
                Distribution::Int {
                    low, high, step, ..
                } => (0..=(high - low) / step)
                    .map(|k| (low + k * step) as f64)
                    .collect(),
                Distribution::Float {
                    low,
                    high,
                    step: Some(s),
                    ..
                } => {
                    let n = ((high - low) / s + 1e-9).floor() as i64;
                    (0..=n).map(|k| low + k as f64 * s).collect()
                }
                Distribution::Float { .. } => {
                    return Err(Error::Space(format!(
                        "grid sampler: `{name}` is a continuous float; give it a step or choices"
                    )));
                }
            };
            axes.push((name.clone(), values));
        }
        let mut grid: Vec<Vec<f64>> = vec![Vec::new()];
        for (_, values) in &axes {
            grid = grid
                .iter()
                .flat_map(|g| values.iter().map(move |v| [g.as_slice(), &[*v]].concat()))
                .collect();
        }
        grid.shuffle(&mut rng_for(seed, 0, "grid"));
        Ok(Self {
            seed,
            names: axes.into_iter().map(|(n, _)| n).collect(),
            grid,
        })
    }

    pub fn len(&self) -> usize {
        self.grid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.grid.is_empty()
    }

    fn taken(study: &StudyView, finished_only: bool) -> BTreeSet<usize> {
        study
            .trials
            .iter()
            .filter(|t| t.state != TrialState::Fail)
            .filter(|t| !finished_only || t.state.is_finished())
            .filter_map(|t| t.system_attrs.get(GRID_ID_ATTR).and_then(Value::as_u64))
            .map(|g| g as usize)
            .collect()
    }
}

impl Sampler for GridSampler {
    fn relative_search_space(&self, _: &StudyView, _: &FrozenTrial) -> SearchSpace {
        SearchSpace::new()
    }

    fn sample_relative(
        &self,
        study: &StudyView,
        trial: &FrozenTrial,
        _: &SearchSpace,
    ) -> (BTreeMap<String, f64>, BTreeMap<String, Value>) {
        let busy = Self::taken(study, false);
        let done = Self::taken(study, true);
        let id = (0..self.grid.len())
            .find(|g| !busy.contains(g))
            .or_else(|| (0..self.grid.len()).find(|g| !done.contains(g)))
            .unwrap_or(trial.number % self.grid.len().max(1));
        (
            BTreeMap::new(),
            BTreeMap::from([(GRID_ID_ATTR.to_string(), Value::from(id))]),
        )
    }

    fn sample_independent(
        &self,
        study: &StudyView,
        trial: &FrozenTrial,
        name: &str,
        dist: &Distribution,
    ) -> f64 {
        let id = trial.system_attrs.get(GRID_ID_ATTR).and_then(Value::as_u64);
        match (id, self.names.iter().position(|n| n == name)) {
            (Some(g), Some(k)) if (g as usize) < self.grid.len() => self.grid[g as usize][k],
            _ => RandomSampler { seed: self.seed }.sample_independent(study, trial, name, dist),
        }
    }

    fn exhausted(&self, study: &StudyView) -> bool {
        Self::taken(study, true).len() >= self.grid.len()
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    fn int(low: i64, high: i64) -> Distribution {
        Distribution::Int {
            low,
            high,
            log: false,
            step: 1,
        }
    }

    #[test]
    fn a_grid_too_large_to_hold_is_refused_before_it_is_built() {
        let space: SearchSpace = [
            ("a".to_string(), int(0, 1 << 32)),
            ("b".to_string(), int(0, 1 << 32)),
        ]
        .into_iter()
        .collect();
        let e = GridSampler::new(&space, 0).err().expect("refused");
        assert!(e.to_string().contains("MAX_GRID_CELLS"), "{e}");
        let small: SearchSpace = [("a".to_string(), int(0, 9)), ("b".to_string(), int(0, 9))]
            .into_iter()
            .collect();
        assert_eq!(GridSampler::new(&small, 0).unwrap().grid.len(), 100);
    }

    #[test]
    fn integer_ranges_beyond_2_pow_53_are_refused_and_never_panic() {
        let huge = int(i64::MIN / 2 - 1, i64::MAX / 2 + 1);
        let e = huge.validate("x").unwrap_err().to_string();
        assert!(e.contains("MAX_INT_SPAN"), "{e}");
        assert!(int(i64::MIN, i64::MAX).validate("x").is_err());
        // Unvalidated, untransform still clamps without panicking.
        let v = crate::sampler::untransform(&int(i64::MIN, i64::MAX), 0.0);
        assert!(v.is_finite());
        int(0, 1 << 53).validate("x").unwrap();
    }
}
