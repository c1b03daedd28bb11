//! Search-space distributions with Optuna's semantics and serialisation, so studies we store are
//! read by Optuna and Optuna's trials are read by us.
//!
//! Internal representation (what storages persist): floats as themselves, ints as floats,
//! categoricals as the index of the choice.

use serde_json::Value;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    Float {
        low: f64,
        high: f64,
        log: bool,
        step: Option<f64>,
    },
    Int {
        low: i64,
        high: i64,
        log: bool,
        step: i64,
    },
    Categorical {
        choices: Vec<Value>,
    },
}

/// The widest integer range a parameter may span (2^53: every integer in it is exact as f64).
pub const MAX_INT_SPAN: i64 = 1 << 53;

fn bad(m: impl Into<String>) -> Error {
    Error::Space(m.into())
}

/// A float as Python's `repr` writes it (`1.0`, `0.0001`, `1e-05`), so the JSON text matches
/// what Optuna itself writes.
pub fn py_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let a = x.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        // Python: scientific with at least two exponent digits.
        let s = format!("{x:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
        return format!("{m}e{sign}{digits:0>2}");
    }
    let s = format!("{x}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// Python `json.dumps` of a JSON value (", " and ": " separators).
pub fn py_json(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.to_string(),
            (_, Some(u)) => u.to_string(),
            _ => py_float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(py_json).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), py_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl Distribution {
    pub fn float(low: f64, high: f64) -> Self {
        Distribution::Float {
            low,
            high,
            log: false,
            step: None,
        }
    }

    pub fn validate(&self, name: &str) -> Result<()> {
        let err = |m: &str| Err(bad(format!("parameter `{name}`: {m}")));
        match self {
            Distribution::Float {
                low,
                high,
                log,
                step,
            } => {
                if !low.is_finite() || !high.is_finite() || low > high {
                    return err("needs finite low <= high");
                }
                if *log && *low <= 0.0 {
                    return err("log scale needs low > 0");
                }
                if let Some(s) = step {
                    if *log {
                        return err("step and log cannot be combined");
                    }
                    if s.is_nan() || *s <= 0.0 {
                        return err("step must be > 0");
                    }
                }
            }
            Distribution::Int {
                low,
                high,
                log,
                step,
            } => {
                if low > high {
                    return err("needs low <= high");
                }
                // Sampling works on f64 with the range as its span: beyond 2^53 integers are no
                // longer exact there, so the range is bounded (and never overflows i64).
                if high
                    .checked_sub(*low)
                    .is_none_or(|span| span > MAX_INT_SPAN)
                {
                    return err("high - low must be at most 2^53 (MAX_INT_SPAN)");
                }
                if *log && (*low < 1 || *step != 1) {
                    return err("log scale needs low >= 1 and step 1");
                }
                if *step < 1 {
                    return err("step must be >= 1");
                }
            }
            Distribution::Categorical { choices } => {
                if choices.is_empty() {
                    return err("needs at least one choice");
                }
            }
        }
        Ok(())
    }

    /// The largest admissible value (a stepped range ends on its grid).
    fn adjusted_high(&self) -> f64 {
        match self {
            Distribution::Float {
                low,
                high,
                step: Some(s),
                ..
            } => low + ((high - low) / s).floor() * s,
            Distribution::Float { high, .. } => *high,
            Distribution::Int {
                low, high, step, ..
            } => (low + (high - low) / step * step) as f64,
            Distribution::Categorical { choices } => (choices.len() - 1) as f64,
        }
    }

    /// Only one value is possible (Optuna leaves these out of relative search spaces).
    pub fn single(&self) -> bool {
        match self {
            Distribution::Float { low, high, .. } => low == high || self.adjusted_high() == *low,
            Distribution::Int { low, .. } => self.adjusted_high() == *low as f64,
            Distribution::Categorical { choices } => choices.len() == 1,
        }
    }

    pub fn contains(&self, x: f64) -> bool {
        match self {
            Distribution::Float {
                low, high, step, ..
            } => {
                if !(x >= *low && x <= *high) {
                    return false;
                }
                match step {
                    Some(s) => {
                        let k = (x - low) / s;
                        (k - k.round()).abs() < 1e-8
                    }
                    None => true,
                }
            }
            Distribution::Int {
                low, high, step, ..
            } => {
                x.fract() == 0.0
                    && x >= *low as f64
                    && x <= *high as f64
                    && (x as i64 - low) % step == 0
            }
            Distribution::Categorical { choices } => {
                x.fract() == 0.0 && x >= 0.0 && (x as usize) < choices.len()
            }
        }
    }

    pub fn to_external(&self, x: f64) -> Value {
        match self {
            Distribution::Float { .. } => Value::from(x),
            Distribution::Int { .. } => Value::from(x.round() as i64),
            Distribution::Categorical { choices } => {
                choices.get(x as usize).cloned().unwrap_or(Value::Null)
            }
        }
    }

    pub fn to_internal(&self, v: &Value) -> Result<f64> {
        match self {
            Distribution::Float { .. } | Distribution::Int { .. } => v
                .as_f64()
                .ok_or_else(|| bad(format!("{v} is not a number"))),
            Distribution::Categorical { choices } => choices
                .iter()
                .position(|c| c == v || (c.as_f64().is_some() && c.as_f64() == v.as_f64()))
                .map(|i| i as f64)
                .ok_or_else(|| bad(format!("{v} is not one of the choices"))),
        }
    }

    /// Optuna's `distribution_to_json`.
    pub fn to_optuna_json(&self) -> String {
        match self {
            Distribution::Float {
                low,
                high,
                log,
                step,
            } => format!(
                "{{\"name\": \"FloatDistribution\", \"attributes\": {{\"step\": {}, \"low\": {}, \"high\": {}, \"log\": {log}}}}}",
                step.map_or("null".to_string(), py_float),
                py_float(*low),
                py_float(*high)
            ),
            Distribution::Int {
                low,
                high,
                log,
                step,
            } => format!(
                "{{\"name\": \"IntDistribution\", \"attributes\": {{\"log\": {log}, \"step\": {step}, \"low\": {low}, \"high\": {high}}}}}"
            ),
            Distribution::Categorical { choices } => format!(
                "{{\"name\": \"CategoricalDistribution\", \"attributes\": {{\"choices\": {}}}}}",
                py_json(&Value::Array(choices.clone()))
            ),
        }
    }

    /// Optuna's `json_to_distribution`, including the deprecated names.
    pub fn from_optuna_json(text: &str) -> Result<Self> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| bad(format!("distribution `{text}`: {e}")))?;
        let a = &v["attributes"];
        let f = |k: &str| {
            a[k].as_f64()
                .ok_or_else(|| bad(format!("distribution `{text}`: no `{k}`")))
        };
        let i = |k: &str| {
            a[k].as_i64()
                .ok_or_else(|| bad(format!("distribution `{text}`: no `{k}`")))
        };
        let name = v["name"].as_str().unwrap_or_default();
        Ok(match name {
            "FloatDistribution" => Distribution::Float {
                low: f("low")?,
                high: f("high")?,
                log: a["log"].as_bool().unwrap_or(false),
                step: a["step"].as_f64(),
            },
            "UniformDistribution" => Distribution::Float {
                low: f("low")?,
                high: f("high")?,
                log: false,
                step: None,
            },
            "LogUniformDistribution" => Distribution::Float {
                low: f("low")?,
                high: f("high")?,
                log: true,
                step: None,
            },
            "DiscreteUniformDistribution" => Distribution::Float {
                low: f("low")?,
                high: f("high")?,
                log: false,
                step: Some(f("q")?),
            },
            "IntDistribution" => Distribution::Int {
                low: i("low")?,
                high: i("high")?,
                log: a["log"].as_bool().unwrap_or(false),
                step: a["step"].as_i64().unwrap_or(1),
            },
            "IntUniformDistribution" => Distribution::Int {
                low: i("low")?,
                high: i("high")?,
                log: false,
                step: a["step"].as_i64().unwrap_or(1),
            },
            "IntLogUniformDistribution" => Distribution::Int {
                low: i("low")?,
                high: i("high")?,
                log: true,
                step: 1,
            },
            "CategoricalDistribution" => Distribution::Categorical {
                choices: a["choices"]
                    .as_array()
                    .cloned()
                    .ok_or_else(|| bad(format!("distribution `{text}`: no `choices`")))?,
            },
            other => return Err(bad(format!("unknown distribution `{other}`"))),
        })
    }

    /// Same type, bounds and choices (Optuna's compatibility check for one parameter name).
    pub fn compatible(&self, other: &Distribution) -> bool {
        match (self, other) {
            (
                Distribution::Categorical { choices: a },
                Distribution::Categorical { choices: b },
            ) => a == b,
            (Distribution::Float { .. }, Distribution::Float { .. })
            | (Distribution::Int { .. }, Distribution::Int { .. }) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_matches_optunas_text_and_round_trips() {
        // Strings exactly as optuna 5.0 wrote them (shared notes, sample_journal.log).
        let f = Distribution::float(-5.0, 5.0);
        assert_eq!(
            f.to_optuna_json(),
            r#"{"name": "FloatDistribution", "attributes": {"step": null, "low": -5.0, "high": 5.0, "log": false}}"#
        );
        let c = Distribution::Categorical {
            choices: vec!["a".into(), "b".into(), "c".into()],
        };
        assert_eq!(
            c.to_optuna_json(),
            r#"{"name": "CategoricalDistribution", "attributes": {"choices": ["a", "b", "c"]}}"#
        );
        let i = Distribution::Int {
            low: 1,
            high: 10,
            log: false,
            step: 1,
        };
        assert_eq!(
            i.to_optuna_json(),
            r#"{"name": "IntDistribution", "attributes": {"log": false, "step": 1, "low": 1, "high": 10}}"#
        );
        for d in [f, c, i] {
            assert_eq!(
                Distribution::from_optuna_json(&d.to_optuna_json()).unwrap(),
                d
            );
        }
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(0.0001), "0.0001");
        assert_eq!(py_float(1e20), "1e+20");
        assert_eq!(py_float(3.0), "3.0");
    }

    #[test]
    fn internal_and_external_values() {
        let c = Distribution::Categorical {
            choices: vec!["a".into(), 2.into(), Value::Null],
        };
        assert_eq!(c.to_internal(&Value::Null).unwrap(), 2.0);
        assert_eq!(c.to_external(1.0), Value::from(2));
        let i = Distribution::Int {
            low: 2,
            high: 10,
            log: false,
            step: 2,
        };
        assert!(i.contains(4.0) && !i.contains(5.0) && !i.contains(12.0));
        assert_eq!(i.to_external(6.0), Value::from(6));
    }
}
