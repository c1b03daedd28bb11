//! A histogram GBDT trainer with LightGBM's parameter names and defaults that grows LightGBM
//! 4.7's own trees: the same bins (`binning.rs`), float32 gradients (`objective.rs`), histograms,
//! split searches (`split.rs`, `categorical.rs`) and leaf-wise growth (`grow.rs`), checked tree
//! for tree against LightGBM on golden data (subsampling draws its own random numbers, so with
//! bagging or feature sampling the trees are not LightGBM's). Objectives regression (L2), binary
//! (logloss), multiclass (softmax), huber, fair, quantile (`objective.rs`), lambdarank and
//! rank_xendcg on query groups (`rank.rs`); L1/L2 regularisation, missing values (NaN or zero) with a learned
//! default side, categorical features, feature and row subsampling, early stopping.
//! Deterministic from `seed` and independent of `num_threads` (sums are split by feature, never
//! by row, see `threads.rs`; one thread in wasm32), and its result is a [`GbdtModel`]: every
//! trained model is a LightGBM `model.txt`.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::binning::FeatureBins;
use super::grow::{Binned, Built, Grower};
use super::loss::loss;
use super::model::{GbdtModel, Objective};
use super::objective;
use super::rank;
use super::threads::Threads;
use super::tree::{Tree, ZERO_THRESHOLD};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GbdtObjective {
    /// L2 loss (LightGBM's `regression`).
    #[default]
    #[serde(
        alias = "regression_l2",
        alias = "l2",
        alias = "mean_squared_error",
        alias = "mse",
        alias = "l2_root",
        alias = "root_mean_squared_error",
        alias = "rmse"
    )]
    Regression,
    /// Log loss on 0/1 labels.
    Binary,
    /// Softmax over `num_class` classes (labels are class indices).
    #[serde(alias = "softmax")]
    Multiclass,
    /// Huber loss: L2 within `alpha` of the label, L1 beyond (fat-tailed returns).
    Huber,
    /// Fair loss with scale `fair_c`.
    Fair,
    /// Pinball loss at quantile `alpha`; leaves are renewed to the residuals' quantile.
    Quantile,
    /// LambdaRank optimising NDCG within each query group (labels are relevance grades).
    Lambdarank,
    /// XE-NDCG (a listwise ranking loss; draws from `objective_seed`).
    #[serde(
        alias = "xendcg",
        alias = "xe_ndcg",
        alias = "xe_ndcg_mart",
        alias = "xendcg_mart"
    )]
    RankXendcg,
}

impl GbdtObjective {
    /// Ranking objectives need query groups and integer relevance labels.
    pub fn is_ranking(self) -> bool {
        matches!(self, Self::Lambdarank | Self::RankXendcg)
    }

    /// LightGBM's name for the objective, as its model file writes it.
    pub fn lightgbm_name(self) -> &'static str {
        match self {
            Self::Regression => "regression",
            Self::Binary => "binary",
            Self::Multiclass => "multiclass",
            Self::Huber => "huber",
            Self::Fair => "fair",
            Self::Quantile => "quantile",
            Self::Lambdarank => "lambdarank",
            Self::RankXendcg => "rank_xendcg",
        }
    }
}

/// Which implementation trains the trees. Both write LightGBM's model.txt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// The pure-Rust trainer in this crate (also in the browser).
    #[default]
    Strider,
    /// Native LightGBM (CLI only, cargo feature `lightgbm`).
    Lightgbm,
}

