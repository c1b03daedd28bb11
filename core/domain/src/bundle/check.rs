//! The bundle's self-check: a few feature rows stored with the scores the model gave them when the
//! bundle was made. A loaded bundle must give the same bits, so a serving process can refuse a
//! damaged or incompatible bundle before it answers with it.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Bundle, bad};
use crate::Result;
use crate::dataset::{Dataset, RowMeta};
use crate::labels::Task;
use crate::model::Predict;

/// Rows kept for the check: the LSTM's window plus a few, else a few.
const EXTRA_ROWS: usize = 4;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Raw (unscaled) feature rows of one instrument, oldest first.
    pub features: Vec<Vec<f64>>,
    /// The model's prediction for each row, scoring the rows as one instrument's history.
    pub predictions: Vec<f64>,
}

impl Check {
    /// The last rows of the dataset's last instrument, and what `model` predicts on them.
    pub(super) fn make(
        data: &Dataset,
        model: &dyn Predict,
        window: usize,
        task: Task,
    ) -> Result<Self> {
        let last = data.rows.last().map(|r| r.instrument).unwrap_or(0);
        let rows: Vec<usize> = (0..data.rows.len())
            .filter(|&r| data.rows[r].instrument == last)
            .collect();
        let keep = rows.len().min(window + EXTRA_ROWS);
        let features: Vec<Vec<f64>> = rows[rows.len() - keep..]
            .iter()
            .map(|&r| data.row(r).to_vec())
            .collect();
        let predictions = predict_rows(model, &data.feature_names, &features, task)?;
        Ok(Self {
            features,
            predictions,
        })
    }
}

/// The stored rows as a one-instrument dataset, predicted in full.
fn predict_rows(
    model: &dyn Predict,
    names: &[String],
    features: &[Vec<f64>],
    task: Task,
) -> Result<Vec<f64>> {
    let n = features.len();
    let start = NaiveDate::MIN;
    let data = Dataset {
        feature_names: names.to_vec(),
        x: features.iter().flatten().copied().collect(),
        y: vec![f64::NAN; n],
        forward_return: vec![f64::NAN; n],
        rows: (0..n)
            .map(|t| RowMeta {
                instrument: 0,
                bar: t,
                time: t,
                label_end: n,
            })
            .collect(),
        instruments: vec!["check".into()],
        calendar: (0..n as u64)
            .map(|t| start + chrono::Days::new(t))
            .collect(),
        task,
        drops: Vec::new(),
    };
    model.predict(&data, &(0..n).collect::<Vec<_>>())
}

impl Bundle {
    /// The model must reproduce the stored predictions bit for bit.
    pub fn check(&self) -> Result<()> {
        let check = &self.manifest.check;
        let k = self.manifest.feature_names.len();
        if check.features.iter().any(|row| row.len() != k)
            || check.features.len() != check.predictions.len()
        {
            return Err(bad(format!(
                "`bundle.json` key `check`: {} rows and {} predictions for {k} features",
                check.features.len(),
                check.predictions.len()
            )));
        }
        let got = predict_rows(
            self.model.as_ref(),
            &self.manifest.feature_names,
            &check.features,
            self.manifest.label.task(),
        )?;
        for (i, (g, want)) in got.iter().zip(&check.predictions).enumerate() {
            if g.to_bits() != want.to_bits() {
                return Err(bad(format!(
                    "check row {i}: the model predicts {g:e}, the bundle recorded {want:e} \
                     (weights changed, or a Strider that computes differently)"
                )));
            }
        }
        Ok(())
    }
}
