//! A histogram GBDT trainer with LightGBM's parameter names and defaults: leaf-wise growth,
//! histogram subtraction, L1/L2 regularisation, NaN handling with a learned default direction,
//! feature and row subsampling, early stopping; objectives regression (L2), binary (logloss) and
//! multiclass (softmax). Deterministic from `seed` and independent of `num_threads` (threads
//! take blocks of features, see `threads.rs`; one thread in wasm32), and its result is a
//! [`GbdtModel`]: every trained model is a LightGBM `model.txt`.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::binning::FeatureBins;
use super::model::{GbdtModel, Objective};
use super::threads::Threads;
use super::tree::Tree;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GbdtObjective {
    #[default]
    Regression,
    Binary,
    Multiclass,
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
    /// (work is split by feature); in the browser, and without the `parallel` feature, one.
    #[serde(
        alias = "num_thread",
        alias = "nthread",
        alias = "nthreads",
        alias = "n_jobs"
    )]
    pub num_threads: usize,
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
        }
    }
}

/// Training rows: row-major features and labels (class index for multiclass).
pub struct TrainData<'a> {
    pub x: &'a [f64],
    pub n_features: usize,
    pub y: &'a [f64],
    pub feature_names: Vec<String>,
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

#[derive(Clone, Copy, Default)]
struct Bin {
    g: f64,
    h: f64,
    n: f64,
}

#[derive(Clone, Copy)]
struct Split {
    gain: f64,
    feature: usize,
    bin: usize,
    nan_left: bool,
    left: Bin,
}

struct Leaf {
    start: usize,
    len: usize,
    hist: Vec<Bin>,
    total: Bin,
    depth: usize,
    /// (internal node, is_left) pointing at this leaf.
    parent: Option<(usize, bool)>,
    best: Option<Split>,
}

fn threshold_l1(g: f64, l1: f64) -> f64 {
    if l1 == 0.0 {
        g
    } else {
        g.signum() * (g.abs() - l1).max(0.0)
    }
}

struct Grower<'a> {
    p: &'a GbdtParams,
    threads: &'a Threads,
    bins: &'a [u8],
    n_features: usize,
    layout: &'a [FeatureBins],
    offsets: &'a [usize],
    total_bins: usize,
}

/// A tree under construction, with the binned decision of each internal node.
struct Built {
    tree: Tree,
    thr_bin: Vec<usize>,
    nan_left: Vec<bool>,
    /// (start, len) of each leaf's rows in the reordered row array.
    ranges: Vec<(usize, usize)>,
}

