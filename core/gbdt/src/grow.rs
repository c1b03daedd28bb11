//! Growing one tree leaf-wise as LightGBM 4.7's serial tree learner does
//! (`serial_tree_learner.cpp`): histograms whose cell for each feature's most frequent bin is
//! rebuilt from the leaf's sums (`FixHistogram`), the smaller child's histogram from its rows
//! and the larger's by subtraction, LightGBM's split search per feature (`split.rs`), children
//! that skip features their parent could not split on, and rows partitioned in bin space.

use crate::binning::{BinOptions, FeatureBins, MissingType};
use crate::categorical;
use crate::split::{self, Bin, LeafSums, Limits, Split};
use crate::threads::Threads;
use crate::train::{GbdtParams, TrainData};
use crate::tree::{Tree, dense_value};

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
    fn sums(&self) -> LeafSums {
        LeafSums {
            g: self.g,
            h: self.h,
            n: self.len,
        }
    }
}

pub(crate) struct Grower<'a> {
    pub p: &'a GbdtParams,
    threads: &'a Threads,
    bins: &'a [u8],
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
    /// The histogram of `rows` (a leaf with sums `sums`): per feature and bin, the sums of g
    /// and h over the rows not in the feature's most frequent bin, that bin then rebuilt as the
    /// leaf's sums less the other bins (LightGBM's `FixHistogram`). Built by blocks of features
    /// on the threads; each cell sums its rows in order either way.
    fn histogram(&self, rows: &[u32], gh: (&[f32], &[f32]), sums: (f64, f64)) -> Vec<Bin> {
        let mut hist = vec![Bin::default(); self.total_bins];
        let blocks = self.threads.feature_blocks(self.n_features, rows.len());
        if let [block] = blocks[..] {
            self.histogram_block(rows, gh, block, &mut hist);
            self.fix_block(block, sums, &mut hist);
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
            self.histogram_block(rows, gh, block, part);
            self.fix_block(block, sums, part);
        });
        hist
    }

    /// The histogram cells of features `first..end` (`out` starts at feature `first`'s bins).
    fn histogram_block(
        &self,
        rows: &[u32],
        (g, h): (&[f32], &[f32]),
        (first, end): (usize, usize),
        out: &mut [Bin],
    ) {
        let f = self.n_features;
        let base = self.offsets[first];
        // Per feature of the block, its first cell in `out`.
        let features: Vec<usize> = (first..end).map(|j| self.offsets[j] - base).collect();
        for (i, &r) in rows.iter().enumerate() {
            if let Some(&ahead) = rows.get(i + PREFETCH_AHEAD) {
                let a = ahead as usize;
                prefetch(self.bins.as_ptr().wrapping_add(a * f + first));
                prefetch(g.as_ptr().wrapping_add(a));
                prefetch(h.as_ptr().wrapping_add(a));
            }
            let r = r as usize;
            let (gr, hr) = (f64::from(g[r]), f64::from(h[r]));
            let row = &self.bins[r * f + first..r * f + end];
            // Every bin is summed, the most frequent one too, although `fix_block` then
            // overwrites it: skipping it (as LightGBM does) is a branch that data with a few
            // percent missing mispredicts on every missing value.
            for (&off, &b) in features.iter().zip(row) {
                let i = off + b as usize;
                debug_assert!(i < out.len());
                // SAFETY: every bin index is < its feature's n_bins, and offsets are the running
                // sums of n_bins, so off (already less base) + b < the block's bins == out.len().
                let cell = unsafe { out.get_unchecked_mut(i) };
                cell.g += gr;
                cell.h += hr;
            }
        }
    }

    /// `FixHistogram` for features `first..end`: the most frequent bin gets the leaf's sums
    /// less every other bin, in bin order, or zeros when it is bin 0 (which LightGBM does not
    /// store).
    fn fix_block(&self, (first, end): (usize, usize), (g, h): (f64, f64), out: &mut [Bin]) {
        let base = self.offsets[first];
        for j in first..end {
            let lay = &self.layout[j];
            let mfb = lay.most_freq_bin;
            let cells = &mut out[self.offsets[j] - base..][..lay.n_bins()];
            if mfb == 0 {
                if let Some(c) = cells.first_mut() {
                    *c = Bin::default();
                }
                continue;
            }
            let mut fixed = Bin { g, h };
            for (i, c) in cells.iter().enumerate() {
                if i != mfb {
                    fixed.g -= c.g;
                    fixed.h -= c.h;
                }
            }
            cells[mfb] = fixed;
        }
    }

    /// The leaf's best split over `features` (the first feature on equal gains) and which
    /// features it could split on; features its parent could not split on are skipped, as
    /// LightGBM does. `None` for a leaf too deep or too small to split.
    fn best_split(
        &self,
        leaf: &Leaf,
        features: &[usize],
        parent: &[bool],
    ) -> (Option<Split>, Vec<bool>) {
        let mut splittable = vec![false; self.n_features];
        if (self.p.max_depth > 0 && leaf.depth as i64 >= self.p.max_depth)
            || leaf.len < 2 * self.p.min_data_in_leaf
        {
            return (None, splittable);
        }
        let searched: Vec<usize> = features
            .iter()
            .copied()
            .filter(|&f| parent[f] && !self.layout[f].trivial)
            .collect();
        let per_feature: Vec<(Option<Split>, bool)> =
            if self.threads.search_in_parallel(self.total_bins) {
                self.threads
                    .map(&searched, |&f| self.best_split_of(leaf, f))
            } else {
                searched
                    .iter()
                    .map(|&f| self.best_split_of(leaf, f))
                    .collect()
            };
        let mut best: Option<Split> = None;
        for (&f, (s, ok)) in searched.iter().zip(per_feature) {
            splittable[f] = ok;
            if let Some(s) = s
                && best.is_none_or(|b| s.better_than(&b))
            {
                best = Some(s);
            }
        }
        (best, splittable)
    }

    /// The best split of the leaf on feature `f` and whether `f` can split it at all.
    fn best_split_of(&self, leaf: &Leaf, f: usize) -> (Option<Split>, bool) {
        let lay = &self.layout[f];
        let off = self.offsets[f];
        let hist = &leaf.hist[off..off + lay.n_bins()];
        if lay.is_categorical() {
            categorical::best_categorical(lay, hist, leaf.sums(), &self.limits, f)
        } else {
            split::best_threshold(lay, hist, leaf.sums(), &self.limits, f)
        }
    }

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
        let n = self.columns.len() / self.n_features.max(1);
        &self.columns[j * n..(j + 1) * n]
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
    fn root(&self, rows: &[u32], (g, h): (&[f32], &[f32]), features: &[usize]) -> Leaf {
        let (mut sg, mut sh) = (0.0, 0.0);
        for &r in rows {
            sg += f64::from(g[r as usize]);
            sh += f64::from(h[r as usize]);
        }
        let mut root = Leaf {
            start: 0,
            len: rows.len(),
            hist: self.histogram(rows, (g, h), (sg, sh)),
            g: sg,
            h: sh,
            value: self.limits.leaf_output(sg, sh),
            depth: 0,
            parent: None,
            best: None,
            splittable: vec![],
        };
        (root.best, root.splittable) =
            self.best_split(&root, features, &vec![true; self.n_features]);
        root
    }

    /// Stable partition of a leaf's rows by `split`: the left child's rows first, both in their
    /// original order (as LightGBM keeps them). Returns the number of left rows. Branch-free:
    /// each row is written to both sides and only the counts move, because a split's left/right
    /// decision is a coin flip the branch predictor cannot learn.
    fn partition(&self, leaf_rows: &mut [u32], split: Split, scratch: &mut Vec<u32>) -> usize {
        scratch.clear();
        scratch.resize(leaf_rows.len(), 0);
        let (mut n_left, mut n_right) = (0, 0);
        let column = self.column(split.feature);
        for i in 0..leaf_rows.len() {
            let r = leaf_rows[i];
            let left = self.bin_goes_left(column[r as usize] as usize, &split);
            // n_left <= i and n_right <= i: both writes land in bounds, and position n_left was
            // read already.
            leaf_rows[n_left] = r;
            scratch[n_right] = r;
            n_left += usize::from(left);
            n_right += usize::from(!left);
        }
        leaf_rows[n_left..].copy_from_slice(&scratch[..n_right]);
        n_left
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
        let (small, large) = if small_is_left {
            (&mut left, &mut right)
        } else {
            (&mut right, &mut left)
        };
        let small_rows = if small_is_left { rows.left } else { rows.right };
        small.hist = self.histogram(small_rows, gh, (small.g, small.h));
        large.hist = parent_hist
            .iter()
            .zip(&small.hist)
            .map(|(p, s)| Bin {
                g: p.g - s.g,
                h: p.h - s.h,
            })
            .collect();
        (left.best, left.splittable) = self.best_split(&left, features, &parent.splittable);
        (right.best, right.splittable) = self.best_split(&right, features, &parent.splittable);
        (left, right)
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

/// Rows ahead whose bins and gradients the histogram asks the cache for while it sums the
/// current row (LightGBM's `pf_offset`): a child's rows lie scattered over the data, and
/// waiting on memory for each one took most of the histogram's time.
const PREFETCH_AHEAD: usize = 16;

/// Asks the CPU to bring `p`'s cache line closer; a hint only (a no-op off x86-64).
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch neither faults nor reads anything into the program, whatever the
    // address (callers pass addresses inside their slices anyway).
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
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
/// a histogram, and the row-major bin of every value.
pub(crate) struct Binned {
    pub layout: Vec<FeatureBins>,
    offsets: Vec<usize>,
    pub total_bins: usize,
    bins: Vec<u8>,
    columns: Vec<u8>,
}

impl Binned {
    pub fn fit(data: &TrainData, p: &GbdtParams) -> Self {
        let n = data.y.len();
        let f = data.n_features;
        let opt = BinOptions {
            max_bin: p.max_bin,
            min_data_in_leaf: p.min_data_in_leaf,
            use_missing: p.use_missing,
            zero_as_missing: p.zero_as_missing,
        };
        let layout: Vec<FeatureBins> = (0..f)
            .map(|j| {
                let col: Vec<f64> = (0..n).map(|r| dense_value(data.x[r * f + j])).collect();
                FeatureBins::fit(&col, &opt, p.categorical_feature.contains(&j))
            })
            .collect();
        let mut offsets = Vec::with_capacity(f);
        let mut total_bins = 0;
        for l in &layout {
            offsets.push(total_bins);
            total_bins += l.n_bins();
        }
        let bins: Vec<u8> = (0..n * f)
            .map(|i| layout[i % f].bin(dense_value(data.x[i])) as u8)
            .collect();
        let columns: Vec<u8> = (0..f * n).map(|i| bins[(i % n) * f + i / n]).collect();
        Binned {
            layout,
            offsets,
            total_bins,
            bins,
            columns,
        }
    }

    pub fn grower<'a>(&'a self, p: &'a GbdtParams, threads: &'a Threads) -> Grower<'a> {
        Grower {
            p,
            threads,
            bins: &self.bins,
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