/// LightGBM's parameters (same names and defaults), read under LightGBM's aliases too
/// (`n_estimators`, `num_leaf`, `subsample`, `colsample_bytree`, `reg_lambda`, ...: the list in
/// its `config.h`, checked against the pinned LightGBM by a golden test); written back under the
/// canonical name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GbdtParams {
    pub engine: Engine,
    #[serde(
        alias = "objective_type",
        alias = "app",
        alias = "application",
        alias = "loss"
    )]
    pub objective: GbdtObjective,
    #[serde(alias = "num_classes")]
    pub num_class: usize,
    #[serde(
        alias = "num_iteration",
        alias = "n_iter",
        alias = "num_tree",
        alias = "num_trees",
        alias = "num_round",
        alias = "num_rounds",
        alias = "nrounds",
        alias = "num_boost_round",
        alias = "n_estimators",
        alias = "max_iter"
    )]
    pub num_iterations: usize,
    #[serde(alias = "shrinkage_rate", alias = "eta")]
    pub learning_rate: f64,
    #[serde(
        alias = "num_leaf",
        alias = "max_leaves",
        alias = "max_leaf",
        alias = "max_leaf_nodes"
    )]
    pub num_leaves: usize,
    /// <= 0 means no limit.
    pub max_depth: i64,
    #[serde(
        alias = "min_data_per_leaf",
        alias = "min_data",
        alias = "min_child_samples",
        alias = "min_samples_leaf"
    )]
    pub min_data_in_leaf: usize,
    #[serde(
        alias = "min_sum_hessian_per_leaf",
        alias = "min_sum_hessian",
        alias = "min_hessian",
        alias = "min_child_weight"
    )]
    pub min_sum_hessian_in_leaf: f64,
    #[serde(alias = "reg_alpha", alias = "l1_regularization")]
    pub lambda_l1: f64,
    #[serde(alias = "reg_lambda", alias = "lambda", alias = "l2_regularization")]
    pub lambda_l2: f64,
    #[serde(alias = "min_split_gain")]
    pub min_gain_to_split: f64,
    #[serde(alias = "sub_feature", alias = "colsample_bytree")]
    pub feature_fraction: f64,
    #[serde(alias = "sub_row", alias = "subsample", alias = "bagging")]
    pub bagging_fraction: f64,
    #[serde(alias = "subsample_freq")]
    pub bagging_freq: usize,
    #[serde(alias = "max_bins")]
    pub max_bin: usize,
    /// 0 disables early stopping (needs a validation set).
    #[serde(
        alias = "early_stopping_rounds",
        alias = "early_stopping",
        alias = "n_iter_no_change"
    )]
    pub early_stopping_round: usize,
    #[serde(alias = "random_seed", alias = "random_state")]
    pub seed: u64,
    /// Threads for training, LightGBM's way: 0 = all cores. The trees are the same on any number
    /// (sums are split by feature, never by row); in the browser, and without the `parallel`
    /// feature, one. At most four per core are started.
    #[serde(
        alias = "num_thread",
        alias = "nthread",
        alias = "nthreads",
        alias = "n_jobs"
    )]
    pub num_threads: usize,
    /// LightGBM's `use_missing`: false treats NaN as 0.0 everywhere (no missing values).
    pub use_missing: bool,
    /// LightGBM's `zero_as_missing`: zeros (and NaN) are the missing values, sent to a
    /// learned default side.
    pub zero_as_missing: bool,
    /// Indices of the categorical features (values are category numbers; NaN and negative
    /// values are missing): a list, or LightGBM's comma-separated string (`"0,3"`).
    #[serde(
        deserialize_with = "indices",
        alias = "cat_feature",
        alias = "categorical_column",
        alias = "cat_column",
        alias = "categorical_features"
    )]
    pub categorical_feature: Vec<usize>,
    /// Categorical features with at most this many bins split one category against the rest.
    pub max_cat_to_onehot: usize,
    /// Smoothing of the category ordering, and the fewest rows a category needs to be ordered.
    pub cat_smooth: f64,
    /// Extra L2 regularisation of categorical splits (many categories against many).
    pub cat_l2: f64,
    /// The most categories on the left side of a split.
    pub max_cat_threshold: usize,
    /// The fewest rows per group of categories in a split.
    pub min_data_per_group: usize,
    /// `huber`: where the loss turns from L2 to L1; `quantile`: the quantile (in (0, 1)).
    pub alpha: f64,
    /// `fair`: the loss's scale.
    pub fair_c: f64,
    /// Ranking: the gain of each relevance grade (default 2^i - 1 for grades 0..30): a list,
    /// or LightGBM's comma-separated string.
    #[serde(deserialize_with = "numbers")]
    pub label_gain: Vec<f64>,
    /// `lambdarank`: pairs with a row ranked above this position count.
    pub lambdarank_truncation_level: usize,
    /// `lambdarank`: normalise the gradients per query.
    pub lambdarank_norm: bool,
    /// `lambdarank`: the sigmoid's scale.
    pub sigmoid: f64,
    /// `rank_xendcg`: seed of its per-query draws (LightGBM's generator, so the trees match);
    /// by default derived from `seed` as LightGBM derives it when given a seed (Strider always
    /// has one, 0 by default: set `objective_seed = 5` to match a LightGBM run without `seed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objective_seed: Option<u64>,
}

/// Feature indices as a list or as LightGBM's comma-separated string.
fn indices<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<usize>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Indices {
        List(Vec<usize>),
        One(usize),
        Text(String),
    }
    match Indices::deserialize(d)? {
        Indices::List(v) => Ok(v),
        Indices::One(i) => Ok(vec![i]),
        Indices::Text(s) => s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                t.parse().map_err(|_| {
                    serde::de::Error::custom(format!(
                        "categorical_feature: `{t}` is not a feature index"
                    ))
                })
            })
            .collect(),
    }
}

