//! Deployment bundles: a model fitted once more on every labelled row of a run, with everything
//! needed to score raw bars and nothing else (feature and label specs, the strategy, the weights
//! in the model's own format, the data fingerprint and the validation summary).
//!
//! A bundle is a set of named files ([`BundleFiles`]): `bundle.json` (the [`BundleManifest`]) and
//! the weights ([`crate::model::Predict::save`]). The run directory writes them as a folder, the
//! browser receives them as bytes; [`Bundle::load`] reads either. No time or host goes into these
//! files, so the same config and seed give the same bytes (the native side adds MLflow's
//! `MLmodel`, which names a creation time).

mod build;
mod check;
mod score;
mod signature;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::backtest::StrategySpec;
use crate::features::FeatureSpec;
use crate::labels::LabelSpec;
use crate::model::{BoxedModel, ModelSpec};
use crate::{Error, Result};

pub use build::{BundleInput, build};
pub use score::{PredictOutput, Prediction, Selection};
pub use signature::{ColumnSpec, Signature};

/// The manifest's format tag; a reader refuses any other.
pub const FORMAT: &str = "strider-bundle/1";
/// The manifest's file name inside a bundle.
pub const MANIFEST: &str = "bundle.json";
/// The most features a bundle may list: bounds what loading a model from an untrusted bundle
/// allocates (an LSTM's input weights grow with it).
pub const MAX_FEATURES: usize = 10_000;
/// MLflow's model file, written by the native side; not part of the content hash.
pub const MLMODEL: &str = "MLmodel";

/// A bundle's files by name.
pub type BundleFiles = BTreeMap<String, Vec<u8>>;

/// `bundle.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleManifest {
    pub format: String,
    /// The `[[models]]` entry as run (name, kind and every parameter).
    pub model: ModelSpec,
    pub features: Vec<FeatureSpec>,
    /// The feature columns in model order.
    pub feature_names: Vec<String>,
    pub label: LabelSpec,
    pub strategy: StrategySpec,
    pub signature: Signature,
    pub training: Training,
    /// The model's walk-forward validation summary from the run that made the bundle.
    pub validation: serde_json::Value,
    /// Weight files and their SHA-256.
    pub weights: BTreeMap<String, String>,
    /// Scores the model gave when the bundle was made on a few stored feature rows; a loaded
    /// bundle must reproduce them bit for bit ([`Bundle::check`]).
    pub check: check::Check,
}

/// What the final fit saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Training {
    pub run_name: String,
    pub seed: u64,
    pub rows: usize,
    pub instruments: Vec<String>,
    pub first_date: NaiveDate,
    pub last_date: NaiveDate,
    pub data_fingerprint: String,
}

/// A loaded bundle: its manifest, the fitted model and the content hash.
pub struct Bundle {
    pub manifest: BundleManifest,
    pub model: BoxedModel,
    /// SHA-256 over `bundle.json` and the weight files it lists (names and bytes), hex.
    pub sha256: String,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("model", &self.manifest.model.name)
            .field("sha256", &self.sha256)
            .finish()
    }
}

fn bad(message: impl Into<String>) -> Error {
    Error::Bundle(message.into())
}

impl Bundle {
    /// Reads a bundle's files: the manifest, the weights (each checked against its recorded
    /// SHA-256), then the model. Does not run the check; see [`Bundle::check`].
    pub fn load(files: &BundleFiles) -> Result<Self> {
        let text = files
            .get(MANIFEST)
            .ok_or_else(|| bad(format!("no `{MANIFEST}` (is this a bundle folder?)")))?;
        let manifest: BundleManifest =
            serde_json::from_slice(text).map_err(|e| bad(format!("`{MANIFEST}`: {e}")))?;
        if manifest.format != FORMAT {
            return Err(bad(format!(
                "`{MANIFEST}`: format `{}` is not `{FORMAT}` (made by another Strider version)",
                manifest.format
            )));
        }
        // The manifest is not covered by a hash: its settings are checked as a config's are.
        let settings = || -> Result<()> {
            manifest.label.validate()?;
            manifest.strategy.validate()?;
            for f in &manifest.features {
                f.validate()?;
            }
            manifest.model.validate(manifest.label.task())
        };
        settings().map_err(|e| bad(format!("`{MANIFEST}`: {e}")))?;
        for (name, want) in &manifest.weights {
            let bytes = files
                .get(name)
                .ok_or_else(|| bad(format!("`{name}` is missing")))?;
            if &sha256_hex(bytes) != want {
                return Err(bad(format!(
                    "`{name}` does not match its SHA-256 in `{MANIFEST}` (changed or truncated)"
                )));
            }
        }
        let kind = manifest.model.params.kind();
        let n_features = manifest.feature_names.len();
        if n_features > MAX_FEATURES {
            return Err(bad(format!(
                "`{MANIFEST}` lists {n_features} features (at most {MAX_FEATURES})"
            )));
        }
        let model = crate::model::load(kind, n_features, &|name| {
            manifest
                .weights
                .contains_key(name)
                .then(|| files.get(name).cloned())
                .flatten()
        })
        .map_err(|e| bad(e.to_string()))?;
        // The hash covers what the bundle is made of, not stray files beside it in a folder.
        let own: BundleFiles = files
            .iter()
            .filter(|(name, _)| *name == MANIFEST || manifest.weights.contains_key(*name))
            .map(|(name, bytes)| (name.clone(), bytes.clone()))
            .collect();
        Ok(Self {
            sha256: content_sha256(&own),
            manifest,
            model,
        })
    }

    /// Loads and checks: the model must give the recorded scores on the stored rows.
    pub fn load_checked(files: &BundleFiles) -> Result<Self> {
        let bundle = Self::load(files)?;
        bundle.check()?;
        Ok(bundle)
    }

    pub fn name(&self) -> &str {
        &self.manifest.model.name
    }
}

/// SHA-256 of a bundle's content: every file but `MLmodel`, by name, length-prefixed.
pub fn content_sha256(files: &BundleFiles) -> String {
    let mut h = Sha256::new();
    for (name, bytes) in files.iter().filter(|(n, _)| n.as_str() != MLMODEL) {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    hex::encode(h.finalize())
}

/// SHA-256 of bytes, hex (what `bundle.json` records for each weight file).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
