//! The run configuration (TOML). Every table denies unknown keys, so a typo is an error that names
//! the key instead of a silently ignored setting.

#![deny(clippy::indexing_slicing)] // parses untrusted text: no index may panic

use serde::{Deserialize, Serialize};

use crate::backtest::StrategySpec;
use crate::data::DataSpec;
use crate::features::FeatureSpec;
use crate::labels::LabelSpec;
use crate::metrics::MetricsSpec;
use crate::model::ModelSpec;
use crate::pipeline::HoldoutSpec;
use crate::robustness::RobustnessSpec;
use crate::selection::SelectionSpec;
use crate::splits::SplitSpec;
use crate::{Error, Result};

pub use crate::config_error::with_suggestion;
pub use crate::seed::DEFAULT_SEED;

/// The tables every config needs.
const REQUIRED: [&str; 4] = ["data", "features", "split", "models"];

/// Every required table, and every `[[models]]` / `[[features]]` entry's `kind`, that the text
/// lacks, in one error (serde would name them one at a time).
fn missing_keys(text: &str) -> Result<()> {
    let Ok(doc) = text.parse::<toml::Table>() else {
        return Ok(()); // a syntax error: serde's message locates it
    };
    let mut missing: Vec<String> = REQUIRED
        .iter()
        .filter(|k| !doc.contains_key(**k))
        .map(|k| k.to_string())
        .collect();
    for list in ["models", "features"] {
        if let Some(toml::Value::Array(items)) = doc.get(list) {
            for (i, item) in items.iter().enumerate() {
                if item.as_table().is_some_and(|t| !t.contains_key("kind")) {
                    missing.push(format!("{list}[{i}].kind"));
                }
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Config {
        key: missing.join(", "),
        message: "missing; a config needs [data], [[features]] (each with a kind), [split] and \
                  [[models]] (each with a kind); `strider init DATA...` writes one"
            .into(),
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A short name for the run (used in run directory names and tracking).
    #[serde(default = "default_name")]
    pub name: String,
    /// The one seed every random choice derives from; `--seed` overrides it.
    #[serde(default)]
    pub seed: Option<u64>,
    pub data: DataSpec,
    pub features: Vec<FeatureSpec>,
    #[serde(default)]
    pub label: LabelSpec,
    pub split: SplitSpec,
    pub models: Vec<ModelSpec>,
    #[serde(default)]
    pub strategy: StrategySpec,
    #[serde(default)]
    pub metrics: MetricsSpec,
    /// How `strider select` and the run rank models and which one they recommend.
    #[serde(default)]
    pub selection: SelectionSpec,
    /// Stresses of the finished run (`validation.json`); absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robustness: Option<RobustnessSpec>,
    /// A final period nothing but the last evaluation reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<HoldoutSpec>,
    /// How `strider watch` keeps the deployed model healthy; absent: no retraining policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrain: Option<crate::retrain::RetrainSpec>,
}

fn default_name() -> String {
    "run".into()
}

impl Config {
    /// Parse and validate a TOML config.
    pub fn from_toml(text: &str) -> Result<Self> {
        let de = toml::Deserializer::parse(text)?;
        missing_keys(text)?;
        let cfg: Config = serde_path_to_error::deserialize(de)
            .map_err(|e| crate::config_error::keyed_error(text, e))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The config as TOML, with every default filled in (written to the run directory).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Config {
            key: "(whole config)".into(),
            message: format!("cannot be written as TOML: {e}"),
        })
    }

    /// Every ensemble member is another, non-ensemble model of this config.
    fn validate_ensembles(&self) -> Result<()> {
        for m in &self.models {
            let crate::model::ModelParams::Ensemble(p) = &m.params else {
                continue;
            };
            for name in &p.members {
                match self.models.iter().find(|o| &o.name == name) {
                    None => {
                        return Err(Error::Model {
                            model: m.name.clone(),
                            message: format!("member `{name}` is not a [[models]] entry"),
                        });
                    }
                    Some(o) if matches!(o.params, crate::model::ModelParams::Ensemble(_)) => {
                        return Err(Error::Model {
                            model: m.name.clone(),
                            message: format!(
                                "member `{name}` is an ensemble (ensembles do not nest)"
                            ),
                        });
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    pub fn seed_or_default(&self) -> u64 {
        self.seed.unwrap_or(DEFAULT_SEED)
    }

    pub fn validate(&self) -> Result<()> {
        if self.features.is_empty() {
            return Err(Error::config("features", "at least one feature is needed"));
        }
        if self.models.is_empty() {
            return Err(Error::config(
                "models",
                "at least one [[models]] entry is needed",
            ));
        }
        for m in &self.models {
            crate::names::check_name("models.name", m.name())?;
        }
        let mut names: Vec<&str> = self.models.iter().map(|m| m.name()).collect();
        names.sort_unstable();
        if let Some([twice, _]) = names.windows(2).find(|w| w.first() == w.last()) {
            return Err(Error::config(
                "models",
                format!("name `{twice}` is used twice"),
            ));
        }
        if self.metrics.periods_per_year.is_nan() || self.metrics.periods_per_year <= 0.0 {
            return Err(Error::config("metrics.periods_per_year", "must be > 0"));
        }
        self.label.validate()?;
        self.strategy.validate()?;
        self.selection.validate()?;
        if let Some(h) = &self.holdout {
            h.validate()?;
        }
        if let Some(r) = &self.retrain {
            r.validate()?;
            if let Some(m) = &r.model
                && !self.models.iter().any(|s| s.name() == m)
            {
                return Err(Error::config(
                    "retrain.model",
                    format!("`{m}` is not one of the config's [[models]]"),
                ));
            }
        }
        if let Some(r) = &self.robustness {
            r.validate()?;
        }
        for f in &self.features {
            f.validate()?;
        }
        for m in &self.models {
            m.validate(self.label.task())?;
        }
        self.validate_ensembles()?;
        Ok(())
    }
}
