//! The whole model: header, trees, output transform; parsing and writing `model.txt`.

#![deny(clippy::indexing_slicing)] // parses untrusted text: no index may panic

use super::tree::{Tree, dense_value};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum Objective {
    /// Raw score as is (regression, huber, quantile, ...).
    Identity,
    /// `sign(x) * x^2` (`regression sqrt`).
    Sqrt,
    /// `1 / (1 + exp(-k x))` (binary, cross_entropy, multiclassova per class).
    Sigmoid(f64),
    /// Softmax across the classes (multiclass).
    Softmax,
    /// `exp(x)` (poisson, gamma, tweedie).
    Exp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GbdtModel {
    pub num_class: usize,
    pub num_tree_per_iteration: usize,
    pub max_feature_idx: usize,
    pub feature_names: Vec<String>,
    pub objective_line: String,
    pub objective: Objective,
    pub average_output: bool,
    /// Header lines kept verbatim for writing (feature_infos, label_index, ...).
    pub header_extra: Vec<(String, String)>,
    pub trees: Vec<Tree>,
    /// Everything after `end of trees` (importances, parameters), kept verbatim.
    pub trailer: String,
}

fn err(line: usize, message: impl Into<String>) -> Error {
    Error::Parse {
        line,
        message: message.into(),
    }
}

fn parse_objective(line: usize, s: &str) -> Result<Objective> {
    let mut parts = s.split_whitespace();
    let name = parts.next().unwrap_or("");
    let opt = |key: &str| -> Option<f64> {
        s.split_whitespace()
            .find_map(|p| p.strip_prefix(key)?.strip_prefix(':')?.parse().ok())
    };
    Ok(match name {
        "regression" | "regression_l2" | "l2" | "mean_squared_error" | "mse" | "regression_l1"
        | "l1" | "huber" | "fair" | "quantile" | "mape" | "lambdarank" | "rank_xendcg" => {
            if s.split_whitespace().any(|p| p == "sqrt") {
                Objective::Sqrt
            } else {
                Objective::Identity
            }
        }
        "binary" => Objective::Sigmoid(opt("sigmoid").unwrap_or(1.0)),
        "cross_entropy" | "xentropy" => Objective::Sigmoid(1.0),
        "multiclass" | "softmax" => Objective::Softmax,
        "multiclassova" | "multiclass_ova" | "ova" | "ovr" => {
            Objective::Sigmoid(opt("sigmoid").unwrap_or(1.0))
        }
        "poisson" | "gamma" | "tweedie" => Objective::Exp,
        "custom" | "none" => Objective::Identity,
        other => return Err(err(line, format!("unsupported objective `{other}`"))),
    })
}

fn parse_vec<T: std::str::FromStr>(line: usize, key: &str, v: &str) -> Result<Vec<T>> {
    v.split_whitespace()
        .map(|x| {
            x.parse::<T>()
                .map_err(|_| err(line, format!("`{key}`: `{x}` is not a valid number")))
        })
        .collect()
}

/// A number as LightGBM writes it (`inf`, `-inf`, `nan` included).
fn parse_f64(line: usize, key: &str, v: &str) -> Result<Vec<f64>> {
    v.split_whitespace()
        .map(|x| match x {
            "inf" | "+inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            "nan" | "-nan" => Ok(f64::NAN),
            _ => x
                .parse::<f64>()
                .map_err(|_| err(line, format!("`{key}`: `{x}` is not a number"))),
        })
        .collect()
}

/// One `Tree=` block's `key=value` lines (with their line numbers), checked and turned into a
/// [`Tree`] by [`TreeBuilder::build`]. Every check names the line it found wrong, or the block's
/// `Tree=` line when a key is missing.
struct TreeBuilder {
    start: usize,
    fields: Vec<(usize, String, String)>,
}

impl TreeBuilder {
    fn build(self, num_features: usize) -> Result<Tree> {
        // The checks run in a fixed order, so a file with several faults always reports the same
        // first one.
        let num_leaves = self.num_leaves()?;
        let inner = num_leaves - 1;
        let leaf_value = self.f64s("leaf_value", num_leaves, true)?;
        let num_cat = self.num_cat()?;
        let shrinkage = self.shrinkage();
        if inner == 0 {
            return Ok(Tree {
                num_leaves,
                leaf_value,
                leaf_weight: self.f64s("leaf_weight", 1, false)?,
                leaf_count: self.f64s("leaf_count", 1, false)?,
                shrinkage,
                ..Tree::default()
            });
        }
        if self
            .get("is_linear")
            .is_some_and(|(_, _, v)| v.trim() == "1")
        {
            return Err(err(
                self.line_of("is_linear"),
                "linear trees are not supported",
            ));
        }
        let split_feature = self.split_features(inner, num_features)?;
        let decision_type = self.decision_types(inner)?;
        let left_child = self.children("left_child", inner, num_leaves)?;
        let right_child = self.children("right_child", inner, num_leaves)?;
        let threshold = self.f64s("threshold", inner, true)?;
        let (cat_boundaries, cat_threshold) = self.category_sets(num_cat)?;
        self.check_categorical_thresholds(&decision_type, &threshold, num_cat)?;
        Ok(Tree {
            num_leaves,
            num_cat,
            split_feature,
            split_gain: self.f64s("split_gain", inner, false)?,
            threshold,
            decision_type,
            left_child,
            right_child,
            leaf_value,
            leaf_weight: self.f64s("leaf_weight", num_leaves, false)?,
            leaf_count: self.f64s("leaf_count", num_leaves, false)?,
            internal_value: self.f64s("internal_value", inner, false)?,
            internal_weight: self.f64s("internal_weight", inner, false)?,
            internal_count: self.f64s("internal_count", inner, false)?,
            cat_boundaries,
            cat_threshold,
            shrinkage,
        })
    }

    /// The first line with key `k` (a later duplicate is ignored).
    fn get(&self, k: &str) -> Option<&(usize, String, String)> {
        self.fields.iter().find(|(_, key, _)| key == k)
    }

    /// The line of key `k`, or the block's `Tree=` line when the key is absent.
    fn line_of(&self, k: &str) -> usize {
        self.get(k).map_or(self.start, |(l, _, _)| *l)
    }

    fn missing(&self, k: &str) -> Error {
        err(self.start, format!("tree is missing `{k}`"))
    }

    /// `num_leaves`, bounded so that a hostile file cannot ask for huge allocations.
    fn num_leaves(&self) -> Result<usize> {
        let (_, _, v) = self
            .get("num_leaves")
            .ok_or_else(|| self.missing("num_leaves"))?;
        let num_leaves: usize = v
            .trim()
            .parse()
            .map_err(|_| err(self.line_of("num_leaves"), "bad num_leaves"))?;
        if num_leaves == 0 || num_leaves > 1 << 24 {
            return Err(err(
                self.line_of("num_leaves"),
                format!("num_leaves={num_leaves} is out of range"),
            ));
        }
        Ok(num_leaves)
    }

    fn num_cat(&self) -> Result<usize> {
        self.get("num_cat").map_or(Ok(0), |(l, _, v)| {
            v.trim().parse().map_err(|_| err(*l, "bad num_cat"))
        })
    }

    /// `shrinkage` is informational (leaf values already include it): 1 when absent or unreadable.
    fn shrinkage(&self) -> f64 {
        self.get("shrinkage")
            .and_then(|(_, _, v)| v.trim().parse().ok())
            .unwrap_or(1.0)
    }

    /// Exactly `n` numbers under key `k`; an absent optional key reads as `n` zeros.
    fn f64s(&self, k: &str, n: usize, required: bool) -> Result<Vec<f64>> {
        match self.get(k) {
            Some((l, _, v)) => {
                let out = parse_f64(*l, k, v)?;
                if out.len() != n {
                    return Err(err(
                        *l,
                        format!("`{k}` has {} values, expected {n}", out.len()),
                    ));
                }
                Ok(out)
            }
            None if required => Err(self.missing(k)),
            None => Ok(vec![0.0; n]),
        }
    }

    /// Exactly one integer per internal node under the required key `k`.
    fn ints(&self, k: &str, inner: usize) -> Result<Vec<i64>> {
        let (l, _, v) = self.get(k).ok_or_else(|| self.missing(k))?;
        let out: Vec<i64> = parse_vec(*l, k, v)?;
        if out.len() != inner {
            return Err(err(
                *l,
                format!("`{k}` has {} values, expected {inner}", out.len()),
            ));
        }
        Ok(out)
    }

    fn split_features(&self, inner: usize, num_features: usize) -> Result<Vec<usize>> {
        self.ints("split_feature", inner)?
            .into_iter()
            .map(|f| {
                if f < 0 || f as usize >= num_features {
                    Err(err(
                        self.line_of("split_feature"),
                        format!("split feature {f} is outside 0..{num_features}"),
                    ))
                } else {
                    Ok(f as usize)
                }
            })
            .collect()
    }

    fn decision_types(&self, inner: usize) -> Result<Vec<u8>> {
        self.ints("decision_type", inner)?
            .into_iter()
            .map(|d| {
                u8::try_from(d).map_err(|_| {
                    err(
                        self.line_of("decision_type"),
                        format!("decision type {d} is invalid"),
                    )
                })
            })
            .collect()
    }

    /// `left_child` or `right_child`: each an existing leaf (`!leaf`) or a later internal node.
    fn children(&self, k: &str, inner: usize, num_leaves: usize) -> Result<Vec<i32>> {
        self.ints(k, inner)?
            .into_iter()
            .enumerate()
            .map(|(node, c)| {
                // Children are created after their parent, so an internal child has a larger
                // index: this also rules out cycles in a hostile file.
                let ok = if c >= 0 {
                    (c as usize) < inner && c as usize > node
                } else {
                    ((!c) as usize) < num_leaves
                };
                if ok {
                    Ok(c as i32)
                } else {
                    Err(err(
                        self.line_of(k),
                        format!("node {node}: child {c} is invalid"),
                    ))
                }
            })
            .collect()
    }

    /// The category bitsets of categorical splits (`cat_boundaries`, `cat_threshold`), empty
    /// without them. The boundaries must be `num_cat + 1` ascending offsets from 0 to the end of
    /// the thresholds, so that every bitset lookup stays in bounds.
    fn category_sets(&self, num_cat: usize) -> Result<(Vec<usize>, Vec<u32>)> {
        if num_cat == 0 {
            return Ok((vec![], vec![]));
        }
        let (lb, _, vb) = self
            .get("cat_boundaries")
            .ok_or_else(|| self.missing("cat_boundaries"))?;
        let (lt, _, vt) = self
            .get("cat_threshold")
            .ok_or_else(|| self.missing("cat_threshold"))?;
        let b: Vec<usize> = parse_vec(*lb, "cat_boundaries", vb)?;
        let t: Vec<u32> = parse_vec(*lt, "cat_threshold", vt)?;
        if b.len() != num_cat + 1
            || b.windows(2).any(|w| w.first() > w.last())
            || b.last().copied() != Some(t.len())
            || b.first() != Some(&0)
        {
            return Err(err(*lb, "`cat_boundaries` do not describe `cat_threshold`"));
        }
        Ok((b, t))
    }

    /// A categorical node's threshold is the index of its category set.
    fn check_categorical_thresholds(
        &self,
        decision_type: &[u8],
        threshold: &[f64],
        num_cat: usize,
    ) -> Result<()> {
        for (node, (&dt, &t)) in decision_type.iter().zip(threshold).enumerate() {
            if dt & 1 != 0 && !(t >= 0.0 && (t as usize) < num_cat && t.fract() == 0.0) {
                return Err(err(
                    self.line_of("threshold"),
                    format!("node {node}: categorical threshold {t} is not a category set index"),
                ));
            }
        }
        Ok(())
    }
}

/// A model file cut into its parts: header `key=value` lines (a line without `=` is kept as a
/// key with an empty value), the `Tree=` blocks, and everything after `end of trees`.
struct Sections {
    header: Header,
    average_output: bool,
    blocks: Vec<TreeBuilder>,
    trailer: String,
}

impl Sections {
    fn read(text: &str) -> Result<Self> {
        let mut header: Vec<(usize, String, String)> = Vec::new();
        let mut average_output = false;
        let mut blocks: Vec<TreeBuilder> = Vec::new();
        let mut trailer = String::new();
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        let mut in_trees = false;
        for (no, raw) in lines.by_ref() {
            let line = raw.trim_end_matches('\r');
            if line == "end of trees" {
                break;
            }
            if line.is_empty() {
                continue;
            }
            if line == "average_output" {
                average_output = true;
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                if in_trees {
                    return Err(err(
                        no,
                        format!(
                            "expected key=value, found `{}`",
                            line.chars().take(40).collect::<String>()
                        ),
                    ));
                }
                header.push((no, line.to_string(), String::new()));
                continue;
            };
            if k == "Tree" {
                in_trees = true;
                blocks.push(TreeBuilder {
                    start: no,
                    fields: Vec::new(),
                });
            } else if let Some(tree) = blocks.last_mut().filter(|_| in_trees) {
                tree.fields.push((no, k.to_string(), v.to_string()));
            } else {
                header.push((no, k.to_string(), v.to_string()));
            }
        }
        // The trailer keeps its lines verbatim ('\r' included), each ended by '\n'.
        for (_, raw) in lines {
            trailer.push_str(raw);
            trailer.push('\n');
        }
        Ok(Sections {
            header: Header(header),
            average_output,
            blocks,
            trailer,
        })
    }
}

/// The header's `(line, key, value)` entries, in file order.
struct Header(Vec<(usize, String, String)>);

impl Header {
    /// Keys the model stores in their own fields (or recomputes), so not in `header_extra`.
    const OWN_KEYS: [&'static str; 7] = [
        "version",
        "num_class",
        "num_tree_per_iteration",
        "max_feature_idx",
        "objective",
        "feature_names",
        "tree_sizes",
    ];

    fn find(&self, k: &str) -> Option<&(usize, String, String)> {
        self.0.iter().find(|(_, key, _)| key == k)
    }

    /// A required non-negative integer.
    fn num(&self, k: &str) -> Result<usize> {
        let (l, _, v) = self
            .find(k)
            .ok_or_else(|| err(1, format!("header is missing `{k}`")))?;
        v.trim()
            .parse()
            .map_err(|_| err(*l, format!("`{k}` is not a number")))
    }

    /// `(num_class, num_tree_per_iteration, max_feature_idx)`, bounded so that a hostile file
    /// cannot ask for huge allocations.
    fn shape(&self) -> Result<(usize, usize, usize)> {
        if self.find("version").is_none() {
            return Err(err(1, "not a LightGBM model (no `version=` header)"));
        }
        let num_class = self.num("num_class")?;
        let num_tree_per_iteration = self.num("num_tree_per_iteration")?;
        let max_feature_idx = self.num("max_feature_idx")?;
        // LightGBM grows 1 or `num_class` trees per iteration. A row's TreeSHAP output holds
        // (features + 1) values per tree of an iteration, so their product is bounded too (a
        // hostile header would otherwise ask for terabytes).
        if num_class == 0
            || num_tree_per_iteration == 0
            || num_class > 100_000
            || num_tree_per_iteration > num_class
            || max_feature_idx > 10_000_000
            || (max_feature_idx + 2).saturating_mul(num_tree_per_iteration) > 1 << 27
        {
            return Err(err(
                self.find("num_class").map_or(1, |x| x.0),
                "num_class / num_tree_per_iteration / max_feature_idx out of range",
            ));
        }
        Ok((num_class, num_tree_per_iteration, max_feature_idx))
    }

    /// The objective line (`regression` when absent) and the output transform it names.
    fn objective(&self) -> Result<(String, Objective)> {
        let (ol, _, objective_line) =
            self.find("objective")
                .cloned()
                .unwrap_or((1, String::new(), "regression".into()));
        let objective = parse_objective(ol, &objective_line)?;
        Ok((objective_line, objective))
    }

    fn feature_names(&self) -> Vec<String> {
        self.find("feature_names")
            .map(|(_, _, v)| v.split_whitespace().map(String::from).collect())
            .unwrap_or_default()
    }

    /// The entries kept verbatim for writing, in file order.
    fn extra(self) -> Vec<(String, String)> {
        self.0
            .into_iter()
            .filter(|(_, k, _)| !Self::OWN_KEYS.contains(&k.as_str()))
            .map(|(_, k, v)| (k, v))
            .collect()
    }
}

impl GbdtModel {
    /// Parse LightGBM's text format. Any malformed or hostile input is an error naming the line.
    pub fn parse(text: &str) -> Result<Self> {
        let Sections {
            header,
            average_output,
            blocks,
            trailer,
        } = Sections::read(text)?;
        let (num_class, num_tree_per_iteration, max_feature_idx) = header.shape()?;
        let (objective_line, objective) = header.objective()?;
        let feature_names = header.feature_names();
        let trees = blocks
            .into_iter()
            .map(|b| b.build(max_feature_idx + 1))
            .collect::<Result<Vec<_>>>()?;
        if trees.len() % num_tree_per_iteration != 0 {
            return Err(err(
                1,
                format!(
                    "{} trees is not a multiple of num_tree_per_iteration={num_tree_per_iteration}",
                    trees.len()
                ),
            ));
        }
        Ok(GbdtModel {
            num_class,
            num_tree_per_iteration,
            max_feature_idx,
            feature_names,
            objective_line,
            objective,
            average_output,
            header_extra: header.extra(),
            trees,
            trailer,
        })
    }

    pub fn num_features(&self) -> usize {
        self.max_feature_idx + 1
    }

    pub fn num_outputs(&self) -> usize {
        self.num_tree_per_iteration
    }

    pub fn num_iterations(&self) -> usize {
        self.trees.len() / self.num_tree_per_iteration
    }

    /// A row as LightGBM's dense predictor sees it: |x| <= 1e-35 becomes 0, NaN stays.
    pub fn prepare(&self, row: &[f64]) -> Vec<f64> {
        let mut x = vec![0.0; self.num_features()];
        for (d, &v) in x.iter_mut().zip(row) {
            *d = dense_value(v);
        }
        x
    }

    /// Raw scores (one per output), summed in tree order. As in LightGBM, a random forest's raw
    /// score is the plain sum; [`Self::predict`] averages it.
    pub fn predict_raw(&self, row: &[f64]) -> Vec<f64> {
        let x = self.prepare(row);
        let k = self.num_tree_per_iteration;
        let mut out = vec![0.0; k];
        // Tree i adds to output i % k: the trees of an iteration, in order.
        for iteration in self.trees.chunks(k.max(1)) {
            for (o, t) in out.iter_mut().zip(iteration) {
                *o += t.predict(&x);
            }
        }
        out
    }

    /// Apply the objective's output transform to raw scores.
    pub fn transform(&self, raw: &mut [f64]) {
        match self.objective {
            Objective::Identity => {}
            Objective::Sqrt => raw.iter_mut().for_each(|v| *v = v.signum() * *v * *v),
            Objective::Sigmoid(k) => raw
                .iter_mut()
                .for_each(|v| *v = 1.0 / (1.0 + (-k * *v).exp())),
            Objective::Exp => raw.iter_mut().for_each(|v| *v = v.exp()),
            Objective::Softmax => {
                let m = raw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mut s = 0.0;
                for v in raw.iter_mut() {
                    *v = (*v - m).exp();
                    s += *v;
                }
                raw.iter_mut().for_each(|v| *v /= s);
            }
        }
    }

    /// Predictions: raw scores, averaged for random forests, then the objective's transform.
    pub fn predict(&self, row: &[f64]) -> Vec<f64> {
        let mut out = self.predict_raw(row);
        if self.average_output {
            let n = self.num_iterations() as f64;
            out.iter_mut().for_each(|v| *v /= n);
        }
        self.transform(&mut out);
        out
    }

    /// Split-count and total-gain importance per feature.
    pub fn importance(&self) -> (Vec<f64>, Vec<f64>) {
        let mut split = vec![0.0; self.num_features()];
        let mut gain = vec![0.0; self.num_features()];
        for t in &self.trees {
            for (f, g) in t.split_feature.iter().zip(&t.split_gain) {
                // Parsing checked every split feature against max_feature_idx.
                if let (Some(s), Some(total)) = (split.get_mut(*f), gain.get_mut(*f)) {
                    *s += 1.0;
                    *total += g;
                }
            }
        }
        (split, gain)
    }

    /// LightGBM's text format, as LightGBM 4.7 writes it (`GBDT::SaveModelToString`,
    /// `Tree::ToString`): the header in its order with `tree_sizes`, thresholds, leaf values
    /// and leaf weights with 17 significant digits (exact), counts as integers, and split
    /// gains (floats), internal values and internal weights with 6 (`{:g}`), so a model
    /// Strider trains as LightGBM does is written byte for byte as LightGBM writes it.
    pub fn write(&self) -> String {
        let mut out = String::from("tree\nversion=v4\n");
        out.push_str(&format!(
            "num_class={}\nnum_tree_per_iteration={}\n",
            self.num_class, self.num_tree_per_iteration
        ));
        let extra = |k: &str, v: &str| {
            if v.is_empty() {
                format!("{k}\n")
            } else {
                format!("{k}={v}\n")
            }
        };
        let (label, rest): (Vec<_>, Vec<_>) = self
            .header_extra
            .iter()
            .filter(|(k, _)| k != "tree")
            .partition(|(k, _)| k == "label_index");
        for (k, v) in label {
            out.push_str(&extra(k, v));
        }
        out.push_str(&format!(
            "max_feature_idx={}\nobjective={}\n",
            self.max_feature_idx, self.objective_line
        ));
        if self.average_output {
            out.push_str("average_output\n");
        }
        let names = if self.feature_names.is_empty() {
            (0..self.num_features())
                .map(|i| format!("Column_{i}"))
                .collect()
        } else {
            self.feature_names.clone()
        };
        out.push_str(&format!("feature_names={}\n", names.join(" ")));
        for (k, v) in rest {
            out.push_str(&extra(k, v));
        }
        let trees: Vec<String> = self
            .trees
            .iter()
            .enumerate()
            .map(|(i, t)| format!("Tree={i}\n{}\n", tree_text(t)))
            .collect();
        let sizes: Vec<String> = trees.iter().map(|t| t.len().to_string()).collect();
        out.push_str(&format!("tree_sizes={}\n\n", sizes.join(" ")));
        trees.iter().for_each(|t| out.push_str(t));
        out.push_str("end of trees\n");
        out.push_str(&self.trailer);
        out
    }
}

/// C's `%.{precision}g` (as LightGBM's `fmt` prints doubles): `precision` significant digits,
/// exponent form below 1e-4 or from 10^precision on (two exponent digits at least), trailing
/// zeros dropped; `inf`, `-inf`, `nan`.
pub(crate) fn format_g(v: f64, precision: usize) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    let p = precision.max(1);
    let sci = format!("{:.*e}", p - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -4 || exp >= p as i64 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        trim(&format!("{:.*}", (p as i64 - 1 - exp) as usize, v))
    }
}

