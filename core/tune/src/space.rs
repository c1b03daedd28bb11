//! SPACE.toml: one `[params.NAME]` table per parameter with `type = "float" | "int" |
//! "categorical"`, `low`, `high`, optional `log = true` and `step`, or `choices = [...]`.

#![deny(clippy::indexing_slicing)] // parses untrusted text: no index may panic

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::distribution::Distribution;
use super::sampler::SearchSpace;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceFile {
    pub params: BTreeMap<String, ParamSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub low: Option<f64>,
    #[serde(default)]
    pub high: Option<f64>,
    #[serde(default)]
    pub log: bool,
    #[serde(default)]
    pub step: Option<f64>,
    #[serde(default)]
    pub choices: Option<Vec<Value>>,
}

impl ParamSpec {
    pub fn distribution(&self, name: &str) -> Result<Distribution> {
        let err = |m: &str| Error::Space(format!("params.{name}: {m}"));
        let bounds = || -> Result<(f64, f64)> {
            match (self.low, self.high) {
                (Some(l), Some(h)) => Ok((l, h)),
                _ => Err(err("needs `low` and `high`")),
            }
        };
        let d = match self.kind.as_str() {
            "float" => {
                if self.choices.is_some() {
                    return Err(err("`choices` is for type = \"categorical\""));
                }
                let (low, high) = bounds()?;
                Distribution::Float {
                    low,
                    high,
                    log: self.log,
                    step: self.step,
                }
            }
            "int" => {
                if self.choices.is_some() {
                    return Err(err("`choices` is for type = \"categorical\""));
                }
                let (low, high) = bounds()?;
                let whole = |x: f64, k: &str| -> Result<i64> {
                    if x.fract() == 0.0 {
                        Ok(x as i64)
                    } else {
                        Err(err(&format!(
                            "`{k}` must be a whole number for type = \"int\""
                        )))
                    }
                };
                Distribution::Int {
                    low: whole(low, "low")?,
                    high: whole(high, "high")?,
                    log: self.log,
                    step: whole(self.step.unwrap_or(1.0), "step")?,
                }
            }
            "categorical" => {
                if self.low.is_some() || self.high.is_some() || self.step.is_some() || self.log {
                    return Err(err("a categorical takes only `choices`"));
                }
                Distribution::Categorical {
                    choices: self.choices.clone().ok_or_else(|| err("needs `choices`"))?,
                }
            }
            other => {
                return Err(err(&format!(
                    "type `{other}`: expected \"float\", \"int\" or \"categorical\""
                )));
            }
        };
        d.validate(&format!("params.{name}"))?;
        Ok(d)
    }
}

impl SpaceFile {
    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::Space(e.to_string()))
    }

    pub fn space(&self) -> Result<SearchSpace> {
        if self.params.is_empty() {
            return Err(Error::Space("the space has no [params.NAME] tables".into()));
        }
        self.params
            .iter()
            .map(|(k, p)| Ok((k.clone(), p.distribution(k)?)))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_type_and_names_mistakes() {
        let s = SpaceFile::from_toml(
            r#"
[params.lr]
type = "float"
low = 1e-4
high = 1.0
log = true
[params.layers]
type = "int"
low = 1
high = 4
[params.kind]
type = "categorical"
choices = ["a", "b", 3]
"#,
        )
        .unwrap()
        .space()
        .unwrap();
        assert_eq!(s.len(), 3);
        assert!(
            matches!(s["kind"], Distribution::Categorical { ref choices } if choices.len() == 3)
        );
        let e = SpaceFile::from_toml("[params.x]\ntype = \"float\"\nlow = 1\nhigh = 2\nlog = 1")
            .unwrap_err();
        assert!(e.to_string().contains("log"), "{e}");
        let e = SpaceFile::from_toml("[params.x]\ntype = \"int\"\nlow = 0.5\nhigh = 2")
            .unwrap()
            .space()
            .unwrap_err();
        assert!(e.to_string().contains("params.x"), "{e}");
        let e =
            SpaceFile::from_toml("[params.x]\ntype = \"float\"\nlow = 1\nhigh = 2\nlogg = true")
                .unwrap_err();
        assert!(e.to_string().contains("logg"), "{e}");
    }
}
