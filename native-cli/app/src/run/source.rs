//! Where a run's config and data come from: the bundled example (compiled in) or a config file
//! whose data paths are relative to its own directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Context, Result};
use strider_core::config::Config;
use strider_core::data::Instrument;

use crate::bundled;
use crate::manifest::InputFile;

/// The config text, a label for messages and manifests, and how to read the data it names.
pub struct ConfigSource {
    pub label: String,
    pub text: String,
    /// The config's directory; `None` for the bundled example.
    pub base: Option<PathBuf>,
}

/// A config's instruments with the files they came from (path, hash and text).
pub struct LoadedData {
    pub instruments: Vec<Instrument>,
    pub inputs: Vec<InputFile>,
    pub texts: BTreeMap<String, String>,
    /// What looked wrong in the files without being an error (unread price-like columns, bars
    /// whose open or close is outside their range).
    pub warnings: Vec<String>,
}

impl ConfigSource {
    /// The config at `path`, or the bundled example without one.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        Ok(match path {
            None => Self::bundled(),
            Some(p) => ConfigSource {
                label: p.display().to_string(),
                text: std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?,
                base: Some(p.parent().map(Path::to_path_buf).unwrap_or_default()),
            },
        })
    }

    pub fn bundled() -> Self {
        ConfigSource {
            label: format!("bundled:{}", bundled::CONFIG_PATH),
            text: bundled::CONFIG.to_string(),
            base: None,
        }
    }

    /// The parsed, validated config (errors name the config file).
    pub fn config(&self) -> Result<Config> {
        let mut config = Config::from_toml(&self.text).with_context(|| self.label.clone())?;
        if let Some(base) = &self.base {
            config.data.files = expand_folders(&config.data.files, base)
                .with_context(|| format!("{}: data.files", self.label))?;
        }
        Ok(config)
    }

    /// The text of a data file the config names.
    pub fn read(&self, path: &str) -> std::result::Result<String, String> {
        match &self.base {
            None => bundled::file(path)
                .map(str::to_string)
                .ok_or_else(|| "not a bundled file".to_string()),
            Some(base) => {
                let full = base.join(path);
                if crate::parquet_text::is_parquet(&full) {
                    return crate::parquet_text::to_csv_text(&full).map_err(|e| e.chain());
                }
                std::fs::read_to_string(&full)
                    .map_err(|e| format!("cannot read {}: {e}", full.display()))
            }
        }
    }

    /// Loads the config's instruments, recording each input file.
    pub fn load_data(&self, config: &Config) -> Result<LoadedData> {
        let mut inputs = Vec::new();
        let mut texts = BTreeMap::new();
        let (instruments, warnings) =
            strider_core::data::load_with_warnings(&config.data, &mut |path| {
                let text = self.read(path)?;
                inputs.push(match &self.base {
                    Some(base) => InputFile::at(path, &base.join(path), &text),
                    None => InputFile::new(path, &text),
                });
                texts.insert(path.to_string(), text.clone());
                Ok(text)
            })?;
        Ok(LoadedData {
            instruments,
            inputs,
            texts,
            warnings,
        })
    }
}

/// `files` with each folder replaced by the `.csv` files in it (sorted by name), so a run, its
/// manifest and its report name every file it read.
fn expand_folders(files: &[String], base: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in files {
        let dir = base.join(entry);
        if !dir.is_dir() {
            out.push(entry.clone());
            continue;
        }
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading folder {}", dir.display()))?
            .flatten()
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| {
                let n = n.to_ascii_lowercase();
                n.ends_with(".csv") || n.ends_with(".parquet")
            })
            .collect();
        if names.is_empty() {
            crate::bail!("folder `{entry}` holds no .csv or .parquet files");
        }
        names.sort();
        let prefix = entry.trim_end_matches(['/', '\\']);
        out.extend(names.into_iter().map(|n| format!("{prefix}/{n}")));
    }
    Ok(out)
}