impl Grower<'_> {
    fn score(&self, b: Bin) -> f64 {
        let g = threshold_l1(b.g, self.p.lambda_l1);
        g * g / (b.h + self.p.lambda_l2)
    }

    fn output(&self, b: Bin) -> f64 {
        -threshold_l1(b.g, self.p.lambda_l1) / (b.h + self.p.lambda_l2)
    }

    /// The histogram of `rows`: per feature and bin, the sums of g, h and the row count. Built
    /// by blocks of features on the threads; each cell sums its rows in order either way.
    fn histogram(&self, rows: &[u32], g: &[f64], h: &[f64]) -> Vec<Bin> {
        let mut hist = vec![Bin::default(); self.total_bins];
        let blocks = self.threads.feature_blocks(self.n_features, rows.len());
        if let [block] = blocks[..] {
            self.histogram_block(rows, (g, h), block, &mut hist);
            return hist;
        }
        let mut parts = Vec::with_capacity(blocks.len());
        let mut rest: &mut [Bin] = &mut hist;
        for (first, end) in blocks {
            let stop = self.offsets.get(end).copied().unwrap_or(self.total_bins);
            let (part, tail) = rest.split_at_mut(stop - self.offsets[first]);
            parts.push(((first, end), part));
            rest = tail;
        }
        self.threads.for_each(parts, |(block, part)| {
            self.histogram_block(rows, (g, h), block, part)
        });
        hist
    }

    /// The histogram cells of features `first..end` (`out` starts at feature `first`'s bins).
    fn histogram_block(
        &self,
        rows: &[u32],
        (g, h): (&[f64], &[f64]),
        (first, end): (usize, usize),
        out: &mut [Bin],
    ) {
        let f = self.n_features;
        let base = self.offsets[first];
        let offsets = &self.offsets[first..end];
        for &r in rows {
            let r = r as usize;
            let (gr, hr) = (g[r], h[r]);
            let row = &self.bins[r * f + first..r * f + end];
            for (&off, &b) in offsets.iter().zip(row) {
                let i = off - base + b as usize;
                debug_assert!(i < out.len());
                // SAFETY: every bin index is < its feature's n_bins, and offsets are the running
                // sums of n_bins, so off - base + b < the block's bins == out.len().
                let cell = unsafe { out.get_unchecked_mut(i) };
                cell.g += gr;
                cell.h += hr;
                cell.n += 1.0;
            }
        }
    }

    /// The leaf's best split over `features`: the largest gain, the first feature (then the
    /// first bin) on ties, whether the features are searched on one thread or several.
    fn best_split(&self, leaf: &Leaf, features: &[usize]) -> Option<Split> {
        if self.p.max_depth > 0 && leaf.depth as i64 >= self.p.max_depth {
            return None;
        }
        if leaf.total.n < 2.0 * self.p.min_data_in_leaf as f64 {
            return None;
        }
        let parent = self.score(leaf.total);
        let per_feature = if self.threads.search_in_parallel(self.total_bins) {
            self.threads
                .map(features, |&f| self.best_split_of(leaf, f, parent))
        } else {
            features
                .iter()
                .map(|&f| self.best_split_of(leaf, f, parent))
                .collect()
        };
        per_feature
            .into_iter()
            .flatten()
            .fold(None, |best: Option<Split>, s| {
                if best.is_none_or(|b| s.gain > b.gain) {
                    Some(s)
                } else {
                    best
                }
            })
    }

    /// The best split of the leaf on feature `f` (`parent`: the leaf's own score).
    fn best_split_of(&self, leaf: &Leaf, f: usize, parent: f64) -> Option<Split> {
        let min_n = self.p.min_data_in_leaf as f64;
        let lay = &self.layout[f];
        let off = self.offsets[f];
        let nan = if lay.has_nan {
            leaf.hist[off + lay.nan_bin()]
        } else {
            Bin::default()
        };
        let nan_options: &[bool] = if nan.n > 0.0 {
            &[false, true]
        } else {
            &[false]
        };
        let mut best: Option<Split> = None;
        let mut cum = Bin::default();
        for b in 0..lay.n_value_bins().saturating_sub(1) {
            let cell = leaf.hist[off + b];
            cum.g += cell.g;
            cum.h += cell.h;
            cum.n += cell.n;
            for &nan_left in nan_options {
                let left = if nan_left {
                    Bin {
                        g: cum.g + nan.g,
                        h: cum.h + nan.h,
                        n: cum.n + nan.n,
                    }
                } else {
                    cum
                };
                let right = Bin {
                    g: leaf.total.g - left.g,
                    h: leaf.total.h - left.h,
                    n: leaf.total.n - left.n,
                };
                if left.n < min_n
                    || right.n < min_n
                    || left.h < self.p.min_sum_hessian_in_leaf
                    || right.h < self.p.min_sum_hessian_in_leaf
                {
                    continue;
                }
                let gain = self.score(left) + self.score(right) - parent;
                if gain > self.p.min_gain_to_split && best.is_none_or(|s| gain > s.gain) {
                    best = Some(Split {
                        gain,
                        feature: f,
                        bin: b,
                        nan_left,
                        left,
                    });
                }
            }
        }
        best
    }

    #[inline]
    fn goes_left(&self, row: usize, feature: usize, thr_bin: usize, nan_left: bool) -> bool {
        let b = self.bins[row * self.n_features + feature] as usize;
        let lay = &self.layout[feature];
        if lay.has_nan && b == lay.nan_bin() {
            nan_left
        } else {
            b <= thr_bin
        }
    }

    /// Grow one tree on `rows` (reordered in place) with gradients `g`, hessians `h`: leaf-wise,
    /// always splitting the leaf with the largest gain (the first such leaf on ties) until
    /// `num_leaves` or no leaf has a split left.
    fn grow(&self, rows: &mut [u32], g: &[f64], h: &[f64], features: &[usize]) -> Built {
        let mut leaves = vec![self.root(rows, g, h, features)];
        let mut t = Built {
            tree: Tree {
                num_leaves: 1,
                shrinkage: 1.0,
                ..Tree::default()
            },
            thr_bin: vec![],
            nan_left: vec![],
            ranges: vec![],
        };
        let mut scratch: Vec<u32> = Vec::with_capacity(rows.len());
        while leaves.len() < self.p.num_leaves {
            let Some((li, split)) = best_leaf(&leaves) else {
                break;
            };
            let node = t.tree.split_feature.len();
            let (start, len) = (leaves[li].start, leaves[li].len);
            let leaf_rows = &mut rows[start..start + len];
            let n_left = self.partition(leaf_rows, split, &mut scratch);
            self.add_node(&mut t, &leaves, li, split);
            let child_rows = leaf_rows.split_at(n_left);
            let (left, right) =
                self.children(&mut leaves[li], child_rows, node, split, (g, h), features);
            leaves[li] = left;
            leaves.push(right);
        }
        t.tree.num_leaves = leaves.len();
        t.tree.leaf_value = leaves.iter().map(|l| self.output(l.total)).collect();
        t.tree.leaf_weight = leaves.iter().map(|l| l.total.h).collect();
        t.tree.leaf_count = leaves.iter().map(|l| l.total.n).collect();
        t.ranges = leaves.iter().map(|l| (l.start, l.len)).collect();
        t
    }

    /// The root leaf: all of `rows`, its histogram, totals and best split.
    fn root(&self, rows: &[u32], g: &[f64], h: &[f64], features: &[usize]) -> Leaf {
        let root_hist = self.histogram(rows, g, h);
        let total = rows.iter().fold(Bin::default(), |a, &r| Bin {
            g: a.g + g[r as usize],
            h: a.h + h[r as usize],
            n: a.n + 1.0,
        });
        let mut root = Leaf {
            start: 0,
            len: rows.len(),
            hist: root_hist,
            total,
            depth: 0,
            parent: None,
            best: None,
        };
        root.best = self.best_split(&root, features);
        root
    }

    /// Stable partition of a leaf's rows by `split`: the left child's rows first, both in their
    /// original order (so the rows, and the histograms summed over them, do not depend on how
    /// the partition is done). Returns the number of left rows.
    fn partition(&self, leaf_rows: &mut [u32], split: Split, scratch: &mut Vec<u32>) -> usize {
        scratch.clear();
        let mut n_left = 0;
        for i in 0..leaf_rows.len() {
            let r = leaf_rows[i];
            if self.goes_left(r as usize, split.feature, split.bin, split.nan_left) {
                leaf_rows[n_left] = r;
                n_left += 1;
            } else {
                scratch.push(r);
            }
        }
        leaf_rows[n_left..].copy_from_slice(scratch);
        n_left
    }

    /// Turn leaf `li` into a new internal node splitting by `split`: its left child keeps index
    /// `li`, its right child becomes the next leaf, and the parent's link is repointed from the
    /// leaf to the node.
    fn add_node(&self, t: &mut Built, leaves: &[Leaf], li: usize, split: Split) {
        let node = t.tree.split_feature.len();
        let parent_total = leaves[li].total;
        let lay = &self.layout[split.feature];
        let missing_nan = lay.has_nan;
        t.tree.split_feature.push(split.feature);
        t.tree.split_gain.push(split.gain);
        t.tree.threshold.push(lay.upper[split.bin]);
        t.tree.decision_type.push(if missing_nan {
            8 | if split.nan_left { 2 } else { 0 }
        } else {
            2
        });
        t.tree.internal_value.push(self.output(parent_total));
        t.tree.internal_weight.push(parent_total.h);
        t.tree.internal_count.push(parent_total.n);
        t.thr_bin.push(split.bin);
        t.nan_left.push(split.nan_left);
        let new_leaf = leaves.len();
        t.tree.left_child.push(!(li as i32));
        t.tree.right_child.push(!(new_leaf as i32));
        if let Some((p, is_left)) = leaves[li].parent {
            if is_left {
                t.tree.left_child[p] = node as i32
            } else {
                t.tree.right_child[p] = node as i32
            }
        }
    }

    /// The two children of `parent` (whose histogram is taken), from its partitioned rows
    /// `(left, right)`, each with its best split.
    fn children(
        &self,
        parent: &mut Leaf,
        (left_rows, right_rows): (&[u32], &[u32]),
        node: usize,
        split: Split,
        (g, h): (&[f64], &[f64]),
        features: &[usize],
    ) -> (Leaf, Leaf) {
        let parent_total = parent.total;
        let left_total = split.left;
        let right_total = Bin {
            g: parent_total.g - left_total.g,
            h: parent_total.h - left_total.h,
            n: parent_total.n - left_total.n,
        };
        let parent_hist = std::mem::take(&mut parent.hist);
        let (left_hist, right_hist) =
            self.child_histograms(&parent_hist, left_rows, right_rows, (g, h));
        let depth = parent.depth + 1;
        let mut left = Leaf {
            start: parent.start,
            len: left_rows.len(),
            hist: left_hist,
            total: left_total,
            depth,
            parent: Some((node, true)),
            best: None,
        };
        let mut right = Leaf {
            start: parent.start + left_rows.len(),
            len: right_rows.len(),
            hist: right_hist,
            total: right_total,
            depth,
            parent: Some((node, false)),
            best: None,
        };
        left.best = self.best_split(&left, features);
        right.best = self.best_split(&right, features);
        (left, right)
    }

    /// (left, right) histograms: the smaller child's from its rows (the left one on a tie), the
    /// larger one as the parent's minus the smaller's (LightGBM's histogram subtraction).
    fn child_histograms(
        &self,
        parent_hist: &[Bin],
        left_rows: &[u32],
        right_rows: &[u32],
        (g, h): (&[f64], &[f64]),
    ) -> (Vec<Bin>, Vec<Bin>) {
        let small_is_left = left_rows.len() <= right_rows.len();
        let small_rows = if small_is_left { left_rows } else { right_rows };
        let small = self.histogram(small_rows, g, h);
        let large: Vec<Bin> = parent_hist
            .iter()
            .zip(&small)
            .map(|(p, s)| Bin {
                g: p.g - s.g,
                h: p.h - s.h,
                n: p.n - s.n,
            })
            .collect();
        if small_is_left {
            (small, large)
        } else {
            (large, small)
        }
    }

    /// The leaf of a training row, following the binned decisions.
    fn leaf_of(&self, b: &Built, row: usize) -> usize {
        if b.tree.num_leaves <= 1 {
            return 0;
        }
        let mut node: i32 = 0;
        while node >= 0 {
            let n = node as usize;
            node = if self.goes_left(row, b.tree.split_feature[n], b.thr_bin[n], b.nan_left[n]) {
                b.tree.left_child[n]
            } else {
                b.tree.right_child[n]
            };
        }
        (!node) as usize
    }
}

