//! LightGBM 4.7's ranking objectives, `lambdarank` and `rank_xendcg`, computed as its
//! `rank_objective.hpp` does (same sigmoid table, pair order, float rounding and random draws),
//! so that the trees are LightGBM's; and NDCG as its `ndcg` metric (`dcg_calculator.cpp`).

use std::cmp::Ordering;

use crate::error::{Error, Result};
use crate::split::K_EPSILON;
use crate::train::{GbdtObjective, GbdtParams};

/// LightGBM's `DCGCalculator::kMaxPosition`: the most rows a query may have.
const MAX_QUERY_ROWS: usize = 10_000;
/// Entries of LightGBM's sigmoid lookup table.
const SIGMOID_BINS: usize = 1024 * 1024;

/// LightGBM's default gain of relevance grades 0..30: 2^i - 1.
pub fn default_label_gains() -> Vec<f64> {
    (0..31).map(|i| ((1u64 << i) - 1) as f64).collect()
}

/// The gain of each relevance grade: `label_gain`, or LightGBM's default.
pub(crate) fn label_gains(p: &GbdtParams) -> Vec<f64> {
    if p.label_gain.is_empty() {
        default_label_gains()
    } else {
        p.label_gain.clone()
    }
}

/// `1 / log2(2 + position)`, LightGBM's position discount.
fn discount(position: usize) -> f64 {
    1.0 / (2.0 + position as f64).log2()
}

/// The row ranges of the query groups (`groups` are sizes), checked against the rows and labels:
/// every row in one group, at most 10,000 rows a group, labels integer grades with a gain.
pub(crate) fn query_ranges(groups: &[u32], y: &[f64], gains: usize) -> Result<Vec<(usize, usize)>> {
    let bad = |m: String| Error::Train(m);
    if groups.is_empty() {
        return Err(bad(
            "the ranking objectives need query groups (LightGBM's `group`; `strider gbdt train --group COLUMN`)".into(),
        ));
    }
    let total: u64 = groups.iter().map(|&g| u64::from(g)).sum();
    if total != y.len() as u64 {
        return Err(bad(format!(
            "ranking needs query groups covering the {} rows (their sizes sum to {total})",
            y.len()
        )));
    }
    let mut ranges = Vec::with_capacity(groups.len());
    let mut start = 0;
    for (q, &size) in groups.iter().enumerate() {
        if size == 0 {
            return Err(bad(format!("query group {q} is empty")));
        }
        if size as usize > MAX_QUERY_ROWS {
            return Err(bad(format!(
                "query group {q} has {size} rows, more than LightGBM's {MAX_QUERY_ROWS}"
            )));
        }
        ranges.push((start, size as usize));
        start += size as usize;
    }
    if let Some((i, v)) = y
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.fract() == 0.0 && **v >= 0.0 && (**v as usize) < gains))
    {
        return Err(bad(format!(
            "label {v} on row {i}: ranking labels are grades 0..{} (set label_gain for more)",
            gains - 1
        )));
    }
    Ok(ranges)
}

/// Row indices of a query sorted by score, highest first, ties in row order (`stable_sort`
/// with `>`).
fn by_score(score: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[b].partial_cmp(&score[a]).unwrap_or(Ordering::Equal));
    idx
}

/// The best DCG of a query's labels over its first `k` positions (`CalMaxDCGAtK`).
fn max_dcg_at(k: usize, label: &[f32], gains: &[f64]) -> f64 {
    let mut count = vec![0i64; gains.len()];
    label.iter().for_each(|&l| count[l as usize] += 1);
    let mut top = gains.len() - 1;
    let mut dcg = 0.0;
    for j in 0..k.min(label.len()) {
        while top > 0 && count[top] <= 0 {
            top -= 1;
        }
        dcg += discount(j) * gains[top];
        count[top] -= 1;
    }
    dcg
}

