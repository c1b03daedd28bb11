//! Walk-forward and cross-validation splitters over sample positions `0..n` (calendar positions
//! in a run). Index-for-index equal to scikit-learn's `TimeSeriesSplit`, skfolio's `WalkForward`
//! and `CombinatorialPurgedCV`, and the purged k-fold of López de Prado (AFML ch. 7); the golden
//! tests in `tests/splits_golden.rs` hold them to the reference libraries.

mod cpcv;
mod purged_kfold;
mod tss;
mod walk_forward;

pub use cpcv::cpcv;
pub use purged_kfold::purged_kfold;
pub use tss::time_series_split;
pub use walk_forward::walk_forward;

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::ranges::to_ranges;

/// One train/test split. Indices are sorted positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    /// All test positions (the union of `test_groups`).
    pub test: Vec<usize>,
    /// The test folds, in ascending order (one group except for CPCV).
    pub test_groups: Vec<Vec<usize>>,
    /// For each test group, the backtest path it belongs to (all 0 except for CPCV).
    pub path_ids: Vec<usize>,
}

impl Split {
    fn single(train: Vec<usize>, test: Vec<usize>) -> Self {
        Split {
            train,
            test_groups: vec![test.clone()],
            test,
            path_ids: vec![0],
        }
    }
}

/// Every split of a scheme, with the number of out-of-sample paths they recombine into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitPlan {
    pub n_samples: usize,
    pub n_paths: usize,
    pub splits: Vec<Split>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// Training starts at the first sample and grows.
    Expanding,
    /// Training keeps `train_size` samples (the default, as skfolio's `expand_train=False`).
    #[default]
    Rolling,
}

/// A splitting scheme with its parameters (the `[split]` table of a config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SplitSpec {
    /// scikit-learn `TimeSeriesSplit`.
    Tss {
        #[serde(default = "five")]
        n_splits: usize,
        #[serde(default)]
        max_train_size: Option<usize>,
        #[serde(default)]
        test_size: Option<usize>,
        /// Samples dropped at the end of each training window; in a run it defaults to the
        /// label horizon.
        #[serde(default)]
        gap: Option<usize>,
    },
    /// Walk-forward with an expanding or rolling window (skfolio `WalkForward` when
    /// `step == test_size`).
    WalkForward {
        train_size: usize,
        test_size: usize,
        /// Samples between consecutive test starts (the retraining period); default `test_size`.
        #[serde(default)]
        step: Option<usize>,
        /// Samples between training and test (skfolio's `purged_size`); in a run it defaults
        /// to the label horizon.
        #[serde(default)]
        gap: Option<usize>,
        #[serde(default)]
        window: Window,
        /// Keep a final, shorter test window instead of dropping it.
        #[serde(default)]
        reduce_test: bool,
    },
    /// Purged k-fold with embargo on label end times (AFML ch. 7).
    PurgedKfold {
        #[serde(default = "five")]
        n_splits: usize,
        /// Label horizon in samples, when no label end times are given (the CLI); in a run the
        /// labels' own end times are used and this, if set, only lengthens them.
        #[serde(default)]
        purge: Option<usize>,
        /// Samples dropped after each test fold.
        #[serde(default)]
        embargo: usize,
    },
    /// skfolio `CombinatorialPurgedCV`.
    Cpcv {
        #[serde(default = "ten")]
        n_folds: usize,
        #[serde(default = "eight")]
        n_test_folds: usize,
        /// skfolio's `purged_size`; in a run it defaults to the label horizon.
        #[serde(default)]
        purge: Option<usize>,
        #[serde(default)]
        embargo: usize,
    },
}

/// The most samples a plan may span: each split lists its indices, so the limit bounds memory
/// (ten million daily bars are forty thousand years; minute bars, about thirty).
pub const MAX_SAMPLES: usize = 10_000_000;

