//! Fast batch prediction: every tree's nodes in one contiguous array, evaluated tree by tree over
//! blocks of rows so a tree stays in cache while a block of rows walks it. Each row still adds
//! the trees in model order, so results are bit-identical to [`GbdtModel::predict_raw`].

use super::model::GbdtModel;
use super::tree::{ZERO_THRESHOLD, dense_value};

#[derive(Clone, Copy)]
struct Node {
    threshold: f64,
    feature: u32,
    /// >= 0: node index within the tree; < 0: `!leaf`.
    left: i32,
    right: i32,
    decision_type: u8,
    /// For categorical nodes: offset of the bitset in `cat_words`, and its length.
    cat_start: u32,
    cat_len: u32,
}

/// A node of the branchless form (16 bytes, four to a cache line): leaves are nodes that point
/// at themselves.
#[derive(Clone, Copy)]
struct FastNode {
    threshold: f64,
    feature: u16,
    left: u16,
    right: u16,
    /// Where NaN goes (missing type NaN: the default direction; None: as 0.0).
    nan_left: bool,
}

/// A tree in branchless form, when it has only numerical nodes without zero-as-missing.
struct FastTree {
    nodes: Vec<FastNode>,
    depth: usize,
    /// Nodes before this index are internal; node `inner + l` is leaf `l`.
    inner: u16,
}

pub struct CompiledModel {
    fast: Vec<Option<FastTree>>,
    nodes: Vec<Node>,
    /// Per tree: first node, first leaf value.
    trees: Vec<(u32, u32)>,
    leaf_values: Vec<f64>,
    cat_words: Vec<u32>,
    outputs: usize,
    features: usize,
}

const BLOCK: usize = 64;

impl CompiledModel {
    pub fn new(m: &GbdtModel) -> Self {
        let mut nodes = Vec::new();
        let mut trees = Vec::with_capacity(m.trees.len());
        let mut leaf_values = Vec::new();
        let mut cat_words = Vec::new();
        let mut fast = Vec::with_capacity(m.trees.len());
        for t in &m.trees {
            fast.push(fast_tree(t));
            trees.push((nodes.len() as u32, leaf_values.len() as u32));
            let cat_base = cat_words.len() as u32;
            cat_words.extend_from_slice(&t.cat_threshold);
            for n in 0..t.num_leaves.saturating_sub(1) {
                let (cat_start, cat_len) = if t.decision_type[n] & 1 != 0 {
                    let c = t.threshold[n] as usize;
                    (
                        cat_base + t.cat_boundaries[c] as u32,
                        (t.cat_boundaries[c + 1] - t.cat_boundaries[c]) as u32,
                    )
                } else {
                    (0, 0)
                };
                nodes.push(Node {
                    threshold: t.threshold[n],
                    feature: t.split_feature[n] as u32,
                    left: t.left_child[n],
                    right: t.right_child[n],
                    decision_type: t.decision_type[n],
                    cat_start,
                    cat_len,
                });
            }
            leaf_values.extend_from_slice(&t.leaf_value);
        }
        Self {
            fast,
            nodes,
            trees,
            leaf_values,
            cat_words,
            outputs: m.num_tree_per_iteration,
            features: m.num_features(),
        }
    }

    #[inline(always)]
    fn go(&self, node: &Node, x: f64) -> i32 {
        let dt = node.decision_type;
        if dt & 1 != 0 {
            let c = x as i64;
            let left = !x.is_nan()
                && (0..=i32::MAX as i64).contains(&c)
                && ((c / 32) as u32) < node.cat_len
                && (self.cat_words[(node.cat_start + (c / 32) as u32) as usize] >> (c % 32)) & 1
                    == 1;
            return if left { node.left } else { node.right };
        }
        let missing = (dt >> 2) & 3;
        let mut v = x;
        if v.is_nan() && missing != 2 {
            v = 0.0;
        }
        if (missing == 1 && (-ZERO_THRESHOLD..=ZERO_THRESHOLD).contains(&v))
            || (missing == 2 && v.is_nan())
        {
            return if dt & 2 != 0 { node.left } else { node.right };
        }
        if v <= node.threshold {
            node.left
        } else {
            node.right
        }
    }

    /// Raw scores of `n` rows (row-major, `features` wide): `n * outputs` values. With the
    /// `parallel` feature, chunks of rows run on rayon's pool; rows are independent, so the
    /// result is the same bytes either way.
    pub fn predict_raw_batch(&self, rows: &[f64], n: usize) -> Vec<f64> {
        const CHUNK: usize = 4096;
        let (f, k) = (self.features, self.outputs);
        let mut out = vec![0.0; n * k];
        let rows = &rows[..n * f];
        #[cfg(feature = "parallel")]
        {
            use rayon::prelude::*;
            out.par_chunks_mut(CHUNK * k)
                .zip(rows.par_chunks(CHUNK * f))
                .for_each(|(o, x)| self.predict_chunk(x, o));
        }
        #[cfg(not(feature = "parallel"))]
        for (o, x) in out.chunks_mut(CHUNK * k).zip(rows.chunks(CHUNK * f)) {
            self.predict_chunk(x, o);
        }
        out
    }