/// Mean NDCG@k over the queries (`groups`: their sizes), LightGBM's `ndcg@k` metric: a query
/// whose labels are all 0 counts as 1. NaN when a label is not a grade with a gain, or the
/// groups do not cover the rows.
pub fn ndcg_at(k: usize, label: &[f64], score: &[f64], groups: &[u32], gains: &[f64]) -> f64 {
    let rows: u64 = groups.iter().map(|&g| u64::from(g)).sum();
    let graded = |v: &f64| v.fract() == 0.0 && *v >= 0.0 && (*v as usize) < gains.len();
    if rows != label.len() as u64 || score.len() != label.len() || !label.iter().all(graded) {
        return f64::NAN;
    }
    let mut sum = 0.0;
    let mut start = 0;
    for &size in groups {
        let end = start + size as usize;
        let l: Vec<f32> = label[start..end].iter().map(|&v| v as f32).collect();
        let best = max_dcg_at(k, &l, gains);
        sum += if best <= 0.0 {
            1.0
        } else {
            let order = by_score(&score[start..end]);
            let dcg: f64 = (order.iter().take(k).enumerate())
                .map(|(j, &i)| gains[l[i] as usize] * discount(j))
                .sum();
            dcg / best
        };
        start = end;
    }
    sum / groups.len().max(1) as f64
}

/// LightGBM's `Random`: a 32-bit linear congruential generator.
#[derive(Clone)]
struct LcgRandom(u32);

impl LcgRandom {
    /// `RandInt16`: 15 bits.
    fn next_int16(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(214_013).wrapping_add(2_531_011);
        (self.0 >> 16) & 0x7FFF
    }

    /// `NextFloat`: in [0, 1).
    fn next_float(&mut self) -> f32 {
        self.next_int16() as f32 / 32768.0
    }
}

/// `objective_seed`, or LightGBM's when only `seed` is given (`Config::Set`: the fifth
/// `NextShort(0, 32767)` of a generator seeded with `seed`).
fn objective_seed(p: &GbdtParams) -> u32 {
    if let Some(s) = p.objective_seed {
        return s as u32;
    }
    let mut r = LcgRandom(p.seed as i32 as u32);
    (0..5).map(|_| r.next_int16() % 32767).last().unwrap_or(0)
}

/// The ranking objective's state for one training run.
pub(crate) struct Ranking {
    objective: GbdtObjective,
    queries: Vec<(usize, usize)>,
    gains: Vec<f64>,
    truncation: usize,
    norm: bool,
    sigmoid: f64,
    /// `lambdarank`: 1 / max DCG per query (0 when it is 0).
    inverse_max_dcg: Vec<f64>,
    sigmoid_table: SigmoidTable,
    /// `rank_xendcg`: one generator per query, seeded `objective_seed + query`.
    draws: Vec<LcgRandom>,
}

/// LightGBM's lookup table of `1 / (1 + exp(sigmoid * s))`.
struct SigmoidTable {
    table: Vec<f64>,
    min_input: f64,
    max_input: f64,
    idx_factor: f64,
}

impl SigmoidTable {
    fn new(sigmoid: f64) -> Self {
        let min_input = -50.0 / sigmoid / 2.0;
        let max_input = -min_input;
        let idx_factor = SIGMOID_BINS as f64 / (max_input - min_input);
        let table = (0..SIGMOID_BINS)
            .map(|i| {
                let s = i as f64 / idx_factor + min_input;
                1.0 / (1.0 + (s * sigmoid).exp())
            })
            .collect();
        Self {
            table,
            min_input,
            max_input,
            idx_factor,
        }
    }

    fn get(&self, s: f64) -> f64 {
        if s <= self.min_input {
            self.table[0]
        } else if s >= self.max_input {
            self.table[SIGMOID_BINS - 1]
        } else {
            // (Rounding may reach the end just below `max_input`.)
            self.table[(((s - self.min_input) * self.idx_factor) as usize).min(SIGMOID_BINS - 1)]
        }
    }
}

impl Ranking {
    /// The state for `p`'s ranking objective on labels `y` (as f32) in groups `groups`.
    pub(crate) fn new(p: &GbdtParams, y: &[f32], queries: Vec<(usize, usize)>) -> Self {
        let gains = label_gains(p);
        let lambdarank = p.objective == GbdtObjective::Lambdarank;
        let inverse_max_dcg = if lambdarank {
            (queries.iter())
                .map(|&(s, n)| {
                    let m = max_dcg_at(p.lambdarank_truncation_level, &y[s..s + n], &gains);
                    if m > 0.0 { 1.0 / m } else { m }
                })
                .collect()
        } else {
            Vec::new()
        };
        let draws = (0..queries.len())
            .map(|q| LcgRandom(objective_seed(p).wrapping_add(q as u32)))
            .collect();
        Self {
            objective: p.objective,
            sigmoid_table: SigmoidTable::new(if lambdarank { p.sigmoid } else { 1.0 }),
            queries,
            gains,
            truncation: p.lambdarank_truncation_level,
            norm: p.lambdarank_norm,
            sigmoid: p.sigmoid,
            inverse_max_dcg,
            draws,
        }
    }

