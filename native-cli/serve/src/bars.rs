//! The bars of a `POST /predict` body as instruments: each bar object becomes a CSV row read by
//! the same parser as bar files, so the rules and the error messages are the same.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use strider_core::data::{Instrument, parse_bars};

/// `{"instruments": {"NAME": [{"date": ..., "open": ..., ...}, ...]}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    pub instruments: BTreeMap<String, Vec<serde_json::Map<String, Value>>>,
}

/// Column order of the CSV rows: the standard columns first, then the rest by name.
const STANDARD: [&str; 7] = [
    "date",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "adj_close",
];

pub fn instruments(req: &PredictRequest) -> Result<Vec<Instrument>, String> {
    if req.instruments.is_empty() {
        return Err("`instruments` is empty".into());
    }
    req.instruments
        .iter()
        .map(|(name, bars)| instrument(name, bars))
        .collect()
}

fn instrument(name: &str, bars: &[serde_json::Map<String, Value>]) -> Result<Instrument, String> {
    let first = bars
        .first()
        .ok_or_else(|| format!("instruments.{name}: no bars"))?;
    let mut columns: Vec<&str> = STANDARD
        .iter()
        .copied()
        .filter(|c| first.contains_key(*c))
        .collect();
    let mut extra: Vec<&str> = first
        .keys()
        .map(String::as_str)
        .filter(|k| !STANDARD.contains(k))
        .collect();
    extra.sort_unstable();
    columns.extend(extra);
    let mut csv = columns.join(",");
    csv.push('\n');
    for (i, bar) in bars.iter().enumerate() {
        if bar.len() != columns.len() {
            return Err(format!(
                "instruments.{name}[{i}]: has {} fields, the first bar has {} ({})",
                bar.len(),
                columns.len(),
                columns.join(", ")
            ));
        }
        for (j, c) in columns.iter().enumerate() {
            if j > 0 {
                csv.push(',');
            }
            match bar.get(*c) {
                Some(Value::Number(n)) => csv.push_str(&n.to_string()),
                Some(Value::String(s)) if !s.contains([',', '"', '\n', '\r']) => csv.push_str(s),
                Some(Value::Null) => {}
                Some(other) => {
                    return Err(format!(
                        "instruments.{name}[{i}].{c}: `{other}` is not a number or a date"
                    ));
                }
                None => return Err(format!("instruments.{name}[{i}]: no `{c}`")),
            }
        }
        csv.push('\n');
    }
    parse_bars(name, &format!("instruments.{name}"), &csv).map_err(|e| e.to_string())
}