/// A count as LightGBM writes it (an integer; anything else a parsed file held, as is).
fn format_count(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:?}")
    }
}

/// One tree as `Tree::ToString` writes it (the split lines empty for a single leaf).
fn tree_text(t: &Tree) -> String {
    fn join<T>(v: &[T], f: impl Fn(&T) -> String) -> String {
        v.iter().map(f).collect::<Vec<_>>().join(" ")
    }
    let g6 = |x: &f64| format_g(*x, 6);
    let g17 = |x: &f64| format_g(*x, 17);
    let int = |x: &dyn std::fmt::Display| x.to_string();
    let mut out = format!("num_leaves={}\nnum_cat={}\n", t.num_leaves, t.num_cat);
    let lines = [
        ("split_feature", join(&t.split_feature, |x| int(x))),
        ("split_gain", join(&t.split_gain, g6)),
        ("threshold", join(&t.threshold, g17)),
        ("decision_type", join(&t.decision_type, |x| int(x))),
        ("left_child", join(&t.left_child, |x| int(x))),
        ("right_child", join(&t.right_child, |x| int(x))),
        ("leaf_value", join(&t.leaf_value, g17)),
        ("leaf_weight", join(&t.leaf_weight, g17)),
        ("leaf_count", join(&t.leaf_count, |x| format_count(*x))),
        ("internal_value", join(&t.internal_value, g6)),
        ("internal_weight", join(&t.internal_weight, g6)),
        (
            "internal_count",
            join(&t.internal_count, |x| format_count(*x)),
        ),
    ];
    for (k, v) in lines {
        out.push_str(&format!("{k}={v}\n"));
    }
    if t.num_cat > 0 {
        out.push_str(&format!(
            "cat_boundaries={}\n",
            join(&t.cat_boundaries, |x| int(x))
        ));
        out.push_str(&format!(
            "cat_threshold={}\n",
            join(&t.cat_threshold, |x| int(x))
        ));
    }
    out.push_str(&format!(
        "is_linear=0\nshrinkage={}\n\n",
        format_g(t.shrinkage, 6)
    ));
    out
}
