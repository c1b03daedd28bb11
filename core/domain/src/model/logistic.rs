//! L2-regularised logistic regression on standardised features, fit by Newton's method (IRLS):
//! `min 0.5 ||w||² + C Σ log(1 + exp(-s_i (b0 + z_i·w)))` with the intercept unpenalised
//! (scikit-learn `LogisticRegression(C)` on `StandardScaler().fit_transform(X)`).

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use super::{Fit, FitContext, Predict, StandardScaler, design};
use crate::dataset::Dataset;
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticParams {
    /// Inverse regularisation strength, as scikit-learn's `C`.
    #[serde(default = "one")]
    pub c: f64,
    #[serde(default = "hundred")]
    pub max_iter: usize,
    #[serde(default = "tol")]
    pub tol: f64,
}

fn one() -> f64 {
    1.0
}
fn hundred() -> usize {
    100
}
fn tol() -> f64 {
    1e-10
}

impl Default for LogisticParams {
    fn default() -> Self {
        Self {
            c: 1.0,
            max_iter: 100,
            tol: 1e-10,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    pub scaler: StandardScaler,
    pub intercept: f64,
    pub coef: Vec<f64>,
    pub feature_names: Vec<String>,
    pub iterations: usize,
}

fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

impl Fit for LogisticParams {
    type Fitted = Logistic;

    fn fit(&self, data: &Dataset, rows: &[usize], ctx: &mut FitContext) -> Result<Logistic> {
        let scaler = StandardScaler::fit(data, rows);
        let z = design(data, rows, &scaler);
        let (n, k) = (z.nrows(), z.ncols());
        // Augment with a leading column of ones for the intercept.
        let x = DMatrix::from_fn(n, k + 1, |i, j| if j == 0 { 1.0 } else { z[(i, j - 1)] });
        let y = DVector::from_iterator(n, rows.iter().map(|&r| data.y[r]));
        let mut w = DVector::<f64>::zeros(k + 1);
        let mut penalty = DMatrix::<f64>::identity(k + 1, k + 1) / self.c;
        penalty[(0, 0)] = 0.0;
        let mut iterations = 0;
        for it in 0..self.max_iter {
            iterations = it + 1;
            let p = (&x * &w).map(sigmoid);
            let grad = x.tr_mul(&(&p - &y)) + &penalty * &w;
            let weights = p.map(|v| v * (1.0 - v));
            let hess =
                x.tr_mul(&DMatrix::from_fn(n, k + 1, |i, j| x[(i, j)] * weights[i])) + &penalty;
            let step = hess
                .cholesky()
                .map(|c| c.solve(&grad))
                .ok_or_else(|| Error::Model {
                    model: "logistic".into(),
                    message: "Hessian is not positive definite (perfectly separable data? lower c)"
                        .into(),
                })?;
            w -= &step;
            let size = step.amax();
            ctx.emit(iterations, "newton_step", size);
            if size < self.tol {
                break;
            }
        }
        Ok(Logistic {
            scaler,
            intercept: w[0],
            coef: w.iter().skip(1).copied().collect(),
            feature_names: data.feature_names.clone(),
            iterations,
        })
    }
}

impl Predict for Logistic {
    fn predict(&self, data: &Dataset, rows: &[usize]) -> Result<Vec<f64>> {
        Ok(rows
            .iter()
            .map(|&r| {
                let x = data.row(r);
                let t = self.intercept
                    + self
                        .coef
                        .iter()
                        .enumerate()
                        .map(|(j, b)| b * self.scaler.transform_one(j, x[j]))
                        .sum::<f64>();
                sigmoid(t)
            })
            .collect())
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn save(&self) -> Result<Vec<(String, Vec<u8>)>> {
        super::save_json("logistic.json", self)
    }
}