/// Numbers as a list or as LightGBM's comma-separated string.
fn numbers<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Numbers {
        List(Vec<f64>),
        One(f64),
        Text(String),
    }
    match Numbers::deserialize(d)? {
        Numbers::List(v) => Ok(v),
        Numbers::One(v) => Ok(vec![v]),
        Numbers::Text(s) => (s.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                t.parse()
                    .map_err(|_| serde::de::Error::custom(format!("`{t}` is not a number")))
            })
            .collect(),
    }
}

impl Default for GbdtParams {
    fn default() -> Self {
        Self {
            engine: Engine::Strider,
            objective: GbdtObjective::Regression,
            num_class: 1,
            num_iterations: 100,
            learning_rate: 0.1,
            num_leaves: 31,
            max_depth: -1,
            min_data_in_leaf: 20,
            min_sum_hessian_in_leaf: 1e-3,
            lambda_l1: 0.0,
            lambda_l2: 0.0,
            min_gain_to_split: 0.0,
            feature_fraction: 1.0,
            bagging_fraction: 1.0,
            bagging_freq: 0,
            max_bin: 255,
            early_stopping_round: 0,
            seed: 0,
            num_threads: 0,
            use_missing: true,
            zero_as_missing: false,
            categorical_feature: Vec::new(),
            max_cat_to_onehot: 4,
            cat_smooth: 10.0,
            cat_l2: 10.0,
            max_cat_threshold: 32,
            min_data_per_group: 100,
            alpha: 0.9,
            fair_c: 1.0,
            label_gain: Vec::new(),
            lambdarank_truncation_level: 30,
            lambdarank_norm: true,
            sigmoid: 1.0,
            objective_seed: None,
        }
    }
}

/// Training rows: row-major features and labels (class index for multiclass, relevance grade
/// for ranking).
pub struct TrainData<'a> {
    pub x: &'a [f64],
    pub n_features: usize,
    pub y: &'a [f64],
    pub feature_names: Vec<String>,
    /// Ranking only (else empty): the sizes of the consecutive query groups the rows form, in
    /// order (LightGBM's `group`), e.g. one group per date.
    pub groups: &'a [u32],
}

impl TrainData<'_> {
    fn n_rows(&self) -> usize {
        self.y.len()
    }
}

fn bad(m: impl Into<String>) -> Error {
    Error::Train(m.into())
}

impl GbdtParams {
    pub fn validate(&self) -> Result<()> {
        let frac = |v: f64| v > 0.0 && v <= 1.0;
        if self.num_leaves < 2 || self.num_leaves > 131_072 {
            return Err(bad("num_leaves must be in 2..=131072"));
        }
        if self.learning_rate.is_nan()
            || self.learning_rate <= 0.0
            || self.lambda_l1 < 0.0
            || self.lambda_l2 < 0.0
            || self.min_gain_to_split < 0.0
        {
            return Err(bad(
                "learning_rate must be > 0 and lambda_l1, lambda_l2, min_gain_to_split >= 0",
            ));
        }
        if !frac(self.feature_fraction) || !frac(self.bagging_fraction) {
            return Err(bad(
                "feature_fraction and bagging_fraction must be in (0, 1]",
            ));
        }
        if !(2..=255).contains(&self.max_bin) {
            return Err(bad("max_bin must be in 2..=255"));
        }
        if self.objective == GbdtObjective::Multiclass && self.num_class < 2 {
            return Err(bad("multiclass needs num_class >= 2"));
        }
        self.validate_objective_params()?;
        if !(self.cat_smooth >= 0.0 && self.cat_l2 >= 0.0)
            || self.max_cat_to_onehot == 0
            || self.max_cat_threshold == 0
            || self.min_data_per_group == 0
        {
            return Err(bad(
                "cat_smooth and cat_l2 must be >= 0 and max_cat_to_onehot, max_cat_threshold, min_data_per_group > 0",
            ));
        }
        Ok(())
    }

