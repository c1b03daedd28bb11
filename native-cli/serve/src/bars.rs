//! The bars of a `POST /predict` body as instruments, read straight from the JSON (no
//! intermediate `Value` tree: requests carry thousands of numbers). The rules are the bar files':
//! `date`, `open`, `high`, `low`, `close`, `volume` in every bar, `adj_close` and other numeric
//! columns optional but in every bar alike, dates strictly increasing, prices positive, volume not
//! negative. Errors name `instruments.NAME[i].field`.

use std::borrow::Cow;
use std::fmt;

use chrono::NaiveDate;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use strider_core::data::{Column, Instrument};

/// `{"instruments": {"NAME": [{"date": ..., "open": ..., ...}, ...]}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest<'a> {
    #[serde(borrow, deserialize_with = "unique_names")]
    pub instruments: Vec<(String, Vec<Bar<'a>>)>,
}

/// The instruments object, refusing a name given twice (a map would keep the last silently).
fn unique_names<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<(String, Vec<Bar<'a>>)>, D::Error> {
    struct V<'a>(std::marker::PhantomData<&'a ()>);
    impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
        type Value = Vec<(String, Vec<Bar<'a>>)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of instrument names to lists of bars")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<(String, Vec<Bar<'a>>)> = Vec::new();
            while let Some(name) = map.next_key::<String>()? {
                let bars: Vec<Bar<'a>> = map.next_value()?;
                if out.iter().any(|(n, _)| *n == name) {
                    return Err(de::Error::custom(format!(
                        "instrument `{}` is given twice",
                        name.escape_debug()
                    )));
                }
                out.push((name, bars));
            }
            Ok(out)
        }
    }
    d.deserialize_map(V(std::marker::PhantomData))
}

/// The standard columns, in [`Bar::values`] order.
const STANDARD: [&str; 6] = ["open", "high", "low", "close", "volume", "adj_close"];
const ADJ_CLOSE: usize = 5;
const VOLUME: usize = 4;

/// One bar as sent.
#[derive(Debug, Default)]
pub struct Bar<'a> {
    date: Option<Cow<'a, str>>,
    values: [Option<f64>; 6],
    extra: Vec<(Cow<'a, str>, f64)>,
}

/// A key: borrowed from the body unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a column name")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Bar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a bar: {\"date\": \"YYYY-MM-DD\", \"open\": number, ...}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Bar<'a>, A::Error> {
                let mut bar = Bar::default();
                while let Some(Key(key)) = map.next_key::<Key>()? {
                    let twice =
                        || de::Error::custom(format!("`{}` is given twice", key.escape_debug()));
                    if key == "date" {
                        let Key(date) = map.next_value::<Key>()?;
                        if bar.date.replace(date).is_some() {
                            return Err(twice());
                        }
                    } else if let Some(i) = STANDARD.iter().position(|c| *c == key) {
                        if bar.values[i].replace(map.next_value::<f64>()?).is_some() {
                            return Err(twice());
                        }
                    } else {
                        let v: f64 = map.next_value()?;
                        if bar.extra.iter().any(|(k, _)| *k == key) {
                            return Err(twice());
                        }
                        bar.extra.push((key, v));
                    }
                }
                Ok(bar)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// Parses a body: a JSON error names its path (`instruments.A[3].close: invalid type ...`).
/// (The path is only tracked when parsing failed: tracking it costs an allocation per key.)
pub fn parse(body: &[u8]) -> Result<PredictRequest<'_>, String> {
    serde_json::from_slice(body).map_err(|plain| {
        let mut de = serde_json::Deserializer::from_slice(body);
        match serde_path_to_error::deserialize::<_, PredictRequest>(&mut de) {
            Err(e) => {
                let path = e.path().to_string();
                format!("request body: {path}: {}", e.into_inner())
            }
            Ok(_) => format!("request body: {plain}"),
        }
    })
}

pub fn instruments(req: &PredictRequest) -> Result<Vec<Instrument>, String> {
    if req.instruments.is_empty() {
        return Err("`instruments` is empty".into());
    }
    req.instruments
        .iter()
        .map(|(name, bars)| instrument(name, bars))
        .collect()
}

