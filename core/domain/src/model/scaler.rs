use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;

/// Per-feature mean and standard deviation, fit on training rows only. A constant column gets
/// scale 1 (it then contributes nothing, instead of dividing by zero).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
}

impl StandardScaler {
    pub fn fit(data: &Dataset, rows: &[usize]) -> Self {
        let k = data.n_features();
        let n = rows.len() as f64;
        let mut mean = vec![0.0; k];
        for &r in rows {
            for (m, v) in mean.iter_mut().zip(data.row(r)) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0; k];
        for &r in rows {
            for ((s, v), m) in var.iter_mut().zip(data.row(r)).zip(&mean) {
                *s += (v - m) * (v - m);
            }
        }
        // Population std (ddof = 0), as scikit-learn's StandardScaler.
        let scale = var
            .iter()
            .map(|s| {
                let sd = (s / n).sqrt();
                if sd > 0.0 { sd } else { 1.0 }
            })
            .collect();
        Self { mean, scale }
    }

    pub fn transform_one(&self, j: usize, v: f64) -> f64 {
        (v - self.mean[j]) / self.scale[j]
    }
}
