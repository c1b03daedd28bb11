//! One regression tree in LightGBM's array layout, and its decision function.

/// LightGBM's `kZeroThreshold` (1e-35f, as a float widened to double).
pub const ZERO_THRESHOLD: f64 = 1e-35_f32 as f64;

/// A feature value as LightGBM's dense predictor sees it: |x| <= 1e-35 becomes 0, NaN stays.
#[inline]
pub fn dense_value(v: f64) -> f64 {
    if v.is_nan() || v.abs() > ZERO_THRESHOLD {
        v
    } else {
        0.0
    }
}

const MISSING_ZERO: u8 = 1;
const MISSING_NAN: u8 = 2;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tree {
    pub num_leaves: usize,
    pub num_cat: usize,
    pub split_feature: Vec<usize>,
    pub split_gain: Vec<f64>,
    pub threshold: Vec<f64>,
    pub decision_type: Vec<u8>,
    pub left_child: Vec<i32>,
    pub right_child: Vec<i32>,
    pub leaf_value: Vec<f64>,
    pub leaf_weight: Vec<f64>,
    pub leaf_count: Vec<f64>,
    pub internal_value: Vec<f64>,
    pub internal_weight: Vec<f64>,
    pub internal_count: Vec<f64>,
    pub cat_boundaries: Vec<usize>,
    pub cat_threshold: Vec<u32>,
    pub shrinkage: f64,
}

impl Tree {
    /// Which child `x` goes to at internal node `node` (LightGBM `Tree::Decision`).
    #[inline]
    pub fn decision(&self, x: f64, node: usize) -> i32 {
        let dt = self.decision_type[node];
        if dt & 1 != 0 {
            // Categorical: NaN, negative and unseen categories go right. The value is truncated
            // toward zero like C++ `static_cast<int>` (so -0.5 is category 0); values beyond
            // i32 become negative on x86 and go right.
            let c = x as i64;
            let go_left = if x.is_nan() || c < 0 || c > i32::MAX as i64 {
                false
            } else {
                let t = self.threshold[node] as usize;
                let (lo, hi) = (self.cat_boundaries[t], self.cat_boundaries[t + 1]);
                let word = (c / 32) as usize;
                word < hi - lo && (self.cat_threshold[lo + word] >> (c % 32)) & 1 == 1
            };
            return if go_left {
                self.left_child[node]
            } else {
                self.right_child[node]
            };
        }
        let missing = (dt >> 2) & 3;
        let default_left = dt & 2 != 0;
        let mut v = x;
        if v.is_nan() && missing != MISSING_NAN {
            v = 0.0;
        }
        if (missing == MISSING_ZERO && (-ZERO_THRESHOLD..=ZERO_THRESHOLD).contains(&v))
            || (missing == MISSING_NAN && v.is_nan())
        {
            return if default_left {
                self.left_child[node]
            } else {
                self.right_child[node]
            };
        }
        if v <= self.threshold[node] {
            self.left_child[node]
        } else {
            self.right_child[node]
        }
    }

    /// The leaf a row falls into.
    #[inline]
    pub fn leaf(&self, x: &[f64]) -> usize {
        if self.num_leaves <= 1 {
            return 0;
        }
        let mut node: i32 = 0;
        while node >= 0 {
            let n = node as usize;
            node = self.decision(x[self.split_feature[n]], n);
        }
        (!node) as usize
    }

    pub fn predict(&self, x: &[f64]) -> f64 {
        self.leaf_value[self.leaf(x)]
    }

    /// Rows (data count) through a node: internal nodes `>= 0`, leaves `< 0` (`~leaf`).
    pub fn data_count(&self, node: i32) -> f64 {
        if node >= 0 {
            self.internal_count[node as usize]
        } else {
            self.leaf_count[(!node) as usize]
        }
    }

    /// The tree's output averaged over the training rows (TreeSHAP's base value).
    pub fn expected_value(&self) -> f64 {
        if self.num_leaves <= 1 {
            return self.leaf_value[0];
        }
        let total = self.internal_count[0];
        self.leaf_value
            .iter()
            .zip(&self.leaf_count)
            .map(|(v, c)| (c / total) * v)
            .sum()
    }

    ///
    /// Iterative: a tree may be as deep as it has nodes (a chain of 50,000 splits is a valid
    /// model). A node reached twice (not a tree) counts as unboundedly deep (`usize::MAX`).
    pub fn max_depth(&self) -> usize {
        if self.num_leaves <= 1 {
            return 0;
        }
        let mut deepest = 0;
        let mut visits = 0usize;
        let mut stack = vec![(0i32, 1usize)];
        while let Some((node, d)) = stack.pop() {
            if node < 0 {
                continue;
            }
            visits += 1;
            if visits >= self.num_leaves {
                // A tree has num_leaves - 1 internal nodes; one more visit means a shared node.
                return usize::MAX;
            }
            deepest = deepest.max(d);
            let n = node as usize;
            stack.push((self.left_child[n], d + 1));
            stack.push((self.right_child[n], d + 1));
        }
        deepest
    }
}
