//! The model confidence set (Hansen, Lunde & Nason 2011) as arch 8.0 `MCS` computes it, with the
//! `R` (pairwise, default) or `max` statistic. Every model is resampled on the same stationary
//! bootstrap indices; models are eliminated one at a time (`R`) or all tied at the maximum
//! (`max`); MCS p-values are the running maximum of the elimination p-values; the set keeps the
//! models with p-value > `size`.

use serde::Serialize;

use super::bootstrap::{StationaryBootstrap, default_block_size};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum McsMethod {
    #[default]
    R,
    Max,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mcs {
    /// MCS p-value of each model, in input order.
    pub p_values: Vec<f64>,
    /// Models in the set (p-value > size), in input order.
    pub included: Vec<usize>,
    pub excluded: Vec<usize>,
    pub size: f64,
    pub method: McsMethod,
    pub block_size: usize,
    pub reps: usize,
}

/// `losses[j][t]`: model j's loss at period t.
pub fn model_confidence_set(
    losses: &[Vec<f64>],
    size: f64,
    reps: usize,
    block_size: Option<usize>,
    method: McsMethod,
    seed: u64,
) -> Result<Mcs> {
    let (k, t) = check_shape(losses)?;
    if reps == 0 {
        return Err(Error::stats("mcs", "needs at least 1 bootstrap repetition"));
    }
    let block = block_size.unwrap_or_else(|| default_block_size(t));
    let tf = t as f64;
    let means: Vec<f64> = losses.iter().map(|l| l.iter().sum::<f64>() / tf).collect();
    let boot = bootstrap_means(losses, block, reps, seed);
    let eliminated = match method {
        McsMethod::R => eliminate_by_r(&means, &boot, reps),
        McsMethod::Max => eliminate_by_max(&means, &boot, reps),
    };
    let p_values = mcs_p_values(k, eliminated);
    Ok(Mcs {
        included: (0..k).filter(|&j| p_values[j] > size).collect(),
        excluded: (0..k).filter(|&j| p_values[j] <= size).collect(),
        p_values,
        size,
        method,
        block_size: block,
        reps,
    })
}

/// The number of models and periods, once there are enough of both and every model has a loss
/// for every period.
fn check_shape(losses: &[Vec<f64>]) -> Result<(usize, usize)> {
    let k = losses.len();
    let t = losses.first().map_or(0, Vec::len);
    if k < 2 || t < 3 || losses.iter().any(|l| l.len() != t) {
        return Err(Error::stats(
            "mcs",
            "needs >= 2 models, >= 3 periods, equal lengths",
        ));
    }
    Ok((k, t))
}

/// Bootstrap mean loss of every model, `boot[b][j]`; all models share each draw's indices so
/// their differences keep the cross-model dependence.
fn bootstrap_means(losses: &[Vec<f64>], block: usize, reps: usize, seed: u64) -> Vec<Vec<f64>> {
    let t = losses[0].len();
    let tf = t as f64;
    let mut bs = StationaryBootstrap::new(t, block, seed);
    let mut idx = Vec::with_capacity(t);
    (0..reps)
        .map(|_| {
            bs.draw(&mut idx);
            losses
                .iter()
                .map(|l| idx.iter().map(|&i| l[i]).sum::<f64>() / tf)
                .collect()
        })
        .collect()
}

/// Every model with its elimination p-value, in elimination order, the survivors last with 1.
fn with_survivors(mut eliminated: Vec<(usize, f64)>, included: &[bool]) -> Vec<(usize, f64)> {
    let k = included.len();
    eliminated.extend((0..k).filter(|&i| included[i]).map(|i| (i, 1.0)));
    eliminated
}

/// The models still in, once more than one is.
fn contenders(included: &[bool]) -> Option<Vec<usize>> {
    let inc: Vec<usize> = (0..included.len()).filter(|&i| included[i]).collect();
    (inc.len() > 1).then_some(inc)
}

/// MCS p-values: the running maximum of the elimination p-values, by model.
fn mcs_p_values(k: usize, eliminated: Vec<(usize, f64)>) -> Vec<f64> {
    let mut p_values = vec![0.0; k];
    let mut running = 0.0f64;
    for (j, p) in eliminated {
        running = running.max(p);
        p_values[j] = running;
    }
    p_values
}

/// The `R` statistic's ingredients: sample mean losses and the bootstrap variance of every
/// pairwise difference (plus 1 on the diagonal, so that `d_ii / sqrt(var_ii)` is 0, not `NaN`).
struct Pairwise<'a> {
    means: &'a [f64],
    /// `var[i * k + j]`.
    var: Vec<f64>,
    k: usize,
}

impl<'a> Pairwise<'a> {
    fn new(means: &'a [f64], boot: &[Vec<f64>], reps: usize) -> Self {
        let k = means.len();
        let mut p = Pairwise {
            means,
            var: vec![0.0; k * k],
            k,
        };
        for b in boot {
            for i in 0..k {
                for j in 0..k {
                    let x = p.recentred(b, i, j);
                    p.var[i * k + j] += x * x;
                }
            }
        }
        for i in 0..k {
            for j in 0..k {
                p.var[i * k + j] = p.var[i * k + j] / reps as f64 + if i == j { 1.0 } else { 0.0 };
            }
        }
        p
    }

    fn diff(&self, i: usize, j: usize) -> f64 {
        self.means[i] - self.means[j]
    }

    /// A bootstrap difference, recentred on the sample one.
    fn recentred(&self, b: &[f64], i: usize, j: usize) -> f64 {
        (b[i] - b[j]) - self.diff(i, j)
    }

