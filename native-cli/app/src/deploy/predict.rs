//! Bar files for `strider predict`.

use std::path::Path;

use strider_core::data::{Instrument, instrument_name, parse_bar_file};

use crate::error::Result;

/// The instruments of bar files: one per file (named after its file stem, as in a config's
/// `data.files`), or one per ticker of a long file.
pub fn read_bar_files(paths: &[impl AsRef<Path>]) -> Result<Vec<Instrument>> {
    let mut out: Vec<Instrument> = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let shown = p.display().to_string();
        let text = crate::parquet_text::read_data(p)?;
        for inst in parse_bar_file(&instrument_name(&shown), &shown, &text)?.instruments {
            if out.iter().any(|i| i.name == inst.name) {
                crate::bail!("{shown}: instrument `{}` is given twice", inst.name);
            }
            out.push(inst);
        }
    }
    Ok(out)
}
