//! Exact TreeSHAP (Lundberg, Erion & Lee 2018, Algorithm 2) as LightGBM implements it for
//! `pred_contrib`: node weights are the training row counts, decisions are the model's own
//! (missing values and categories included), and the bias column is the trees' expected value.

use super::model::GbdtModel;
use super::tree::Tree;
use crate::error::{Error, Result};

#[derive(Clone, Copy, Default)]
struct PathElement {
    feature: i64,
    zero_fraction: f64,
    one_fraction: f64,
    pweight: f64,
}

fn extend(path: &mut [PathElement], depth: usize, zero: f64, one: f64, feature: i64) {
    path[depth] = PathElement {
        feature,
        zero_fraction: zero,
        one_fraction: one,
        pweight: if depth == 0 { 1.0 } else { 0.0 },
    };
    for i in (0..depth).rev() {
        path[i + 1].pweight += one * path[i].pweight * (i + 1) as f64 / (depth + 1) as f64;
        path[i].pweight = zero * path[i].pweight * (depth - i) as f64 / (depth + 1) as f64;
    }
}

fn unwind(path: &mut [PathElement], depth: usize, index: usize) {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let mut next_one = path[depth].pweight;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = path[i].pweight;
            path[i].pweight = next_one * (depth + 1) as f64 / ((i + 1) as f64 * one);
            next_one = tmp - path[i].pweight * zero * (depth - i) as f64 / (depth + 1) as f64;
        } else {
            path[i].pweight = (path[i].pweight * (depth + 1) as f64) / (zero * (depth - i) as f64);
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f64 {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let mut next_one = path[depth].pweight;
    let mut total = 0.0;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = next_one * (depth + 1) as f64 / ((i + 1) as f64 * one);
            total += tmp;
            next_one = path[i].pweight - tmp * zero * ((depth - i) as f64 / (depth + 1) as f64);
        } else if zero != 0.0 {
            total += (path[i].pweight / zero) / ((depth - i) as f64 / (depth + 1) as f64);
        }
    }
    total
}

#[allow(clippy::too_many_arguments)]
fn recurse(
    t: &Tree,
    x: &[f64],
    phi: &mut [f64],
    node: i32,
    depth: usize,
    parent: &[PathElement],
    zero: f64,
    one: f64,
    feature: i64,
) {
    // Each level works on its own copy of the path (LightGBM slices one buffer the same way).
    let mut path = parent[..depth].to_vec();
    path.resize(depth + 1, PathElement::default());
    extend(&mut path, depth, zero, one, feature);
    if node < 0 {
        let leaf = t.leaf_value[(!node) as usize];
        for i in 1..=depth {
            let w = unwound_sum(&path, depth, i);
            let el = path[i];
            phi[el.feature as usize] += w * (el.one_fraction - el.zero_fraction) * leaf;
        }
        return;
    }
    let n = node as usize;
    let split = t.split_feature[n];
    let hot = t.decision(x[split], n);
    let cold = if hot == t.left_child[n] {
        t.right_child[n]
    } else {
        t.left_child[n]
    };
    let w = t.data_count(node);
    let hot_zero = t.data_count(hot) / w;
    let cold_zero = t.data_count(cold) / w;
    let (mut in_zero, mut in_one) = (1.0, 1.0);
    let mut depth = depth;
    if let Some(k) = (0..=depth).find(|&k| path[k].feature == split as i64) {
        in_zero = path[k].zero_fraction;
        in_one = path[k].one_fraction;
        unwind(&mut path, depth, k);
        depth -= 1;
    }
    recurse(
        t,
        x,
        phi,
        hot,
        depth + 1,
        &path,
        hot_zero * in_zero,
        in_one,
        split as i64,
    );
    recurse(
        t,
        x,
        phi,
        cold,
        depth + 1,
        &path,
        cold_zero * in_zero,
        0.0,
        split as i64,
    );
}

/// The deepest tree TreeSHAP explains. Its recursion and the paths it keeps grow with depth
/// (memory as depth²), so a hostile or degenerate chain of 50,000 splits is refused instead of
/// overflowing the stack. LightGBM's own trees rarely pass a few dozen levels.
pub const MAX_SHAP_DEPTH: usize = 1000;

impl GbdtModel {
    /// SHAP contributions: for each output, one value per feature followed by the bias, in
    /// LightGBM's `pred_contrib` layout (`num_outputs * (num_features + 1)` values). Each output's
    /// row sums to its raw score. A tree deeper than [`MAX_SHAP_DEPTH`] is an error.
    pub fn contributions(&self, row: &[f64]) -> Result<Vec<f64>> {
        if let Some((i, d)) = self
            .trees
            .iter()
            .map(Tree::max_depth)
            .enumerate()
            .find(|&(_, d)| d > MAX_SHAP_DEPTH)
        {
            return Err(Error::Train(format!(
                "TreeSHAP: tree {i} is {d} levels deep, more than {MAX_SHAP_DEPTH} (MAX_SHAP_DEPTH)"
            )));
        }
        let x = self.prepare(row);
        let f = self.num_features();
        let k = self.num_tree_per_iteration;
        let mut out = vec![0.0; k * (f + 1)];
        for (i, t) in self.trees.iter().enumerate() {
            let phi = &mut out[(i % k) * (f + 1)..(i % k + 1) * (f + 1)];
            phi[f] += t.expected_value();
            if t.num_leaves > 1 {
                recurse(t, &x, phi, 0, 0, &[], 1.0, 1.0, -1);
            }
        }
        Ok(out)
    }
}
