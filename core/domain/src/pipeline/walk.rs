//! One model walked forward: fit on each split's training rows, predict its test groups (one
//! per CPCV path), trade every path, and measure each fold.

use std::collections::HashMap;

use super::fold_metrics::fold_records;
use super::{Event, ModelOutput, ModelSummary, PathSummary, PredictionRow, RunRequest};
use crate::backtest::{self, Backtest};
use crate::dataset::Dataset;
use crate::evaluation::evaluate;
use crate::metrics;
use crate::model::ensemble::{EnsembleFit, OofHistory};
use crate::model::{BoxedModel, FitContext, ModelParams, ModelSpec, Predict, TrainEvent};
use crate::splits::{Split, SplitPlan};
use crate::{Error, Result, seed};

/// What one model's walk produced.
pub(super) struct Walked {
    pub folds: Vec<super::FoldRecord>,
    pub summary: ModelSummary,
    pub output: ModelOutput,
}

/// Scores by `[path][instrument][bar]`; `None` where no model predicted.
pub(super) type Scores = Vec<Vec<Vec<Option<f64>>>>;

/// The test rows of one split, grouped by the path each group belongs to.
pub(super) type PathGroups = Vec<(usize, Vec<usize>)>;

/// What the walk collects over the splits.
struct Collected {
    scores: Scores,
    predictions: Vec<PredictionRow>,
    fitted: Vec<serde_json::Value>,
    artifacts: Vec<Vec<(String, Vec<u8>)>>,
    learning_curves: Vec<Vec<TrainEvent>>,
    per_split_rows: Vec<PathGroups>,
    train_counts: Vec<usize>,
    /// An ensemble's members' out-of-fold predictions so far (empty for other models).
    history: OofHistory,
}

pub(super) fn walk_model(
    req: &RunRequest,
    data: &Dataset,
    plan: &SplitPlan,
    mi: usize,
    spec: &ModelSpec,
    on_event: &mut dyn FnMut(Event),
) -> Result<Walked> {
    on_event(Event::Stage {
        name: format!("model {}", spec.name),
    });
    let view = spec.view(data)?;
    let data = view.as_ref();
    let mut c = Collected {
        scores: (0..plan.n_paths)
            .map(|_| {
                req.instruments
                    .iter()
                    .map(|i| vec![None; i.len()])
                    .collect()
            })
            .collect(),
        predictions: Vec::new(),
        fitted: Vec::new(),
        artifacts: Vec::new(),
        learning_curves: Vec::new(),
        per_split_rows: Vec::new(),
        train_counts: Vec::with_capacity(plan.splits.len()),
        history: OofHistory::default(),
    };
    for (si, split) in plan.splits.iter().enumerate() {
        let model = fit_split(req, data, mi, spec, si, split, &mut c, on_event)?;
        let noisy = req.test_feature_noise.map(|k| {
            with_test_noise(
                data,
                split,
                k,
                seed::derive(req.seed, &[mi as u64, si as u64, 7]),
            )
        });
        let groups = predict_groups(
            noisy.as_ref().unwrap_or(data),
            model.as_ref(),
            si,
            split,
            &mut c,
        )?;
        let test_rows: Vec<usize> = groups.iter().flat_map(|(_, r)| r.iter().copied()).collect();
        if let Some(members) = model.member_predictions(data, &test_rows) {
            let seen = split
                .train
                .iter()
                .chain(&split.test)
                .copied()
                .max()
                .unwrap_or(0);
            c.history.push(si, seen, &test_rows, members?);
        }
        attach_explanation(data, model.as_ref(), &test_rows, &mut c.fitted);
        let sharpe = fold_sharpe(req, data, &c.scores, &test_rows);
        c.per_split_rows.push(groups);
        on_event(Event::FoldDone {
            model: spec.name.clone(),
            split: si,
            n_splits: plan.splits.len(),
            sharpe,
        });
        if req.cancel.is_some_and(|cancel| cancel()) {
            return Err(Error::Cancelled);
        }
    }
    let history = std::mem::take(&mut c.history);
    let mut walked = finish(req, data, plan, spec, c)?;
    if req.final_models {
        let validation = serde_json::to_value(&walked.summary).unwrap_or_default();
        walked.output.final_model = Some(super::final_fit::final_fit(
            req, data, plan, mi, spec, validation, &history, on_event,
        )?);
    }
    Ok(walked)
}

