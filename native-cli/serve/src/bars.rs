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

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> PredictRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn bars_become_instruments_with_every_column_kept_exactly() {
        let r = req(r#"{"instruments": {"A": [
            {"date": "2020-01-01", "open": 1, "high": 2, "low": 0.5, "close": 1.5, "volume": 10, "adj_close": 0.1, "vix": 0.3},
            {"date": "2020-01-02", "open": 1, "high": 2, "low": 0.5, "close": 1.6, "volume": 10, "adj_close": 0.30000000000000004, "vix": 0.3}
        ]}}"#);
        let got = instruments(&r).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "A");
        assert_eq!(
            got[0].adj_close.as_deref(),
            Some(&[0.1, 0.30000000000000004][..])
        );
        assert_eq!(got[0].column("vix"), Some(&[0.3, 0.3][..]));
    }

    #[test]
    fn bad_bars_name_the_instrument_bar_and_field() {
        for (json, needle) in [
            (r#"{"instruments": {}}"#, "`instruments` is empty"),
            (r#"{"instruments": {"A": []}}"#, "instruments.A: no bars"),
            (
                r#"{"instruments": {"A": [{"date": "2020-01-01", "close": 1}, {"date": "2020-01-02"}]}}"#,
                "instruments.A[1]: has 1 fields",
            ),
            (
                r#"{"instruments": {"A": [{"date": "2020-01-01", "close": 1}, {"date": "2020-01-02", "open": 1}]}}"#,
                "instruments.A[1]: no `close`",
            ),
            (
                r#"{"instruments": {"A": [{"date": "2020-01-01", "close": [1]}]}}"#,
                "instruments.A[0].close",
            ),
            (
                r#"{"instruments": {"A": [{"date": "2020-01-01\n1", "close": 1}]}}"#,
                "instruments.A[0].date",
            ),
            (
                r#"{"instruments": {"A": [{"date": "2020-01-01", "close": "x"}]}}"#,
                "instruments.A",
            ),
        ] {
            let err = instruments(&req(json)).unwrap_err();
            assert!(err.contains(needle), "{json}: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }
}