    /// The objectives' own parameters, as LightGBM checks them.
    fn validate_objective_params(&self) -> Result<()> {
        let alpha_ok = match self.objective {
            // Checked as LightGBM holds it, a float.
            GbdtObjective::Quantile => (self.alpha as f32) > 0.0 && (self.alpha as f32) < 1.0,
            GbdtObjective::Huber => self.alpha > 0.0,
            _ => true,
        };
        if !alpha_ok {
            return Err(bad(format!(
                "alpha {} does not fit objective {}",
                self.alpha,
                self.objective.lightgbm_name()
            )));
        }
        let positive = |v: f64| v > 0.0 && v.is_finite();
        if !(positive(self.fair_c) && positive(self.sigmoid) && self.alpha.is_finite()) {
            return Err(bad(
                "fair_c and sigmoid must be finite and > 0, alpha finite",
            ));
        }
        if self.label_gain.iter().any(|g| !g.is_finite()) {
            return Err(bad("label_gain must be finite numbers"));
        }
        if self.lambdarank_truncation_level == 0 {
            return Err(bad("lambdarank_truncation_level must be > 0"));
        }
        Ok(())
    }

    fn outputs(&self) -> usize {
        if self.objective == GbdtObjective::Multiclass {
            self.num_class
        } else {
            1
        }
    }
}

/// Refuse empty or ragged data and labels the objective cannot take (a row index in the error).
fn check_data(p: &GbdtParams, data: &TrainData) -> Result<()> {
    let n = data.n_rows();
    let f = data.n_features;
    if n == 0 || f == 0 || data.x.len() != n * f {
        return Err(bad(
            "empty training data, or features do not match the labels",
        ));
    }
    if let Some(c) = p.categorical_feature.iter().find(|&&c| c >= f) {
        return Err(bad(format!(
            "categorical_feature {c}: there are {f} features"
        )));
    }
    let k = p.outputs();
    for (i, y) in data.y.iter().enumerate() {
        let ok = match p.objective {
            GbdtObjective::Binary => *y == 0.0 || *y == 1.0,
            GbdtObjective::Multiclass => y.fract() == 0.0 && *y >= 0.0 && (*y as usize) < k,
            _ => y.is_finite(),
        };
        if !ok {
            return Err(bad(format!(
                "label {y} on row {i} does not fit objective {}",
                p.objective.lightgbm_name()
            )));
        }
    }
    Ok(())
}

/// The query groups of ranking data (checked), or none for the other objectives.
fn queries(p: &GbdtParams, data: &TrainData) -> Result<Vec<(usize, usize)>> {
    if !p.objective.is_ranking() {
        return Ok(Vec::new());
    }
    rank::query_ranges(data.groups, data.y, rank::label_gains(p).len())
}

/// Redraw the bag (each row in with probability `bagging_fraction`, at least one row) every
/// `bagging_freq` iterations; otherwise the bag stays as it is.
fn draw_bag(p: &GbdtParams, iter: usize, n: usize, rng: &mut ChaCha8Rng, bag: &mut Vec<u32>) {
    if p.bagging_freq > 0 && p.bagging_fraction < 1.0 && iter.is_multiple_of(p.bagging_freq) {
        *bag = (0..n as u32)
            .filter(|_| rng.random::<f64>() < p.bagging_fraction)
            .collect();
        if bag.is_empty() {
            bag.push(rng.random_range(0..n as u64) as u32);
        }
    }
}

/// The features one tree may split on: all of them, or a fresh sorted sample of
/// `round(f * feature_fraction)` (at least one) per tree.
fn sample_features(p: &GbdtParams, f: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    if p.feature_fraction < 1.0 {
        let m = ((f as f64 * p.feature_fraction).round() as usize).clamp(1, f);
        let mut all: Vec<usize> = (0..f).collect();
        for i in 0..m {
            let j = i + rng.random_range(0..(f - i) as u64) as usize;
            all.swap(i, j);
        }
        let mut chosen = all[..m].to_vec();
        chosen.sort_unstable();
        chosen
    } else {
        (0..f).collect()
    }
}

/// LightGBM's `MaybeRoundToZero`: |x| <= 1e-35 becomes 0.
fn round_to_zero(x: f64) -> f64 {
    if (-ZERO_THRESHOLD..=ZERO_THRESHOLD).contains(&x) {
        0.0
    } else {
        x
    }
}

/// The quantile objective's leaf renewal (LightGBM's `RenewTreeOutput`, before the learning
/// rate): each leaf's output becomes the `alpha` quantile of its rows' residuals.
fn renew_leaves(p: &GbdtParams, built: &mut Built, rows: &[u32], s: &Scores) {
    if p.objective != GbdtObjective::Quantile {
        return;
    }
    let k = p.outputs();
    for (leaf, &(start, len)) in built.ranges.iter().enumerate() {
        let mut residuals: Vec<f64> = (rows[start..start + len].iter())
            .map(|&r| f64::from(s.labels[r as usize]) - s.train[r as usize * k + s.c])
            .collect();
        if let Some(v) = objective::renewed_leaf_output(p, &mut residuals) {
            built.tree.leaf_value[leaf] = round_to_zero(v);
        }
    }
}

