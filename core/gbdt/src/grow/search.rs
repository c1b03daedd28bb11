//! A leaf's best split, searched feature by feature within a block of features (on the
//! block's thread), the blocks' results then taken in feature order.

use super::Grower;
use crate::categorical;
use crate::split::{self, Bin, LeafSums, Split};

/// What a block's search needs to know of a leaf besides its histogram.
#[derive(Clone, Copy)]
pub(super) struct LeafInfo {
    pub sums: LeafSums,
    pub depth: usize,
}

/// Per searched feature of a block, in feature order: the feature, its best split and whether
/// it could split the leaf at all.
pub(super) type FeatureSplits = Vec<(usize, Option<Split>, bool)>;

impl Grower<'_> {
    /// Whether a leaf may be split at all (`max_depth`, `min_data_in_leaf`).
    pub(super) fn may_split(&self, leaf: LeafInfo) -> bool {
        !(self.p.max_depth > 0 && leaf.depth as i64 >= self.p.max_depth)
            && leaf.sums.n >= 2 * self.p.min_data_in_leaf
    }

    /// The searched features of `first..end` (those of `features` the leaf's parent could
    /// split on and that have more than one bin) with their best splits of the leaf, from its
    /// histogram cells `part` (starting at feature `first`'s bins).
    pub(super) fn search_block(
        &self,
        leaf: LeafInfo,
        (first, end): (usize, usize),
        part: &[Bin],
        features: &[usize],
        parent: &[bool],
    ) -> FeatureSplits {
        if !self.may_split(leaf) {
            return vec![];
        }
        let base = self.offsets[first];
        features
            .iter()
            .copied()
            .filter(|&f| (first..end).contains(&f) && parent[f] && !self.layout[f].trivial)
            .map(|f| {
                let hist = &part[self.offsets[f] - base..][..self.layout[f].n_bins()];
                let (s, ok) = self.best_split_of(f, hist, leaf.sums);
                (f, s, ok)
            })
            .collect()
    }

    /// The best split of the blocks' results (the first feature on equal gains, the blocks
    /// being in feature order) and, per feature, whether it could split the leaf.
    pub(super) fn merge<'s>(
        &self,
        blocks: impl Iterator<Item = &'s FeatureSplits>,
    ) -> (Option<Split>, Vec<bool>) {
        let mut splittable = vec![false; self.n_features];
        let mut best: Option<Split> = None;
        for &(f, s, ok) in blocks.flatten() {
            splittable[f] = ok;
            if let Some(s) = s
                && best.is_none_or(|b| s.better_than(&b))
            {
                best = Some(s);
            }
        }
        (best, splittable)
    }

    /// The best split on feature `f` of a leaf with sums `sums` and the feature's histogram
    /// `hist`, and whether `f` can split it at all.
    fn best_split_of(&self, f: usize, hist: &[Bin], sums: LeafSums) -> (Option<Split>, bool) {
        let lay = &self.layout[f];
        if lay.is_categorical() {
            categorical::best_categorical(lay, hist, sums, &self.limits, f)
        } else {
            split::best_threshold(lay, hist, sums, &self.limits, f)
        }
    }

    /// The work of searching `leaves` leaves' bins, in histogram cells (`MIN_PARALLEL_WORK`).
    pub(super) fn search_work(&self, leaves: usize) -> usize {
        (leaves * crate::threads::SCAN_COST).saturating_mul(self.total_bins)
    }
}
