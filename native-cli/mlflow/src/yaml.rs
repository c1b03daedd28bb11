//! The flat `meta.yaml` files of MLflow's FileStore: one `key: value` per line, scalars only
//! (strings single-quoted when YAML would read them as something else, `null`, integers), plus
//! the one nested `tags:` map of dataset-input edges. This subset is all MLflow writes there, so
//! a small reader/writer is used rather than a YAML library (serde_yaml is archived).

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Int(i64),
    Str(String),
}

impl Scalar {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Scalar::Int(i) => Some(*i),
            Scalar::Str(s) => s.parse().ok(),
            Scalar::Null => None,
        }
    }
}

fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:@+".contains(c))
        && !s.starts_with(['-', ':', '.', '@'])
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "~"
        )
        && !s.contains(": ");
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// Render ordered `key: value` lines.
pub fn write(fields: &[(&str, Scalar)]) -> String {
    let mut out = String::new();
    for (k, v) in fields {
        let v = match v {
            Scalar::Null => "null".to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Str(s) => quote(s),
        };
        out.push_str(&format!("{k}: {v}\n"));
    }
    out
}

fn parse_scalar(raw: &str) -> Scalar {
    let raw = raw.trim();
    if raw.is_empty() || raw == "null" || raw == "~" {
        return Scalar::Null;
    }
    if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return Scalar::Str(inner.replace("''", "'"));
    }
    if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        return Scalar::Str(inner.replace("\\\"", "\"").replace("\\\\", "\\"));
    }
    match raw.parse::<i64>() {
        Ok(i) => Scalar::Int(i),
        Err(_) => Scalar::Str(raw.to_string()),
    }
}

/// Parse top-level scalars; a key followed by indented `k: v` lines becomes `key.k` entries.
pub fn read(text: &str) -> BTreeMap<String, Scalar> {
    let mut out = BTreeMap::new();
    let mut parent: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indented = line.starts_with(' ');
        let Some((k, v)) = line.trim().split_once(':') else {
            continue;
        };
        let key = k.trim().to_string();
        if indented {
            if let Some(p) = &parent {
                out.insert(format!("{p}.{key}"), parse_scalar(v));
            }
            continue;
        }
        if v.trim().is_empty() {
            parent = Some(key.clone());
        } else {
            parent = None;
        }
        out.insert(key, parse_scalar(v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let text = write(&[
            ("experiment_id", Scalar::Str("1".into())),
            ("name", Scalar::Str("it's: a test".into())),
            ("status", Scalar::Int(3)),
            ("end_time", Scalar::Null),
            ("uri", Scalar::Str("file:///tmp/x".into())),
        ]);
        assert!(text.contains("experiment_id: '1'"));
        let m = read(&text);
        assert_eq!(m["experiment_id"], Scalar::Str("1".into()));
        assert_eq!(m["name"], Scalar::Str("it's: a test".into()));
        assert_eq!(m["status"], Scalar::Int(3));
        assert_eq!(m["end_time"], Scalar::Null);
        let nested = read("tags:\n  mlflow.data.context: training\nsource_id: abc\n");
        assert_eq!(
            nested["tags.mlflow.data.context"],
            Scalar::Str("training".into())
        );
        assert_eq!(nested["source_id"], Scalar::Str("abc".into()));
    }
}
