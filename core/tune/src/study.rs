//! The ask / tell API over a storage: define-by-run (`suggest` as the objective goes) or a space
//! declared at `ask`. Everything a worker decides is written to the storage as it happens, so
//! other workers (strider's or Optuna's) see it and a killed worker loses only its running trial.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::distribution::Distribution;
use super::pareto::pareto_front;
use super::pruner::PrunerSpec;
use super::sampler::{Sampler, SearchSpace, StudyView};
use super::trial::{Direction, FrozenTrial, Storage, StudyInfo, TrialState};
use crate::error::{Error, Result};

/// How a trial ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Complete(Vec<f64>),
    Pruned,
    Fail(String),
}

/// A trial being evaluated.
pub struct Trial {
    pub id: i64,
    pub number: usize,
    frozen: FrozenTrial,
    relative: BTreeMap<String, f64>,
    relative_space: SearchSpace,
    snapshot: Vec<Arc<FrozenTrial>>,
    declared: Option<SearchSpace>,
}

impl Trial {
    /// External values of the parameters suggested so far.
    pub fn params(&self) -> BTreeMap<String, Value> {
        self.frozen.external_params()
    }

    pub fn frozen(&self) -> &FrozenTrial {
        &self.frozen
    }
}

pub struct Study<'a> {
    pub info: StudyInfo,
    storage: &'a mut dyn Storage,
    sampler: &'a dyn Sampler,
    pruner: PrunerSpec,
}

pub fn check_directions(s: &StudyInfo, directions: &[Direction]) -> Result<()> {
    if s.directions == directions {
        Ok(())
    } else {
        Err(Error::Study(format!(
            "study `{}` exists with directions {:?}, not {:?}",
            s.name, s.directions, directions
        )))
    }
}

impl<'a> Study<'a> {
    /// Open (or create) the study `name` in `storage`.
    pub fn open(
        storage: &'a mut dyn Storage,
        name: &str,
        directions: &[Direction],
        sampler: &'a dyn Sampler,
        pruner: PrunerSpec,
    ) -> Result<Self> {
        if directions.is_empty() || directions.len() > 2 {
            return Err(Error::Study("a study has one or two objectives".into()));
        }
        let info = storage.get_or_create_study(name, directions)?;
        Ok(Self {
            info,
            storage,
            sampler,
            pruner,
        })
    }

    pub fn storage(&mut self) -> &mut dyn Storage {
        self.storage
    }

    pub fn trials(&mut self) -> Result<Vec<Arc<FrozenTrial>>> {
        self.storage.trials(self.info.id)
    }

    /// Nothing left to sample (an exhausted grid).
    pub fn exhausted(&mut self) -> Result<bool> {
        let trials = self.trials()?;
        let attrs = self.storage.study_system_attrs(self.info.id)?;
        let view = StudyView {
            name: &self.info.name,
            directions: &self.info.directions,
            trials: &trials,
            system_attrs: &attrs,
            declared: None,
        };
        Ok(self.sampler.exhausted(&view))
    }

    /// Start a trial. With `declared`, every parameter of that space is suggested now.
    pub fn ask(&mut self, declared: Option<&SearchSpace>) -> Result<Trial> {
        if let Some(space) = declared {
            for (k, d) in space {
                d.validate(k)?;
            }
        }
        let (id, number) = self.storage.create_trial(self.info.id)?;
        // Alive from the start: a worker killed while still sampling leaves a trial that the
        // next worker can tell is stale.
        self.storage.heartbeat(id)?;
        let snapshot = self.storage.trials(self.info.id)?;
        let attrs = self.storage.study_system_attrs(self.info.id)?;
        // The new trial is the last one, or near it.
        let mut frozen = snapshot
            .iter()
            .rev()
            .find(|t| t.id == id)
            .map(|t| (**t).clone())
            .unwrap_or_else(|| FrozenTrial::new(id, number));
        let view = StudyView {
            name: &self.info.name,
            directions: &self.info.directions,
            trials: &snapshot,
            system_attrs: &attrs,
            declared,
        };
        let relative_space = self.sampler.relative_search_space(&view, &frozen);
        let (relative, sys) = self
            .sampler
            .sample_relative(&view, &frozen, &relative_space);
        for (k, v) in sys {
            self.storage.set_trial_system_attr(id, &k, &v)?;
            frozen.system_attrs.insert(k, v);
        }
        let mut trial = Trial {
            id,
            number,
            frozen,
            relative,
            relative_space,
            snapshot,
            declared: declared.cloned(),
        };
        if let Some(space) = declared {
            for (k, d) in space {
                self.suggest(&mut trial, k, d)?;
            }
        }
        Ok(trial)
    }

