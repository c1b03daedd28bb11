//! Bar files for `strider predict`.

use std::path::Path;

use strider_core::data::{Instrument, instrument_name, parse_bars};

use crate::error::{Context, Result};

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