/// Fits the model on the split's training rows, recording what it reports while it trains.
#[allow(clippy::too_many_arguments)]
fn fit_split(
    req: &RunRequest,
    data: &Dataset,
    mi: usize,
    spec: &ModelSpec,
    si: usize,
    split: &Split,
    c: &mut Collected,
    on_event: &mut dyn FnMut(Event),
) -> Result<BoxedModel> {
    let train_rows = data.rows_at(&split.train);
    c.train_counts.push(train_rows.len());
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
        seed: seed::derive(req.seed, &[mi as u64, si as u64]),
        on_event: &mut ctx_events,
        native_gbdt: req.native_gbdt,
    };
    let first_test = split.test.iter().copied().min().unwrap_or(0);
    let fitted = fit_model(
        req,
        data,
        spec,
        &train_rows,
        si,
        first_test,
        &c.history,
        &mut ctx,
    );
    let model = fitted.map_err(|e| match e {
        Error::Model { model, message } => Error::Model {
            model,
            message: format!("split {si}: {message}"),
        },
        Error::Gbdt(e) => Error::Model {
            model: spec.name.clone(),
            message: format!("split {si}: {e}"),
        },
        other => other,
    })?;
    c.learning_curves.push(curve);
    c.fitted.push(model.describe());
    c.artifacts.push(model.artifacts());
    Ok(model)
}