/// Scale a new tree's leaf and internal values by the learning rate (`Tree::Shrinkage`).
fn shrink(tree: &mut Tree, lr: f64) {
    for v in tree
        .leaf_value
        .iter_mut()
        .chain(tree.internal_value.iter_mut())
    {
        *v = round_to_zero(*v * lr);
    }
    tree.shrinkage *= lr;
}

/// Fold the initial score into a first tree's leaf and internal values (`Tree::AddBias`), so
/// the model needs no separate bias.
fn add_bias(tree: &mut Tree, init: f64) {
    for v in tree
        .leaf_value
        .iter_mut()
        .chain(tree.internal_value.iter_mut())
    {
        *v = round_to_zero(*v + init);
    }
    tree.shrinkage = 1.0;
}

/// Add a new tree's output to the training scores of output `c`. Rows in the bag sit in their
/// leaves' ranges of `rows`; only out-of-bag rows need a traversal.
fn add_to_train_scores(grower: &Grower, built: &Built, rows: &[u32], scores: &mut [f64], c: usize) {
    let k = grower.p.outputs();
    let n = scores.len() / k;
    for (leaf, &(start, len)) in built.ranges.iter().enumerate() {
        let v = built.tree.leaf_value[leaf];
        for &r in &rows[start..start + len] {
            scores[r as usize * k + c] += v;
        }
    }
    if rows.len() < n {
        let mut in_bag = vec![false; n];
        rows.iter().for_each(|&r| in_bag[r as usize] = true);
        for r in (0..n).filter(|&r| !in_bag[r]) {
            scores[r * k + c] += built.tree.leaf_value[grower.leaf_of(built, r)];
        }
    }
}

/// Add a tree's output to the validation scores of output `c` (rows of the training data's `f`
/// features), before any initial score is folded into it.
fn add_to_valid_scores(
    tree: &Tree,
    valid: &TrainData,
    scores: &mut [f64],
    (f, k): (usize, usize),
    c: usize,
) {
    for r in 0..valid.n_rows() {
        let row = &valid.x[r * f..(r + 1) * f];
        let x: Vec<f64> = row.iter().map(|&v| super::tree::dense_value(v)).collect();
        scores[r * k + c] += tree.leaf_value[tree.leaf(&x)];
    }
}

