//! A tuning session in MLflow, recorded as Optuna's `MLflowCallback(nest_trials=True)` records
//! one: a parent run per `strider tune` (experiment: the study's name), one nested run per trial
//! named by its number, with the trial's parameters as params, its value as the metric `value`
//! (`value_0`, `value_1` for two objectives) and the callback's tags (`number`, `state`,
//! `direction`, `datetime_start`, `datetime_complete`, `<param>_distribution` in Optuna's JSON,
//! the trial's user attributes). Beyond the callback, streamed while the trial runs: its
//! intermediate values (metric `intermediate_value`, step = the pruner's step) and its training's
//! per-iteration metrics (`train/MODEL/split-K/NAME`). A trial that failed ends FAILED; others FINISHED.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use strider_core::model::TrainEvent;
use strider_mlflow::tracker::{FinishReport, Tracker};
use strider_mlflow::{Metric, RunStatus, TrackingUri, now_ms};
use strider_tune::{Direction, Objective, Outcome, Study, Trial, TrialState};

use crate::error::Result;
use crate::run::TrackingRequest;

/// Where a trial's live figures go while it runs (the objectives call it; tracking implements it).
pub trait TrialSink: Send + Sync {
    /// A training metric of the trial's `model` on fold `split`, as the trainer computes it.
    fn train(&self, trial: usize, model: &str, split: usize, event: &TrainEvent);
    /// An intermediate value, as the objective reports it to the pruner.
    fn intermediate(&self, trial: usize, step: i64, value: f64);

    /// A pipeline event of the trial's run: its training metrics go to [`Self::train`].
    fn event(&self, trial: usize, e: &strider_core::pipeline::Event) {
        if let strider_core::pipeline::Event::Train {
            model,
            split,
            train,
        } = e
        {
            self.train(trial, model, *split, train);
        }
    }
}

/// Every sink hears every event (tracking and a terminal's progress line).
pub struct Fanout(pub Vec<Arc<dyn TrialSink>>);

impl TrialSink for Fanout {
    fn train(&self, trial: usize, model: &str, split: usize, event: &TrainEvent) {
        for s in &self.0 {
            s.train(trial, model, split, event);
        }
    }

    fn intermediate(&self, trial: usize, step: i64, value: f64) {
        for s in &self.0 {
            s.intermediate(trial, step, value);
        }
    }
}

/// What the parent run records about the session.
pub struct SessionInfo<'a> {
    pub study: &'a str,
    pub directions: &'a [Direction],
    /// `--sampler`, `--pruner`, `--seed`, the storage (password hidden), ...
    pub params: BTreeMap<String, String>,
}

/// The tracking of one session, shared by its workers.
pub struct TuneTracking {
    state: Mutex<State>,
    directions: Vec<Direction>,
    wait: std::time::Duration,
}

struct State {
    tracker: Tracker,
    parent: String,
    trials: HashMap<usize, TrialRun>,
    /// The first tracking failure: the study goes on, the session reports it at the end.
    error: Option<String>,
}

struct TrialRun {
    run: String,
    /// The objective's values, logged once the storage has the trial's final state.
    values: Option<Vec<f64>>,
    /// Intermediate steps already streamed.
    steps: BTreeSet<i64>,
    ended: bool,
}

/// Optuna's naive local time format (its storages' `datetime_start`).
fn local_now() -> String {
    chrono::Local::now()
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string()
}

fn metric(key: String, value: f64, step: i64) -> Metric {
    Metric {
        key,
        value,
        timestamp: now_ms(),
        step,
    }
}

