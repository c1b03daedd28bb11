//! The whole run in memory: dataset -> splits -> per-fold fit / predict -> backtest -> metrics.
//! The CLI and the browser both call [`run`] (or a [`RunRequest`] with options); only reading
//! inputs and writing outputs differ.

mod candidates;
mod final_fit;
mod fold_metrics;
mod holdout;
mod output;
mod walk;

use crate::config::Config;
use crate::data::{Instrument, fingerprint};
use crate::dataset::Dataset;
use crate::gbdt::NativeTrainer;
use crate::metrics;
use crate::splits::SplitPlan;
use crate::stats::deflated_sharpe;
use crate::{Error, Result};

pub use holdout::{
    HoldoutEvaluation, HoldoutSpec, before_holdout, evaluate_holdout, validation_data,
};
pub use output::{
    DatasetSummary, Event, FinalModel, FinalPrediction, FoldMetrics, FoldRecord, ModelOutput,
    ModelSummary, PathSummary, PredictionRow, RunOutput, RunSummary, SplitSummary,
};

/// Run a config on loaded instruments. Deterministic: same inputs and seed, same output.
pub fn run(
    config: &Config,
    instruments: &[Instrument],
    seed: u64,
    on_event: &mut dyn FnMut(Event),
) -> Result<RunOutput> {
    RunRequest::new(config, instruments, seed).run(on_event)
}

/// A run with options: some of the config's models only, a native GBDT trainer, cancellation.
#[derive(Clone, Copy)]
pub struct RunRequest<'a> {
    pub config: &'a Config,
    pub instruments: &'a [Instrument],
    pub seed: u64,
    /// Indices of the config's models to run (`None`: all). Each model keeps the seeds it gets in
    /// a full run, so its output is the same as there; the summary's deflated Sharpe counts only
    /// the models run.
    pub models: Option<&'a [usize]>,
    /// The trainer for models with `engine = "lightgbm"` (native builds only).
    pub native_gbdt: Option<&'a dyn NativeTrainer>,
    /// Checked after every fold: `true` stops the run with [`Error::Cancelled`] (a pruned
    /// tuning trial).
    pub cancel: Option<&'a dyn Fn() -> bool>,
    /// After validation, fit every model once more on all labelled rows and make its
    /// deployment bundle ([`ModelOutput::final_model`]).
    pub final_models: bool,
    /// A robustness stress: Gaussian noise of this many standard deviations (of each feature on
    /// the fold's training rows) added to the test rows' features before predicting.
    pub test_feature_noise: Option<f64>,
}

impl<'a> RunRequest<'a> {
    pub fn new(config: &'a Config, instruments: &'a [Instrument], seed: u64) -> Self {
        Self {
            config,
            instruments,
            seed,
            models: None,
            native_gbdt: None,
            cancel: None,
            final_models: false,
            test_feature_noise: None,
        }
    }

    pub fn test_feature_noise(self, k: f64) -> Self {
        Self {
            test_feature_noise: Some(k),
            ..self
        }
    }

    pub fn final_models(self, final_models: bool) -> Self {
        Self {
            final_models,
            ..self
        }
    }

    pub fn models(self, models: &'a [usize]) -> Self {
        Self {
            models: Some(models),
            ..self
        }
    }

    pub fn native_gbdt(self, native_gbdt: Option<&'a dyn NativeTrainer>) -> Self {
        Self {
            native_gbdt,
            ..self
        }
    }

    pub fn cancel(self, cancel: &'a dyn Fn() -> bool) -> Self {
        Self {
            cancel: Some(cancel),
            ..self
        }
    }

    /// Validates, builds the dataset and the split plan, walks every requested model forward,
    /// and summarises.
    pub fn run(&self, on_event: &mut dyn FnMut(Event)) -> Result<RunOutput> {
        let config = self.config;
        config.validate()?;
        let all: Vec<usize> = (0..config.models.len()).collect();
        let models = self.models.unwrap_or(&all);
        if models.is_empty() || models.iter().any(|&m| m >= config.models.len()) {
            return Err(Error::config(
                "models",
                format!(
                    "{models:?} to run is empty or out of range (the config has {})",
                    config.models.len()
                ),
            ));
        }
        on_event(Event::Stage {
            name: "features".into(),
        });
        let data = Dataset::build(self.instruments, &config.features, &config.label)?;
        let (plan, default_gap) = plan_splits(config, &data)?;
        let mut walked = Vec::new();
        for (mi, spec) in config.models.iter().enumerate() {
            if models.contains(&mi) {
                walked.push(walk::walk_model(self, &data, &plan, mi, spec, on_event)?);
            }
        }
        Ok(self.summarise(&data, &plan, default_gap, walked))
    }

    /// The summary over every model walked, and the per-row outputs.
    fn summarise(
        &self,
        data: &Dataset,
        plan: &SplitPlan,
        default_gap: usize,
        walked: Vec<walk::Walked>,
    ) -> RunOutput {
        let config = self.config;
        let n_times = data.calendar.len();
        let (mut folds, mut summaries, mut outputs) = (Vec::new(), Vec::new(), Vec::new());
        let (mut trial_sharpes, mut trial_returns) = (Vec::new(), Vec::new());
        for w in walked {
            let net: Vec<f64> = w
                .output
                .backtest
                .portfolio
                .iter()
                .map(|d| d.strategy)
                .collect();
            trial_sharpes.push(metrics::sharpe_per_period(&net, &config.metrics));
            trial_returns.push(net);
            folds.extend(w.folds);
            summaries.push(w.summary);
            outputs.push(w.output);
        }
        let best = (0..trial_sharpes.len()).fold(0, |b, i| {
            if trial_sharpes[i] > trial_sharpes[b] {
                i
            } else {
                b
            }
        });
        let summary = RunSummary {
            name: config.name.clone(),
            seed: self.seed,
            data_fingerprint: fingerprint(self.instruments),
            dataset: DatasetSummary {
                instruments: data.instruments.clone(),
                features: data.feature_names.clone(),
                rows: data.rows.len(),
                dates: n_times,
                first_date: data.calendar[0],
                last_date: data.calendar[n_times - 1],
                drops: data.drops.clone(),
            },
            split: SplitSummary {
                spec: config.split.clone(),
                default_gap,
                n_samples: plan.n_samples,
                n_splits: plan.splits.len(),
                n_paths: plan.n_paths,
            },
            models: summaries,
            deflated_sharpe: deflated_sharpe(&trial_returns[best], &trial_sharpes, &config.metrics),
            folds,
        };
        RunOutput {
            summary,
            models: outputs,
        }
    }
}

/// The split plan on the dataset's calendar; the default gap / purge is the longest label
/// horizon in calendar steps. Every fold must have training and test dates.
fn plan_splits(config: &Config, data: &Dataset) -> Result<(SplitPlan, usize)> {
    let n_times = data.calendar.len();
    let label_end = data.label_end_by_time();
    let default_gap = data
        .rows
        .iter()
        .map(|r| r.label_end.min(n_times) - r.time)
        .max()
        .unwrap_or(config.label.horizon);
    let plan: SplitPlan = config.split.plan(n_times, Some(&label_end), default_gap)?;
    if let Some(i) = plan.first_empty() {
        return Err(Error::Fold {
            fold: i,
            message: format!(
                "empty training or test set on {n_times} dates; use fewer splits, smaller gaps or more data"
            ),
        });
    }
    Ok((plan, default_gap))
}
