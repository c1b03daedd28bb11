//! The objectives' data side exactly as LightGBM 4.7 computes it: labels are `float`
//! (`label_t`), gradients and hessians are rounded to `float` (`score_t`), scores stay double.
//! The rounding decides near-ties between splits, so it is part of the trees.

use crate::split::K_EPSILON;
use crate::train::{GbdtObjective, GbdtParams};

/// The labels as LightGBM stores them (f32).
pub(crate) fn labels(y: &[f64]) -> Vec<f32> {
    y.iter().map(|&v| v as f32).collect()
}

/// The starting score per output (`BoostFromScore`): the mean label, the log-odds of the
/// positive rate clamped to [kEpsilon, 1 - kEpsilon], the log of each class's frequency. A
/// starting score within kEpsilon of 0 is 0, as LightGBM then boosts from nothing.
pub(crate) fn initial_scores(p: &GbdtParams, y: &[f32]) -> Vec<f64> {
    let n = y.len() as f64;
    let raw = match p.objective {
        GbdtObjective::Regression => vec![y.iter().fold(0.0, |s, &v| s + f64::from(v)) / n],
        GbdtObjective::Binary => {
            let pos = y
                .iter()
                .fold(0.0, |s, &v| s + if v > 0.0 { 1.0 } else { 0.0 });
            let pavg = (pos / n).clamp(K_EPSILON, 1.0 - K_EPSILON);
            vec![(pavg / (1.0 - pavg)).ln()]
        }
        GbdtObjective::Multiclass => class_shares(y, p.num_class)
            .into_iter()
            .map(|share| share.max(K_EPSILON).ln())
            .collect(),
    };
    raw.into_iter()
        .map(|v| if v.abs() > K_EPSILON { v } else { 0.0 })
        .collect()
}

/// Each class's share of the rows (multiclass labels are class indices).
fn class_shares(y: &[f32], k: usize) -> Vec<f64> {
    let mut counts = vec![0.0; k];
    for &v in y {
        if let Some(c) = counts.get_mut(v as usize) {
            *c += 1.0;
        }
    }
    counts.iter().map(|c| c / y.len() as f64).collect()
}

/// Softmax of each row's scores for multiclass (`Common::Softmax`, taken once per iteration
/// before any of its trees, as LightGBM does); empty for the other objectives.
pub(crate) fn class_probabilities(p: &GbdtParams, scores: &[f64]) -> Vec<f64> {
    if p.objective != GbdtObjective::Multiclass {
        return Vec::new();
    }
    let mut out = scores.to_vec();
    for row in out.chunks_mut(p.num_class) {
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut z = 0.0;
        for v in row.iter_mut() {
            *v = (*v - m).exp();
            z += *v;
        }
        row.iter_mut().for_each(|v| *v /= z);
    }
    out
}

/// Gradients `g` and hessians `h` (rounded to f32) of the loss for output `c` at the current
/// `scores` (row-major, one per output), with LightGBM's formulas.
pub(crate) fn gradients(
    p: &GbdtParams,
    y: &[f32],
    (scores, probs): (&[f64], &[f64]),
    c: usize,
    g: &mut [f32],
    h: &mut [f32],
) {
    let k = if p.objective == GbdtObjective::Multiclass {
        p.num_class
    } else {
        1
    };
    // LightGBM's multiclass hessian factor k / (k - 1).
    let factor = k as f64 / (k as f64 - 1.0);
    for r in 0..y.len() {
        let s = scores[r * k + c];
        (g[r], h[r]) = match p.objective {
            GbdtObjective::Regression => ((s - f64::from(y[r])) as f32, 1.0),
            GbdtObjective::Binary => {
                let label = if y[r] > 0.0 { 1.0 } else { -1.0 };
                let response = -label / (1.0 + (label * s).exp());
                let a = response.abs();
                (response as f32, (a * (1.0 - a)) as f32)
            }
            GbdtObjective::Multiclass => {
                let q = probs[r * k + c];
                let g = if y[r] as usize == c { q - 1.0 } else { q };
                (g as f32, (factor * q * (1.0 - q)) as f32)
            }
        };
    }
}