/// scikit-learn's `_BaseKFold` rule: at least two splits.
fn check_n_splits(n_splits: usize) -> Result<()> {
    if n_splits < 2 {
        return Err(crate::Error::Split(format!(
            "k-fold cross-validation requires at least one train/test split by setting \
             n_splits=2 or more, got n_splits={n_splits}"
        )));
    }
    Ok(())
}

fn five() -> usize {
    5
}
fn ten() -> usize {
    10
}
fn eight() -> usize {
    8
}

impl SplitSpec {
    /// Build every split for `n` samples. `label_end[i]` is the position where sample `i`'s label
    /// information ends (may be `>= n`); `None` means labels end where they start (+ `purge`).
    /// `default_gap` fills `gap` / `purge` when the spec leaves them unset.
    ///
    /// Like the references, a split may come out with an empty training set (e.g. CPCV with
    /// many test folds and a large purge); [`SplitPlan::first_empty`] finds one, and a run
    /// refuses it.
    pub fn plan(
        &self,
        n: usize,
        label_end: Option<&[usize]>,
        default_gap: usize,
    ) -> Result<SplitPlan> {
        if n > MAX_SAMPLES {
            return Err(crate::Error::Split(format!(
                "n_samples={n} exceeds the limit of {MAX_SAMPLES} samples (MAX_SAMPLES)"
            )));
        }
        let single = |splits: Vec<Split>| SplitPlan {
            n_samples: n,
            n_paths: 1,
            splits,
        };
        let plan = match *self {
            SplitSpec::Tss {
                n_splits,
                max_train_size,
                test_size,
                gap,
            } => single(time_series_split(
                n,
                n_splits,
                max_train_size,
                test_size,
                gap.unwrap_or(default_gap),
            )?),
            SplitSpec::WalkForward {
                train_size,
                test_size,
                step,
                gap,
                window,
                reduce_test,
            } => single(walk_forward(
                n,
                train_size,
                test_size,
                step.unwrap_or(test_size),
                gap.unwrap_or(default_gap),
                window,
                reduce_test,
            )?),
            SplitSpec::PurgedKfold {
                n_splits,
                purge,
                embargo,
            } => {
                let horizon = purge.unwrap_or(0);
                let ends: Vec<usize> = (0..n)
                    .map(|i| label_end.map_or(i, |e| e[i]).max(i.saturating_add(horizon)))
                    .collect();
                single(purged_kfold(n, n_splits, &ends, embargo)?)
            }
            SplitSpec::Cpcv {
                n_folds,
                n_test_folds,
                purge,
                embargo,
            } => cpcv(
                n,
                n_folds,
                n_test_folds,
                purge.unwrap_or(default_gap),
                embargo,
            )?,
        };
        Ok(plan)
    }
}

/// The JSON shape `strider splits --json` prints: sorted, inclusive index ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitPlanJson {
    pub n_samples: usize,
    pub n_paths: usize,
    pub splits: Vec<SplitJson>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitJson {
    pub train: Vec<[usize; 2]>,
    pub test: Vec<[usize; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_groups: Option<Vec<Vec<[usize; 2]>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_ids: Option<Vec<usize>>,
}

impl SplitPlan {
    /// The first split with no training or no test samples, if any.
    pub fn first_empty(&self) -> Option<usize> {
        self.splits
            .iter()
            .position(|s| s.train.is_empty() || s.test.is_empty())
    }

    /// Ranges for JSON; `with_groups` adds `test_groups` and `path_ids` (CPCV).
    pub fn to_json(&self, with_groups: bool) -> SplitPlanJson {
        SplitPlanJson {
            n_samples: self.n_samples,
            n_paths: self.n_paths,
            splits: self
                .splits
                .iter()
                .map(|s| SplitJson {
                    train: to_ranges(&s.train),
                    test: to_ranges(&s.test),
                    test_groups: with_groups
                        .then(|| s.test_groups.iter().map(|g| to_ranges(g)).collect()),
                    path_ids: with_groups.then(|| s.path_ids.clone()),
                })
                .collect(),
        }
    }
}
