//! Growing one tree leaf-wise as LightGBM 4.7's serial tree learner does
//! (`serial_tree_learner.cpp`): histograms whose cell for each feature's most frequent bin is
//! rebuilt from the leaf's sums (`FixHistogram`), the smaller child's histogram from its rows
//! and the larger's by subtraction, LightGBM's split search per feature (`split.rs`), children
//! that skip features their parent could not split on, and rows partitioned in bin space.
//! `histogram.rs` sums one block of features' cells, `search.rs` finds a leaf's best split in
//! one block, `partition.rs` splits a leaf's rows; one split's histograms and searches are a
//! single fork over the blocks (`threads.rs`).

mod histogram;
mod partition;
mod search;

use crate::binning::{BinOptions, FeatureBins, MissingType};
use crate::split::{self, Bin, LeafSums, Limits, Split};
use crate::threads::Threads;
use crate::train::{GbdtParams, TrainData};
use crate::tree::{Tree, dense_value};
use search::LeafInfo;

struct Leaf {
    start: usize,
    len: usize,
    hist: Vec<Bin>,
    /// Gradient and hessian sums (LightGBM's `LeafSplits`: a child's come from its split).
    g: f64,
    h: f64,
    /// The leaf's output when it was made (the split's output; the root's from its sums).
    value: f64,
    depth: usize,
    /// (internal node, is_left) pointing at this leaf.
    parent: Option<(usize, bool)>,
    best: Option<Split>,
    /// Per feature: whether this leaf's own search found any threshold beating the leaf.
    splittable: Vec<bool>,
}

impl Leaf {
    fn info(&self) -> LeafInfo {
        LeafInfo {
            sums: LeafSums {
                g: self.g,
                h: self.h,
                n: self.len,
            },
            depth: self.depth,
        }
    }
}

pub(crate) struct Grower<'a> {
    pub p: &'a GbdtParams,
    threads: &'a Threads,
    /// The bins block by block of features (`blocks`), each block row-major: a thread's
    /// histogram reads only its block's bytes of each row, which stay in its core's cache.
    bins: &'a [u8],
    blocks: &'a [(usize, usize)],
    /// The same bins feature by feature (`[feature][row]`): a split's partition reads one
    /// feature of scattered rows, which stays in cache this way (row-major it missed on
    /// almost every row).
    columns: &'a [u8],
    n_features: usize,
    layout: &'a [FeatureBins],
    offsets: &'a [usize],
    total_bins: usize,
    limits: Limits,
}

/// A tree under construction, with the binned decision of each internal node.
pub(crate) struct Built {
    pub tree: Tree,
    /// Each internal node's split, for the binned decisions.
    splits: Vec<Split>,
    /// (start, len) of each leaf's rows in the reordered row array.
    pub ranges: Vec<(usize, usize)>,
}

/// The rows of one split: the leaf's slice of the row array, partitioned.
struct Children<'r> {
    left: &'r [u32],
    right: &'r [u32],
}

