//! The whole run in memory: dataset -> splits -> per-fold fit / predict -> backtest -> metrics.
//! The CLI and the browser both call [`run`]; only reading inputs and writing outputs differ.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::backtest::{self, Backtest, InstrumentDay};
use crate::config::Config;
use crate::data::{Instrument, fingerprint};
use crate::dataset::{Dataset, DropReport};
use crate::evaluation::{Evaluation, evaluate};
use crate::labels::Task;
use crate::metrics::{self, mean};
use crate::model::{FitContext, TrainEvent};
use crate::splits::{SplitPlan, SplitSpec};
use crate::stats::{DeflatedSharpe, deflated_sharpe};
use crate::{Error, Result, seed};

/// Progress of a run, for progress bars and live charts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Stage {
        name: String,
    },
    FoldDone {
        model: String,
        split: usize,
        n_splits: usize,
        /// Annualised net Sharpe of this fold's test window traded on its own (the running
        /// signal for pruners; the summary's per-fold metrics come after all folds).
        sharpe: f64,
    },
    Train {
        model: String,
        split: usize,
        train: TrainEvent,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetSummary {
    pub instruments: Vec<String>,
    pub features: Vec<String>,
    pub rows: usize,
    pub dates: usize,
    pub first_date: NaiveDate,
    pub last_date: NaiveDate,
    pub drops: Vec<DropReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitSummary {
    pub spec: SplitSpec,
    /// The gap / purge used where the spec left it unset: the label horizon in calendar steps.
    pub default_gap: usize,
    pub n_samples: usize,
    pub n_splits: usize,
    pub n_paths: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldMetrics {
    /// Pearson correlation of predictions with the realised forward return.
    pub ic: f64,
    /// Share of test rows where the predicted direction matched the realised one.
    pub directional_accuracy: f64,
    pub rmse: f64,
    pub strategy_sharpe: f64,
    pub strategy_return: f64,
    pub strategy_days: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldRecord {
    pub model: String,
    pub split: usize,
    pub train: Vec<[NaiveDate; 2]>,
    pub test: Vec<[NaiveDate; 2]>,
    pub train_dates: usize,
    pub test_dates: usize,
    pub train_rows: usize,
    pub test_rows: usize,
    pub metrics: FoldMetrics,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathSummary {
    pub path: usize,
    pub n_periods: usize,
    pub sharpe: f64,
    pub total_return: f64,
    pub max_drawdown: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSummary {
    pub name: String,
    pub kind: String,
    /// Metrics, benchmark comparison and attribution on path 0 (the only path except for CPCV).
    #[serde(flatten)]
    pub evaluation: Evaluation,
    pub paths: Vec<PathSummary>,
}

/// Everything a run reports, small enough to print and compare (no per-row data).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub name: String,
    pub seed: u64,
    pub data_fingerprint: String,
    pub dataset: DatasetSummary,
    pub split: SplitSummary,
    pub models: Vec<ModelSummary>,
    /// Deflated Sharpe ratio of the best model against every model the run tried.
    pub deflated_sharpe: DeflatedSharpe,
    pub folds: Vec<FoldRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictionRow {
    pub date: NaiveDate,
    pub instrument: String,
    pub split: usize,
    pub path: usize,
    pub prediction: f64,
    pub label: f64,
    pub forward_return: f64,
}

/// Per-row outputs of one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelOutput {
    pub name: String,
    pub predictions: Vec<PredictionRow>,
    /// Backtest of path 0.
    pub backtest: Backtest,
    /// Fitted parameters per split.
    pub fitted: Vec<serde_json::Value>,
    /// Extra files per split (e.g. model.txt), as (file name, bytes).
    #[serde(skip)]
    pub artifacts: Vec<Vec<(String, Vec<u8>)>>,
    /// What the model reported while it trained, per split (per-epoch losses, per-iteration
    /// metrics): the run directory's `learning_curves.json`.
    pub learning_curves: Vec<Vec<TrainEvent>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunOutput {
    pub summary: RunSummary,
    pub models: Vec<ModelOutput>,
}

fn dates_of(calendar: &[NaiveDate], idx: &[usize]) -> Vec<[NaiveDate; 2]> {
    crate::ranges::to_ranges(idx)
        .iter()
        .map(|r| [calendar[r[0]], calendar[r[1]]])
        .collect()
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// Run a config on loaded instruments. Deterministic: same inputs and seed, same output.
pub fn run(
    config: &Config,
    instruments: &[Instrument],
    seed: u64,
    on_event: &mut dyn FnMut(Event),
) -> Result<RunOutput> {
    run_with(config, instruments, seed, on_event, None)
}

/// [`run`], with a native GBDT trainer for models with `engine = "lightgbm"`.
pub fn run_with(
    config: &Config,
    instruments: &[Instrument],
    seed: u64,
    on_event: &mut dyn FnMut(Event),
    native_gbdt: Option<&dyn crate::gbdt::NativeTrainer>,
) -> Result<RunOutput> {
    let all: Vec<usize> = (0..config.models.len()).collect();
    run_models(config, instruments, seed, on_event, native_gbdt, &all)
}

/// [`run_with`] for some of the config's models only (by index, e.g. to retrain one model).
/// Each model keeps the seeds it gets in a full run, so its output is the same as there; the
/// summary's deflated Sharpe counts only the models run.
pub fn run_models(
    config: &Config,
    instruments: &[Instrument],
    seed: u64,
    on_event: &mut dyn FnMut(Event),
    native_gbdt: Option<&dyn crate::gbdt::NativeTrainer>,
    models: &[usize],
) -> Result<RunOutput> {
    run_models_cancellable(
        config,
        instruments,
        seed,
        on_event,
        native_gbdt,
        models,
        &|| false,
    )
}

/// [`run_models`] that stops with [`Error::Cancelled`] when `cancel()` turns true after a fold
/// (a pruned tuning trial).
pub fn run_models_cancellable(
    config: &Config,
    instruments: &[Instrument],
    seed: u64,
    on_event: &mut dyn FnMut(Event),
    native_gbdt: Option<&dyn crate::gbdt::NativeTrainer>,
    models: &[usize],
    cancel: &dyn Fn() -> bool,
) -> Result<RunOutput> {
    config.validate()?;
    if models.is_empty() || models.iter().any(|&m| m >= config.models.len()) {
        return Err(Error::Config(format!(
            "models to run: {models:?} is empty or out of range (the config has {})",
            config.models.len()
        )));
    }
    on_event(Event::Stage {
        name: "features".into(),
    });
    let data = Dataset::build(instruments, &config.features, &config.label)?;
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
    let row_of: HashMap<(usize, usize), usize> = data
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.instrument, r.bar), i))
        .collect();

    let mut folds = Vec::new();
    let mut model_summaries = Vec::new();
    let mut outputs = Vec::new();
    let (mut trial_sharpes, mut trial_returns) = (Vec::new(), Vec::new());
    for (mi, spec) in config.models.iter().enumerate() {
        if !models.contains(&mi) {
            continue;
        }
        on_event(Event::Stage {
            name: format!("model {}", spec.name),
        });
        // scores[path][instrument][bar]
        let mut scores: Vec<Vec<Vec<Option<f64>>>> = (0..plan.n_paths)
            .map(|_| instruments.iter().map(|i| vec![None; i.len()]).collect())
            .collect();
        let mut predictions = Vec::new();
        let mut fitted = Vec::new();
        let mut artifacts = Vec::new();
        let mut learning_curves = Vec::new();
        let mut per_split_rows: Vec<Vec<(usize, Vec<usize>)>> = Vec::new(); // (path, rows) per group
        let mut train_counts = Vec::with_capacity(plan.splits.len());
        for (si, split) in plan.splits.iter().enumerate() {
            let train_rows = data.rows_at(&split.train);
            train_counts.push(train_rows.len());
            let mut curve = Vec::new();
            let mut ctx_events = |e: TrainEvent| {
                curve.push(e.clone());
                on_event(Event::Train {
                    model: spec.name.clone(),
                    split: si,
                    train: e,
                })
            };
            let mut ctx = FitContext {
                seed: seed::derive(seed, &[mi as u64, si as u64]),
                on_event: &mut ctx_events,
                native_gbdt,
            };
            let model = spec
                .fit(&data, &train_rows, &mut ctx)
                .map_err(|e| match e {
                    Error::Model { model, message } => Error::Model {
                        model,
                        message: format!("split {si}: {message}"),
                    },
                    other => other,
                })?;
            learning_curves.push(curve);
            fitted.push(model.describe());
            artifacts.push(model.artifacts());
            let mut groups = Vec::new();
            for (group, &path) in split.test_groups.iter().zip(&split.path_ids) {
                let rows = data.rows_at(group);
                if rows.is_empty() {
                    return Err(Error::Fold {
                        fold: si,
                        message: "a test fold has no rows".into(),
                    });
                }
                let pred = model.predict(&data, &rows)?;
                for (&r, &p) in rows.iter().zip(&pred) {
                    let meta = data.rows[r];
                    let score = match data.task {
                        Task::Regression => p,
                        Task::Classification => p - 0.5,
                    };
                    scores[path][meta.instrument][meta.bar] = Some(score);
                    predictions.push(PredictionRow {
                        date: data.calendar[meta.time],
                        instrument: data.instruments[meta.instrument].clone(),
                        split: si,
                        path,
                        prediction: p,
                        label: data.y[r],
                        forward_return: data.forward_return[r],
                    });
                }
                groups.push((path, rows));
            }
            // The groups are disjoint and ascending, so together they are the split's test rows.
            let test_rows: Vec<usize> =
                groups.iter().flat_map(|(_, r)| r.iter().copied()).collect();
            if let Some(extra) = model.explain(&data, &test_rows)
                && let (Some(obj), serde_json::Value::Object(more)) =
                    (fitted.last_mut().and_then(|v| v.as_object_mut()), extra)
            {
                obj.extend(more);
            }
            let sharpe = {
                let mut own: Vec<Vec<Option<f64>>> =
                    instruments.iter().map(|i| vec![None; i.len()]).collect();
                for &r in &test_rows {
                    let meta = data.rows[r];
                    own[meta.instrument][meta.bar] = scores[0][meta.instrument][meta.bar]
                        .or(scores.iter().find_map(|p| p[meta.instrument][meta.bar]));
                }
                let net: Vec<f64> = backtest::run(instruments, &own, &config.strategy)
                    .portfolio
                    .iter()
                    .map(|d| d.strategy)
                    .collect();
                metrics::sharpe(&net, &config.metrics)
            };
            per_split_rows.push(groups);
            on_event(Event::FoldDone {
                model: spec.name.clone(),
                split: si,
                n_splits: plan.splits.len(),
                sharpe,
            });
            if cancel() {
                return Err(Error::Cancelled);
            }
        }
        let backtests: Vec<Backtest> = scores
            .iter()
            .map(|s| backtest::run(instruments, s, &config.strategy))
            .collect();
        // Per-split metrics: the split's test rows, and the strategy days their signals drove.
        let mut offset = 0;
        for (si, split) in plan.splits.iter().enumerate() {
            let groups = &per_split_rows[si];
            let n_pred: usize = groups.iter().map(|(_, r)| r.len()).sum();
            let preds = &predictions[offset..offset + n_pred];
            offset += n_pred;
            let p: Vec<f64> = preds.iter().map(|p| p.prediction).collect();
            let y: Vec<f64> = preds.iter().map(|p| p.label).collect();
            let fwd: Vec<f64> = preds.iter().map(|p| p.forward_return).collect();
            let centre = if data.task == Task::Classification {
                0.5
            } else {
                0.0
            };
            let agree = p
                .iter()
                .zip(&fwd)
                .filter(|(a, f)| ((**a - centre) > 0.0) == (**f > 0.0))
                .count();
            let mut days: Vec<InstrumentDay> = Vec::new();
            for (path, rows) in groups {
                let in_group: std::collections::HashSet<usize> = rows.iter().copied().collect();
                days.extend(
                    backtests[*path]
                        .days
                        .iter()
                        .filter(|d| {
                            row_of
                                .get(&(d.instrument, d.signal_bar))
                                .is_some_and(|r| in_group.contains(r))
                        })
                        .cloned(),
                );
            }
            days.sort_by_key(|d| (d.date, d.instrument));
            let strat: Vec<f64> = backtest::portfolio(&days)
                .iter()
                .map(|d| d.strategy)
                .collect();

            let (fold_sharpe, fold_return) = (
                metrics::sharpe(&strat, &config.metrics),
                strat.iter().map(|x| 1.0 + x).product::<f64>() - 1.0,
            );
            let train_rows = train_counts[si];
            folds.push(FoldRecord {
                model: spec.name.clone(),
                split: si,
                train: dates_of(&data.calendar, &split.train),
                test: dates_of(&data.calendar, &split.test),
                train_dates: split.train.len(),
                test_dates: split.test.len(),
                train_rows,
                test_rows: n_pred,
                metrics: FoldMetrics {
                    ic: pearson(&p, &fwd),
                    directional_accuracy: agree as f64 / n_pred as f64,
                    rmse: (p.iter().zip(&y).map(|(a, b)| (a - b).powi(2)).sum::<f64>()
                        / n_pred as f64)
                        .sqrt(),
                    strategy_sharpe: fold_sharpe,
                    strategy_return: fold_return,
                    strategy_days: strat.len(),
                },
            });
        }
        let paths = backtests
            .iter()
            .enumerate()
            .map(|(path, b)| {
                let r: Vec<f64> = b.portfolio.iter().map(|d| d.strategy).collect();
                PathSummary {
                    path,
                    n_periods: r.len(),
                    sharpe: metrics::sharpe(&r, &config.metrics),
                    total_return: r.iter().map(|x| 1.0 + x).product::<f64>() - 1.0,
                    max_drawdown: metrics::max_drawdown(&r),
                }
            })
            .collect();
        let net: Vec<f64> = backtests[0].portfolio.iter().map(|d| d.strategy).collect();
        trial_sharpes.push(metrics::sharpe_per_period(&net, &config.metrics));
        trial_returns.push(net);
        model_summaries.push(ModelSummary {
            name: spec.name.clone(),
            kind: spec.params.kind().to_string(),
            evaluation: evaluate(&backtests[0], &data.instruments, &config.metrics),
            paths,
        });
        predictions
            .sort_by(|a, b| (a.path, a.date, &a.instrument).cmp(&(b.path, b.date, &b.instrument)));
        outputs.push(ModelOutput {
            name: spec.name.clone(),
            predictions,
            backtest: backtests.into_iter().next().expect("at least one path"),
            fitted,
            artifacts,
            learning_curves,
        });
    }
    let summary = RunSummary {
        name: config.name.clone(),
        seed,
        data_fingerprint: fingerprint(instruments),
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
        models: model_summaries,
        deflated_sharpe: {
            let best = (0..trial_sharpes.len()).fold(0, |b, i| {
                if trial_sharpes[i] > trial_sharpes[b] {
                    i
                } else {
                    b
                }
            });
            deflated_sharpe(&trial_returns[best], &trial_sharpes, &config.metrics)
        },
        folds,
    };
    Ok(RunOutput {
        summary,
        models: outputs,
    })
}