    /// Raw scores of the rows in `rows` into `out` (single thread).
    fn predict_chunk(&self, rows: &[f64], out: &mut [f64]) {
        let f = self.features;
        let k = self.outputs;
        let n = out.len() / k;
        let mut block = vec![0.0; BLOCK * f];
        for start in (0..n).step_by(BLOCK) {
            let m = BLOCK.min(n - start);
            // LightGBM's dense predictor: |x| <= 1e-35 is 0, NaN stays.
            for (d, &v) in block.iter_mut().zip(&rows[start * f..(start + m) * f]) {
                *d = dense_value(v);
            }
            let mut cur = [0u16; BLOCK];
            for (ti, &(node0, leaf0)) in self.trees.iter().enumerate() {
                let c = ti % k;
                if let Some(ft) = &self.fast[ti] {
                    // Every row takes exactly `depth` steps; leaves step to themselves.
                    cur[..m].iter_mut().for_each(|n| *n = 0);
                    for step in 0..ft.depth {
                        // Stop early once every row of the block sits on a leaf (checked every
                        // few steps: the check costs about as much as a step).
                        if step >= 4 && step % 2 == 0 && cur[..m].iter().all(|&n| n >= ft.inner) {
                            break;
                        }
                        for (r, n) in cur[..m].iter_mut().enumerate() {
                            debug_assert!(
                                (*n as usize) < ft.nodes.len()
                                    && r * f + (ft.nodes[*n as usize].feature as usize)
                                        < block.len()
                            );
                            // SAFETY: node indices come from the tree's own child links (validated
                            // when parsed), features are < f, and r < m <= BLOCK rows of width f.
                            let nd = unsafe { ft.nodes.get_unchecked(*n as usize) };
                            // SAFETY: as above: r < m rows of width f and nd.feature < f.
                            let v = unsafe { *block.get_unchecked(r * f + nd.feature as usize) };
                            let left = (v <= nd.threshold) | (v.is_nan() & nd.nan_left);
                            *n = if left { nd.left } else { nd.right };
                        }
                    }
                    for (r, n) in cur[..m].iter().enumerate() {
                        out[(start + r) * k + c] +=
                            self.leaf_values[leaf0 as usize + (n - ft.inner) as usize];
                    }
                    continue;
                }
                let next = self
                    .trees
                    .get(ti + 1)
                    .map_or(self.nodes.len() as u32, |t| t.0);
                let nodes = &self.nodes[node0 as usize..next as usize];
                for r in 0..m {
                    let x = &block[r * f..(r + 1) * f];
                    let mut node: i32 = if nodes.is_empty() { -1 } else { 0 };
                    while node >= 0 {
                        let nd = &nodes[node as usize];
                        node = self.go(nd, x[nd.feature as usize]);
                    }
                    out[(start + r) * k + c] += self.leaf_values[leaf0 as usize + (!node) as usize];
                }
            }
        }
    }
}

/// The branchless form of a tree, or `None` if it has categorical or zero-as-missing nodes, or
/// nodes or features beyond its 16-bit indices.
fn fast_tree(t: &super::Tree) -> Option<FastTree> {
    let inner = t.num_leaves.saturating_sub(1);
    let fits = |x: usize| x <= usize::from(u16::MAX);
    if !fits(inner + t.num_leaves) || t.split_feature.iter().any(|&f| !fits(f)) {
        return None;
    }
    if t.decision_type
        .iter()
        .any(|dt| dt & 1 != 0 || (dt >> 2) & 3 == 1)
    {
        return None;
    }
    let idx = |c: i32| {
        if c >= 0 {
            c as u16
        } else {
            inner as u16 + (!c) as u16
        }
    };
    let mut nodes: Vec<FastNode> = (0..inner)
        .map(|n| {
            let dt = t.decision_type[n];
            // NaN: default direction for missing type NaN; otherwise it is compared as 0.0.
            let nan_left = if (dt >> 2) & 3 == 2 {
                dt & 2 != 0
            } else {
                0.0 <= t.threshold[n]
            };
            FastNode {
                threshold: t.threshold[n],
                feature: t.split_feature[n] as u16,
                left: idx(t.left_child[n]),
                right: idx(t.right_child[n]),
                nan_left,
            }
        })
        .collect();
    for l in 0..t.num_leaves {
        let me = (inner + l) as u16;
        nodes.push(FastNode {
            threshold: f64::INFINITY,
            feature: 0,
            left: me,
            right: me,
            nan_left: true,
        });
    }
    Some(FastTree {
        nodes,
        depth: t.max_depth(),
        inner: inner as u16,
    })
}

impl GbdtModel {
    /// The fast batch form of this model.
    pub fn compile(&self) -> CompiledModel {
        CompiledModel::new(self)
    }

    /// Transformed predictions of `n` rows: `n * num_outputs` values.
    pub fn predict_batch(&self, rows: &[f64], n: usize) -> Vec<f64> {
        let mut out = self.compile().predict_raw_batch(rows, n);
        let k = self.num_outputs();
        let iters = self.num_iterations() as f64;
        for chunk in out.chunks_mut(k) {
            if self.average_output {
                chunk.iter_mut().for_each(|v| *v /= iters);
            }
            self.transform(chunk);
        }
        out
    }
}