/// The leaf to split next: the largest gain, the first such leaf on ties.
fn best_leaf(leaves: &[Leaf]) -> Option<(usize, Split)> {
    leaves
        .iter()
        .enumerate()
        .filter_map(|(i, l)| l.best.map(|s| (i, s)))
        .fold(None, |acc: Option<(usize, Split)>, (i, s)| match acc {
            Some((_, b)) if b.gain >= s.gain => acc,
            _ => Some((i, s)),
        })
}

/// Loss for early stopping and progress: RMSE, binary logloss, multiclass logloss.
fn loss(p: &GbdtParams, scores: &[f64], y: &[f64]) -> f64 {
    let k = p.outputs();
    let n = y.len() as f64;
    match p.objective {
        GbdtObjective::Regression => (scores
            .iter()
            .zip(y)
            .map(|(s, t)| (s - t).powi(2))
            .sum::<f64>()
            / n)
            .sqrt(),
        GbdtObjective::Binary => {
            scores
                .iter()
                .zip(y)
                .map(|(s, t)| {
                    let q = (1.0 / (1.0 + (-s).exp())).clamp(1e-15, 1.0 - 1e-15);
                    -(t * q.ln() + (1.0 - t) * (1.0 - q).ln())
                })
                .sum::<f64>()
                / n
        }
        GbdtObjective::Multiclass => {
            let mut total = 0.0;
            for (i, t) in y.iter().enumerate() {
                let s = &scores[i * k..(i + 1) * k];
                let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = s.iter().map(|v| (v - m).exp()).sum();
                total -= ((s[*t as usize] - m).exp() / z).max(1e-15).ln();
            }
            total / n
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
    let k = p.outputs();
    for (i, y) in data.y.iter().enumerate() {
        let ok = match p.objective {
            GbdtObjective::Regression => y.is_finite(),
            GbdtObjective::Binary => *y == 0.0 || *y == 1.0,
            GbdtObjective::Multiclass => y.fract() == 0.0 && *y >= 0.0 && (*y as usize) < k,
        };
        if !ok {
            return Err(bad(format!(
                "label {y} on row {i} does not fit objective {:?}",
                p.objective
            )));
        }
    }
    Ok(())
}

/// The training rows binned once, up front: each feature's bin layout, where its bins start in
/// a histogram, and the row-major bin of every value.
struct Binned {
    layout: Vec<FeatureBins>,
    offsets: Vec<usize>,
    total_bins: usize,
    bins: Vec<u8>,
}

impl Binned {
    fn fit(data: &TrainData, max_bin: usize) -> Self {
        let n = data.n_rows();
        let f = data.n_features;
        let layout: Vec<FeatureBins> = (0..f)
            .map(|j| {
                let mut col: Vec<f64> = (0..n).map(|r| data.x[r * f + j]).collect();
                FeatureBins::fit(&mut col, max_bin)
            })
            .collect();
        let mut offsets = Vec::with_capacity(f);
        let mut total_bins = 0;
        for l in &layout {
            offsets.push(total_bins);
            total_bins += l.n_bins();
        }
        let bins: Vec<u8> = (0..n * f)
            .map(|i| layout[i % f].bin(data.x[i]) as u8)
            .collect();
        Binned {
            layout,
            offsets,
            total_bins,
            bins,
        }
    }

    fn grower<'a>(&'a self, p: &'a GbdtParams, threads: &'a Threads) -> Grower<'a> {
        Grower {
            p,
            threads,
            bins: &self.bins,
            n_features: self.layout.len(),
            layout: &self.layout,
            offsets: &self.offsets,
            total_bins: self.total_bins,
        }
    }
}