/// A parameter's or attribute's value as MLflow shows it (strings bare, the rest as JSON).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl TuneTracking {
    /// Opens the tracker and starts the parent run.
    pub fn start(request: &TrackingRequest, info: &SessionInfo) -> Result<Arc<Self>> {
        let uri = TrackingUri::resolve(request.uri.as_deref());
        let experiment = request.experiment.as_deref().unwrap_or(info.study);
        // Workers wait on one lock for every call: a slow server may hold it this long per call
        // at most (then the session goes on locally), well under a heartbeat's staleness.
        let budget = request.wait.clamp(
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(2),
        );
        let mut tracker = Tracker::open_with_budget(uri, experiment, budget)?;
        let mut tags = BTreeMap::from([
            ("mlflow.source.name".to_string(), "strider tune".to_string()),
            ("strider.tune.study".to_string(), info.study.to_string()),
            (
                "strider.version".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
            (
                "strider.git_revision".to_string(),
                env!("STRIDER_GIT_REV").to_string(),
            ),
            ("direction".to_string(), direction_tag(info.directions)),
        ]);
        if !env!("STRIDER_GIT_REV").starts_with("unknown") {
            let rev = env!("STRIDER_GIT_REV").trim_end_matches("-dirty");
            tags.insert("mlflow.source.git.commit".into(), rev.to_string());
        }
        let name = format!(
            "{} {}",
            info.study,
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        );
        let parent = tracker.start_run(&name, None, &tags)?;
        tracker.log_params(&parent, &info.params)?;
        tracker.flush();
        Ok(Arc::new(Self {
            state: Mutex::new(State {
                tracker,
                parent,
                trials: HashMap::new(),
                error: None,
            }),
            directions: info.directions.to_vec(),
            wait: request.wait,
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A worker that panicked mid-call leaves the tracker usable: every call is complete
        // in the local store or not made.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The parent run's local id.
    pub fn parent(&self) -> String {
        self.lock().parent.clone()
    }

    /// Runs `f` on the tracker, keeping the first failure instead of stopping the study.
    fn with(&self, f: impl FnOnce(&mut State) -> Result<()>) {
        let mut state = self.lock();
        if let Err(e) = f(&mut state) {
            state.error.get_or_insert(e.chain());
        }
    }

    /// The trial's nested run, created on first use.
    fn trial_run(state: &mut State, number: usize) -> Result<String> {
        if let Some(t) = state.trials.get(&number) {
            return Ok(t.run.clone());
        }
        let tags = BTreeMap::from([
            ("number".to_string(), number.to_string()),
            ("datetime_start".to_string(), local_now()),
        ]);
        let parent = state.parent.clone();
        let run = state
            .tracker
            .start_run(&number.to_string(), Some(&parent), &tags)?;
        state.trials.insert(
            number,
            TrialRun {
                run: run.clone(),
                values: None,
                steps: BTreeSet::new(),
                ended: false,
            },
        );
        Ok(run)
    }

    /// The objective returned: the trial's params, distributions, user attributes and any
    /// intermediate value not streamed yet. Each is logged on its own, so one a store refuses
    /// (a parameter name MLflow does not allow) costs only itself.
    fn trial_returned(&self, trial: &Trial, outcome: &Outcome) {
        let frozen = trial.frozen();
        self.with(|state| {
            let run = Self::trial_run(state, trial.number)?;
            let mut first = Ok(());
            for (k, v) in frozen.external_params() {
                let one = BTreeMap::from([(k, text(&v))]);
                keep_first(&mut first, state.tracker.log_params(&run, &one));
            }
            let mut tags: BTreeMap<String, String> = frozen
                .params
                .iter()
                .map(|(k, (d, _))| (format!("{k}_distribution"), d.to_optuna_json()))
                .collect();
            for (k, v) in &frozen.user_attrs {
                tags.insert(k.clone(), text(v));
            }
            for (k, v) in tags {
                let one = BTreeMap::from([(k, v)]);
                keep_first(&mut first, state.tracker.set_tags(&run, &one));
            }
            if let Some(t) = state.trials.get_mut(&trial.number) {
                let missing: Vec<Metric> = frozen
                    .intermediate
                    .iter()
                    .filter(|(step, _)| t.steps.insert(**step))
                    .map(|(step, v)| metric("intermediate_value".into(), *v, *step))
                    .collect();
                // A pruned trial's value is its last intermediate value (Optuna's `tell`).
                t.values = match outcome {
                    Outcome::Complete(values) => Some(values.clone()),
                    Outcome::Pruned => frozen
                        .intermediate
                        .values()
                        .last()
                        .filter(|v| !v.is_nan())
                        .map(|v| vec![*v]),
                    Outcome::Fail(_) => None,
                };
                keep_first(&mut first, state.tracker.log_metrics(&run, &missing));
            }
            first
        });
    }

    /// The storage recorded the trial's final state: its value(s), `state`, and the run's end
    /// (always reached: a failure before it is kept, not returned early).
    pub fn trial_told(&self, number: usize, trial_state: TrialState) {
        self.with(|state| {
            let run = Self::trial_run(state, number)?;
            let mut first = Ok(());
            let values = state.trials.get(&number).and_then(|t| t.values.clone());
            let valued = matches!(trial_state, TrialState::Complete | TrialState::Pruned);
            if let (true, Some(values)) = (valued, values) {
                let points: Vec<Metric> = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| metric(value_key(i, values.len()), *v, 0))
                    .collect();
                keep_first(&mut first, state.tracker.log_metrics(&run, &points));
            }
            let tags = BTreeMap::from([
                ("state".to_string(), trial_state.name().to_string()),
                ("datetime_complete".to_string(), local_now()),
                ("direction".to_string(), direction_tag(&self.directions)),
            ]);
            keep_first(&mut first, state.tracker.set_tags(&run, &tags));
            let status = if trial_state == TrialState::Fail {
                RunStatus::Failed
            } else {
                RunStatus::Finished
            };
            keep_first(&mut first, state.tracker.end_run(&run, status));
            if let Some(t) = state.trials.get_mut(&number) {
                t.ended = true;
            }
            state.tracker.flush();
            first
        });
    }

    /// The session's end: its figures, files and tags on the parent run, every run ended (a
    /// trial a failing worker left behind as KILLED), then the sync, waiting up to `wait` for a
    /// server that went away.
    pub fn finish(
        &self,
        end: &SessionEnd,
        wait: std::time::Duration,
    ) -> (FinishReport, Option<String>) {
        self.with(|state| {
            let parent = state.parent.clone();
            let mut first = Ok(());
            let points: Vec<Metric> = end
                .metrics
                .iter()
                .filter(|(_, v)| v.is_finite())
                .map(|(k, v)| metric(k.clone(), *v, 0))
                .collect();
            keep_first(&mut first, state.tracker.log_metrics(&parent, &points));
            keep_first(&mut first, state.tracker.set_tags(&parent, &end.tags));
            for (path, bytes) in &end.artifacts {
                keep_first(&mut first, state.tracker.log_artifact(&parent, path, bytes));
            }
            let open: Vec<String> = state
                .trials
                .values()
                .filter(|t| !t.ended)
                .map(|t| t.run.clone())
                .collect();
            for run in open {
                keep_first(&mut first, state.tracker.end_run(&run, RunStatus::Killed));
            }
            keep_first(&mut first, state.tracker.end_run(&parent, end.status));
            first
        });
        let mut state = self.lock();
        let report = state.tracker.finish(wait.min(self.wait));
        (report, state.error.clone())
    }
}

/// What the parent run gets at the session's end.
pub struct SessionEnd {
    pub metrics: BTreeMap<String, f64>,
    pub tags: BTreeMap<String, String>,
    pub artifacts: Vec<(String, Vec<u8>)>,
    pub status: RunStatus,
}

/// Keeps the first failure of several independent tracking calls.
fn keep_first(first: &mut Result<()>, r: std::result::Result<(), strider_mlflow::Error>) {
    if let (Ok(()), Err(e)) = (&*first, r) {
        *first = Err(e.into());
    }
}

/// `value` for one objective; `value_0`, `value_1` for two (as the callback names them).
fn value_key(i: usize, n: usize) -> String {
    if n == 1 {
        "value".into()
    } else {
        format!("value_{i}")
    }
}

/// The callback's `direction` tag: `MAXIMIZE`, or `['MINIMIZE', 'MAXIMIZE']` for two.
fn direction_tag(directions: &[Direction]) -> String {
    match directions {
        [d] => d.name().to_string(),
        ds => format!(
            "[{}]",
            ds.iter()
                .map(|d| format!("'{}'", d.name()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl TrialSink for TuneTracking {
    fn train(&self, trial: usize, model: &str, split: usize, event: &TrainEvent) {
        self.with(|state| {
            let run = Self::trial_run(state, trial)?;
            let key = format!("train/{model}/split-{split}/{}", event.name);
            let point = metric(key, event.value, event.step as i64);
            Ok(state.tracker.log_metrics(&run, &[point])?)
        });
    }

    fn intermediate(&self, trial: usize, step: i64, value: f64) {
        self.with(|state| {
            let run = Self::trial_run(state, trial)?;
            let Some(t) = state.trials.get_mut(&trial) else {
                return Ok(());
            };
            if !t.steps.insert(step) {
                return Ok(());
            }
            let point = metric("intermediate_value".into(), value, step);
            Ok(state.tracker.log_metrics(&run, &[point])?)
        });
    }
}

/// An objective whose trials are tracked: the nested run starts with the trial and records what
/// the trial left when the objective returns.
pub struct Tracked<'a> {
    pub inner: &'a dyn Objective,
    pub tracking: &'a TuneTracking,
}

impl Objective for Tracked<'_> {
    fn run(&self, study: &mut Study, trial: &mut Trial) -> std::result::Result<Outcome, String> {
        let number = trial.number;
        self.tracking
            .with(|state| TuneTracking::trial_run(state, number).map(|_| ()));
        let outcome = self.inner.run(study, trial);
        let seen = match &outcome {
            Ok(o) => o,
            Err(e) => &Outcome::Fail(e.clone()),
        };
        self.tracking.trial_returned(trial, seen);
        outcome
    }
}
