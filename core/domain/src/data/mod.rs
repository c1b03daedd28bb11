//! Market data as loaded: one [`Instrument`] per ticker, parsed from CSV text.
//!
//! Parsing lives here (pure, on `&str`); reading files is the caller's job, so the browser and the
//! CLI share one parser and one set of error messages.

mod csv_bars;
mod csv_common;
mod csv_panel;
mod csv_returns;
mod fingerprint;
pub mod headers;
mod instrument;

pub use csv_bars::{BarFile, parse_bar_file, parse_bars};
pub use csv_panel::parse_panel;
pub use csv_returns::{ReturnsTable, parse_returns};
pub use fingerprint::fingerprint;
pub use instrument::{Column, Instrument};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Load every instrument a config names. `read` maps a path from the config to its text; the CLI
/// reads files, the browser looks the text up in memory.
pub fn load(
    cfg: &DataSpec,
    read: &mut dyn FnMut(&str) -> std::result::Result<String, String>,
) -> Result<Vec<Instrument>> {
    load_with_warnings(cfg, read).map(|(instruments, _)| instruments)
}

/// [`load`], with what looked wrong in the files without being an error (see [`BarFile`]).
pub fn load_with_warnings(
    cfg: &DataSpec,
    read: &mut dyn FnMut(&str) -> std::result::Result<String, String>,
) -> Result<(Vec<Instrument>, Vec<String>)> {
    let mut out: Vec<Instrument> = Vec::new();
    let mut warnings = Vec::new();
    let mut read_text = |path: &str| {
        read(path).map_err(|message| Error::DataFile {
            file: path.to_string(),
            message,
        })
    };
    for path in &cfg.files {
        let text = read_text(path)?;
        let file = parse_bar_file(&instrument_name(path), path, &text)?;
        out.extend(file.instruments);
        warnings.extend(file.warnings);
    }
    for path in &cfg.panels {
        let text = read_text(path)?;
        out.extend(parse_panel(path, &text)?);
    }
    if out.is_empty() {
        return Err(Error::config(
            "data",
            "no instruments (set `files` or `panels`)",
        ));
    }
    let mut names: Vec<&str> = out.iter().map(|i| i.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::config(
            "data",
            format!("instrument `{}` appears twice", w[0]),
        ));
    }
    Ok((out, warnings))
}

/// The instrument name for a per-instrument file: its file stem (`data/AAPL.csv` ->
/// `AAPL`; `.parquet` and `.pq` too).
pub fn instrument_name(path: &str) -> String {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let lower = file.to_ascii_lowercase();
    [".csv", ".parquet", ".pq"]
        .iter()
        .filter(|x| lower.ends_with(*x))
        .find_map(|x| file.get(..file.len() - x.len()))
        .unwrap_or(file)
        .to_string()
}

/// Where the bars come from. Paths are relative to the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// One OHLCV file per instrument (`date,open,high,low,close,volume[,adj_close][,extra]`).
    #[serde(default)]
    pub files: Vec<String>,
    /// Wide close-only panels (`date` + one column per ticker).
    #[serde(default)]
    pub panels: Vec<String>,
}
