//! A config type or value error, located: the key's path (`models[1].alpha`,
//! `features[2].window`) and its line, instead of the enclosing `[[models]]` header toml reports
//! once a value went through serde's buffering (internally tagged enums, `ModelSpec`).

#![deny(clippy::indexing_slicing)] // parses untrusted text: no index may panic

use toml::de::{DeTable, DeValue};

use crate::Error;

pub(crate) fn keyed_error(text: &str, e: serde_path_to_error::Error<toml::de::Error>) -> Error {
    let mut segments: Vec<String> = e
        .path()
        .iter()
        .filter_map(|s| match s {
            serde_path_to_error::Segment::Seq { index } => Some(format!("[{index}]")),
            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
            _ => None,
        })
        .collect();
    let inner = e.into_inner();
    let mut message = with_suggestion(inner.message());
    // `ModelSpec` names the failing key itself: "`alpha`: invalid type ...".
    if let Some((key, rest)) = message
        .strip_prefix('`')
        .and_then(|m| m.split_once("`: "))
        .map(|(k, r)| (k.to_string(), r.to_string()))
    {
        segments.extend(key.split('.').map(str::to_string));
        message = rest;
    }
    if segments.is_empty() {
        return Error::ConfigSyntax(inner);
    }
    let (at, key) = match DeTable::parse(text) {
        Ok(doc) => locate(doc.get_ref(), text, &segments, unexpected(&message)),
        Err(_) => (None, None),
    };
    segments.extend(key);
    let key = segments.iter().fold(String::new(), |acc, s| {
        match (acc.is_empty(), s.starts_with('[')) {
            (true, _) | (false, true) => acc + s,
            (false, false) => acc + "." + s,
        }
    });
    let message = match at {
        Some(at) => {
            let before = text.get(..at).unwrap_or_default();
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("{message} (line {line}, column {column})")
        }
        None => message,
    };
    Error::Config { key, message }
}

/// serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant"), with the
/// nearest expected name first: "unknown field `num_leavs`; did you mean `num_leaves`? (expected
/// one of ...)". Other messages are returned as they are.
pub fn with_suggestion(message: &str) -> String {
    let message = message.lines().next().unwrap_or_default();
    let parsed = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|p| message.strip_prefix(p).map(|rest| (p, rest)))
        .and_then(|(p, rest)| {
            let (given, rest) = rest.split_once('`')?;
            // serde: "expected one of `a`, `b`, `c`", "expected `a` or `b`", "expected `a`".
            let expected = rest
                .split_once("expected one of ")
                .or_else(|| rest.split_once("expected "))?
                .1;
            Some((p, given, expected))
        });
    let Some((prefix, given, expected)) = parsed else {
        return message.to_string();
    };
    let names = expected
        .split(", ")
        .flat_map(|n| n.split(" or "))
        .map(|n| n.trim_matches('`'));
    let nearest = names
        .map(|n| {
            (
                strsim::jaro_winkler(&given.to_lowercase(), &n.to_lowercase()),
                n,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match nearest {
        Some((_, name)) => {
            format!("{prefix}{given}`; did you mean `{name}`? (expected one of {expected})")
        }
        None => message.to_string(),
    }
}

/// serde's description of the value it refused: `string "x"` in
/// "invalid type: string "x", expected usize".
fn unexpected(message: &str) -> Option<&str> {
    let rest = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))?;
    Some(rest.split_once(", expected").map_or(rest, |(u, _)| u))
}

/// The byte offset of the deepest key of `segments` the document has; where the path ends at a
/// table (an entry of an internally tagged list such as `[[features]]`), the one key in it whose
/// value serde described as `unexpected`, with its offset.
fn locate(
    doc: &DeTable,
    text: &str,
    segments: &[String],
    unexpected: Option<&str>,
) -> (Option<usize>, Option<String>) {
    let mut table = doc;
    let mut value: Option<&toml::Spanned<DeValue>> = None;
    let mut at = None;
    for s in segments {
        let next = match s.strip_prefix('[').and_then(|i| i.strip_suffix(']')) {
            Some(index) => match (value.map(|v| v.get_ref()), index.parse::<usize>()) {
                (Some(DeValue::Array(items)), Ok(i)) => items.get(i).map(|v| (v.span().start, v)),
                _ => None,
            },
            None => {
                if let Some(DeValue::Table(t)) = value.map(|v| v.get_ref()) {
                    table = t;
                }
                table
                    .get_key_value(s.as_str())
                    .map(|(k, v)| (k.span().start, v))
            }
        };
        let Some((offset, v)) = next else {
            return (at, None);
        };
        at = Some(offset);
        value = Some(v);
    }
    match (value.map(|v| v.get_ref()), unexpected) {
        (Some(DeValue::Table(t)), Some(u)) => match matching_key(t, text, u) {
            Some((key, offset)) => (Some(offset), Some(key)),
            None => (at, None),
        },
        _ => (at, None),
    }
}

/// The one key of `table` whose value serde describes as `unexpected` (`string "x"`,
/// `integer `5``, `sequence`, ...).
fn matching_key(table: &DeTable, text: &str, unexpected: &str) -> Option<(String, usize)> {
    let mut found = table.iter().filter(|(_, v)| {
        let raw = text.get(v.span()).unwrap_or_default();
        match v.get_ref() {
            DeValue::String(s) => unexpected == format!("string {s:?}"),
            DeValue::Integer(_) | DeValue::Float(_) => {
                unexpected.ends_with(&format!(" `{raw}`")) && !unexpected.starts_with("string")
            }
            DeValue::Boolean(b) => unexpected == format!("boolean `{b}`"),
            DeValue::Array(_) => unexpected == "sequence",
            DeValue::Table(_) => unexpected == "map",
            _ => false,
        }
    });
    let (k, _) = found.next()?;
    if found.next().is_some() {
        return None; // ambiguous: keep the table's own location
    }
    Some((k.get_ref().to_string(), k.span().start))
}

#[cfg(test)]
mod tests {
    use super::with_suggestion;

    #[test]
    fn the_nearest_expected_name_is_suggested_when_one_is_near() {
        let m = "unknown field `num_leavs`, expected one of `engine`, `num_leaves`, `seed`";
        assert_eq!(
            with_suggestion(m),
            "unknown field `num_leavs`; did you mean `num_leaves`? (expected one of `engine`, \
             `num_leaves`, `seed`)"
        );
        let far = "unknown field `colour`, expected one of `engine`, `seed`";
        assert_eq!(with_suggestion(far), far);
        let variant = "unknown variant `walkforward`, expected one of `tss`, `walk-forward`";
        assert!(with_suggestion(variant).contains("did you mean `walk-forward`?"));
        assert_eq!(
            with_suggestion("invalid type: string"),
            "invalid type: string"
        );
    }
}
