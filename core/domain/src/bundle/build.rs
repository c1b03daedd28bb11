//! Writing a bundle from a fitted model and the run that made it.

use std::collections::BTreeMap;

use super::check::Check;
use super::{BundleFiles, BundleManifest, FORMAT, MANIFEST, Signature, Training, bad, sha256_hex};
use crate::Result;
use crate::config::Config;
use crate::data::{Instrument, fingerprint};
use crate::dataset::Dataset;
use crate::model::{ModelParams, ModelSpec, Predict};

/// What a bundle is made of.
pub struct BundleInput<'a> {
    pub config: &'a Config,
    pub spec: &'a ModelSpec,
    pub instruments: &'a [Instrument],
    /// The modelling table the model was fit on (all of its rows).
    pub data: &'a Dataset,
    pub model: &'a dyn Predict,
    /// The seed the final fit used.
    pub seed: u64,
    /// The model's walk-forward validation summary.
    pub validation: serde_json::Value,
}

/// The bundle's files: the weights and `bundle.json`.
pub fn build(input: &BundleInput) -> Result<BundleFiles> {
    let data = input.data;
    let mut files: BundleFiles = input.model.save()?.into_iter().collect();
    if files.contains_key(MANIFEST) {
        return Err(bad(format!("a weight file is called `{MANIFEST}`")));
    }
    let weights: BTreeMap<String, String> = files
        .iter()
        .map(|(name, bytes)| (name.clone(), sha256_hex(bytes)))
        .collect();
    // The check is recorded from the weights as saved and read back, so it holds for what a
    // reader loads (an LSTM trained on a GPU is read back onto the CPU engine).
    let reloaded = crate::model::load(
        input.spec.params.kind(),
        data.feature_names.len(),
        &|name| files.get(name).cloned(),
    )?;
    let window = window_of(input.spec, input.config);
    let (first, last) = match (data.calendar.first(), data.calendar.last()) {
        (Some(f), Some(l)) => (*f, *l),
        _ => return Err(bad("the final model was fit on no rows")),
    };
    let manifest = BundleManifest {
        format: FORMAT.into(),
        model: input.spec.clone(),
        features: input.config.features.clone(),
        feature_names: data.feature_names.clone(),
        label: input.config.label.clone(),
        strategy: input.config.strategy.clone(),
        signature: Signature::of(input.instruments, &input.config.features, data),
        training: Training {
            run_name: input.config.name.clone(),
            seed: input.seed,
            rows: data.rows.len(),
            instruments: data.instruments.clone(),
            first_date: first,
            last_date: last,
            data_fingerprint: fingerprint(input.instruments),
        },
        validation: input.validation.clone(),
        weights,
        check: Check::make(data, reloaded.as_ref(), window, data.task)?,
    };
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| bad(format!("`{MANIFEST}` cannot be written: {e}")))?;
    files.insert(MANIFEST.into(), json);
    Ok(files)
}

/// Rows of history one prediction reads: an LSTM's window; an ensemble's longest member's.
fn window_of(spec: &ModelSpec, config: &Config) -> usize {
    match &spec.params {
        ModelParams::Lstm(p) => p.window,
        ModelParams::Ensemble(e) => config
            .models
            .iter()
            .filter(|m| e.members.contains(&m.name))
            .map(|m| window_of(m, config))
            .max()
            .unwrap_or(1),
        _ => 1,
    }
}