    /// Gradients and hessians of every row, query by query.
    pub(crate) fn gradients(&mut self, y: &[f32], scores: &[f64], g: &mut [f32], h: &mut [f32]) {
        for q in 0..self.queries.len() {
            let (s, n) = self.queries[q];
            let rows = s..s + n;
            let (label, score) = (&y[rows.clone()], &scores[rows.clone()]);
            let (g, h) = (&mut g[rows.clone()], &mut h[rows]);
            if self.objective == GbdtObjective::Lambdarank {
                self.lambdarank_query(q, label, score, (g, h));
            } else {
                self.xendcg_query(q, label, score, (g, h));
            }
        }
    }

    /// `LambdarankNDCG::GetGradientsForOneQuery`.
    fn lambdarank_query(
        &self,
        q: usize,
        label: &[f32],
        score: &[f64],
        out: (&mut [f32], &mut [f32]),
    ) {
        let (lambdas, hessians) = out;
        lambdas.fill(0.0);
        hessians.fill(0.0);
        let cnt = label.len();
        let order = by_score(score);
        let best_score = score[order[0]];
        let mut worst = cnt - 1;
        if worst > 0 && score[order[worst]] == f64::NEG_INFINITY {
            worst -= 1;
        }
        let worst_score = score[order[worst]];
        let mut sum_lambdas = 0.0;
        for i in 0..(cnt - 1).min(self.truncation) {
            if score[order[i]] == f64::NEG_INFINITY {
                continue;
            }
            for j in i + 1..cnt {
                if score[order[j]] == f64::NEG_INFINITY || label[order[i]] == label[order[j]] {
                    continue;
                }
                let (high_rank, low_rank) = if label[order[i]] > label[order[j]] {
                    (i, j)
                } else {
                    (j, i)
                };
                let (high, low) = (order[high_rank], order[low_rank]);
                let delta_score = score[high] - score[low];
                let dcg_gap = self.gains[label[high] as usize] - self.gains[label[low] as usize];
                let paired_discount = (discount(high_rank) - discount(low_rank)).abs();
                let mut delta_ndcg = dcg_gap * paired_discount * self.inverse_max_dcg[q];
                if self.norm && best_score != worst_score {
                    delta_ndcg /= f64::from(0.01f32) + delta_score.abs();
                }
                let mut p_lambda = self.sigmoid_table.get(delta_score);
                let mut p_hessian = p_lambda * (1.0 - p_lambda);
                p_lambda *= -self.sigmoid * delta_ndcg;
                p_hessian *= self.sigmoid * self.sigmoid * delta_ndcg;
                lambdas[low] -= p_lambda as f32;
                hessians[low] += p_hessian as f32;
                lambdas[high] += p_lambda as f32;
                hessians[high] += p_hessian as f32;
                sum_lambdas -= 2.0 * p_lambda;
            }
        }
        if self.norm && sum_lambdas > 0.0 {
            let factor = (1.0 + sum_lambdas).log2() / sum_lambdas;
            for (l, h) in lambdas.iter_mut().zip(hessians.iter_mut()) {
                *l = (f64::from(*l) * factor) as f32;
                *h = (f64::from(*h) * factor) as f32;
            }
        }
    }

