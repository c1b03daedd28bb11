//! The objectives' data side exactly as LightGBM 4.7 computes it: labels are `float`
//! (`label_t`), gradients and hessians are rounded to `float` (`score_t`), scores stay double.
//! The rounding decides near-ties between splits, so it is part of the trees.

use crate::split::K_EPSILON;
use crate::threads::{Threads, cut};
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
        GbdtObjective::Regression | GbdtObjective::Huber | GbdtObjective::Fair => {
            vec![y.iter().fold(0.0, |s, &v| s + f64::from(v)) / n]
        }
        GbdtObjective::Quantile => {
            let mut labels = y.to_vec();
            vec![f64::from(percentile_f32(&mut labels, quantile_alpha(p)))]
        }
        GbdtObjective::Lambdarank | GbdtObjective::RankXendcg => vec![0.0],
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

/// [`gradients`] by chunks of rows on the threads (each row's are its own, so the bits do not
/// depend on the chunks).
pub(crate) fn gradients_on(
    threads: &Threads,
    p: &GbdtParams,
    y: &[f32],
    (scores, probs): (&[f64], &[f64]),
    c: usize,
    (g, h): (&mut [f32], &mut [f32]),
) {
    let k = scores.len() / y.len().max(1);
    let chunks = threads.row_chunks(y.len());
    let parts: Vec<_> = chunks
        .iter()
        .copied()
        .zip(cut(g, &chunks))
        .zip(cut(h, &chunks))
        .collect();
    threads.map_into(parts, |(((start, end), g), h)| {
        let probs = probs.get(start * k..end * k).unwrap_or(&[]);
        gradients(
            p,
            &y[start..end],
            (&scores[start * k..end * k], probs),
            c,
            g,
            h,
        );
    });
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
            GbdtObjective::Huber => {
                let diff = s - f64::from(y[r]);
                if diff.abs() <= p.alpha {
                    (diff as f32, 1.0)
                } else {
                    ((sign(diff) * p.alpha) as f32, 1.0)
                }
            }
            GbdtObjective::Fair => {
                let (x, c) = (s - f64::from(y[r]), p.fair_c);
                let d = x.abs() + c;
                ((c * x / d) as f32, (c * c / (d * d)) as f32)
            }
            GbdtObjective::Quantile => {
                let alpha = quantile_alpha(p);
                let delta = (s - f64::from(y[r])) as f32;
                (if delta >= 0.0 { 1.0 - alpha } else { -alpha }, 1.0)
            }
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
            GbdtObjective::Lambdarank | GbdtObjective::RankXendcg => {
                unreachable!("ranking gradients come from rank::Ranking")
            }
        };
    }
}

/// `Common::Sign`: -1, 0 or 1.
fn sign(x: f64) -> f64 {
    f64::from(i8::from(x > 0.0) - i8::from(x < 0.0))
}

/// The quantile objective's `alpha` as LightGBM holds it (a float).
fn quantile_alpha(p: &GbdtParams) -> f32 {
    p.alpha as f32
}

/// LightGBM's `PercentileFun`: the value at position (n - 1) * (1 - alpha) of the data sorted
/// from the largest, interpolated between its neighbours. `data` is reordered.
fn percentile_f32(data: &mut [f32], alpha: f32) -> f32 {
    let Some((v1, v2, bias)) = percentile_neighbours(data, f64::from(alpha)) else {
        return data[0];
    };
    // The difference in float, then widened, as C++ evaluates `v1 - (v1 - v2) * bias`.
    (f64::from(v1) - f64::from(v1 - v2) * bias) as f32
}

/// `PercentileFun` on doubles (the leaf renewal of the quantile objective).
fn percentile_f64(data: &mut [f64], alpha: f64) -> f64 {
    match percentile_neighbours(data, alpha) {
        Some((v1, v2, bias)) => v1 - (v1 - v2) * bias,
        None => data[0],
    }
}

/// The two values `PercentileFun` interpolates between and the weight of the second; `None`
/// when it returns `data[0]` (so the caller returns it) after placing the answer there.
fn percentile_neighbours<T: Copy + PartialOrd>(data: &mut [T], alpha: f64) -> Option<(T, T, f64)> {
    let n = data.len();
    if n <= 1 {
        return None;
    }
    let descending = |a: &T, b: &T| b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal);
    let float_pos = (n - 1) as f64 * (1.0 - alpha);
    let pos = float_pos as usize + 1;
    if pos >= n {
        // The smallest value.
        let min = *data
            .iter()
            .min_by(|a, b| descending(b, a))
            .unwrap_or(&data[0]);
        data[0] = min;
        return None;
    }
    data.sort_by(descending);
    Some((data[pos - 1], data[pos], float_pos - (pos - 1) as f64))
}

/// The quantile objective's leaf renewal (`RenewTreeOutput`): each leaf's output becomes the
/// `alpha` quantile of its rows' residuals `label - score` (before the learning rate).
pub(crate) fn renewed_leaf_output(p: &GbdtParams, residuals: &mut [f64]) -> Option<f64> {
    (p.objective == GbdtObjective::Quantile && !residuals.is_empty())
        .then(|| percentile_f64(residuals, f64::from(quantile_alpha(p))))
}
