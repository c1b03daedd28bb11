//! Probability of backtest overfitting by combinatorially symmetric cross-validation (Bailey,
//! Borwein, López de Prado & Zhu 2017). The T x N matrix of N configurations' returns is cut into
//! S contiguous blocks (the leading `T mod S` rows dropped); for each of the C(S, S/2) halves J
//! the configuration with the best in-sample (J) Sharpe ratio is ranked out of sample (the
//! complement), `w = rank / (N + 1)` with ties averaged, `logit = ln(w / (1 - w))`, and
//! `PBO = #{logit <= 0} / C(S, S/2)`.

use serde::Serialize;

use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pbo {
    pub pbo: f64,
    pub n_blocks: usize,
    pub n_combinations: usize,
    pub n_configurations: usize,
    /// Share of combinations where the in-sample winner lost money out of sample (Sharpe < 0).
    pub prob_oos_loss: f64,
    /// OLS slope of the winner's out-of-sample on its in-sample Sharpe ratio.
    pub degradation_slope: f64,
    pub logits: Vec<f64>,
}

/// Per-block sufficient statistics of one column: (count, sum, sum of squares).
#[derive(Clone, Copy, Default)]
struct Moments {
    n: f64,
    s: f64,
    ss: f64,
}

impl Moments {
    fn add(&mut self, o: &Moments) {
        self.n += o.n;
        self.s += o.s;
        self.ss += o.ss;
    }

    /// Per-period Sharpe ratio, sample std (ddof = 1).
    fn sharpe(&self) -> f64 {
        let m = self.s / self.n;
        let var = (self.ss - self.n * m * m) / (self.n - 1.0);
        m / var.sqrt()
    }
}

/// Halves of `0..s` in lexicographic order.
fn halves(s: usize) -> Vec<Vec<usize>> {
    let k = s / 2;
    let mut out = Vec::new();
    let mut c: Vec<usize> = (0..k).collect();
    loop {
        out.push(c.clone());
        let Some(i) = (0..k).rev().find(|&i| c[i] != i + s - k) else {
            return out;
        };
        c[i] += 1;
        for j in i + 1..k {
            c[j] = c[j - 1] + 1;
        }
    }
}

/// Ascending rank (1-based) of `values[i]`, ties averaged (`scipy.stats.rankdata`).
fn average_rank(values: &[f64], i: usize) -> f64 {
    let v = values[i];
    let below = values.iter().filter(|x| **x < v).count() as f64;
    let equal = values.iter().filter(|x| **x == v).count() as f64;
    below + (equal + 1.0) / 2.0
}

/// `columns[j]` is configuration j's return series (all of length T); `s` blocks (even).
pub fn probability_of_backtest_overfitting(columns: &[Vec<f64>], s: usize) -> Result<Pbo> {
    let n = columns.len();
    let bad = |m: String| Err(Error::stats("pbo", m));
    if n < 2 {
        return bad(format!("needs at least 2 configurations, got {n}"));
    }
    if s < 2 || !s.is_multiple_of(2) {
        return bad(format!(
            "the number of blocks must be even and >= 2, got {s}"
        ));
    }
    let t = columns[0].len();
    if columns.iter().any(|c| c.len() != t) {
        return bad("columns differ in length".into());
    }
    let block = t / s;
    if block < 2 {
        return bad(format!("{t} rows are too few for {s} blocks"));
    }
    let offset = t - block * s;
    // stats[b][j]
    let stats: Vec<Vec<Moments>> = (0..s)
        .map(|b| {
            columns
                .iter()
                .map(|c| {
                    let rows = &c[offset + b * block..offset + (b + 1) * block];
                    Moments {
                        n: rows.len() as f64,
                        s: rows.iter().sum(),
                        ss: rows.iter().map(|x| x * x).sum(),
                    }
                })
                .collect()
        })
        .collect();
    let combos = halves(s);
    let mut logits = Vec::with_capacity(combos.len());
    let (mut is_best, mut oos_best) = (Vec::new(), Vec::new());
    for combo in &combos {
        let mut ins = vec![Moments::default(); n];
        let mut oos = vec![Moments::default(); n];
        let mut in_set = vec![false; s];
        for &b in combo {
            in_set[b] = true;
        }
        for (b, row) in stats.iter().enumerate() {
            let target = if in_set[b] { &mut ins } else { &mut oos };
            for (acc, m) in target.iter_mut().zip(row) {
                acc.add(m);
            }
        }
        let r_in: Vec<f64> = ins.iter().map(Moments::sharpe).collect();
        let r_out: Vec<f64> = oos.iter().map(Moments::sharpe).collect();
        // First maximum, as numpy's argmax.
        let best = (0..n).fold(0, |b, j| if r_in[j] > r_in[b] { j } else { b });
        let w = average_rank(&r_out, best) / (n as f64 + 1.0);
        logits.push((w / (1.0 - w)).ln());
        is_best.push(r_in[best]);
        oos_best.push(r_out[best]);
    }
    let c = combos.len() as f64;
    let mx = is_best.iter().sum::<f64>() / c;
    let my = oos_best.iter().sum::<f64>() / c;
    let sxy: f64 = is_best
        .iter()
        .zip(&oos_best)
        .map(|(x, y)| (x - mx) * (y - my))
        .sum();
    let sxx: f64 = is_best.iter().map(|x| (x - mx) * (x - mx)).sum();
    Ok(Pbo {
        pbo: logits.iter().filter(|l| **l <= 0.0).count() as f64 / c,
        n_blocks: s,
        n_combinations: combos.len(),
        n_configurations: n,
        prob_oos_loss: oos_best.iter().filter(|y| **y < 0.0).count() as f64 / c,
        degradation_slope: sxy / sxx,
        logits,
    })
}
