//! Trials as storages keep them, and the storage interface the study drives. Core has no clock:
//! storages stamp times themselves.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::distribution::Distribution;
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TrialState {
    Running,
    Complete,
    Pruned,
    Fail,
    Waiting,
}

impl TrialState {
    /// Optuna's numeric code (journal op 6).
    pub fn code(self) -> i64 {
        match self {
            TrialState::Running => 0,
            TrialState::Complete => 1,
            TrialState::Pruned => 2,
            TrialState::Fail => 3,
            TrialState::Waiting => 4,
        }
    }

    pub fn from_code(c: i64) -> Option<Self> {
        Some(match c {
            0 => TrialState::Running,
            1 => TrialState::Complete,
            2 => TrialState::Pruned,
            3 => TrialState::Fail,
            4 => TrialState::Waiting,
            _ => return None,
        })
    }

    /// Optuna's RDB name.
    pub fn name(self) -> &'static str {
        match self {
            TrialState::Running => "RUNNING",
            TrialState::Complete => "COMPLETE",
            TrialState::Pruned => "PRUNED",
            TrialState::Fail => "FAIL",
            TrialState::Waiting => "WAITING",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        [
            TrialState::Running,
            TrialState::Complete,
            TrialState::Pruned,
            TrialState::Fail,
            TrialState::Waiting,
        ]
        .into_iter()
        .find(|t| t.name() == s)
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TrialState::Complete | TrialState::Pruned | TrialState::Fail
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Minimize,
    Maximize,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Minimize => "MINIMIZE",
            Direction::Maximize => "MAXIMIZE",
        }
    }

    /// Optuna's journal code (1 minimize, 2 maximize).
    pub fn code(self) -> i64 {
        match self {
            Direction::Minimize => 1,
            Direction::Maximize => 2,
        }
    }

    /// `x` in "smaller is better" form.
    pub fn loss(self, x: f64) -> f64 {
        match self {
            Direction::Minimize => x,
            Direction::Maximize => -x,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FrozenTrial {
    /// Storage-wide id.
    pub id: i64,
    /// Index within its study.
    pub number: usize,
    pub state: TrialState,
    pub values: Option<Vec<f64>>,
    /// Internal values and their distributions.
    pub params: BTreeMap<String, (Distribution, f64)>,
    pub intermediate: BTreeMap<i64, f64>,
    pub user_attrs: BTreeMap<String, Value>,
    pub system_attrs: BTreeMap<String, Value>,
    pub datetime_start: Option<String>,
    pub datetime_complete: Option<String>,
}

impl FrozenTrial {
    pub fn new(id: i64, number: usize) -> Self {
        Self {
            id,
            number,
            state: TrialState::Running,
            values: None,
            params: BTreeMap::new(),
            intermediate: BTreeMap::new(),
            user_attrs: BTreeMap::new(),
            system_attrs: BTreeMap::new(),
            datetime_start: None,
            datetime_complete: None,
        }
    }

    pub fn value(&self) -> Option<f64> {
        self.values.as_ref().and_then(|v| v.first().copied())
    }

    pub fn last_step(&self) -> Option<i64> {
        self.intermediate.keys().next_back().copied()
    }

    /// The values in "smaller is better" form, one per objective (empty without values).
    pub fn losses(&self, directions: &[Direction]) -> Vec<f64> {
        self.values
            .iter()
            .flatten()
            .zip(directions)
            .map(|(v, d)| d.loss(*v))
            .collect()
    }

    /// External parameter values (ints as ints, categoricals as their choice).
    pub fn external_params(&self) -> BTreeMap<String, Value> {
        self.params
            .iter()
            .map(|(k, (d, x))| (k.clone(), d.to_external(*x)))
            .collect()
    }
}

/// A study as storages describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyInfo {
    pub id: i64,
    pub name: String,
    pub directions: Vec<Direction>,
}

/// What a study needs from a storage. The CLI implements it on SQLite, PostgreSQL and Optuna's
/// journal file; [`InMemoryStorage`] serves tests, benchmarks and the browser.
pub trait Storage {
    /// Get the study named `name`, creating it with `directions` if it does not exist. An
    /// existing study's directions must match.
    fn get_or_create_study(&mut self, name: &str, directions: &[Direction]) -> Result<StudyInfo>;
    /// A new RUNNING trial (or claim a WAITING one); returns its id and number.
    fn create_trial(&mut self, study: i64) -> Result<(i64, usize)>;
    fn set_param(
        &mut self,
        trial: i64,
        name: &str,
        dist: &Distribution,
        internal: f64,
    ) -> Result<()>;
    fn set_intermediate(&mut self, trial: i64, step: i64, value: f64) -> Result<()>;
    /// Finish (or re-run) a trial. Returns false, changing nothing, if it was already finished.
    fn set_state(&mut self, trial: i64, state: TrialState, values: Option<&[f64]>) -> Result<bool>;
    fn set_trial_system_attr(&mut self, trial: i64, key: &str, value: &Value) -> Result<()>;
    fn set_trial_user_attr(&mut self, trial: i64, key: &str, value: &Value) -> Result<()>;
    fn set_study_system_attr(&mut self, study: i64, key: &str, value: &Value) -> Result<()>;
    fn study_system_attrs(&mut self, study: i64) -> Result<BTreeMap<String, Value>>;
    /// Every trial of the study, in number order. Shared: finished trials never change, so
    /// storages hand out the same allocation every time.
    fn trials(&mut self, study: i64) -> Result<Vec<Arc<FrozenTrial>>>;
    /// Record that a RUNNING trial's worker is alive.
    fn heartbeat(&mut self, _trial: i64) -> Result<()> {
        Ok(())
    }
    /// Fail RUNNING trials whose worker has not been heard from for `grace_seconds`; returns
    /// the trials failed. Storages without heartbeats fail nothing.
    fn fail_stale_trials(&mut self, _study: i64, _grace_seconds: f64) -> Result<Vec<i64>> {
        Ok(Vec::new())
    }
}

/// A storage in memory (tests, benchmarks, the browser).
#[derive(Debug, Default, Clone)]
pub struct InMemoryStorage {
    studies: Vec<(StudyInfo, BTreeMap<String, Value>)>,
    trials: Vec<(i64, Arc<FrozenTrial>)>,
}

impl InMemoryStorage {
    fn trial_mut(&mut self, id: i64) -> Result<&mut FrozenTrial> {
        self.trials
            .get_mut(id as usize)
            .map(|(_, t)| Arc::make_mut(t))
            .ok_or_else(|| crate::Error::Study(format!("no trial {id}")))
    }
}

impl Storage for InMemoryStorage {
    fn get_or_create_study(&mut self, name: &str, directions: &[Direction]) -> Result<StudyInfo> {
        if let Some((s, _)) = self.studies.iter().find(|(s, _)| s.name == name) {
            return super::check_directions(s, directions).map(|_| s.clone());
        }
        let info = StudyInfo {
            id: self.studies.len() as i64,
            name: name.into(),
            directions: directions.to_vec(),
        };
        self.studies.push((info.clone(), BTreeMap::new()));
        Ok(info)
    }

    fn create_trial(&mut self, study: i64) -> Result<(i64, usize)> {
        let number = self.trials.iter().filter(|(s, _)| *s == study).count();
        let id = self.trials.len() as i64;
        self.trials
            .push((study, Arc::new(FrozenTrial::new(id, number))));
        Ok((id, number))
    }

    fn set_param(&mut self, trial: i64, name: &str, d: &Distribution, x: f64) -> Result<()> {
        self.trial_mut(trial)?
            .params
            .insert(name.into(), (d.clone(), x));
        Ok(())
    }

    fn set_intermediate(&mut self, trial: i64, step: i64, value: f64) -> Result<()> {
        self.trial_mut(trial)?.intermediate.insert(step, value);
        Ok(())
    }

    fn set_state(&mut self, trial: i64, state: TrialState, values: Option<&[f64]>) -> Result<bool> {
        let t = self.trial_mut(trial)?;
        if t.state.is_finished() {
            return Ok(false);
        }
        t.state = state;
        t.values = values.map(<[f64]>::to_vec);
        Ok(true)
    }

    fn set_trial_system_attr(&mut self, trial: i64, key: &str, value: &Value) -> Result<()> {
        self.trial_mut(trial)?
            .system_attrs
            .insert(key.into(), value.clone());
        Ok(())
    }

    fn set_trial_user_attr(&mut self, trial: i64, key: &str, value: &Value) -> Result<()> {
        self.trial_mut(trial)?
            .user_attrs
            .insert(key.into(), value.clone());
        Ok(())
    }

    fn set_study_system_attr(&mut self, study: i64, key: &str, value: &Value) -> Result<()> {
        if let Some((_, a)) = self.studies.get_mut(study as usize) {
            a.insert(key.into(), value.clone());
        }
        Ok(())
    }

    fn study_system_attrs(&mut self, study: i64) -> Result<BTreeMap<String, Value>> {
        Ok(self
            .studies
            .get(study as usize)
            .map(|(_, a)| a.clone())
            .unwrap_or_default())
    }

    fn trials(&mut self, study: i64) -> Result<Vec<Arc<FrozenTrial>>> {
        Ok(self
            .trials
            .iter()
            .filter(|(s, _)| *s == study)
            .map(|(_, t)| t.clone())
            .collect())
    }
}
