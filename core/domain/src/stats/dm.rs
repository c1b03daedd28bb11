//! Diebold-Mariano (1995) test of equal predictive accuracy with the Harvey, Leybourne & Newbold
//! (1997) small-sample correction, as PyPI `dieboldmariano` 1.1 (`dm_test`, `acf` variance):
//! `d = L1 - L2`, `V = (g0 + 2 sum_{k<h} g_k) / n` with autocovariances over `n`,
//! `DM* = d_bar / sqrt(V) * sqrt((n + 1 - 2h + h(h-1)/n) / n)` against Student t(n-1), two-sided.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::metrics::mean;
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DieboldMariano {
    /// Mean loss differential `mean(L1 - L2)`: negative means the first is more accurate.
    pub mean_loss_difference: f64,
    /// The HLN-corrected statistic.
    pub statistic: f64,
    pub p_value: f64,
    pub horizon: usize,
    pub n: usize,
}

fn autocovariance(d: &[f64], k: usize, m: f64) -> f64 {
    d[k..]
        .iter()
        .zip(d)
        .map(|(a, b)| (a - m) * (b - m))
        .sum::<f64>()
        / d.len() as f64
}

/// `loss1[t]`, `loss2[t]` are the two forecasts' losses at each period.
pub fn diebold_mariano(loss1: &[f64], loss2: &[f64], h: usize) -> Result<DieboldMariano> {
    let n = loss1.len();
    if n != loss2.len() {
        return Err(Error::stats(
            "diebold-mariano",
            "loss series differ in length",
        ));
    }
    if h == 0 || h > n || n < 3 {
        return Err(Error::stats(
            "diebold-mariano",
            format!("need 1 <= h <= n and n >= 3 (h={h}, n={n})"),
        ));
    }
    let d: Vec<f64> = loss1.iter().zip(loss2).map(|(a, b)| a - b).collect();
    let m = mean(&d);
    let v = (0..h)
        .map(|k| autocovariance(&d, k, m) * if k == 0 { 1.0 } else { 2.0 })
        .sum::<f64>()
        / n as f64;
    if v <= 0.0 {
        return Err(Error::stats(
            "diebold-mariano",
            "non-positive variance of the loss differential",
        ));
    }
    let (nf, hf) = (n as f64, h as f64);
    let stat = m / v.sqrt() * ((nf + 1.0 - 2.0 * hf + hf * (hf - 1.0) / nf) / nf).sqrt();
    let t = StudentsT::new(0.0, 1.0, nf - 1.0)
        .map_err(|e| Error::stats("diebold-mariano", format!("t distribution: {e}")))?;
    Ok(DieboldMariano {
        mean_loss_difference: m,
        statistic: stat,
        p_value: 2.0 * t.sf(stat.abs()),
        horizon: h,
        n,
    })
}