    fn scale(&self, i: usize, j: usize) -> f64 {
        self.var[i * self.k + j].sqrt()
    }

    /// The largest standardised difference among `inc` and the row it comes from (the first in
    /// row-major order, as numpy's arg-max).
    fn statistic(&self, inc: &[usize]) -> (f64, usize) {
        let (mut stat, mut worst) = (f64::NEG_INFINITY, inc[0]);
        for &i in inc {
            for &j in inc {
                let s = self.diff(i, j) / self.scale(i, j);
                if s > stat {
                    stat = s;
                    worst = i;
                }
            }
        }
        (stat, worst)
    }

    /// The statistic of one bootstrap draw, under the null (recentred).
    fn boot_statistic(&self, b: &[f64], inc: &[usize]) -> f64 {
        let mut m = f64::NEG_INFINITY;
        for &i in inc {
            for &j in inc {
                m = m.max(self.recentred(b, i, j) / self.scale(i, j));
            }
        }
        m
    }
}

/// `R` elimination: one model per round, the row of the largest standardised pairwise difference.
fn eliminate_by_r(means: &[f64], boot: &[Vec<f64>], reps: usize) -> Vec<(usize, f64)> {
    let pw = Pairwise::new(means, boot, reps);
    let mut eliminated = Vec::new();
    let mut included = vec![true; means.len()];
    while let Some(inc) = contenders(&included) {
        let (stat, worst) = pw.statistic(&inc);
        let exceed = boot
            .iter()
            // A tie counts as no evidence against the model (identical losses keep p = 1);
            // ties have probability zero on continuous data, so this matches arch there.
            .filter(|b| stat <= pw.boot_statistic(b, &inc))
            .count();
        eliminated.push((worst, exceed as f64 / reps as f64));
        included[worst] = false;
    }
    with_survivors(eliminated, &included)
}

/// Recentred, cross-sectionally demeaned bootstrap average losses, `errs[b][j]`.
fn demeaned_errors(means: &[f64], boot: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let k = means.len();
    boot.iter()
        .map(|b| {
            let e: Vec<f64> = (0..k).map(|j| b[j] - means[j]).collect();
            let m = e.iter().sum::<f64>() / k as f64;
            e.iter().map(|x| x - m).collect()
        })
        .collect()
}

/// One `max` round over the models `inc`: each one's t-statistic, the largest, and its p-value.
fn max_round(means: &[f64], errs: &[Vec<f64>], inc: &[usize], reps: usize) -> (Vec<f64>, f64, f64) {
    // Errors recentred on the contenders' own cross-sectional mean.
    let centred: Vec<Vec<f64>> = errs
        .iter()
        .map(|e| {
            let g = inc.iter().map(|&j| e[j]).sum::<f64>() / inc.len() as f64;
            inc.iter().map(|&j| e[j] - g).collect()
        })
        .collect();
    let sd: Vec<f64> = (0..inc.len())
        .map(|c| (centred.iter().map(|e| e[c] * e[c]).sum::<f64>() / reps as f64).sqrt())
        .collect();
    let grand = inc.iter().map(|&j| means[j]).sum::<f64>() / inc.len() as f64;
    let t_stats: Vec<f64> = inc
        .iter()
        .zip(&sd)
        .map(|(&j, s)| (means[j] - grand) / s)
        .collect();
    let stat = t_stats.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exceed = centred
        .iter()
        .filter(|e| {
            stat <= e
                .iter()
                .zip(&sd)
                .map(|(x, s)| x / s)
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .count();
    (t_stats, stat, exceed as f64 / reps as f64)
}

/// `max` elimination: every model tied at the largest t-statistic leaves in the same round.
fn eliminate_by_max(means: &[f64], boot: &[Vec<f64>], reps: usize) -> Vec<(usize, f64)> {
    let errs = demeaned_errors(means, boot);
    let mut eliminated = Vec::new();
    let mut included = vec![true; means.len()];
    while let Some(inc) = contenders(&included) {
        let (t_stats, stat, p) = max_round(means, &errs, &inc, reps);
        let before = eliminated.len();
        for (c, &j) in inc.iter().enumerate() {
            if t_stats[c] == stat {
                eliminated.push((j, p));
                included[j] = false;
            }
        }
        if eliminated.len() == before {
            // No model stands out (every t-statistic undefined: identical or constant losses):
            // the rest all belong to the set.
            break;
        }
    }
    with_survivors(eliminated, &included)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_losses_all_stay_in_the_set_and_never_hang() {
        let zero = vec![0.0; 40];
        for method in [McsMethod::R, McsMethod::Max] {
            let m = model_confidence_set(&[zero.clone(), zero.clone()], 0.1, 100, None, method, 3)
                .unwrap();
            assert_eq!(m.included, vec![0, 1], "{method:?}: {m:?}");
            assert!(m.excluded.is_empty());
        }
        let constant = vec![vec![1.0; 30], vec![1.0; 30], vec![1.0; 30]];
        let m = model_confidence_set(&constant, 0.1, 50, None, McsMethod::Max, 3).unwrap();
        assert_eq!(m.included.len(), 3);
    }

    #[test]
    fn zero_repetitions_are_an_error() {
        let l: Vec<Vec<f64>> = (0..2)
            .map(|k| (0..20).map(|i| (i * k) as f64).collect())
            .collect();
        assert!(model_confidence_set(&l, 0.1, 0, None, McsMethod::R, 1).is_err());
    }
}