/// The scores a new tree for output `c` adds to.
struct Scores<'s, 'v> {
    /// The labels as LightGBM holds them (for the quantile leaf renewal).
    labels: &'s [f32],
    train: &'s mut [f64],
    valid: Option<(&'v TrainData<'v>, &'s mut Vec<f64>)>,
    c: usize,
}

/// A grown tree as LightGBM's `TrainOneIter` finishes it: shrunk by the learning rate and added
/// to the scores, then on the first round (`first_init`: the initial score) the initial score
/// folded in. A tree that could not split becomes a constant (the initial score on the first
/// round, else 0) and adds nothing. Returns the tree and whether it split.
fn boost(
    grower: &Grower,
    mut built: Built,
    rows: &[u32],
    s: &mut Scores,
    first_init: Option<f64>,
) -> (Tree, bool) {
    let p = grower.p;
    if built.tree.num_leaves <= 1 {
        built.tree.leaf_value = vec![first_init.unwrap_or(0.0)];
        built.tree.leaf_count = vec![s.train.len() as f64 / p.outputs() as f64];
        return (built.tree, false);
    }
    renew_leaves(p, &mut built, rows, s);
    shrink(&mut built.tree, p.learning_rate);
    add_to_train_scores(grower, &built, rows, s.train, s.c);
    if let Some((v, vs)) = s.valid.as_mut() {
        add_to_valid_scores(&built.tree, v, vs, (v.n_features, p.outputs()), s.c);
    }
    if let Some(init) = first_init.filter(|i| *i != 0.0) {
        add_bias(&mut built.tree, init);
    }
    (built.tree, true)
}

/// The best validation loss so far and its iteration (1-based; 0 before the first).
struct EarlyStopping {
    best_loss: f64,
    best_iter: usize,
}

impl EarlyStopping {
    /// Record the validation loss after `iteration` (1-based); true when training should stop
    /// (no improvement for `early_stopping_round` iterations, if that is not 0).
    fn stop(&mut self, p: &GbdtParams, iteration: usize, valid_loss: f64) -> bool {
        if valid_loss < self.best_loss {
            self.best_loss = valid_loss;
            self.best_iter = iteration;
            false
        } else {
            p.early_stopping_round > 0 && iteration - self.best_iter >= p.early_stopping_round
        }
    }
}

/// Train a model. `on_iteration(iteration, metric_name, value)` reports the training loss (and
/// the validation loss when `valid` is given) after every iteration.
pub fn train(
    p: &GbdtParams,
    data: &TrainData,
    valid: Option<&TrainData>,
    on_iteration: &mut dyn FnMut(usize, &str, f64),
) -> Result<GbdtModel> {
    p.validate()?;
    check_data(p, data)?;
    let query_ranges = queries(p, data)?;
    if let Some(v) = valid {
        queries(p, v)?;
    }
    let n = data.n_rows();
    let f = data.n_features;
    let k = p.outputs();
    let threads = Threads::new(p.num_threads)?;
    let binned = Binned::fit(data, p, &threads);
    let grower = binned.grower(p, &threads);
    let y = objective::labels(data.y);
    let init = objective::initial_scores(p, &y);
    let mut ranking = p
        .objective
        .is_ranking()
        .then(|| rank::Ranking::new(p, &y, query_ranges));
    let mut scores: Vec<f64> = (0..n * k).map(|i| init[i % k]).collect();
    let mut valid_scores: Option<Vec<f64>> =
        valid.map(|v| (0..v.n_rows() * k).map(|i| init[i % k]).collect());
    let mut rng = ChaCha8Rng::seed_from_u64(strider_base::seed::derive(p.seed, &[0x6264_7400]));
    let mut g = vec![0.0f32; n];
    let mut h = vec![0.0f32; n];
    let mut trees: Vec<Tree> = Vec::new();
    let mut bag: Vec<u32> = (0..n as u32).collect();
    let mut early = EarlyStopping {
        best_loss: f64::INFINITY,
        best_iter: 0,
    };
    for iter in 0..p.num_iterations {
        draw_bag(p, iter, n, &mut rng, &mut bag);
        let probs = objective::class_probabilities(p, &scores);
        let mut grew = false;
        for (c, &init_c) in init.iter().enumerate() {
            if let Some(r) = ranking.as_mut() {
                r.gradients(&y, &scores, &mut g, &mut h);
            }
            let features = sample_features(p, f, &mut rng);
            let mut rows = bag.clone();
            // The gradients on the threads the tree grows on: one hand-over to the pool.
            let built = threads.install(|| {
                if ranking.is_none() {
                    let gh = (&mut g[..], &mut h[..]);
                    objective::gradients_on(&threads, p, &y, (&scores, &probs), c, gh);
                }
                grower.grow(&mut rows, &g, &h, &features)
            });
            let mut state = Scores {
                labels: &y,
                train: &mut scores,
                valid: valid.zip(valid_scores.as_mut()),
                c,
            };
            let (tree, split) = boost(
                &grower,
                built,
                &rows,
                &mut state,
                (iter == 0).then_some(init_c),
            );
            grew |= split;
            trees.push(tree);
        }
        if !grew {
            // No tree of this round could split: LightGBM stops and drops the round (but
            // keeps a first round, whose constant trees carry the initial score).
            if iter > 0 {
                trees.truncate(trees.len() - k);
            }
            break;
        }
        let train_loss = loss(p, &scores, data.y, data.groups);
        on_iteration(iter + 1, "train_loss", train_loss);
        if let (Some(v), Some(vs)) = (valid, valid_scores.as_ref()) {
            let vl = loss(p, vs, v.y, v.groups);
            on_iteration(iter + 1, "valid_loss", vl);
            if early.stop(p, iter + 1, vl) {
                trees.truncate(early.best_iter * k);
                break;
            }
        }
    }
    Ok(trained_model(p, data, &binned.layout, trees))
}

/// The trained trees as a LightGBM model: its objective line, feature names (whitespace made
/// `_`, `Column_i` when the names do not match the features) and each feature's value range.
fn trained_model(
    p: &GbdtParams,
    data: &TrainData,
    layout: &[FeatureBins],
    trees: Vec<Tree>,
) -> GbdtModel {
    let k = p.outputs();
    let f = data.n_features;
    let (objective, objective_line) = match p.objective {
        GbdtObjective::Binary => (Objective::Sigmoid(1.0), "binary sigmoid:1".to_string()),
        GbdtObjective::Multiclass => (Objective::Softmax, format!("multiclass num_class:{k}")),
        other => (Objective::Identity, other.lightgbm_name().to_string()),
    };
    let feature_names = if data.feature_names.len() == f {
        data.feature_names
            .iter()
            .map(|s| s.replace(char::is_whitespace, "_"))
            .collect()
    } else {
        (0..f).map(|i| format!("Column_{i}")).collect()
    };
    let feature_infos = layout
        .iter()
        .map(|l| {
            if l.trivial {
                "none".to_string()
            } else if l.is_categorical() {
                l.categories
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(":")
            } else {
                let g17 = |v: f64| super::model::format_g(v, 17);
                format!("[{}:{}]", g17(l.min_val), g17(l.max_val))
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    GbdtModel {
        num_class: k,
        num_tree_per_iteration: k,
        max_feature_idx: f - 1,
        feature_names,
        objective_line,
        objective,
        average_output: false,
        header_extra: vec![
            ("label_index".into(), "0".into()),
            ("feature_infos".into(), feature_infos),
        ],
        trees,
        trailer: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn friedman(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = Vec::with_capacity(n * 6);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let r: Vec<f64> = (0..6).map(|_| rng.random::<f64>()).collect();
            let nan = rng.random::<f64>() < 0.1;
            y.push(
                10.0 * (std::f64::consts::PI * r[0] * r[1]).sin()
                    + 20.0 * (r[2] - 0.5).powi(2)
                    + 10.0 * r[3]
                    + 5.0 * r[4]
                    + if nan { 3.0 } else { 0.0 },
            );
            x.extend(
                r.iter()
                    .enumerate()
                    .map(|(j, v)| if j == 5 && nan { f64::NAN } else { *v }),
            );
        }
        (x, y)
    }

    #[test]
    fn model_predictions_equal_training_scores_and_learn() {
        let (x, y) = friedman(3000, 1);
        let p = GbdtParams {
            num_iterations: 30,
            seed: 3,
            ..Default::default()
        };
        let mut losses = Vec::new();
        let m = train(
            &p,
            &TrainData {
                groups: &[],
                x: &x,
                n_features: 6,
                y: &y,
                feature_names: vec![],
            },
            None,
            &mut |_, _, v| losses.push(v),
        )
        .unwrap();
        let rmse = (0..3000)
            .map(|i| (m.predict(&x[i * 6..(i + 1) * 6])[0] - y[i]).powi(2))
            .sum::<f64>()
            / 3000.0;
        assert!(
            (rmse.sqrt() - losses.last().unwrap()).abs() < 1e-9,
            "{} vs {}",
            rmse.sqrt(),
            losses.last().unwrap()
        );
        assert!(losses.last().unwrap() < &(losses[0] * 0.4), "{losses:?}");
        // Same seed, same model; the text round-trips.
        let again = train(
            &p,
            &TrainData {
                groups: &[],
                x: &x,
                n_features: 6,
                y: &y,
                feature_names: vec![],
            },
            None,
            &mut |_, _, _| {},
        )
        .unwrap();
        assert_eq!(m.write(), again.write());
        // The text round-trips: it parses back to the same text, decisions and leaves
        // (LightGBM's format keeps split gains and internal values to 6 digits only).
        let text = m.write();
        let back = GbdtModel::parse(&text).unwrap();
        assert_eq!(back.write(), text);
        assert_eq!(back.trees.len(), m.trees.len());
        for (a, b) in back.trees.iter().zip(&m.trees) {
            let key = |t: &Tree| {
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                let structure = (
                    t.split_feature.clone(),
                    t.decision_type.clone(),
                    t.left_child.clone(),
                    t.right_child.clone(),
                );
                (
                    structure,
                    bits(&t.threshold),
                    bits(&t.leaf_value),
                    bits(&t.leaf_weight),
                    t.leaf_count.clone(),
                    t.internal_count.clone(),
                )
            };
            assert_eq!(key(a), key(b));
        }
    }

    /// Any number of threads grows the one-thread trees, bit for bit: enough rows that the
    /// histograms, split searches and the large leaves' partitions go parallel (3 threads cut
    /// them unevenly), with NaN, bagging and feature sampling; an absurd thread count is capped.
    #[test]
    fn the_trees_are_the_same_on_any_number_of_threads() {
        const ROWS: usize = 20_000;
        let (base, y) = friedman(ROWS, 4);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut x = Vec::with_capacity(ROWS * 12);
        for row in base.chunks(6) {
            x.extend_from_slice(row);
            x.extend((0..6).map(|j| {
                let v: f64 = rng.random();
                if j == 2 && v < 0.05 { f64::NAN } else { v }
            }));
        }
        let data = TrainData {
            groups: &[],
            x: &x,
            n_features: 12,
            y: &y,
            feature_names: vec![],
        };
        let model = |num_threads| {
            let p = GbdtParams {
                num_iterations: 12,
                bagging_fraction: 0.8,
                bagging_freq: 1,
                feature_fraction: 0.9,
                num_threads,
                seed: 5,
                ..Default::default()
            };
            train(&p, &data, None, &mut |_, _, _| {}).unwrap().write()
        };
        let one = model(1);
        // A million threads asked for: a few per core started, the same trees.
        for n in [2, 3, 0, 1 << 20] {
            assert!(model(n) == one, "{n} threads grew other trees");
        }
        // Trainings inside a parallel loop share its pool (as cross-validation folds do).
        #[cfg(feature = "parallel")]
        {
            use rayon::prelude::*;
            let inside: Vec<String> = (0..3).into_par_iter().map(|_| model(0)).collect();
            assert!(inside.iter().all(|m| *m == one), "a training inside a pool");
        }
        let two = Threads::new(2).unwrap();
        assert!(
            (two.feature_blocks(12).len() > 1
                && !matches!(two.for_work(ROWS * 12), Threads::Single)
                && two.row_chunks(ROWS).len() > 1)
                || cfg!(not(feature = "parallel"))
        );
    }

    /// So many features that the split search alone goes parallel, even in the small leaves.
    #[test]
    fn wide_data_searches_splits_on_threads_and_grows_the_same_trees() {
        use crate::threads::{MIN_PARALLEL_WORK, SCAN_COST};
        let (n, f) = (1000, 300);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x: Vec<f64> = (0..n * f).map(|_| rng.random::<f64>()).collect();
        let y: Vec<f64> = (0..n)
            .map(|r| x[r * f] + 2.0 * x[r * f + 7] * x[r * f + 150] + 0.1 * rng.random::<f64>())
            .collect();
        let data = TrainData {
            groups: &[],
            x: &x,
            n_features: f,
            y: &y,
            feature_names: vec![],
        };
        let params = |num_threads| GbdtParams {
            num_iterations: 8,
            min_data_in_leaf: 5,
            num_threads,
            seed: 5,
            ..Default::default()
        };
        // The bins the training itself makes (min_data_in_leaf shapes them).
        let bins = crate::grow::Binned::fit(&data, &params(1), &Threads::Single).total_bins;
        assert!(SCAN_COST * bins >= MIN_PARALLEL_WORK, "{bins} bins");
        let model = |num_threads| {
            train(&params(num_threads), &data, None, &mut |_, _, _| {})
                .unwrap()
                .write()
        };
        let one = model(1);
        assert!(one.contains("split_feature="), "the trees split");
        for n in [2, 0] {
            assert!(model(n) == one, "{n} threads grew other trees");
        }
    }

    #[test]
    fn binary_and_multiclass_learn_and_early_stopping_stops() {
        let (x, y) = friedman(4000, 2);
        let yb: Vec<f64> = y.iter().map(|v| f64::from(u8::from(*v > 14.0))).collect();
        let yc: Vec<f64> = y
            .iter()
            .map(|v| {
                if *v < 11.0 {
                    0.0
                } else if *v < 17.0 {
                    1.0
                } else {
                    2.0
                }
            })
            .collect();
        for (obj, labels, k) in [
            (GbdtObjective::Binary, &yb, 1),
            (GbdtObjective::Multiclass, &yc, 3),
        ] {
            let p = GbdtParams {
                objective: obj,
                num_class: k,
                num_iterations: 200,
                early_stopping_round: 5,
                learning_rate: 0.3,
                ..Default::default()
            };
            let tr = TrainData {
                groups: &[],
                x: &x[..3000 * 6],
                n_features: 6,
                y: &labels[..3000],
                feature_names: vec![],
            };
            let va = TrainData {
                groups: &[],
                x: &x[3000 * 6..],
                n_features: 6,
                y: &labels[3000..],
                feature_names: vec![],
            };
            let mut valid = Vec::new();
            let m = train(&p, &tr, Some(&va), &mut |_, name, v| {
                if name == "valid_loss" {
                    valid.push(v)
                }
            })
            .unwrap();
            assert!(valid.len() < 200, "early stopping never triggered");
            assert!(m.trees.len() < 200 * k);
            let acc = (0..1000)
                .filter(|&i| {
                    let p = m.predict(&x[(3000 + i) * 6..(3001 + i) * 6]);
                    let pred = if k == 1 {
                        f64::from(u8::from(p[0] > 0.5))
                    } else {
                        (0..k).max_by(|a, b| p[*a].total_cmp(&p[*b])).unwrap() as f64
                    };
                    pred == labels[3000 + i]
                })
                .count();
            assert!(acc > 850, "{obj:?}: accuracy {acc}/1000");
        }
    }
}
