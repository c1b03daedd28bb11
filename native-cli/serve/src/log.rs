//! One JSON object per line on stderr: what a log shipper reads.

use serde_json::Value;

pub fn event(name: &str, mut fields: Value) {
    if let Some(o) = fields.as_object_mut() {
        o.insert(
            "time".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        o.insert("event".into(), name.into());
    }
    eprintln!("{fields}");
}