fn instrument(name: &str, bars: &[Bar]) -> Result<Instrument, String> {
    // Names and keys are shown escaped, so an error stays one line whatever they hold.
    let shown = name.escape_debug().to_string();
    let first = bars
        .first()
        .ok_or_else(|| format!("instruments.{shown}: no bars"))?;
    let at = |i: usize, field: &str| format!("instruments.{shown}[{i}].{}", field.escape_debug());
    for (j, col) in STANDARD.iter().enumerate().take(VOLUME + 1) {
        if first.values.get(j).copied().flatten().is_none() {
            return Err(format!(
                "{}: missing (every bar needs date, open, high, low, close, volume)",
                at(0, col)
            ));
        }
    }
    let has_adj = first.values[ADJ_CLOSE].is_some();
    let extra_names: Vec<&str> = first.extra.iter().map(|(k, _)| k.as_ref()).collect();
    let n = bars.len();
    let mut dates: Vec<NaiveDate> = Vec::with_capacity(n);
    let mut cols: [Vec<f64>; 6] = Default::default();
    let mut extra: Vec<Vec<f64>> = vec![Vec::with_capacity(n); extra_names.len()];
    for (i, bar) in bars.iter().enumerate() {
        let raw = bar
            .date
            .as_deref()
            .ok_or_else(|| format!("{}: missing", at(i, "date")))?;
        let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
            format!(
                "{}: `{raw}` is not a date (expected YYYY-MM-DD)",
                at(i, "date")
            )
        })?;
        match dates.last() {
            Some(p) if *p == date => {
                return Err(format!("{}: duplicate date {date}", at(i, "date")));
            }
            Some(p) if *p > date => {
                return Err(format!(
                    "{}: {date} comes after {p}: bars must be in date order",
                    at(i, "date")
                ));
            }
            _ => dates.push(date),
        }
        for (j, col) in STANDARD.iter().enumerate() {
            let wanted = j != ADJ_CLOSE || has_adj;
            match (bar.values[j], wanted) {
                (Some(v), true) => {
                    if j != VOLUME && v <= 0.0 {
                        return Err(format!("{}: price {v} must be positive", at(i, col)));
                    }
                    if j == VOLUME && v < 0.0 {
                        return Err(format!("{}: volume {v} is negative", at(i, col)));
                    }
                    cols[j].push(v);
                }
                (None, false) => {}
                (None, true) => {
                    return Err(format!("{}: missing (the first bar has it)", at(i, col)));
                }
                (Some(_), false) => {
                    return Err(format!("{}: the first bar has no `{col}`", at(i, col)));
                }
            }
        }
        if bar.extra.len() != extra_names.len() {
            return Err(format!(
                "instruments.{shown}[{i}]: has {} extra columns, the first bar has {} ({})",
                bar.extra.len(),
                extra_names.len(),
                extra_names.join(", ").escape_debug()
            ));
        }
        for (k, (key, v)) in bar.extra.iter().enumerate() {
            let Some(column) = extra
                .get_mut(k)
                .filter(|_| extra_names.get(k) == Some(&key.as_ref()))
            else {
                return Err(format!(
                    "{}: not a column of the first bar (or in another order)",
                    at(i, key)
                ));
            };
            column.push(*v);
        }
    }
    let [open, high, low, close, volume, adj_close] = cols;
    Ok(Instrument {
        name: name.to_string(),
        dates,
        open: Some(open),
        high: Some(high),
        low: Some(low),
        close,
        volume: Some(volume),
        adj_close: has_adj.then_some(adj_close),
        extra: extra_names
            .iter()
            .zip(extra)
            .map(|(n, values)| Column {
                name: n.to_string(),
                values,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_become_instruments_with_every_column_kept_exactly() {
        let body = br#"{"instruments": {"A": [
            {"date": "2020-01-01", "open": 1, "high": 2, "low": 0.5, "close": 1.5, "volume": 10, "adj_close": 0.1, "vix": 0.3},
            {"date": "2020-01-02", "open": 1, "high": 2, "low": 0.5, "close": 1.6, "volume": 0, "adj_close": 0.30000000000000004, "vix": 0.3}
        ]}}"#;
        let got = instruments(&parse(body).unwrap()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "A");
        assert_eq!(got[0].close, vec![1.5, 1.6]);
        assert_eq!(
            got[0].adj_close.as_deref(),
            Some(&[0.1, 0.30000000000000004][..])
        );
        assert_eq!(got[0].column("vix"), Some(&[0.3, 0.3][..]));
        // The same bars as a bar file give the same instrument.
        let csv = "date,open,high,low,close,volume,adj_close,vix\n\
                   2020-01-01,1,2,0.5,1.5,10,0.1,0.3\n2020-01-02,1,2,0.5,1.6,0,0.30000000000000004,0.3\n";
        assert_eq!(
            got[0],
            strider_core::data::parse_bars("A", "a.csv", csv).unwrap()
        );
    }

    #[test]
    fn bad_bars_name_the_instrument_bar_and_field() {
        const OK: &str = r#""open": 1, "high": 1, "low": 1, "volume": 1"#;
        let bar =
            |date: &str, close: &str| format!(r#"{{"date": "{date}", {OK}, "close": {close}}}"#);
        let two = |a: String, b: String| format!(r#"{{"instruments": {{"A": [{a}, {b}]}}}}"#);
        for (json, needle) in [
            (
                r#"{"instruments": {}}"#.to_string(),
                "`instruments` is empty",
            ),
            (
                r#"{"instruments": {"A": []}}"#.to_string(),
                "instruments.A: no bars",
            ),
            (r#"{"instrument": {}}"#.to_string(), "instrument"),
            (
                format!(
                    r#"{{"instruments": {{"A": [{}], "A": [{}]}}}}"#,
                    bar("2020-01-01", "1"),
                    bar("2020-01-01", "1")
                ),
                "instrument `A` is given twice",
            ),
            (
                format!(
                    r#"{{"instruments": {{"A": [{{"date": "2020-01-01", {OK}, "close": 1, "close": 2}}]}}}}"#
                ),
                "`close` is given twice",
            ),
            (
                format!(r#"{{"instruments": {{"A\nB": [{{"date": "2020-01-01", {OK}}}]}}}}"#),
                "instruments.A\\nB[0].close: missing",
            ),
            (
                two(bar("2020-01-01", "1"), r#"{"date": "2020-01-02"}"#.into()),
                "instruments.A[1].open: missing",
            ),
            (
                two(bar("2020-01-01", "[1]"), bar("2020-01-02", "1")),
                "instruments.A[0].close",
            ),
            (
                two(bar("2020-01-01", "\"x\""), bar("2020-01-02", "1")),
                "instruments.A[0].close",
            ),
            (
                two(bar("2020-01-01", "1"), bar("2020-01-01", "1")),
                "instruments.A[1].date: duplicate date",
            ),
            (
                two(bar("2020-01-02", "1"), bar("2020-01-01", "1")),
                "bars must be in date order",
            ),
            (
                two(bar("2020-01-01", "-1"), bar("2020-01-02", "1")),
                "instruments.A[0].close: price -1 must be positive",
            ),
            (
                two(bar("2020-13-01", "1"), bar("2020-01-02", "1")),
                "instruments.A[0].date: `2020-13-01` is not a date",
            ),
            (
                two(
                    bar("2020-01-01", "1"),
                    format!(r#"{{"date": "2020-01-02", {OK}, "close": 1, "x": 2}}"#),
                ),
                "instruments.A[1]: has 1 extra columns",
            ),
            (
                two(
                    bar("2020-01-01", "1"),
                    format!(r#"{{"date": "2020-01-02", {OK}, "close": 1, "adj_close": 2}}"#),
                ),
                "instruments.A[1].adj_close: the first bar has no `adj_close`",
            ),
        ] {
            let err = parse(json.as_bytes())
                .and_then(|r| instruments(&r).map(|_| ()))
                .unwrap_err();
            assert!(err.contains(needle), "{json}: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }
}
