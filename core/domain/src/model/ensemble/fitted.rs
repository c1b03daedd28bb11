//! A fitted ensemble: its members (each with its own feature view) and the combiner.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::EnsembleMethod;
use crate::dataset::Dataset;
use crate::model::{BoxedModel, ModelSpec, Predict, load};
use crate::{Error, Result};

/// How the member predictions are combined.
pub enum Combiner {
    Mean,
    Weights(Vec<f64>),
    Meta {
        spec: Box<ModelSpec>,
        model: BoxedModel,
    },
}

pub struct FittedEnsemble {
    pub name: String,
    pub method: EnsembleMethod,
    pub members: Vec<(ModelSpec, BoxedModel)>,
    pub combiner: Combiner,
    /// The earlier folds the combiner learned from (empty: it fell back to the mean).
    pub learned_from: Vec<usize>,
    pub learned_rows: usize,
}

/// `ensemble.json`: what loading needs besides the member and meta weight files.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    method: EnsembleMethod,
    members: Vec<ModelSpec>,
    combiner: String,
    #[serde(default)]
    weights: Vec<f64>,
    #[serde(default)]
    meta: Option<ModelSpec>,
}

pub const ENSEMBLE_FILE: &str = "ensemble.json";

impl FittedEnsemble {
    /// `[member][i]`: each member's prediction of `rows`, on its own feature view.
    pub fn member_matrix(&self, data: &Dataset, rows: &[usize]) -> Result<Vec<Vec<f64>>> {
        self.members
            .iter()
            .map(|(spec, model)| model.predict(spec.view(data)?.as_ref(), rows))
            .collect()
    }

    fn combine(&self, data: &Dataset, rows: &[usize], p: &[Vec<f64>]) -> Result<Vec<f64>> {
        let n = rows.len();
        Ok(match &self.combiner {
            Combiner::Mean => (0..n)
                .map(|i| p.iter().map(|m| m[i]).sum::<f64>() / p.len() as f64)
                .collect(),
            Combiner::Weights(w) => (0..n)
                .map(|i| p.iter().zip(w).map(|(m, w)| w * m[i]).sum())
                .collect(),
            Combiner::Meta { model, .. } => {
                let names: Vec<String> = self.members.iter().map(|(s, _)| s.name.clone()).collect();
                let stacked = stacked_dataset(data, rows, &names, p);
                model.predict(&stacked, &(0..n).collect::<Vec<_>>())?
            }
        })
    }
}

/// The rows of `data` with the member predictions as their features (what a meta-learner sees).
pub fn stacked_dataset(
    data: &Dataset,
    rows: &[usize],
    names: &[String],
    p: &[Vec<f64>],
) -> Dataset {
    Dataset {
        feature_names: names.to_vec(),
        x: (0..rows.len())
            .flat_map(|i| p.iter().map(move |m| m[i]))
            .collect(),
        y: rows.iter().map(|&r| data.y[r]).collect(),
        forward_return: rows.iter().map(|&r| data.forward_return[r]).collect(),
        rows: rows.iter().map(|&r| data.rows[r]).collect(),
        instruments: data.instruments.clone(),
        calendar: data.calendar.clone(),
        task: data.task,
        drops: Vec::new(),
    }
}

impl Predict for FittedEnsemble {
    fn predict(&self, data: &Dataset, rows: &[usize]) -> Result<Vec<f64>> {
        let p = self.member_matrix(data, rows)?;
        self.combine(data, rows, &p)
    }

    fn member_predictions(&self, data: &Dataset, rows: &[usize]) -> Option<Result<Vec<Vec<f64>>>> {
        Some(self.member_matrix(data, rows))
    }

    fn describe(&self) -> serde_json::Value {
        let names: Vec<&str> = self.members.iter().map(|(s, _)| s.name.as_str()).collect();
        let mut v = json!({
            "method": self.method,
            "members": names,
            "learned_from_folds": self.learned_from,
            "learned_rows": self.learned_rows,
        });
        match &self.combiner {
            Combiner::Mean => v["combiner"] = "mean".into(),
            Combiner::Weights(w) => {
                v["combiner"] = "weights".into();
                v["weights"] = names
                    .iter()
                    .zip(w)
                    .map(|(n, w)| (n.to_string(), json!(w)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            Combiner::Meta { spec, model } => {
                v["combiner"] = "meta".into();
                v["meta"] = json!({"kind": spec.params.kind(), "fitted": model.describe()});
            }
        }
        v
    }

    fn save(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let mut files = Vec::new();
        for (i, (_, model)) in self.members.iter().enumerate() {
            for (name, bytes) in model.save()? {
                files.push((format!("member-{i}-{name}"), bytes));
            }
        }
        let (combiner, weights, meta) = match &self.combiner {
            Combiner::Mean => ("mean", Vec::new(), None),
            Combiner::Weights(w) => ("weights", w.clone(), None),
            Combiner::Meta { spec, model } => {
                for (name, bytes) in model.save()? {
                    files.push((format!("meta-{name}"), bytes));
                }
                ("meta", Vec::new(), Some((**spec).clone()))
            }
        };
        let saved = Saved {
            method: self.method,
            members: self.members.iter().map(|(s, _)| s.clone()).collect(),
            combiner: combiner.into(),
            weights,
            meta,
        };
        files.extend(crate::model::save_json(ENSEMBLE_FILE, &saved)?);
        Ok(files)
    }
}

/// Rebuilds an ensemble from its `ensemble.json` and its members' and meta-learner's files.
pub fn load_ensemble(
    n_features: usize,
    file: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<FittedEnsemble> {
    let bad = |message: String| Error::Model {
        model: "ensemble".into(),
        message,
    };
    let bytes =
        file(ENSEMBLE_FILE).ok_or_else(|| bad(format!("the bundle has no `{ENSEMBLE_FILE}`")))?;
    let saved: Saved =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("`{ENSEMBLE_FILE}`: {e}")))?;
    if saved.members.len() < 2 || saved.members.len() > 64 {
        return Err(bad(format!(
            "`{ENSEMBLE_FILE}`: {} members",
            saved.members.len()
        )));
    }
    let mut members = Vec::new();
    for (i, spec) in saved.members.into_iter().enumerate() {
        let kind = spec.params.kind();
        if kind == "ensemble" {
            return Err(bad("an ensemble member cannot be an ensemble".into()));
        }
        let width = spec.features.as_ref().map_or(n_features, Vec::len);
        if width > n_features {
            return Err(bad(format!(
                "member `{}` reads {width} of {n_features} features",
                spec.name
            )));
        }
        let model = load(kind, width, &|name| file(&format!("member-{i}-{name}")))?;
        members.push((spec, model));
    }
    let k = members.len();
    let combiner = match (saved.combiner.as_str(), saved.meta) {
        ("mean", _) => Combiner::Mean,
        ("weights", _)
            if saved.weights.len() == k && saved.weights.iter().all(|w| w.is_finite()) =>
        {
            Combiner::Weights(saved.weights)
        }
        ("meta", Some(spec)) if matches!(spec.params.kind(), "ridge" | "logistic" | "gbdt") => {
            let model = load(spec.params.kind(), k, &|name| file(&format!("meta-{name}")))?;
            Combiner::Meta {
                spec: Box::new(spec),
                model,
            }
        }
        (other, _) => {
            return Err(bad(format!(
                "`{ENSEMBLE_FILE}`: combiner `{other}` does not fit {k} members"
            )));
        }
    };
    Ok(FittedEnsemble {
        name: "ensemble".into(),
        method: saved.method,
        members,
        combiner,
        learned_from: Vec::new(),
        learned_rows: 0,
    })
}