impl Grower<'_> {
    /// LightGBM's partition in bin space (`DenseBin::SplitInner`, `SplitCategoricalInner`):
    /// a categorical split sends its bins left; a numerical one sends the missing bin (NaN bin,
    /// or the zero bin for `MissingType::Zero`) to the default side, any other bin left iff it
    /// is `<= threshold`.
    #[inline]
    fn goes_left(&self, row: usize, split: &Split) -> bool {
        self.bin_goes_left(self.column(split.feature)[row] as usize, split)
    }

    /// Feature `j`'s bin of every row.
    fn column(&self, j: usize) -> &[u8] {
        let n = self.n_rows();
        &self.columns[j * n..(j + 1) * n]
    }

    /// Training rows (every one, bagged or not).
    fn n_rows(&self) -> usize {
        self.columns.len() / self.n_features.max(1)
    }

    #[inline(always)]
    fn bin_goes_left(&self, b: usize, split: &Split) -> bool {
        if let Some(set) = &split.categories {
            return set.contains(b);
        }
        let lay = &self.layout[split.feature];
        let missing = match lay.missing {
            MissingType::None => false,
            MissingType::Zero => b == lay.default_bin,
            MissingType::NaN => b == lay.n_bins() - 1,
        };
        if missing {
            split.default_left
        } else {
            b <= split.threshold
        }
    }

    /// Grow one tree on `rows` (reordered in place) with gradients `g`, hessians `h`: leaf-wise,
    /// always splitting the leaf with the best split (LightGBM's `ArgMax` over the leaves) until
    /// `num_leaves` or no split has a positive gain.
    pub fn grow(&self, rows: &mut [u32], g: &[f32], h: &[f32], features: &[usize]) -> Built {
        let mut leaves = vec![self.root(rows, (g, h), features)];
        let mut t = Built {
            tree: Tree {
                num_leaves: 1,
                shrinkage: 1.0,
                ..Tree::default()
            },
            splits: vec![],
            ranges: vec![],
        };
        let mut scratch = vec![0u32; rows.len()];
        while leaves.len() < self.p.num_leaves {
            let Some((li, split)) = best_leaf(&leaves) else {
                break;
            };
            let node = t.tree.split_feature.len();
            let (start, len) = (leaves[li].start, leaves[li].len);
            let leaf_rows = &mut rows[start..start + len];
            let n_left = self.partition(leaf_rows, split, &mut scratch);
            self.add_node(&mut t, &leaves, li, split);
            let (left, right) = leaf_rows.split_at(n_left);
            let search = leaves.len() + 1 < self.p.num_leaves;
            let children = Children { left, right };
            let (left, right) = self.children(
                &mut leaves[li],
                children,
                (node, split),
                (g, h),
                features,
                search,
            );
            leaves[li] = left;
            leaves.push(right);
        }
        t.tree.num_leaves = leaves.len();
        t.tree.leaf_value = leaves.iter().map(|l| l.value).collect();
        t.tree.leaf_weight = leaves
            .iter()
            .map(|l| if l.parent.is_some() { l.h } else { 0.0 })
            .collect();
        t.tree.leaf_count = leaves.iter().map(|l| l.len as f64).collect();
        t.ranges = leaves.iter().map(|l| (l.start, l.len)).collect();
        t
    }

    /// The root leaf: all of `rows`, its sums (in row order), histogram and best split.
    fn root(&self, rows: &[u32], gh: (&[f32], &[f32]), features: &[usize]) -> Leaf {
        let (mut sg, mut sh) = (0.0, 0.0);
        for &r in rows {
            sg += f64::from(gh.0[r as usize]);
            sh += f64::from(gh.1[r as usize]);
        }
        let mut root = Leaf {
            start: 0,
            len: rows.len(),
            hist: vec![Bin::default(); self.total_bins],
            g: sg,
            h: sh,
            value: self.limits.leaf_output(sg, sh),
            depth: 0,
            parent: None,
            best: None,
            splittable: vec![],
        };
        let info = root.info();
        let all = vec![true; self.n_features];
        let work = rows.len().saturating_mul(self.n_features) + self.search_work(1);
        let parts: Vec<_> = self
            .blocks
            .iter()
            .copied()
            .zip(self.block_parts(&mut root.hist))
            .collect();
        let found = self
            .threads
            .for_work(work)
            .map_into(parts, |(block, part)| {
                self.fixed_histogram_block(rows, gh, block, (sg, sh), part);
                self.search_block(info, block, part, features, &all)
            });
        (root.best, root.splittable) = self.merge(found.iter());
        root
    }

    /// Turn leaf `li` into a new internal node splitting by `split` (LightGBM's `Tree::Split`):
    /// its left child keeps index `li`, its right child becomes the next leaf, and the parent's
    /// link is repointed from the leaf to the node.
    fn add_node(&self, t: &mut Built, leaves: &[Leaf], li: usize, split: Split) {
        let node = t.tree.split_feature.len();
        let leaf = &leaves[li];
        let lay = &self.layout[split.feature];
        t.tree.split_feature.push(split.feature);
        // LightGBM stores the gain as a float.
        t.tree
            .split_gain
            .push(f64::from((split.gain + self.p.min_gain_to_split) as f32));
        match &split.categories {
            Some(set) => add_categories(&mut t.tree, lay, set),
            None => {
                t.tree.threshold.push(lay.upper[split.threshold]);
                let default_left = u8::from(split.default_left) << 1;
                t.tree
                    .decision_type
                    .push(default_left | (lay.missing.code() << 2));
            }
        }
        t.tree.internal_value.push(leaf.value);
        t.tree.internal_weight.push(split.left_h + split.right_h);
        t.tree.internal_count.push(leaf.len as f64);
        t.splits.push(split);
        let new_leaf = leaves.len();
        t.tree.left_child.push(!(li as i32));
        t.tree.right_child.push(!(new_leaf as i32));
        if let Some((p, is_left)) = leaf.parent {
            if is_left {
                t.tree.left_child[p] = node as i32
            } else {
                t.tree.right_child[p] = node as i32
            }
        }
    }

    /// The two children of `parent` (whose histogram is taken) from its partitioned rows, with
    /// the split's sums and outputs, and (when `search`) their histograms and best splits.
    fn children(
        &self,
        parent: &mut Leaf,
        rows: Children,
        (node, split): (usize, Split),
        gh: (&[f32], &[f32]),
        features: &[usize],
        search: bool,
    ) -> (Leaf, Leaf) {
        let output = |v: f64| if v.is_nan() { 0.0 } else { v };
        let child = |start, len, (g, h), value, is_left| Leaf {
            start,
            len,
            hist: Vec::new(),
            g,
            h,
            value: output(value),
            depth: parent.depth + 1,
            parent: Some((node, is_left)),
            best: None,
            splittable: vec![],
        };
        let (nl, nr) = (rows.left.len(), rows.right.len());
        let mut left = child(
            parent.start,
            nl,
            (split.left_g, split.left_h),
            split.left_output,
            true,
        );
        let mut right = child(
            parent.start + nl,
            nr,
            (split.right_g, split.right_h),
            split.right_output,
            false,
        );
        let parent_hist = std::mem::take(&mut parent.hist);
        if !search {
            return (left, right);
        }
        // The smaller child (the right one on a tie) from its rows, the larger by subtraction.
        let small_is_left = nl < nr;
        let small_rows = if small_is_left { rows.left } else { rows.right };
        let (small, large) = if small_is_left {
            (&mut left, &mut right)
        } else {
            (&mut right, &mut left)
        };
        let parent = (parent_hist, parent.splittable.as_slice());
        self.histograms_and_splits((small, large), parent, small_rows, gh, features);
        (left, right)
    }

    /// The children's histograms (the smaller's from `small_rows`, the larger's as its parent's
    /// less the smaller's) and best splits, by blocks of features on the threads: one fork per
    /// split for all of it.
    fn histograms_and_splits(
        &self,
        (small, large): (&mut Leaf, &mut Leaf),
        (parent_hist, parent): (Vec<Bin>, &[bool]),
        small_rows: &[u32],
        gh: (&[f32], &[f32]),
        features: &[usize],
    ) {
        let (si, li) = (small.info(), large.info());
        small.hist = vec![Bin::default(); self.total_bins];
        large.hist = parent_hist;
        let work = small_rows.len().saturating_mul(self.n_features) + self.search_work(2);
        let parts: Vec<_> = self
            .blocks
            .iter()
            .copied()
            .zip(self.block_parts(&mut small.hist))
            .zip(self.block_parts(&mut large.hist))
            .collect();
        let found = self
            .threads
            .for_work(work)
            .map_into(parts, |((block, s), l)| {
                self.fixed_histogram_block(small_rows, gh, block, (si.sums.g, si.sums.h), s);
                histogram::subtract(l, s);
                (
                    self.search_block(si, block, s, features, parent),
                    self.search_block(li, block, l, features, parent),
                )
            });
        (small.best, small.splittable) = self.merge(found.iter().map(|f| &f.0));
        (large.best, large.splittable) = self.merge(found.iter().map(|f| &f.1));
    }

    /// The leaf of a training row, following the binned decisions.
    pub fn leaf_of(&self, b: &Built, row: usize) -> usize {
        if b.tree.num_leaves <= 1 {
            return 0;
        }
        let mut node: i32 = 0;
        while node >= 0 {
            let n = node as usize;
            node = if self.goes_left(row, &b.splits[n]) {
                b.tree.left_child[n]
            } else {
                b.tree.right_child[n]
            };
        }
        (!node) as usize
    }
}

