//! Ridge regression on standardised features, solved in closed form:
//! `min ||y - b0 - Z b||² + alpha ||b||²` with `Z` the train-standardised features and the
//! intercept unpenalised (scikit-learn `Ridge(alpha)` on `StandardScaler().fit_transform(X)`).

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use super::{Fit, FitContext, Predict, StandardScaler, design};
use crate::dataset::Dataset;
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RidgeParams {
    #[serde(default = "one")]
    pub alpha: f64,
}

fn one() -> f64 {
    1.0
}

impl Default for RidgeParams {
    fn default() -> Self {
        Self { alpha: 1.0 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ridge {
    pub scaler: StandardScaler,
    pub intercept: f64,
    pub coef: Vec<f64>,
    pub feature_names: Vec<String>,
}

impl Fit for RidgeParams {
    type Fitted = Ridge;

    fn fit(&self, data: &Dataset, rows: &[usize], _ctx: &mut FitContext) -> Result<Ridge> {
        let scaler = StandardScaler::fit(data, rows);
        let z = design(data, rows, &scaler);
        let y = DVector::from_iterator(rows.len(), rows.iter().map(|&r| data.y[r]));
        let y_mean = y.mean();
        // Z is centred on these rows, so the intercept separates: b0 = mean(y).
        let yc = y.add_scalar(-y_mean);
        let k = z.ncols();
        let gram = z.tr_mul(&z) + DMatrix::<f64>::identity(k, k) * self.alpha;
        let rhs = z.tr_mul(&yc);
        let coef = gram
            .clone()
            .cholesky()
            .map(|c| c.solve(&rhs))
            .or_else(|| gram.lu().solve(&rhs))
            .ok_or_else(|| Error::Model {
                model: "ridge".into(),
                message: "singular system (set alpha > 0)".into(),
            })?;
        Ok(Ridge {
            scaler,
            intercept: y_mean,
            coef: coef.iter().copied().collect(),
            feature_names: data.feature_names.clone(),
        })
    }
}

impl Predict for Ridge {
    fn predict(&self, data: &Dataset, rows: &[usize]) -> Result<Vec<f64>> {
        Ok(rows
            .iter()
            .map(|&r| {
                let x = data.row(r);
                self.intercept
                    + self
                        .coef
                        .iter()
                        .enumerate()
                        .map(|(j, b)| b * self.scaler.transform_one(j, x[j]))
                        .sum::<f64>()
            })
            .collect())
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn save(&self) -> Result<Vec<(String, Vec<u8>)>> {
        super::save_json("ridge.json", self)
    }
}
