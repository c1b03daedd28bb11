//! Per-fold metrics: each split's test rows against their predictions, and the strategy days
//! their signals drove.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::walk::PathGroups;
use super::{FoldMetrics, FoldRecord, PredictionRow};
use crate::backtest::{self, Backtest, InstrumentDay};
use crate::config::Config;
use crate::dataset::Dataset;
use crate::labels::{Task, cross_section_grades, runs};
use crate::metrics::{self, mean};
use crate::model::ModelSpec;
use crate::splits::SplitPlan;

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

/// One record per split, in split order. `predictions` are in walk order (split by split).
#[allow(clippy::too_many_arguments)]
pub(super) fn fold_records(
    config: &Config,
    data: &Dataset,
    plan: &SplitPlan,
    spec: &ModelSpec,
    backtests: &[Backtest],
    row_of: &HashMap<(usize, usize), usize>,
    per_split_rows: &[PathGroups],
    predictions: &[PredictionRow],
    train_counts: &[usize],
) -> Vec<FoldRecord> {
    let mut offset = 0;
    let mut folds = Vec::with_capacity(plan.splits.len());
    for (si, split) in plan.splits.iter().enumerate() {
        let groups = &per_split_rows[si];
        let n_pred: usize = groups.iter().map(|(_, r)| r.len()).sum();
        let preds = &predictions[offset..offset + n_pred];
        offset += n_pred;
        let strat = fold_strategy_returns(backtests, row_of, groups);
        folds.push(FoldRecord {
            model: spec.name.clone(),
            split: si,
            train: dates_of(&data.calendar, &split.train),
            test: dates_of(&data.calendar, &split.test),
            train_dates: split.train.len(),
            test_dates: split.test.len(),
            train_rows: train_counts[si],
            test_rows: n_pred,
            metrics: fold_metrics(config, data.task, preds, &strat),
        });
    }
    folds
}

/// The portfolio returns of the days whose signal came from this split's test rows.
fn fold_strategy_returns(
    backtests: &[Backtest],
    row_of: &HashMap<(usize, usize), usize>,
    groups: &PathGroups,
) -> Vec<f64> {
    let mut days: Vec<InstrumentDay> = Vec::new();
    for (path, rows) in groups {
        let in_group: HashSet<usize> = rows.iter().copied().collect();
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
    backtest::portfolio(&days)
        .iter()
        .map(|d| d.strategy)
        .collect()
}

fn fold_metrics(
    config: &Config,
    task: Task,
    preds: &[PredictionRow],
    strat: &[f64],
) -> FoldMetrics {
    let n_pred = preds.len();
    let p: Vec<f64> = preds.iter().map(|p| p.prediction).collect();
    let y: Vec<f64> = preds.iter().map(|p| p.label).collect();
    let fwd: Vec<f64> = preds.iter().map(|p| p.forward_return).collect();
    let centre = if task == Task::Classification {
        0.5
    } else {
        0.0
    };
    let agree = p
        .iter()
        .zip(&fwd)
        .filter(|(a, f)| ((**a - centre) > 0.0) == (**f > 0.0))
        .count();
    FoldMetrics {
        ic: pearson(&p, &fwd),
        directional_accuracy: agree as f64 / n_pred as f64,
        rmse: (p.iter().zip(&y).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / n_pred as f64).sqrt(),
        strategy_sharpe: metrics::sharpe(strat, &config.metrics),
        strategy_return: strat.iter().map(|x| 1.0 + x).product::<f64>() - 1.0,
        strategy_days: strat.len(),
        ndcg: cross_section_ndcg(preds),
    }
}

/// Mean NDCG of each date's cross-section (per path): instruments ordered by prediction against
/// their realised forward returns' ranks as relevance (`cross_section_grades`, LightGBM's gains
/// 2^g - 1), over every date with at least two instruments; NaN when there is none.
fn cross_section_ndcg(preds: &[PredictionRow]) -> f64 {
    let mut order: Vec<usize> = (0..preds.len()).collect();
    order.sort_by_key(|&i| (preds[i].path, preds[i].date));
    let keys: Vec<_> = order
        .iter()
        .map(|&i| (preds[i].path, preds[i].date))
        .collect();
    let gains = crate::gbdt::default_label_gains();
    let (mut sum, mut dates) = (0.0, 0usize);
    for (start, len) in runs(&keys).into_iter().filter(|(_, len)| *len >= 2) {
        let rows = &order[start..start + len];
        let fwd: Vec<f64> = rows.iter().map(|&i| preds[i].forward_return).collect();
        let score: Vec<f64> = rows.iter().map(|&i| preds[i].prediction).collect();
        let grades = cross_section_grades(&fwd);
        sum += crate::gbdt::ndcg_at(len, &grades, &score, &[len as u32], &gains);
        dates += 1;
    }
    if dates == 0 {
        f64::NAN
    } else {
        sum / dates as f64
    }
}