/// A categorical node's rule in the tree (`Tree::SplitCategorical`): its threshold is the index
/// of its category set, which is a bitset of the left bins' categories in 32-bit words.
fn add_categories(tree: &mut Tree, lay: &FeatureBins, set: &split::BinSet) {
    let mut words: Vec<u32> = Vec::new();
    for bin in set.bins() {
        let c = lay.categories[bin] as usize;
        if words.len() <= c / 32 {
            words.resize(c / 32 + 1, 0);
        }
        words[c / 32] |= 1 << (c % 32);
    }
    if tree.cat_boundaries.is_empty() {
        tree.cat_boundaries.push(0);
    }
    tree.threshold.push(tree.num_cat as f64);
    tree.decision_type.push(1 | (lay.missing.code() << 2));
    tree.num_cat += 1;
    let end = tree.cat_boundaries.last().copied().unwrap_or(0) + words.len();
    tree.cat_boundaries.push(end);
    tree.cat_threshold.extend(words);
}

/// The leaf to split next (LightGBM's `ArgMax` of `SplitInfo`s): the larger gain, then the
/// smaller feature, then the first leaf; none when no split has a positive gain.
fn best_leaf(leaves: &[Leaf]) -> Option<(usize, Split)> {
    let mut best: Option<(usize, Split)> = None;
    for (i, l) in leaves.iter().enumerate() {
        if let Some(s) = l.best
            && best.is_none_or(|(_, b)| s.better_than(&b))
        {
            best = Some((i, s));
        }
    }
    best.filter(|(_, s)| s.gain > 0.0)
}

