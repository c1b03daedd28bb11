//! What a report carries and what it computes in the browser: the payload embedded in
//! `report.html` (config, input data, out-of-sample predictions, fitted-model summaries), the
//! what-if it drives, and retraining one model with edited hyper-parameters.
//!
//! The CLI assembles the payload from a run directory; the wasm crate hands it to these functions.
//! Nothing here reads files.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::data::Instrument;
use crate::labels::Task;
use crate::pipeline::{self, Event, FoldRecord, RunOutput};
use crate::whatif::{ModelScores, WhatIf};
use crate::{Error, Result};

pub const FORMAT: &str = "strider-report/1";

/// Path-0 out-of-sample predictions of one model, column by column (compact in JSON).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathPredictions {
    pub date: Vec<NaiveDate>,
    /// Index into [`ReportPayload::instruments`].
    pub instrument: Vec<usize>,
    pub split: Vec<usize>,
    pub prediction: Vec<f64>,
}

impl PathPredictions {
    pub fn push(&mut self, date: NaiveDate, instrument: usize, split: usize, prediction: f64) {
        self.date.push(date);
        self.instrument.push(instrument);
        self.split.push(split);
        self.prediction.push(prediction);
    }
}

/// Feature importance of a tree model, averaged over its folds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Importance {
    pub features: Vec<String>,
    /// Mean total gain per fold.
    pub gain: Vec<f64>,
    /// Mean number of splits per fold.
    pub split: Vec<f64>,
    /// Mean |SHAP| on the test rows, averaged over folds (empty when unavailable).
    pub mean_abs_shap: Vec<f64>,
    pub folds: usize,
}

/// Everything `report.html` embeds. Sections whose data is absent are not shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportPayload {
    pub format: String,
    /// The run's `config.toml`, as run (seed included).
    pub config_toml: String,
    /// Input files by the path the config names them with (for the what-if and retraining).
    pub files: BTreeMap<String, String>,
    pub instruments: Vec<String>,
    /// The run's `summary.json` and `manifest.json`.
    pub summary: serde_json::Value,
    pub manifest: serde_json::Value,
    /// Tracking run, registry lineage, when the run was tracked.
    #[serde(default)]
    pub lineage: serde_json::Value,
    /// Path-0 predictions by model name.
    pub predictions: BTreeMap<String, PathPredictions>,
    /// Tree models' importance by model name.
    #[serde(default)]
    pub importance: BTreeMap<String, Importance>,
    /// Per model, per split: `[{step, name, value}]` training curves (e.g. LSTM losses).
    #[serde(default)]
    pub learning_curves: serde_json::Value,
    /// Tuning study data (history, parameters, importance, intermediate values).
    #[serde(default)]
    pub tuning: serde_json::Value,
    /// The run's `selection.json`: the leaderboard and the recommendation.
    #[serde(default)]
    pub selection: serde_json::Value,
    /// Per ensemble, per split: how its members were combined (`combiner`, `weights`,
    /// `learned_from_folds`), i.e. the weights over time.
    #[serde(default)]
    pub ensembles: BTreeMap<String, Vec<serde_json::Value>>,
    /// The run's `validation.json` (robustness stresses), when it has one.
    #[serde(default)]
    pub validation: serde_json::Value,
}

/// Mean importance over a tree model's fitted folds (`describe()` + `explain()` JSON), or `None`
/// for models without importance.
pub fn importance(fitted: &[serde_json::Value]) -> Option<Importance> {
    let mut out = Importance::default();
    for f in fitted {
        let rows = f.get("importance")?.as_array()?;
        if out.features.is_empty() {
            out.features = rows
                .iter()
                .map(|r| r["feature"].as_str().unwrap_or("?").to_string())
                .collect();
            out.gain = vec![0.0; rows.len()];
            out.split = vec![0.0; rows.len()];
        }
        if rows.len() != out.features.len() {
            return None;
        }
        for (k, r) in rows.iter().enumerate() {
            out.gain[k] += r["gain"].as_f64().unwrap_or(0.0);
            out.split[k] += r["split"].as_f64().unwrap_or(0.0);
        }
        if let Some(shap) = f.get("mean_abs_shap").and_then(|s| s.as_array()) {
            if out.mean_abs_shap.is_empty() {
                out.mean_abs_shap = vec![0.0; rows.len()];
            }
            for (k, r) in shap.iter().enumerate().take(rows.len()) {
                out.mean_abs_shap[k] += r["value"].as_f64().unwrap_or(0.0);
            }
        }
        out.folds += 1;
    }
    if out.folds == 0 {
        return None;
    }
    let n = out.folds as f64;
    for v in [&mut out.gain, &mut out.split, &mut out.mean_abs_shap] {
        v.iter_mut().for_each(|x| *x /= n);
    }
    Some(out)
}

/// Path-0 predictions of a run's models, by model name.
pub fn path_predictions(
    out: &RunOutput,
    instruments: &[String],
) -> Result<BTreeMap<String, PathPredictions>> {
    let mut map = BTreeMap::new();
    for m in &out.models {
        let mut p = PathPredictions::default();
        for row in m.predictions.iter().filter(|r| r.path == 0) {
            let i = instrument_index(instruments, &row.instrument)?;
            p.push(row.date, i, row.split, row.prediction);
        }
        map.insert(m.name.clone(), p);
    }
    Ok(map)
}

