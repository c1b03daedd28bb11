//! What a run produces: the summary (small enough to print and compare) and the per-row outputs.

use chrono::NaiveDate;
use serde::Serialize;

use crate::backtest::Backtest;
use crate::dataset::DropReport;
use crate::evaluation::Evaluation;
use crate::model::TrainEvent;
use crate::splits::SplitSpec;
use crate::stats::DeflatedSharpe;

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
    /// Mean NDCG of the predictions' order of each date's instruments against their realised
    /// forward returns (1 = always the right order; NaN with one instrument).
    pub ndcg: f64,
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
    /// The model fit once more on every labelled row, when the request asked for it.
    #[serde(skip)]
    pub final_model: Option<FinalModel>,
}

/// The final fit of a model: its deployment bundle and its predictions on the rows it was fit on
/// (in-sample, so not a measure of anything: they let a test compare the bundle's scores).
#[derive(Debug, Clone, PartialEq)]
pub struct FinalModel {
    pub bundle: crate::bundle::BundleFiles,
    pub in_sample: Vec<FinalPrediction>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinalPrediction {
    pub date: NaiveDate,
    pub instrument: String,
    pub prediction: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunOutput {
    pub summary: RunSummary,
    pub models: Vec<ModelOutput>,
}
