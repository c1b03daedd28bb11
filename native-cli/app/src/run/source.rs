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
        Config::from_toml(&self.text).with_context(|| self.label.clone())
    }

    /// The text of a data file the config names.
    pub fn read(&self, path: &str) -> std::result::Result<String, String> {
        match &self.base {
            None => bundled::file(path)
                .map(str::to_string)
                .ok_or_else(|| "not a bundled file".to_string()),
            Some(base) => {
                let full = base.join(path);
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
                inputs.push(InputFile::new(path, &text));
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
