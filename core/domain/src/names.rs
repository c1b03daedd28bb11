//! One rule for every user-given name that becomes a file name, an MLflow key or a registry
//! name (model names today): checked when a config is loaded, before any work starts, so a
//! name can neither escape the run directory (`../x`) nor fail at the end of a run as an invalid
//! MLflow key (`ridge+lags`).

#![deny(clippy::indexing_slicing)] // parses untrusted text: no index may panic

use crate::{Error, Result};

/// The longest name accepted (MLflow keys allow 250 characters; file names 255 bytes).
pub const MAX_NAME_LEN: usize = 64;

/// Letters, digits, `_`, `-` and `.`, 1 to [`MAX_NAME_LEN`] characters, not starting with `.`
/// (no hidden files, no `..`). `key` is the config path named in the error.
pub fn check_name(key: &str, name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::config(
            key,
            format!(
                "`{}` is not a valid name: {why} (letters, digits, `_`, `-` and `.`, at most \
                 {MAX_NAME_LEN} characters, not starting with `.`)",
                name.escape_default()
            ),
        ))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.chars().count() > MAX_NAME_LEN {
        return bad("it is too long");
    }
    if name.starts_with('.') {
        return bad("it starts with `.`");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return bad(&format!("`{}` is not allowed", c.escape_default()));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn names_that_escape_or_break_keys_are_refused() {
        for bad in [
            "",
            "../../base/models/ridge",
            "..",
            ".hidden",
            "a/b",
            "a\\b",
            "ridge+lags",
            "two words",
            "café",
            "tab\there",
            &"x".repeat(65),
        ] {
            let e = check_name("models.name", bad).unwrap_err().to_string();
            assert!(e.starts_with("config: models.name: `"), "{bad}: {e}");
        }
        for good in ["ridge", "gbdt_2", "lstm-fast", "v1.2", &"x".repeat(64)] {
            check_name("models.name", good).unwrap();
        }
    }
}
