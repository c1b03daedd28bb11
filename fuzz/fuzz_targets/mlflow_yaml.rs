#![no_main]
//! Any text as an MLflow FileStore `meta.yaml`: the reader returns its keys (it has no errors),
//! never panics. Every value it read, written again and read back, is unchanged: strider rewrites
//! values it read (ending a run reads its meta.yaml and writes the name back with the new
//! status). Keys are strider's own when it writes (`run_name`, `status`, …), so the values go
//! back under such keys (a key read from a hostile file can be longer than YAML's 1024-character
//! limit for a key once escaped, which strider never writes).
//!
//! yaml.rs is a private module of strider-mlflow that needs only yaml-rust2, so this target
//! compiles the file itself.
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../native-cli/mlflow/src/yaml.rs"]
mod yaml;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let read = yaml::read(&text);
    let keys: Vec<String> = (0..read.len()).map(|i| format!("key_{i}")).collect();
    let fields: Vec<(&str, yaml::Scalar)> = keys
        .iter()
        .zip(read.values())
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let written = yaml::write(&fields);
    let back = yaml::read(&written);
    assert_eq!(back.len(), fields.len(), "written:\n{written}");
    for (k, v) in &fields {
        assert_eq!(back.get(*k), Some(v), "written:\n{written}");
    }
});
