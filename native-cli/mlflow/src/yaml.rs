//! The `meta.yaml` files of MLflow's FileStore: top-level scalars (strings, `null`, integers) plus
//! the one nested `tags:` map of dataset-input edges, read and written with yaml-rust2 (so
//! PyYAML's quoting and escapes, `\xE9` included, read back exactly).

#![deny(clippy::indexing_slicing)] // parses untrusted text: no index may panic

use std::collections::BTreeMap;

use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlEmitter, YamlLoader};

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Int(i64),
    Str(String),
    /// `[]` (a run's `tags`, which MLflow keeps in files instead).
    EmptyList,
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
            Scalar::Null | Scalar::EmptyList => None,
        }
    }
}

/// Render ordered `key: value` lines (yaml-rust2's emitter: it quotes a string YAML would read
/// as something else, such as `'1'` or `'null'`).
pub fn write(fields: &[(&str, Scalar)]) -> String {
    let mut map = Hash::new();
    for (k, v) in fields {
        let v = match v {
            Scalar::Null => Yaml::Null,
            Scalar::Int(i) => Yaml::Integer(*i),
            Scalar::Str(s) => Yaml::String(s.clone()),
            Scalar::EmptyList => Yaml::Array(Vec::new()),
        };
        map.insert(Yaml::String((*k).to_string()), v);
    }
    let mut out = String::new();
    // Emitting plain scalars into a String cannot fail; an empty map renders as `{}`.
    let _ = YamlEmitter::new(&mut out).dump(&Yaml::Hash(map));
    let body = out.strip_prefix("---\n").unwrap_or(&out);
    // Only line breaks: the last value may end in other whitespace the emitter left unquoted
    // (a form feed), which is part of it (found by fuzz/fuzz_targets/mlflow_yaml.rs).
    format!("{}\n", body.trim_end_matches('\n'))
}

fn scalar(v: &Yaml) -> Option<Scalar> {
    match v {
        Yaml::Null => Some(Scalar::Null),
        Yaml::Integer(i) => Some(Scalar::Int(*i)),
        Yaml::String(s) | Yaml::Real(s) => Some(Scalar::Str(s.clone())),
        Yaml::Boolean(b) => Some(Scalar::Str(b.to_string())),
        Yaml::Array(a) if a.is_empty() => Some(Scalar::EmptyList),
        _ => None,
    }
}

fn key(k: &Yaml) -> Option<String> {
    match k {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The top-level scalars of a YAML mapping (yaml-rust2's loader); a nested mapping's scalars
/// become `key.k` entries; lists and anything unreadable are left out (a file that is not a
/// mapping reads as empty, and the caller reports the missing keys).
pub fn read(text: &str) -> BTreeMap<String, Scalar> {
    let mut out = BTreeMap::new();
    let Ok(docs) = YamlLoader::load_from_str(text) else {
        return out;
    };
    let Some(Yaml::Hash(top)) = docs.into_iter().next() else {
        return out;
    };
    for (k, v) in &top {
        let Some(k) = key(k) else { continue };
        match v {
            Yaml::Hash(inner) => {
                for (ik, iv) in inner {
                    if let (Some(ik), Some(iv)) = (key(ik), scalar(iv)) {
                        out.insert(format!("{k}.{ik}"), iv);
                    }
                }
            }
            _ => {
                if let Some(v) = scalar(v) {
                    out.insert(k, v);
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
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
        assert!(text.contains("experiment_id: \"1\""), "{text}");
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
        // What PyYAML writes for a non-ASCII run name without allow_unicode.
        assert_eq!(
            read("run_name: \"caf\\xE9\"\ntags: []\n")["run_name"],
            Scalar::Str("café".into())
        );
        assert!(read("- not\n- a mapping\n").is_empty());
        let run = write(&[("tags", Scalar::EmptyList), ("status", Scalar::Int(3))]);
        assert_eq!(run, "tags: []\nstatus: 3\n");
        // A last value ending in whitespace the emitter leaves unquoted keeps it.
        let feed = Scalar::Str("17646144000\u{c}".into());
        assert_eq!(read(&write(&[("t", feed.clone())]))["t"], feed);
    }
}
