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
    let k = losses.len();
    let t = losses.first().map_or(0, Vec::len);
    if k < 2 || t < 3 || losses.iter().any(|l| l.len() != t) {
        return Err(Error::Config(
            "mcs: needs >= 2 models, >= 3 periods, equal lengths".into(),
        ));
    }
    let block = block_size.unwrap_or_else(|| default_block_size(t));
    let tf = t as f64;
    let means: Vec<f64> = losses.iter().map(|l| l.iter().sum::<f64>() / tf).collect();
    // Bootstrap means of every model on shared indices: boot[b][j].
    let mut bs = StationaryBootstrap::new(t, block, seed);
    let mut idx = Vec::with_capacity(t);
    let boot: Vec<Vec<f64>> = (0..reps)
        .map(|_| {
            bs.draw(&mut idx);
            losses
                .iter()
                .map(|l| idx.iter().map(|&i| l[i]).sum::<f64>() / tf)
                .collect()
        })
        .collect();
    let mut eliminated: Vec<(usize, f64)> = Vec::new();
    let mut included = vec![true; k];
    match method {
        McsMethod::R => {
            // Standardised pairwise differences and their recentred bootstrap versions.
            let diff = |i: usize, j: usize| means[i] - means[j];
            let mut var = vec![0.0; k * k];
            for b in &boot {
                for i in 0..k {
                    for j in 0..k {
                        let x = (b[i] - b[j]) - diff(i, j);
                        var[i * k + j] += x * x;
                    }
                }
            }
            for i in 0..k {
                for j in 0..k {
                    var[i * k + j] = var[i * k + j] / reps as f64 + if i == j { 1.0 } else { 0.0 };
                }
            }
            while included.iter().filter(|x| **x).count() > 1 {
                let inc: Vec<usize> = (0..k).filter(|&i| included[i]).collect();
                // Test statistic and its arg-max (first in row-major order, as numpy).
                let (mut stat, mut worst) = (f64::NEG_INFINITY, inc[0]);
                for &i in &inc {
                    for &j in &inc {
                        let s = diff(i, j) / var[i * k + j].sqrt();
                        if s > stat {
                            stat = s;
                            worst = i;
                        }
                    }
                }
                let exceed = boot
                    .iter()
                    .filter(|b| {
                        let mut m = f64::NEG_INFINITY;
                        for &i in &inc {
                            for &j in &inc {
                                m = m.max(((b[i] - b[j]) - diff(i, j)) / var[i * k + j].sqrt());
                            }
                        }
                        stat < m
                    })
                    .count();
                eliminated.push((worst, exceed as f64 / reps as f64));
                included[worst] = false;
            }
        }
        McsMethod::Max => {
            // Recentred, cross-sectionally demeaned bootstrap average losses.
            let errs: Vec<Vec<f64>> = boot
                .iter()
                .map(|b| {
                    let e: Vec<f64> = (0..k).map(|j| b[j] - means[j]).collect();
                    let m = e.iter().sum::<f64>() / k as f64;
                    e.iter().map(|x| x - m).collect()
                })
                .collect();
            while included.iter().filter(|x| **x).count() > 1 {
                let inc: Vec<usize> = (0..k).filter(|&i| included[i]).collect();
                let centred: Vec<Vec<f64>> = errs
                    .iter()
                    .map(|e| {
                        let g = inc.iter().map(|&j| e[j]).sum::<f64>() / inc.len() as f64;
                        inc.iter().map(|&j| e[j] - g).collect()
                    })
                    .collect();
                let sd: Vec<f64> = (0..inc.len())
                    .map(|c| {
                        (centred.iter().map(|e| e[c] * e[c]).sum::<f64>() / reps as f64).sqrt()
                    })
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
                        stat < e
                            .iter()
                            .zip(&sd)
                            .map(|(x, s)| x / s)
                            .fold(f64::NEG_INFINITY, f64::max)
                    })
                    .count();
                let p = exceed as f64 / reps as f64;
                for (c, &j) in inc.iter().enumerate() {
                    if t_stats[c] == stat {
                        eliminated.push((j, p));
                        included[j] = false;
                    }
                }
            }
        }
    }
    eliminated.extend((0..k).filter(|&i| included[i]).map(|i| (i, 1.0)));
    let mut p_values = vec![0.0; k];
    let mut running = 0.0f64;
    for (j, p) in eliminated {
        running = running.max(p);
        p_values[j] = running;
    }
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
