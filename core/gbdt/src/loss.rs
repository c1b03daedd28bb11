//! The loss reported after every iteration and used for early stopping: LightGBM's default
//! metric of each objective (RMSE, log loss, Huber, Fair, quantile loss), and 1 - NDCG@5 for
//! the ranking objectives (LightGBM's last default `eval_at`; lower is better for all).

use crate::rank;
use crate::train::{GbdtObjective, GbdtParams};

/// The mean loss of `scores` (row-major, one per output) against labels `y`; `groups` are the
/// query groups of ranking data.
pub(crate) fn loss(p: &GbdtParams, scores: &[f64], y: &[f64], groups: &[u32]) -> f64 {
    let n = y.len() as f64;
    let mean = |per_row: &dyn Fn(f64, f64) -> f64| {
        scores
            .iter()
            .zip(y)
            .map(|(s, t)| per_row(*s, *t))
            .sum::<f64>()
            / n
    };
    match p.objective {
        GbdtObjective::Regression => mean(&|s, t| (s - t).powi(2)).sqrt(),
        GbdtObjective::Binary => mean(&|s, t| {
            let q = (1.0 / (1.0 + (-s).exp())).clamp(1e-15, 1.0 - 1e-15);
            -(t * q.ln() + (1.0 - t) * (1.0 - q).ln())
        }),
        GbdtObjective::Multiclass => multiclass_logloss(p.num_class, scores, y),
        GbdtObjective::Huber => mean(&|s, t| {
            let d = (s - t).abs();
            if d <= p.alpha {
                0.5 * d * d
            } else {
                p.alpha * (d - 0.5 * p.alpha)
            }
        }),
        GbdtObjective::Fair => mean(&|s, t| {
            let (x, c) = ((s - t).abs(), p.fair_c);
            c * x - c * c * (x / c + 1.0).ln()
        }),
        GbdtObjective::Quantile => mean(&|s, t| {
            let d = t - s;
            if d < 0.0 {
                (p.alpha - 1.0) * d
            } else {
                p.alpha * d
            }
        }),
        GbdtObjective::Lambdarank | GbdtObjective::RankXendcg => {
            let gains = rank::label_gains(p);
            1.0 - rank::ndcg_at(5, y, scores, groups, &gains)
        }
    }
}

fn multiclass_logloss(k: usize, scores: &[f64], y: &[f64]) -> f64 {
    let mut total = 0.0;
    for (i, t) in y.iter().enumerate() {
        let s = &scores[i * k..(i + 1) * k];
        let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = s.iter().map(|v| (v - m).exp()).sum();
        total -= ((s[*t as usize] - m).exp() / z).max(1e-15).ln();
    }
    total / y.len() as f64
}
