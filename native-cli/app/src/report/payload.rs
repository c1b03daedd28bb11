//! Assemble a report's payload from a run directory and the run's input files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::bail;
use crate::error::{Context, Result};
use sha2::{Digest, Sha256};
use strider_core::report::{self, FORMAT, PathPredictions, ReportPayload};

use crate::bundled;

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// The run's input files, as its manifest lists them, each checked against its recorded SHA-256.
/// Bundled runs read the copy inside this binary; others read paths relative to `data_dir`, else
/// the absolute location the run read them from, else paths relative to the directory of the
/// config the run was started with (runs made before locations were recorded).
pub fn input_files(
    manifest: &serde_json::Value,
    data_dir: Option<&Path>,
) -> Result<BTreeMap<String, String>> {
    let source = manifest["config_source"].as_str().unwrap_or_default();
    let bundled_run = source.starts_with("bundled:") && data_dir.is_none();
    let base: PathBuf = match data_dir {
        Some(d) => d.to_path_buf(),
        None => Path::new(source)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    let mut files = BTreeMap::new();
    for input in manifest["inputs"].as_array().into_iter().flatten() {
        let path = input["path"]
            .as_str()
            .context("manifest.json: an input without `path`")?;
        let text = if bundled_run {
            bundled::file(path)
                .with_context(|| format!("{path}: not bundled in this strider"))?
                .to_string()
        } else {
            let recorded = input["location"].as_str().map(PathBuf::from);
            let full = match recorded.filter(|_| data_dir.is_none()) {
                Some(location) if location.exists() => location,
                _ => base.join(path),
            };
            crate::parquet_text::read_data(&full).with_context(|| {
                format!(
                    "reading input {} (pass --data-dir to say where the run's data is)",
                    full.display()
                )
            })?
        };
        let sha = hex::encode(Sha256::digest(text.as_bytes()));
        if Some(sha.as_str()) != input["sha256"].as_str() {
            bail!(
                "input {path} has changed since the run (SHA-256 {sha}, the run recorded {}); \
                 the report needs the data the run used",
                input["sha256"]
            );
        }
        files.insert(path.to_string(), text);
    }
    Ok(files)
}

/// Path-0 predictions from `predictions.csv`, by model.
fn predictions(dir: &Path, instruments: &[String]) -> Result<BTreeMap<String, PathPredictions>> {
    let path = dir.join("predictions.csv");
    let mut rdr =
        csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut out: BTreeMap<String, PathPredictions> = BTreeMap::new();
    for (k, rec) in rdr.deserialize::<BTreeMap<String, String>>().enumerate() {
        let row = rec.with_context(|| format!("{} row {}", path.display(), k + 2))?;
        let field = |name: &str| -> Result<&str> {
            row.get(name)
                .map(String::as_str)
                .with_context(|| format!("{}: no column `{name}`", path.display()))
        };
        if field("path")? != "0" {
            continue;
        }
        let bad = |name: &str| format!("{} row {}: bad `{name}`", path.display(), k + 2);
        let inst = field("instrument")?;
        let i = instruments
            .iter()
            .position(|n| n == inst)
            .with_context(|| {
                format!(
                    "{} row {}: unknown instrument `{inst}`",
                    path.display(),
                    k + 2
                )
            })?;
        out.entry(field("model")?.to_string()).or_default().push(
            field("date")?.parse().with_context(|| bad("date"))?,
            i,
            field("split")?.parse().with_context(|| bad("split"))?,
            field("prediction")?
                .parse()
                .with_context(|| bad("prediction"))?,
        );
    }
    Ok(out)
}

/// The payload for the run in `dir`. `files` are its inputs ([`input_files`]); `lineage` says
/// where the run was tracked, if anywhere.
pub fn payload_from_dir(
    dir: &Path,
    files: BTreeMap<String, String>,
    lineage: serde_json::Value,
) -> Result<ReportPayload> {
    let summary = read_json(&dir.join("summary.json"))?;
    let manifest = read_json(&dir.join("manifest.json"))?;
    let config_path = dir.join("config.toml");
    let config_toml = std::fs::read_to_string(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let instruments: Vec<String> =
        serde_json::from_value(summary["dataset"]["instruments"].clone())
            .context("summary.json: dataset.instruments")?;
    let mut importance = BTreeMap::new();
    let mut ensembles = BTreeMap::new();
    for m in summary["models"].as_array().into_iter().flatten() {
        let name = m["name"].as_str().unwrap_or_default();
        let mut fitted = Vec::new();
        for k in 0.. {
            let p = dir
                .join("models")
                .join(name)
                .join(format!("split-{k}.json"));
            if !p.exists() {
                break;
            }
            fitted.push(read_json(&p)?);
        }
        if let Some(imp) = report::importance(&fitted) {
            importance.insert(name.to_string(), imp);
        }
        if m["kind"] == "ensemble" {
            ensembles.insert(name.to_string(), fitted);
        }
    }
    let optional = |file: &str| -> Result<serde_json::Value> {
        let p = dir.join(file);
        if p.exists() {
            read_json(&p)
        } else {
            Ok(serde_json::Value::Null)
        }
    };
    Ok(ReportPayload {
        format: FORMAT.into(),
        config_toml,
        files,
        predictions: predictions(dir, &instruments)?,
        instruments,
        summary,
        manifest,
        lineage,
        importance,
        learning_curves: optional("learning_curves.json")?,
        tuning: optional("tuning.json")?,
        selection: optional("selection.json")?,
        validation: optional("validation.json")?,
        ensembles,
    })
}