/// Fits any model on `rows`: an ensemble with its members and what it may learn from before
/// `first_test`, any other model by its spec.
#[allow(clippy::too_many_arguments)]
pub(super) fn fit_model(
    req: &RunRequest,
    data: &Dataset,
    spec: &ModelSpec,
    rows: &[usize],
    split: usize,
    first_test: usize,
    history: &OofHistory,
    ctx: &mut FitContext,
) -> Result<BoxedModel> {
    let ModelParams::Ensemble(params) = &spec.params else {
        return spec.fit(data, rows, ctx);
    };
    let members = params
        .members
        .iter()
        .map(|name| {
            req.config
                .models
                .iter()
                .enumerate()
                .find(|(_, m)| &m.name == name)
                .ok_or_else(|| Error::Model {
                    model: spec.name.clone(),
                    message: format!("member `{name}` is not a model of the config"),
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let fit = EnsembleFit {
        params,
        members,
        root_seed: req.seed,
        split,
        strategy: &req.config.strategy,
        history,
        first_test,
    };
    let mut fitted = fit.fit(data, rows, ctx)?;
    fitted.name = spec.name.clone();
    Ok(Box::new(fitted))
}

/// Predicts each test group of the split into its path's scores and the prediction rows.
fn predict_groups(
    data: &Dataset,
    model: &dyn Predict,
    si: usize,
    split: &Split,
    c: &mut Collected,
) -> Result<PathGroups> {
    let mut groups = Vec::new();
    for (group, &path) in split.test_groups.iter().zip(&split.path_ids) {
        let rows = data.rows_at(group);
        if rows.is_empty() {
            return Err(Error::Fold {
                fold: si,
                message: "a test fold has no rows".into(),
            });
        }
        let pred = model.predict(data, &rows)?;
        for (&r, &p) in rows.iter().zip(&pred) {
            let meta = data.rows[r];
            let score = data.task.score(p);
            c.scores[path][meta.instrument][meta.bar] = Some(score);
            c.predictions.push(PredictionRow {
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
    Ok(groups)
}

/// The dataset with Gaussian noise of `k` standard deviations (each feature's, on the split's
/// training rows) added to the split's test rows: a robustness stress, never part of a run.
fn with_test_noise(data: &Dataset, split: &Split, k: f64, seed: u64) -> Dataset {
    use rand::{RngExt, SeedableRng};
    let train = data.rows_at(&split.train);
    let n_f = data.n_features();
    let sd: Vec<f64> = (0..n_f)
        .map(|j| {
            let v: Vec<f64> = train.iter().map(|&r| data.row(r)[j]).collect();
            crate::metrics::std(&v)
        })
        .collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut noisy = data.clone();
    let tests: Vec<usize> = split
        .test_groups
        .iter()
        .flat_map(|g| data.rows_at(g))
        .collect();
    for r in tests {
        for (j, s) in sd.iter().enumerate() {
            // Box-Muller: two uniforms in (0, 1] to one standard normal.
            let (u, v): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
            let z = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
            if s.is_finite() {
                noisy.x[r * n_f + j] += k * s * z;
            }
        }
    }
    noisy
}

/// Adds what the model says about its test rows (e.g. mean |SHAP|) to its fitted description.
fn attach_explanation(
    data: &Dataset,
    model: &dyn Predict,
    test_rows: &[usize],
    fitted: &mut [serde_json::Value],
) {
    if let Some(extra) = model.explain(data, test_rows)
        && let (Some(obj), serde_json::Value::Object(more)) =
            (fitted.last_mut().and_then(|v| v.as_object_mut()), extra)
    {
        obj.extend(more);
    }
}

/// Annualised net Sharpe of this fold's test window traded on its own: the running signal for
/// pruners (the summary's per-fold metrics come after all folds).
fn fold_sharpe(req: &RunRequest, data: &Dataset, scores: &Scores, test_rows: &[usize]) -> f64 {
    let mut own: Vec<Vec<Option<f64>>> = req
        .instruments
        .iter()
        .map(|i| vec![None; i.len()])
        .collect();
    for &r in test_rows {
        let meta = data.rows[r];
        own[meta.instrument][meta.bar] = scores[0][meta.instrument][meta.bar]
            .or(scores.iter().find_map(|p| p[meta.instrument][meta.bar]));
    }
    let net: Vec<f64> = backtest::run(req.instruments, &own, &req.config.strategy)
        .portfolio
        .iter()
        .map(|d| d.strategy)
        .collect();
    metrics::sharpe(&net, &req.config.metrics)
}

/// Trades every path, measures each fold and path, and assembles the model's outputs.
fn finish(
    req: &RunRequest,
    data: &Dataset,
    plan: &SplitPlan,
    spec: &ModelSpec,
    c: Collected,
) -> Result<Walked> {
    let config = req.config;
    let backtests: Vec<Backtest> = c
        .scores
        .iter()
        .map(|s| backtest::run(req.instruments, s, &config.strategy))
        .collect();
    let row_of: HashMap<(usize, usize), usize> = data
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.instrument, r.bar), i))
        .collect();
    let folds = fold_records(
        config,
        data,
        plan,
        spec,
        &backtests,
        &row_of,
        &c.per_split_rows,
        &c.predictions,
        &c.train_counts,
    );
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
    let summary = ModelSummary {
        name: spec.name.clone(),
        kind: spec.params.kind().to_string(),
        evaluation: evaluate(&backtests[0], &data.instruments, &config.metrics),
        paths,
    };
    let mut predictions = c.predictions;
    predictions
        .sort_by(|a, b| (a.path, a.date, &a.instrument).cmp(&(b.path, b.date, &b.instrument)));
    let backtest = backtests.into_iter().next().ok_or(Error::Fold {
        fold: 0,
        message: "the split plan has no path".into(),
    })?;
    if backtest.portfolio.is_empty() {
        // Every out-of-sample signal would execute after the data ends: a zero-period backtest
        // would report metrics of nothing.
        return Err(Error::config(
            "strategy.execution_lag",
            format!(
                "= {} leaves no bar to trade after the out-of-sample predictions of `{}`",
                config.strategy.execution_lag, spec.name
            ),
        ));
    }
    Ok(Walked {
        folds,
        summary,
        output: ModelOutput {
            name: spec.name.clone(),
            predictions,
            backtest,
            fitted: c.fitted,
            artifacts: c.artifacts,
            learning_curves: c.learning_curves,
            final_model: None,
        },
    })
}