    /// The value of parameter `name` for this trial (sampled the first time it is asked for).
    pub fn suggest(&mut self, trial: &mut Trial, name: &str, dist: &Distribution) -> Result<Value> {
        dist.validate(name)?;
        if let Some((d, x)) = trial.frozen.params.get(name) {
            if d != dist {
                return Err(Error::Study(format!(
                    "parameter `{name}` was already suggested with another distribution"
                )));
            }
            return Ok(d.to_external(*x));
        }
        // Enqueued values (Optuna's `fixed_params`, also how a stale trial is retried) win.
        let fixed = trial
            .frozen
            .system_attrs
            .get("fixed_params")
            .and_then(|f| f.get(name))
            .and_then(|v| dist.to_internal(v).ok())
            .filter(|x| dist.contains(*x));
        let x = match (
            fixed,
            trial.relative_space.get(name),
            trial.relative.get(name),
        ) {
            (Some(x), _, _) => x,
            (None, Some(d), Some(x)) if d == dist && dist.contains(*x) => *x,
            _ => {
                let attrs = BTreeMap::new();
                let view = StudyView {
                    name: &self.info.name,
                    directions: &self.info.directions,
                    trials: &trial.snapshot,
                    system_attrs: &attrs,
                    declared: trial.declared.as_ref(),
                };
                if dist.single() {
                    match dist {
                        Distribution::Float { low, .. } => *low,
                        Distribution::Int { low, .. } => *low as f64,
                        Distribution::Categorical { .. } => 0.0,
                    }
                } else {
                    self.sampler
                        .sample_independent(&view, &trial.frozen, name, dist)
                }
            }
        };
        self.storage.set_param(trial.id, name, dist, x)?;
        trial
            .frozen
            .params
            .insert(name.to_string(), (dist.clone(), x));
        Ok(dist.to_external(x))
    }

    /// Record an intermediate value (e.g. the objective after fold `step`).
    pub fn report(&mut self, trial: &mut Trial, step: i64, value: f64) -> Result<()> {
        if self.info.directions.len() > 1 {
            return Err(Error::Study(
                "intermediate values need a single-objective study".into(),
            ));
        }
        self.storage.set_intermediate(trial.id, step, value)?;
        trial.frozen.intermediate.insert(step, value);
        Ok(())
    }

    /// Ask the pruner about the trial's latest intermediate value.
    pub fn should_prune(&mut self, trial: &mut Trial) -> Result<bool> {
        if self.info.directions.len() > 1 || matches!(self.pruner, PrunerSpec::None) {
            return Ok(false);
        }
        let trials = self.storage.trials(self.info.id)?;
        // The storage's copy includes attributes other workers cannot have changed; ours has
        // the latest intermediate values.
        let verdict = self.pruner.should_prune(
            &self.info.name,
            self.info.directions[0],
            &trials,
            &trial.frozen,
        );
        for (k, v) in verdict.attrs {
            self.storage.set_trial_system_attr(trial.id, &k, &v)?;
            trial.frozen.system_attrs.insert(k, v);
        }
        Ok(verdict.prune)
    }

    pub fn set_user_attr(&mut self, trial: &mut Trial, key: &str, value: Value) -> Result<()> {
        self.storage.set_trial_user_attr(trial.id, key, &value)?;
        trial.frozen.user_attrs.insert(key.into(), value);
        Ok(())
    }

    /// Finish a trial. A complete trial with a NaN value fails, as in Optuna; a pruned trial
    /// keeps its last intermediate value.
    pub fn tell(&mut self, trial: Trial, outcome: Outcome) -> Result<TrialState> {
        let (state, values) = match outcome {
            Outcome::Complete(v) => {
                if v.len() != self.info.directions.len() {
                    return Err(Error::Study(format!(
                        "trial {}: {} values for {} objectives",
                        trial.number,
                        v.len(),
                        self.info.directions.len()
                    )));
                }
                if v.iter().any(|x| x.is_nan()) {
                    self.storage.set_trial_user_attr(
                        trial.id,
                        "strider:fail_reason",
                        &Value::from("the objective returned NaN"),
                    )?;
                    (TrialState::Fail, None)
                } else {
                    (TrialState::Complete, Some(v))
                }
            }
            Outcome::Pruned => (
                TrialState::Pruned,
                trial
                    .frozen
                    .last_step()
                    .map(|s| trial.frozen.intermediate[&s])
                    .filter(|v| !v.is_nan())
                    .map(|v| vec![v]),
            ),
            Outcome::Fail(reason) => {
                self.storage.set_trial_user_attr(
                    trial.id,
                    "strider:fail_reason",
                    &Value::from(reason),
                )?;
                (TrialState::Fail, None)
            }
        };
        if !self.storage.set_state(trial.id, state, values.as_deref())? {
            return Err(Error::Study(format!(
                "trial {} was already finished (failed by another worker as stale?)",
                trial.number
            )));
        }
        Ok(state)
    }

    /// The best complete trial (single objective).
    pub fn best_trial(&mut self) -> Result<Option<FrozenTrial>> {
        let dir = self.info.directions[0];
        Ok(self
            .trials()?
            .into_iter()
            .filter(|t| t.state == TrialState::Complete)
            .filter_map(|t| Some((dir.loss(t.value()?), t)))
            .min_by(|(a, ta), (b, tb)| a.total_cmp(b).then(ta.number.cmp(&tb.number)))
            .map(|(_, t)| (*t).clone()))
    }

    /// Complete trials on the Pareto front.
    pub fn best_trials(&mut self) -> Result<Vec<FrozenTrial>> {
        let complete: Vec<Arc<FrozenTrial>> = self
            .trials()?
            .into_iter()
            .filter(|t| t.state == TrialState::Complete && t.values.is_some())
            .collect();
        let losses: Vec<Vec<f64>> = complete
            .iter()
            .map(|t| t.losses(&self.info.directions))
            .collect();
        Ok(pareto_front(&losses)
            .into_iter()
            .map(|i| (*complete[i]).clone())
            .collect())
    }
}
