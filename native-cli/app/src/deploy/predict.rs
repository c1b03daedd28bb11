//! `strider predict`: a bundle scores raw bar files.

use std::path::Path;

use serde::Serialize;
use strider_core::bundle::{Bundle, Prediction, Selection};
use strider_core::data::{Instrument, instrument_name, parse_bars};

use crate::error::{Context, Result};

/// The answer of `strider predict --json` and of `POST /predict`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictOutput {
    pub model: String,
    /// The registry version, when the model came from the registry.
    pub version: Option<u64>,
    pub bundle_sha256: String,
    pub predictions: Vec<Prediction>,
}

impl PredictOutput {
    pub fn new(bundle: &Bundle, version: Option<u64>, predictions: Vec<Prediction>) -> Self {
        Self {
            model: bundle.name().to_string(),
            version,
            bundle_sha256: bundle.sha256.clone(),
            predictions,
        }
    }
}

/// One instrument per bar file (named after its file stem, as in a config's `data.files`).
pub fn read_bar_files(paths: &[impl AsRef<Path>]) -> Result<Vec<Instrument>> {
    let mut out: Vec<Instrument> = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let shown = p.display().to_string();
        let text = std::fs::read_to_string(p).with_context(|| format!("reading {shown}"))?;
        let inst = parse_bars(&instrument_name(&shown), &shown, &text)?;
        if out.iter().any(|i| i.name == inst.name) {
            crate::bail!("{shown}: instrument `{}` is given twice", inst.name);
        }
        out.push(inst);
    }
    Ok(out)
}

/// Scores the selected bars of `instruments` with a loaded bundle.
pub fn predict(
    bundle: &Bundle,
    version: Option<u64>,
    instruments: &[Instrument],
    selection: Selection,
) -> Result<PredictOutput> {
    let predictions = bundle.score(instruments, selection)?;
    Ok(PredictOutput::new(bundle, version, predictions))
}