    /// `RankXENDCG::GetGradientsForOneQuery`: softmax of the scores against a target drawn
    /// around `2^label`, to third order.
    fn xendcg_query(
        &mut self,
        q: usize,
        label: &[f32],
        score: &[f64],
        out: (&mut [f32], &mut [f32]),
    ) {
        let (lambdas, hessians) = out;
        let cnt = label.len();
        if cnt <= 1 {
            lambdas.fill(0.0);
            hessians.fill(0.0);
            return;
        }
        let rho = softmax(score);
        let draws = &mut self.draws[q];
        let mut params: Vec<f64> = (label.iter())
            .map(|&l| 2f64.powi(l as i32) - f64::from(draws.next_float()))
            .collect();
        let inv_denominator = 1.0 / params.iter().sum::<f64>().max(K_EPSILON);
        let mut sum_l1 = 0.0;
        for i in 0..cnt {
            let term = -params[i] * inv_denominator + rho[i];
            lambdas[i] = term as f32;
            params[i] = term / (1.0 - rho[i]);
            sum_l1 += params[i];
        }
        let mut sum_l2 = 0.0;
        for i in 0..cnt {
            let term = rho[i] * (sum_l1 - params[i]);
            lambdas[i] += term as f32;
            params[i] = term / (1.0 - rho[i]);
            sum_l2 += params[i];
        }
        for i in 0..cnt {
            lambdas[i] += (rho[i] * (sum_l2 - params[i])) as f32;
            hessians[i] = (rho[i] * (1.0 - rho[i])) as f32;
        }
    }
}

/// `Common::Softmax`: the sum accumulated in order.
fn softmax(score: &[f64]) -> Vec<f64> {
    let m = score.iter().copied().fold(score[0], f64::max);
    let mut out: Vec<f64> = score.iter().map(|s| (s - m).exp()).collect();
    let sum: f64 = out.iter().fold(0.0, |a, v| a + v);
    out.iter_mut().for_each(|v| *v /= sum);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lightgbms_generator_draws_its_sequence() {
        // x = 5: 5 * 214013 + 2531011 = 3601076; (3601076 >> 16) & 0x7FFF = 54.
        let mut r = LcgRandom(5);
        assert_eq!(r.next_float(), 54.0 / 32768.0);
    }

    #[test]
    fn bad_query_groups_and_grades_are_errors_not_panics() {
        use crate::train::{TrainData, train};
        let x: Vec<f64> = (0..40).map(f64::from).collect();
        let y: Vec<f64> = (0..40).map(|i| f64::from(i % 4)).collect();
        let p = GbdtParams {
            objective: GbdtObjective::Lambdarank,
            num_iterations: 2,
            min_data_in_leaf: 1,
            ..GbdtParams::default()
        };
        let run = |groups: &[u32], y: &[f64], p: &GbdtParams| {
            let data = TrainData {
                x: &x,
                n_features: 1,
                y,
                feature_names: vec![],
                groups,
            };
            train(p, &data, None, &mut |_, _, _| {}).map(|_| ())
        };
        assert!(run(&[20, 20], &y, &p).is_ok());
        for (groups, want) in [
            (&[][..], "need query groups"),
            (&[20, 0, 20][..], "query group 1 is empty"),
            (&[20, 19][..], "sizes sum to 39"),
        ] {
            let e = run(groups, &y, &p).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        let mut y31 = y.clone();
        y31[7] = 31.0;
        let e = run(&[40], &y31, &p).unwrap_err().to_string();
        assert!(e.contains("row 7"), "{e}");
        let mut tiny = p.clone();
        tiny.sigmoid = 1e-300;
        assert!(run(&[40], &y, &tiny).is_ok());
        tiny.sigmoid = f64::INFINITY;
        assert!(run(&[40], &y, &tiny).is_err());
    }

    #[test]
    fn ndcg_is_one_for_the_ideal_order_and_less_otherwise() {
        let gains = (0..31)
            .map(|i| ((1u64 << i) - 1) as f64)
            .collect::<Vec<_>>();
        let y = [2.0, 0.0, 1.0];
        assert_eq!(ndcg_at(3, &y, &[3.0, 1.0, 2.0], &[3], &gains), 1.0);
        let worst = ndcg_at(3, &y, &[1.0, 3.0, 2.0], &[3], &gains);
        // DCG = 0/1 + 1/log2(3) + 3/log2(4); ideal = 3 + 1/log2(3).
        let want = (1.0 / 3f64.log2() + 1.5) / (3.0 + 1.0 / 3f64.log2());
        assert!((worst - want).abs() < 1e-15, "{worst} vs {want}");
        assert_eq!(ndcg_at(3, &[0.0, 0.0], &[1.0, 2.0], &[2], &gains), 1.0);
        assert!(ndcg_at(3, &[31.0, 0.0], &[1.0, 2.0], &[2], &gains).is_nan());
    }
}
