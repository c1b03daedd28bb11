//! `report.html`: one self-contained file (HTML, CSS, JS, the wasm core and the run's data
//! inlined) that opens from disk with no server or network and stays live: the page re-runs the
//! what-if and retrains trees through the same core as the CLI.

mod assets;
mod html;
mod payload;

pub(crate) use html::escape_html;

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Context, Result};

pub use html::render;
pub use payload::{input_files, payload_from_dir};

/// Render the report of `run_dir` into `out` (written under a temporary name, then renamed, so a
/// failure never leaves half a file). Returns its size in bytes.
pub fn write(
    run_dir: &Path,
    files: BTreeMap<String, String>,
    lineage: serde_json::Value,
    out: &Path,
) -> Result<usize> {
    let payload = payload_from_dir(run_dir, files, lineage)?;
    let html = render(&payload)?;
    crate::rundir::write_atomic(out, html.as_bytes())?;
    Ok(html.len())
}

/// (Re)writes the report of a finished run directory: reads its manifest and tracking lineage,
/// checks its inputs against their recorded hashes (read from `data_dir`, else the config's
/// directory). Returns the report's size in bytes.
pub fn write_for_run_dir(run_dir: &Path, out: &Path, data_dir: Option<&Path>) -> Result<usize> {
    let manifest_path = run_dir.join("manifest.json");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).with_context(|| {
            format!(
                "reading {} (is it a run directory?)",
                manifest_path.display()
            )
        })?)
        .with_context(|| format!("parsing {}", manifest_path.display()))?;
    let files = input_files(&manifest, data_dir)?;
    let lineage_path = run_dir.join("tracking.json");
    let lineage = if lineage_path.exists() {
        serde_json::from_str(
            &std::fs::read_to_string(&lineage_path)
                .with_context(|| format!("reading {}", lineage_path.display()))?,
        )
        .with_context(|| format!("parsing {}", lineage_path.display()))?
    } else {
        serde_json::Value::Null
    };
    write(run_dir, files, lineage, out)
}
