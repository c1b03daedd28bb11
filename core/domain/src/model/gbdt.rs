//! Gradient-boosted trees as a pipeline model: trained on the fold's training rows by the
//! pure-Rust trainer, kept as a LightGBM model (its model.txt goes to the run directory).

use serde_json::json;

use super::{Fit, FitContext, Predict};
use crate::Result;
use crate::dataset::Dataset;
use crate::gbdt::{Engine, GbdtModel, GbdtParams, TrainData, train};
use crate::labels::{cross_section_grades, runs};

pub struct FittedGbdt {
    pub model: GbdtModel,
}

impl Fit for GbdtParams {
    type Fitted = FittedGbdt;

    fn fit(&self, data: &Dataset, rows: &[usize], ctx: &mut FitContext) -> Result<FittedGbdt> {
        let k = data.n_features();
        let x: Vec<f64> = rows
            .iter()
            .flat_map(|&r| data.row(r).iter().copied())
            .collect();
        let mut y: Vec<f64> = rows.iter().map(|&r| data.y[r]).collect();
        let groups = if self.objective.is_ranking() {
            rank_by_date(data, rows, &mut y)
        } else {
            Vec::new()
        };
        let mut params = self.clone();
        // The run's seed (derived per model and fold) decides, unless the config pins one.
        if params.seed == 0 {
            params.seed = ctx.seed;
        }
        let td = TrainData {
            groups: &groups,
            x: &x,
            n_features: k,
            y: &y,
            feature_names: data.feature_names.clone(),
        };
        let model = match (params.engine, ctx.native_gbdt) {
            (Engine::Strider, _) => {
                train(&params, &td, None, &mut |it, name, v| ctx.emit(it, name, v))
            }
            (Engine::Lightgbm, Some(native)) => native.train(&params, &td, None),
            (Engine::Lightgbm, None) => Err(strider_gbdt::Error::Native(
                "engine = \"lightgbm\": native LightGBM is not built into this strider \
                 (cargo feature `lightgbm`); use engine = \"strider\""
                    .into(),
            )),
        }?;
        Ok(FittedGbdt { model })
    }
}

/// The ranking objectives' query groups: one per date across instruments (the rows are ordered
/// by date), with each row's label replaced by its grade within the date (the rank of its
/// forward return). The trainer refuses more instruments than `label_gain` has grades.
fn rank_by_date(data: &Dataset, rows: &[usize], y: &mut [f64]) -> Vec<u32> {
    let times: Vec<usize> = rows.iter().map(|&r| data.rows[r].time).collect();
    let mut groups = Vec::new();
    for (start, len) in runs(&times) {
        let grades = cross_section_grades(&y[start..start + len]);
        y[start..start + len].copy_from_slice(&grades);
        groups.push(len as u32);
    }
    groups
}

impl Predict for FittedGbdt {
    fn predict(&self, data: &Dataset, rows: &[usize]) -> Result<Vec<f64>> {
        Ok(rows
            .iter()
            .map(|&r| self.model.predict(data.row(r))[0])
            .collect())
    }

    fn describe(&self) -> serde_json::Value {
        let (split, gain) = self.model.importance();
        json!({
            "trees": self.model.trees.len(),
            "importance": self.model.feature_names.iter().zip(split.iter().zip(&gain))
                .map(|(n, (s, g))| json!({"feature": n, "split": s, "gain": g}))
                .collect::<Vec<_>>(),
        })
    }

    /// Mean |SHAP| per feature over the rows (TreeSHAP, as LightGBM's `pred_contrib`).
    fn explain(&self, data: &Dataset, rows: &[usize]) -> Option<serde_json::Value> {
        if rows.is_empty() {
            return None;
        }
        let f = self.model.num_features();
        let mut sum = vec![0.0; f];
        for &r in rows {
            // A model too deep for TreeSHAP simply has no explanation.
            let contributions = self.model.contributions(data.row(r)).ok()?;
            for (s, c) in sum.iter_mut().zip(contributions) {
                *s += c.abs();
            }
        }
        Some(json!({
            "mean_abs_shap": data.feature_names.iter().zip(&sum)
                .map(|(n, s)| json!({"feature": n, "value": s / rows.len() as f64}))
                .collect::<Vec<_>>(),
        }))
    }

    fn artifacts(&self) -> Vec<(String, Vec<u8>)> {
        vec![("model.txt".into(), self.model.write().into_bytes())]
    }
}
