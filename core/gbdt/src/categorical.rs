//! The best split of one categorical feature in one leaf, as LightGBM 4.7 finds it
//! (`FeatureHistogram::FindBestThresholdCategoricalInner`, `feature_histogram.cpp`): one
//! category against the rest when the feature has at most `max_cat_to_onehot` bins, otherwise
//! a set of categories taken in the order of their gradient ratios, from either end. Bin 0 (NaN,
//! negative, rare and unseen categories) is never in the left set.

use std::cmp::Ordering;

use crate::binning::FeatureBins;
use crate::split::{Bin, BinSet, K_EPSILON, LeafSums, Limits, Split, round_int};

/// What both searches share: the leaf's sums (hessian + 2 kEpsilon), the row-count factor and
/// the gain to beat (with the plain `lambda_l2`).
struct Leaf<'a> {
    hist: &'a [Bin],
    g: f64,
    h: f64,
    n: i64,
    cnt_factor: f64,
    min_gain_shift: f64,
}

impl Leaf<'_> {
    fn count(&self, b: Bin) -> i64 {
        round_int(b.h * self.cnt_factor)
    }
}

/// The best left side found: its bins, sums (hessian + kEpsilon) and raw gain.
struct Best {
    left: BinSet,
    g: f64,
    h: f64,
    gain: f64,
}

/// The best split of a leaf (`sums`) on categorical feature `feature` from its histogram, and
/// whether any split beat the leaf (LightGBM's `is_splittable`).
pub(crate) fn best_categorical(
    lay: &FeatureBins,
    hist: &[Bin],
    sums: LeafSums,
    lim: &Limits,
    feature: usize,
) -> (Option<Split>, bool) {
    let h = sums.h + 2.0 * K_EPSILON;
    let leaf = Leaf {
        hist,
        g: sums.g,
        h,
        n: sums.n as i64,
        cnt_factor: sums.n as f64 / h,
        min_gain_shift: lim.leaf_gain(sums.g, h) + lim.min_gain_to_split,
    };
    let (best, lim) = if lay.n_bins() <= lim.max_cat_to_onehot {
        (one_hot(&leaf, lim), *lim)
    } else {
        // The larger l2 of categorical splits, for their gains and their outputs.
        let lim = Limits {
            l2: lim.l2 + lim.cat_l2,
            ..*lim
        };
        (many_vs_many(&leaf, &lim), lim)
    };
    let Some(b) = best else {
        return (None, false);
    };
    let gain = b.gain - leaf.min_gain_shift;
    let mut split = Split::from_left(&lim, (leaf.g, leaf.h), (b.g, b.h), gain, feature);
    split.categories = Some(b.left);
    (Some(split), true)
}

/// One category (bin) alone on the left: the first best bin.
fn one_hot(leaf: &Leaf, lim: &Limits) -> Option<Best> {
    let mut best: Option<Best> = None;
    for bin in 1..leaf.hist.len() {
        let cell = leaf.hist[bin];
        let cnt = leaf.count(cell);
        if cnt < lim.min_data_in_leaf || cell.h < lim.min_sum_hessian {
            continue;
        }
        let other_h = leaf.h - cell.h - K_EPSILON;
        if leaf.n - cnt < lim.min_data_in_leaf || other_h < lim.min_sum_hessian {
            continue;
        }
        let gain =
            lim.leaf_gain(leaf.g - cell.g, other_h) + lim.leaf_gain(cell.g, cell.h + K_EPSILON);
        if gain > leaf.min_gain_shift && best.as_ref().is_none_or(|b| gain > b.gain) {
            let mut left = BinSet::default();
            left.insert(bin);
            best = Some(Best {
                left,
                g: cell.g,
                h: cell.h + K_EPSILON,
                gain,
            });
        }
    }
    best
}

/// Categories with at least `cat_smooth` rows, sorted by gradient / (hessian + cat_smooth);
/// the left side is a prefix of that order, from the low end or the high end, of at most
/// `max_cat_threshold` categories and half of them, closed only every `min_data_per_group`
/// rows.
fn many_vs_many(leaf: &Leaf, lim: &Limits) -> Option<Best> {
    let mut sorted: Vec<usize> = (1..leaf.hist.len())
        .filter(|&b| leaf.count(leaf.hist[b]) as f64 >= lim.cat_smooth)
        .collect();
    let ratio = |b: &usize| leaf.hist[*b].g / (leaf.hist[*b].h + lim.cat_smooth);
    // Stable, and equal ratios (0.0 and -0.0 too) keep their bin order, as C++'s `<`.
    sorted.sort_by(|a, b| ratio(a).partial_cmp(&ratio(b)).unwrap_or(Ordering::Equal));
    let max_num_cat = lim.max_cat_threshold.min(sorted.len().div_ceil(2));
    let mut best: Option<Best> = None;
    for ascending in [true, false] {
        let order: Vec<usize> = if ascending {
            sorted.clone()
        } else {
            sorted.iter().rev().copied().collect()
        };
        if let Some((i, mut b)) = scan_prefixes(leaf, lim, &order[..max_num_cat.min(order.len())])
            && best.as_ref().is_none_or(|x| b.gain > x.gain)
        {
            order[..=i].iter().for_each(|&bin| b.left.insert(bin));
            best = Some(b);
        }
    }
    best
}

/// The best prefix of `order` as a left side: its last index and sums (bins still to fill in).
fn scan_prefixes(leaf: &Leaf, lim: &Limits, order: &[usize]) -> Option<(usize, Best)> {
    let (mut lg, mut lh, mut lc, mut group) = (0.0, K_EPSILON, 0i64, 0i64);
    let mut best: Option<(usize, Best)> = None;
    for (i, &bin) in order.iter().enumerate() {
        let cell = leaf.hist[bin];
        let cnt = leaf.count(cell);
        lg += cell.g;
        lh += cell.h;
        lc += cnt;
        group += cnt;
        if lc < lim.min_data_in_leaf || lh < lim.min_sum_hessian {
            continue;
        }
        let rc = leaf.n - lc;
        if rc < lim.min_data_in_leaf
            || rc < lim.min_data_per_group
            || leaf.h - lh < lim.min_sum_hessian
        {
            break;
        }
        if group < lim.min_data_per_group {
            continue;
        }
        group = 0;
        let gain = lim.leaf_gain(lg, lh) + lim.leaf_gain(leaf.g - lg, leaf.h - lh);
        if gain > leaf.min_gain_shift && best.as_ref().is_none_or(|(_, b)| gain > b.gain) {
            let left = BinSet::default();
            best = Some((
                i,
                Best {
                    left,
                    g: lg,
                    h: lh,
                    gain,
                },
            ));
        }
    }
    best
}
