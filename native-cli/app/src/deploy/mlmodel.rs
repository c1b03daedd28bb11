//! The `MLmodel` file of a bundle: MLflow's model format with a `strider` flavour.

use serde_json::{Value, json};
use strider_core::bundle::{BundleFiles, BundleManifest, MANIFEST, MLMODEL, content_sha256};
use strider_mlflow::mlmodel::{MlModel, write};

/// The loader version a reader of the `strider` flavour checks.
pub const LOADER_VERSION: &str = strider_core::bundle::FORMAT;

/// MLflow's signature columns (`{"type", "name", "required"}`).
fn columns(cols: &[strider_core::bundle::ColumnSpec]) -> Value {
    cols.iter()
        .map(|c| json!({"type": c.kind, "name": c.name, "required": true}))
        .collect()
}

/// Adds `MLmodel` to a bundle's files. `model_uuid` is the content hash, so equal bundles have
/// equal ids; `utc_time_created` and `run_id` are the only fields that differ between two runs
/// of the same config and seed.
pub fn with_mlmodel(
    mut files: BundleFiles,
    manifest: &BundleManifest,
    artifact_path: &str,
    run_id: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> BundleFiles {
    let sha = content_sha256(&files);
    let weights: Vec<&String> = manifest.weights.keys().collect();
    let flavor = json!({
        "loader_version": LOADER_VERSION,
        "strider_version": strider_core::VERSION,
        "model_kind": manifest.model.params.kind(),
        "manifest": MANIFEST,
        "weights": weights,
        "features": manifest.feature_names,
        "task": format!("{:?}", manifest.label.task()).to_lowercase(),
        "frequency": manifest.signature.frequency,
        "content_sha256": sha,
    });
    let size: u64 = files.values().map(|b| b.len() as u64).sum();
    let m = MlModel {
        artifact_path: artifact_path.into(),
        flavors: vec![("strider".into(), flavor)],
        signature_inputs: columns(&manifest.signature.inputs),
        signature_outputs: columns(&manifest.signature.outputs),
        model_size_bytes: size,
        model_uuid: sha.chars().take(32).collect(),
        run_id: run_id.map(str::to_string),
        utc_time_created: now.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
    };
    files.insert(MLMODEL.into(), write(&m).into_bytes());
    files
}
