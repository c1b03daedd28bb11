//! The domain's typed errors, one variant per area. Each names where the problem is (file, line,
//! column, config key, fold, model, statistic) so the CLI and the browser can show it verbatim,
//! and errors from the engines below travel as their source.

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    /// A bad value in a data file.
    #[error("{file}: line {line}, column `{column}`: {message}")]
    DataCell {
        file: String,
        line: u64,
        column: String,
        message: String,
    },
    /// A problem with a data file as a whole (empty, missing column, unreadable).
    #[error("{file}: {message}")]
    DataFile { file: String, message: String },
    /// Invalid splitter parameters; mirrors the errors scikit-learn / skfolio raise.
    #[error("invalid split parameters: {0}")]
    Split(String),
    /// A config that is not valid TOML, or whose keys or types do not fit (the parser's message
    /// names the line, column and key).
    #[error("config: {}", one_line(.0))]
    ConfigSyntax(toml::de::Error),
    /// A config value that parses but cannot be used; `key` is its path (`label.horizon`).
    #[error("config: {key}: {message}")]
    Config { key: String, message: String },
    /// A feature could not be computed.
    #[error("feature `{feature}` on `{instrument}`: {message}")]
    Feature {
        feature: String,
        instrument: String,
        message: String,
    },
    /// The data leaves nothing to learn from (too short for the warm-up and horizon, or
    /// inconsistent across instruments).
    #[error("dataset: {0}")]
    Dataset(String),
    /// A fold that cannot be used (no training or test rows).
    #[error("fold {fold}: {message}")]
    Fold { fold: usize, message: String },
    /// Stopped on request (a pruned tuning trial).
    #[error("cancelled")]
    Cancelled,
    /// The tree engine refused a model file, parameters or data.
    #[error(transparent)]
    Gbdt(#[from] strider_gbdt::Error),
    /// A model failed to fit or predict.
    #[error("model `{model}`: {message}")]
    Model { model: String, message: String },
    /// A statistical test or estimator given inputs it cannot use (too few observations,
    /// series of different lengths, zero variance).
    #[error("{test}: {message}")]
    Stats { test: &'static str, message: String },
    /// A deployment bundle that cannot be read, or data that does not fit its signature (the
    /// message names the file, the instrument or the column).
    #[error("bundle: {0}")]
    Bundle(String),
    /// Inputs of an analysis that do not fit together: a report payload, what-if scores or
    /// weights, a returns table for `strider metrics` (the message says which).
    #[error("{0}")]
    RunData(String),
}

// Not `#[from]`: the parser's message is this error's own text, so it is not also its source
// (a printed cause chain would repeat it).
impl From<toml::de::Error> for Error {
    fn from(e: toml::de::Error) -> Self {
        Error::ConfigSyntax(e)
    }
}

/// The parser's error on one line: "TOML parse error at line 2, column 6: invalid table header;
/// expected `.`, `]`" (its display adds a multi-line source excerpt).
fn one_line(e: &toml::de::Error) -> String {
    let full = e.to_string();
    let message = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match full.lines().next() {
        Some(at) if at.starts_with("TOML parse error") => format!("{at}: {message}"),
        _ => message,
    }
}

impl Error {
    /// A config value that cannot be used, at `key`.
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    /// A statistic's input error.
    pub fn stats(test: &'static str, message: impl Into<String>) -> Self {
        Error::Stats {
            test,
            message: message.into(),
        }
    }
}
