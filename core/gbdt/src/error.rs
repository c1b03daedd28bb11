//! The one error type of the GBDT crate: where a model file is malformed, or which parameter or
//! input a trainer refused.

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// A malformed `model.txt` (1-based line of the file).
    #[error("model `model.txt`: line {line}: {message}")]
    Parse { line: usize, message: String },
    /// Parameters or training data the trainer cannot use.
    #[error("model `gbdt`: {0}")]
    Train(String),
    /// A native trainer (e.g. LightGBM's C API) failed.
    #[error("model `gbdt`: {0}")]
    Native(String),
}
