//! MLflow's `MLmodel` file: the YAML that makes a folder an MLflow model (flavours, signature,
//! `model_uuid`, `run_id`, `utc_time_created`). Strider writes one into each deployment bundle.

use serde_json::Value;
use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlEmitter};

/// The fields of an `MLmodel` file.
#[derive(Debug, Clone, PartialEq)]
pub struct MlModel {
    /// Where the model sits under its run's artifacts.
    pub artifact_path: String,
    /// Flavour name -> its settings (nested maps, lists and scalars).
    pub flavors: Vec<(String, Value)>,
    /// MLflow's column-based signature: JSON lists of `{"type", "name", "required"}`.
    pub signature_inputs: Value,
    pub signature_outputs: Value,
    pub model_size_bytes: u64,
    /// 32 hex digits (MLflow writes `uuid4().hex`).
    pub model_uuid: String,
    pub run_id: Option<String>,
    /// `YYYY-MM-DD HH:MM:SS.ffffff` (UTC), as MLflow writes it.
    pub utc_time_created: String,
}

fn yaml(v: &Value) -> Yaml {
    match v {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(a) => Yaml::Array(a.iter().map(yaml).collect()),
        Value::Object(o) => {
            let mut h = Hash::new();
            for (k, v) in o {
                h.insert(Yaml::String(k.clone()), yaml(v));
            }
            Yaml::Hash(h)
        }
    }
}

fn key(k: &str) -> Yaml {
    Yaml::String(k.to_string())
}

/// The file's text, keys in MLflow's (alphabetical) order.
pub fn write(m: &MlModel) -> String {
    let mut flavors = Hash::new();
    for (name, v) in &m.flavors {
        flavors.insert(key(name), yaml(v));
    }
    let mut signature = Hash::new();
    signature.insert(key("inputs"), Yaml::String(m.signature_inputs.to_string()));
    signature.insert(
        key("outputs"),
        Yaml::String(m.signature_outputs.to_string()),
    );
    signature.insert(key("params"), Yaml::Null);
    let mut h = Hash::new();
    h.insert(key("artifact_path"), Yaml::String(m.artifact_path.clone()));
    h.insert(key("flavors"), Yaml::Hash(flavors));
    h.insert(
        key("model_size_bytes"),
        Yaml::Integer(i64::try_from(m.model_size_bytes).unwrap_or(i64::MAX)),
    );
    h.insert(key("model_uuid"), Yaml::String(m.model_uuid.clone()));
    h.insert(
        key("run_id"),
        m.run_id.clone().map_or(Yaml::Null, Yaml::String),
    );
    h.insert(key("signature"), Yaml::Hash(signature));
    h.insert(
        key("utc_time_created"),
        Yaml::String(m.utc_time_created.clone()),
    );
    let mut out = String::new();
    // Emitting into a String cannot fail.
    let _ = YamlEmitter::new(&mut out).dump(&Yaml::Hash(h));
    let body = out.strip_prefix("---\n").unwrap_or(&out);
    format!("{}\n", body.trim_end_matches('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_mlflow_s_fields_and_reads_back_as_yaml() {
        let m = MlModel {
            artifact_path: "bundles/ridge".into(),
            flavors: vec![(
                "strider".into(),
                json!({"loader_version": 1, "features": ["ret_1"]}),
            )],
            signature_inputs: json!([{"type": "double", "name": "close", "required": true}]),
            signature_outputs: json!([{"type": "double", "name": "score", "required": true}]),
            model_size_bytes: 123,
            model_uuid: "0123456789abcdef0123456789abcdef".into(),
            run_id: None,
            utc_time_created: "2026-12-02 01:02:03.000000".into(),
        };
        let text = write(&m);
        let doc = &yaml_rust2::YamlLoader::load_from_str(&text).unwrap()[0];
        assert_eq!(
            doc["flavors"]["strider"]["loader_version"].as_i64(),
            Some(1)
        );
        assert_eq!(doc["run_id"], Yaml::Null);
        let inputs: Value =
            serde_json::from_str(doc["signature"]["inputs"].as_str().unwrap()).unwrap();
        assert_eq!(inputs[0]["name"], "close");
        assert!(text.starts_with("artifact_path: bundles/ridge\n"), "{text}");
    }
}