fn instrument_index(instruments: &[String], name: &str) -> Result<usize> {
    instruments
        .iter()
        .position(|n| n == name)
        .ok_or_else(|| Error::RunData(format!("predictions name an unknown instrument `{name}`")))
}

impl ReportPayload {
    pub fn config(&self) -> Result<Config> {
        Config::from_toml(&self.config_toml)
    }

    /// The instruments, parsed from the embedded files as the run parsed them, without the
    /// holdout's bars (a re-run in the report validates on what the run validated on).
    pub fn load_instruments(&self, config: &Config) -> Result<Vec<Instrument>> {
        let all = crate::data::load(&config.data, &mut |path| {
            self.files
                .get(path)
                .cloned()
                .ok_or_else(|| "not embedded in the report".to_string())
        })?;
        Ok(pipeline::validation_data(config, all)?.0)
    }

    /// The what-if over this run's models, with the run's scores.
    pub fn what_if(&self) -> Result<WhatIf> {
        let config = self.config()?;
        let instruments = self.load_instruments(&config)?;
        what_if(&config, instruments, &self.predictions, &self.instruments)
    }
}

/// The what-if over a config's models, from their path-0 predictions (`names`: the instruments
/// the predictions index), with the config's seed.
pub fn what_if(
    config: &Config,
    instruments: Vec<Instrument>,
    predictions: &BTreeMap<String, PathPredictions>,
    names: &[String],
) -> Result<WhatIf> {
    let task = config.label.task();
    let models = config
        .models
        .iter()
        .map(|m| {
            let p = predictions
                .get(&m.name)
                .ok_or_else(|| Error::RunData(format!("no predictions of model `{}`", m.name)))?;
            scores(&m.name, p, task, &instruments, names)
        })
        .collect::<Result<Vec<_>>>()?;
    WhatIf::new(
        instruments,
        models,
        config.metrics.clone(),
        config.seed_or_default(),
    )
}

/// Trading scores aligned to the instruments' bars, from path-0 predictions.
pub fn scores(
    name: &str,
    p: &PathPredictions,
    task: Task,
    instruments: &[Instrument],
    names: &[String],
) -> Result<ModelScores> {
    let mut scores: Vec<Vec<Option<f64>>> =
        instruments.iter().map(|i| vec![None; i.len()]).collect();
    let slot: Vec<usize> = names
        .iter()
        .map(|n| {
            instruments
                .iter()
                .position(|i| &i.name == n)
                .ok_or_else(|| Error::RunData(format!("instrument `{n}` is not in the data")))
        })
        .collect::<Result<_>>()?;
    for k in 0..p.date.len() {
        let i = *slot.get(p.instrument[k]).ok_or_else(|| {
            Error::RunData(format!("prediction {k}: instrument index out of range"))
        })?;
        let bar = instruments[i]
            .dates
            .binary_search(&p.date[k])
            .map_err(|_| {
                Error::RunData(format!(
                    "prediction {k}: {} has no bar on {}",
                    instruments[i].name, p.date[k]
                ))
            })?;
        let x = p.prediction[k];
        // The same score the pipeline trades on.
        scores[i][bar] = Some(match task {
            Task::Regression => x,
            Task::Classification => x - 0.5,
        });
    }
    Ok(ModelScores {
        name: name.to_string(),
        scores,
    })
}

/// A model retrained with edited hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retrained {
    pub model: String,
    /// The edited `[[models]]` entry, as it would go into a config.
    pub spec: serde_json::Value,
    pub predictions: PathPredictions,
    pub folds: Vec<FoldRecord>,
    pub importance: Option<Importance>,
}

/// Retrain `model` of the report's run with `overrides` (keys of its `[[models]]` table, e.g.
/// `{"num_iterations": 50}`) on the embedded data, exactly as `strider run` would: same
/// features, splits and seeds.
pub fn retrain(
    payload: &ReportPayload,
    model: &str,
    overrides: &serde_json::Map<String, serde_json::Value>,
    on_event: &mut dyn FnMut(Event),
) -> Result<Retrained> {
    let mut config = payload.config()?;
    let idx = config
        .models
        .iter()
        .position(|m| m.name == model)
        .ok_or_else(|| Error::RunData(format!("no model `{model}` in this run")))?;
    let mut spec =
        serde_json::to_value(&config.models[idx]).map_err(|e| Error::RunData(e.to_string()))?;
    for (k, v) in overrides {
        if k == "name" || k == "kind" {
            return Err(Error::config(
                k.clone(),
                "cannot be changed when retraining",
            ));
        }
        spec[k] = v.clone();
    }
    config.models[idx] = serde_json::from_value(spec.clone()).map_err(|e| Error::Model {
        model: model.to_string(),
        message: e.to_string(),
    })?;
    config.validate()?;
    let instruments = payload.load_instruments(&config)?;
    let seed = config.seed_or_default();
    let out = pipeline::RunRequest::new(&config, &instruments, seed)
        .models(&[idx])
        .run(on_event)?;
    let names = &out.summary.dataset.instruments;
    let mut predictions = path_predictions(&out, names)?;
    let m = &out.models[0];
    Ok(Retrained {
        model: model.to_string(),
        spec,
        predictions: predictions.remove(model).unwrap_or_default(),
        folds: out.summary.folds.clone(),
        importance: importance(&m.fitted),
    })
}