/// The training rows binned once, up front: each feature's bin layout, where its bins start in
/// a histogram, and the bin of every value twice: row-major within each block of features (one
/// block per thread, for the histograms) and feature by feature (for the partitions).
pub(crate) struct Binned {
    pub layout: Vec<FeatureBins>,
    offsets: Vec<usize>,
    pub total_bins: usize,
    bins: Vec<u8>,
    blocks: Vec<(usize, usize)>,
    columns: Vec<u8>,
}

impl Binned {
    /// Each feature's bins fitted to its column and every value binned, feature by feature on
    /// the threads.
    pub fn fit(data: &TrainData, p: &GbdtParams, threads: &Threads) -> Self {
        let n = data.y.len();
        let f = data.n_features;
        let opt = BinOptions {
            max_bin: p.max_bin,
            min_data_in_leaf: p.min_data_in_leaf,
            use_missing: p.use_missing,
            zero_as_missing: p.zero_as_missing,
        };
        let features: Vec<usize> = (0..f).collect();
        // Each feature's task holds its column as f64 and the bin finder's sorted copy.
        let on = threads.for_memory(16 * n);
        let fitted: Vec<(FeatureBins, Vec<u8>)> = on.map_into(features, |j| {
            let col: Vec<f64> = (0..n).map(|r| dense_value(data.x[r * f + j])).collect();
            let lay = FeatureBins::fit(&col, &opt, p.categorical_feature.contains(&j));
            let bins = col.iter().map(|&v| lay.bin(v) as u8).collect();
            (lay, bins)
        });
        let (layout, per_feature): (Vec<FeatureBins>, Vec<Vec<u8>>) = fitted.into_iter().unzip();
        // Each feature's bins freed once copied.
        let mut columns = Vec::with_capacity(n * f);
        for col in per_feature {
            columns.extend_from_slice(&col);
        }
        let mut offsets = Vec::with_capacity(f);
        let mut total_bins = 0;
        for l in &layout {
            offsets.push(total_bins);
            total_bins += l.n_bins();
        }
        let blocks = threads.feature_blocks(f);
        let mut bins = vec![0u8; n * f];
        for &(first, end) in &blocks {
            let block = &mut bins[n * first..n * end];
            for (j, col) in columns[n * first..n * end].chunks(n.max(1)).enumerate() {
                for (r, &b) in col.iter().enumerate() {
                    block[r * (end - first) + j] = b;
                }
            }
        }
        Binned {
            layout,
            offsets,
            total_bins,
            bins,
            blocks,
            columns,
        }
    }

    pub fn grower<'a>(&'a self, p: &'a GbdtParams, threads: &'a Threads) -> Grower<'a> {
        Grower {
            p,
            threads,
            bins: &self.bins,
            blocks: &self.blocks,
            columns: &self.columns,
            n_features: self.layout.len(),
            layout: &self.layout,
            offsets: &self.offsets,
            total_bins: self.total_bins,
            limits: Limits {
                l1: p.lambda_l1,
                l2: p.lambda_l2,
                min_data_in_leaf: p.min_data_in_leaf as i64,
                min_sum_hessian: p.min_sum_hessian_in_leaf,
                min_gain_to_split: p.min_gain_to_split,
                max_cat_to_onehot: p.max_cat_to_onehot,
                cat_smooth: p.cat_smooth,
                cat_l2: p.cat_l2,
                max_cat_threshold: p.max_cat_threshold,
                min_data_per_group: p.min_data_per_group as i64,
            },
        }
    }
}
