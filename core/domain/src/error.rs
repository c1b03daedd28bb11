//! One typed error for the core. Every variant names where the problem is (file, line, column,
//! config key, fold, model) so the CLI and the browser can show it verbatim.

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error, Clone, PartialEq)]
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
    /// Invalid configuration (unknown key, bad value, inconsistent settings).
    #[error("config: {0}")]
    Config(String),
    /// A feature could not be computed.
    #[error("feature `{feature}` on `{instrument}`: {message}")]
    Feature {
        feature: String,
        instrument: String,
        message: String,
    },
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
}
