//! How steady a model is across refits: its fold Sharpe ratios, its rank among the models fold by
//! fold, and how much its fitted parameters move (coefficient sign flips, top-feature turnover).

use serde::Serialize;
use serde_json::Value;

use crate::metrics::{mean, std};

/// A model's stability figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stability {
    pub folds: usize,
    /// Share of folds with a positive net Sharpe ratio.
    pub positive_folds: f64,
    pub fold_sharpe_mean: f64,
    /// Sample standard deviation of the fold Sharpe ratios.
    pub fold_sharpe_std: f64,
    /// The model's mean rank among the models, fold by fold (1 = best).
    pub fold_rank_mean: f64,
    pub fold_rank_std: f64,
    /// Linear models: the mean share of coefficients whose sign flips from one refit to the next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coef_sign_flips: Option<f64>,
    /// Tree models: the mean share of the top features by gain that change from one refit to the
    /// next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_feature_turnover: Option<f64>,
}

/// How many of the top features by gain the turnover compares.
const TOP_FEATURES: usize = 5;

/// Stability of model `m`, given every model's fold Sharpe ratios (same folds for all).
pub fn stability(m: usize, fold_sharpes: &[Vec<f64>], fitted: &[Value]) -> Stability {
    let own = &fold_sharpes[m];
    let ranks: Vec<f64> = fold_ranks(fold_sharpes).iter().map(|r| r[m]).collect();
    let finite: Vec<f64> = own.iter().copied().filter(|s| s.is_finite()).collect();
    Stability {
        folds: own.len(),
        positive_folds: share(own.iter().filter(|s| **s > 0.0).count(), own.len()),
        fold_sharpe_mean: mean(&finite),
        fold_sharpe_std: std(&finite),
        fold_rank_mean: mean(&ranks),
        fold_rank_std: std(&ranks),
        coef_sign_flips: consecutive_mean(fitted, coefficient_flips),
        top_feature_turnover: consecutive_mean(fitted, top_turnover),
    }
}

fn share(k: usize, n: usize) -> f64 {
    if n == 0 {
        f64::NAN
    } else {
        k as f64 / n as f64
    }
}

/// `ranks[fold][model]`: 1 for the best fold Sharpe ratio; ties share their mean rank; a
/// missing (NaN) Sharpe ratio ranks last.
pub fn fold_ranks(fold_sharpes: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n_folds = fold_sharpes.iter().map(Vec::len).min().unwrap_or(0);
    (0..n_folds)
        .map(|f| {
            let v: Vec<f64> = fold_sharpes
                .iter()
                .map(|s| {
                    if s[f].is_finite() {
                        -s[f]
                    } else {
                        f64::INFINITY
                    }
                })
                .collect();
            average_ranks(&v)
        })
        .collect()
}

/// Ranks from 1 (smallest), ties averaged.
fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    ranks
}

/// Mean Spearman correlation between consecutive folds' rankings of the models: near 1, the same
/// models lead fold after fold; near 0, the leader is luck. `None` with fewer than three models
/// or two folds.
pub fn fold_rank_correlation(fold_sharpes: &[Vec<f64>]) -> Option<f64> {
    let ranks = fold_ranks(fold_sharpes);
    if fold_sharpes.len() < 3 || ranks.len() < 2 {
        return None;
    }
    let rhos: Vec<f64> = ranks
        .windows(2)
        .filter_map(|w| pearson(&w[0], &w[1]))
        .collect();
    (!rhos.is_empty()).then(|| mean(&rhos))
}

fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let (ma, mb) = (mean(a), mean(b));
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    (va > 0.0 && vb > 0.0).then(|| cov / (va * vb).sqrt())
}

/// The mean of `f` over consecutive fitted descriptions where it applies.
fn consecutive_mean(fitted: &[Value], f: fn(&Value, &Value) -> Option<f64>) -> Option<f64> {
    let v: Vec<f64> = fitted.windows(2).filter_map(|w| f(&w[0], &w[1])).collect();
    (!v.is_empty()).then(|| mean(&v))
}

fn numbers(v: &Value) -> Option<Vec<f64>> {
    v.as_array()?.iter().map(Value::as_f64).collect()
}

/// Share of coefficients whose sign differs between two fits (zeros count as no sign).
fn coefficient_flips(a: &Value, b: &Value) -> Option<f64> {
    let (ca, cb) = (numbers(a.get("coef")?)?, numbers(b.get("coef")?)?);
    if ca.len() != cb.len() || ca.is_empty() {
        return None;
    }
    let flips = ca.iter().zip(&cb).filter(|(x, y)| **x * **y < 0.0).count();
    Some(share(flips, ca.len()))
}

/// The top features by gain of a fit's `importance` list.
fn top_features(v: &Value) -> Option<Vec<String>> {
    let mut rows: Vec<(String, f64)> = v
        .get("importance")?
        .as_array()?
        .iter()
        .filter_map(|r| {
            Some((
                r.get("feature")?.as_str()?.to_string(),
                r.get("gain")?.as_f64()?,
            ))
        })
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(TOP_FEATURES);
    (!rows.is_empty()).then(|| rows.into_iter().map(|r| r.0).collect())
}

fn top_turnover(a: &Value, b: &Value) -> Option<f64> {
    let (ta, tb) = (top_features(a)?, top_features(b)?);
    let n = ta.len().max(tb.len());
    let kept = ta.iter().filter(|f| tb.contains(f)).count();
    Some(share(n - kept, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties_and_put_missing_last() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
        let r = fold_ranks(&[vec![0.5], vec![f64::NAN], vec![1.0]]);
        assert_eq!(r, vec![vec![2.0, 3.0, 1.0]]);
    }

    #[test]
    fn the_same_leader_every_fold_correlates_fully() {
        let s = vec![
            vec![3.0, 2.0, 3.5],
            vec![2.0, 1.0, 2.5],
            vec![1.0, 0.0, 1.5],
        ];
        assert_eq!(fold_rank_correlation(&s), Some(1.0));
        let flipped = vec![vec![3.0, 1.0], vec![2.0, 2.0], vec![1.0, 3.0]];
        assert_eq!(fold_rank_correlation(&flipped), Some(-1.0));
    }

    #[test]
    fn sign_flips_and_turnover_compare_consecutive_fits() {
        let fits = vec![
            serde_json::json!({"coef": [1.0, -1.0, 2.0, 0.5]}),
            serde_json::json!({"coef": [1.0, 1.0, -2.0, 0.5]}),
        ];
        assert_eq!(consecutive_mean(&fits, coefficient_flips), Some(0.5));
        let imp = |g: [f64; 6]| {
            let rows: Vec<Value> = g
                .iter()
                .enumerate()
                .map(|(i, g)| serde_json::json!({"feature": format!("f{i}"), "gain": g}))
                .collect();
            serde_json::json!({ "importance": rows })
        };
        let trees = vec![imp([6., 5., 4., 3., 2., 1.]), imp([1., 5., 4., 3., 2., 6.])];
        assert_eq!(consecutive_mean(&trees, top_turnover), Some(0.2));
        assert_eq!(consecutive_mean(&trees, coefficient_flips), None);
    }
}