/// The starting score per output: boost from the average (mean label, log-odds of the positive
/// rate, log class frequencies), folded into the first trees' leaves as LightGBM does.
fn initial_scores(p: &GbdtParams, y: &[f64]) -> Vec<f64> {
    let n = y.len();
    match p.objective {
        GbdtObjective::Regression => vec![y.iter().sum::<f64>() / n as f64],
        GbdtObjective::Binary => {
            let m = (y.iter().sum::<f64>() / n as f64).clamp(1e-15, 1.0 - 1e-15);
            vec![(m / (1.0 - m)).ln()]
        }
        GbdtObjective::Multiclass => (0..p.outputs())
            .map(|c| {
                ((y.iter().filter(|y| **y as usize == c).count() as f64 / n as f64).max(1e-15)).ln()
            })
            .collect(),
    }
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

/// Softmax of each row's scores for multiclass (taken once per iteration, before any of its
/// trees, as LightGBM does); empty for the other objectives.
fn class_probabilities(p: &GbdtParams, scores: &[f64]) -> Vec<f64> {
    if p.objective != GbdtObjective::Multiclass {
        return Vec::new();
    }
    let mut out = scores.to_vec();
    for row in out.chunks_mut(p.outputs()) {
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut z = 0.0;
        for v in row.iter_mut() {
            *v = (*v - m).exp();
            z += *v;
        }
        row.iter_mut().for_each(|v| *v /= z);
    }
    out
}

/// Gradients `g` and hessians `h` of the loss for output `c` at the current `scores`.
fn gradients(
    p: &GbdtParams,
    y: &[f64],
    (scores, probs): (&[f64], &[f64]),
    c: usize,
    g: &mut [f64],
    h: &mut [f64],
) {
    let k = p.outputs();
    // LightGBM's multiclass hessian factor k / (k - 1).
    let factor = if k > 1 {
        k as f64 / (k as f64 - 1.0)
    } else {
        1.0
    };
    for r in 0..y.len() {
        let s = scores[r * k + c];
        let y = y[r];
        (g[r], h[r]) = match p.objective {
            GbdtObjective::Regression => (s - y, 1.0),
            GbdtObjective::Binary => {
                let q = 1.0 / (1.0 + (-s).exp());
                (q - y, q * (1.0 - q))
            }
            GbdtObjective::Multiclass => {
                let q = probs[r * k + c];
                (
                    q - f64::from(u8::from(y as usize == c)),
                    factor * q * (1.0 - q),
                )
            }
        };
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

/// Scale a new tree's values by the learning rate.
fn shrink(tree: &mut Tree, lr: f64) {
    for v in tree.leaf_value.iter_mut() {
        *v *= lr;
    }
    for v in tree.internal_value.iter_mut() {
        *v *= lr;
    }
    tree.shrinkage = lr;
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
/// features). `folded_init` is the initial score folded into a first-iteration tree's leaves,
/// which the validation scores already hold.
fn add_to_valid_scores(
    tree: &Tree,
    valid: &TrainData,
    scores: &mut [f64],
    (f, k): (usize, usize),
    c: usize,
    folded_init: Option<f64>,
) {
    for r in 0..valid.n_rows() {
        let row = &valid.x[r * f..(r + 1) * f];
        let x: Vec<f64> = row.iter().map(|&v| super::tree::dense_value(v)).collect();
        let leaf = tree.leaf(&x);
        let mut val = tree.leaf_value[leaf];
        if let Some(init) = folded_init {
            val -= init;
        }
        scores[r * k + c] += val;
    }
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
    let n = data.n_rows();
    let f = data.n_features;
    let k = p.outputs();
    let threads = Threads::new(p.num_threads)?;
    let binned = Binned::fit(data, p.max_bin);
    let grower = binned.grower(p, &threads);
    let init = initial_scores(p, data.y);
    let mut scores: Vec<f64> = (0..n * k).map(|i| init[i % k]).collect();
    let mut valid_scores: Option<Vec<f64>> =
        valid.map(|v| (0..v.n_rows() * k).map(|i| init[i % k]).collect());
    let mut rng = ChaCha8Rng::seed_from_u64(strider_base::seed::derive(p.seed, &[0x6264_7400]));
    let mut g = vec![0.0; n];
    let mut h = vec![0.0; n];
    let mut trees: Vec<Tree> = Vec::new();
    let mut bag: Vec<u32> = (0..n as u32).collect();
    let mut early = EarlyStopping {
        best_loss: f64::INFINITY,
        best_iter: 0,
    };
    for iter in 0..p.num_iterations {
        draw_bag(p, iter, n, &mut rng, &mut bag);
        let probs = class_probabilities(p, &scores);
        for c in 0..k {
            gradients(p, data.y, (&scores, &probs), c, &mut g, &mut h);
            let features = sample_features(p, f, &mut rng);
            let mut rows = bag.clone();
            let mut built = grower.grow(&mut rows, &g, &h, &features);
            shrink(&mut built.tree, p.learning_rate);
            add_to_train_scores(&grower, &built, &rows, &mut scores, c);
            // The first trees carry the initial score, so the model needs no separate bias.
            let folded_init = (iter == 0).then_some(init[c]);
            if let Some(init) = folded_init {
                for v in built.tree.leaf_value.iter_mut() {
                    *v += init;
                }
                built.tree.shrinkage = 1.0;
            }
            if let (Some(v), Some(vs)) = (valid, valid_scores.as_mut()) {
                add_to_valid_scores(&built.tree, v, vs, (f, k), c, folded_init);
            }
            trees.push(built.tree);
        }
        let train_loss = loss(p, &scores, data.y);
        on_iteration(iter + 1, "train_loss", train_loss);
        if let (Some(v), Some(vs)) = (valid, valid_scores.as_ref()) {
            let vl = loss(p, vs, v.y);
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
        GbdtObjective::Regression => (Objective::Identity, "regression".to_string()),
        GbdtObjective::Binary => (Objective::Sigmoid(1.0), "binary sigmoid:1".to_string()),
        GbdtObjective::Multiclass => (Objective::Softmax, format!("multiclass num_class:{k}")),
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
        .map(|l| match (l.upper.first(), l.upper.last()) {
            (Some(a), Some(b)) => format!("[{a:?}:{b:?}]"),
            _ => "none".into(),
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
        assert_eq!(GbdtModel::parse(&m.write()).unwrap().trees, m.trees);
    }

    /// Any number of threads grows the one-thread trees, bit for bit: wide enough data that the
    /// histograms and the split search both go parallel, with NaN, bagging and feature sampling.
    #[test]
    fn the_trees_are_the_same_on_any_number_of_threads() {
        let (base, y) = friedman(6000, 4);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut x = Vec::with_capacity(6000 * 12);
        for row in base.chunks(6) {
            x.extend_from_slice(row);
            x.extend((0..6).map(|j| {
                let v: f64 = rng.random();
                if j == 2 && v < 0.05 { f64::NAN } else { v }
            }));
        }
        let data = TrainData {
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
        for n in [2, 3, 0] {
            assert!(model(n) == one, "{n} threads grew other trees");
        }
        assert!(
            Threads::new(2).unwrap().feature_blocks(12, 6000).len() > 1
                || cfg!(not(feature = "parallel"))
        );
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
                x: &x[..3000 * 6],
                n_features: 6,
                y: &labels[..3000],
                feature_names: vec![],
            };
            let va = TrainData {
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
