//! The tuning crate's errors, one variant per area, so a caller can tell a bad search space from
//! a misused study and from a storage that failed (whose cause travels as the source).

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A storage failure's cause (a database driver's or the file system's error).
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, Error)]
pub enum Error {
    /// A parameter, distribution, search-space file or sampler that cannot be used.
    #[error("search space: {0}")]
    Space(String),
    /// The study API used out of order (a finished trial told again, a distribution changed).
    #[error("study: {0}")]
    Study(String),
    /// The storage failed or holds something unreadable.
    #[error("storage: {message}")]
    Storage {
        message: String,
        #[source]
        source: Option<Source>,
    },
}

impl Error {
    /// A storage error without an underlying cause.
    pub fn storage(message: impl Into<String>) -> Self {
        Error::Storage {
            message: message.into(),
            source: None,
        }
    }

    /// A storage error caused by `source`: the message says what was being done, the cause
    /// travels as the source (a printed chain shows both, once each).
    pub fn storage_from(
        context: impl std::fmt::Display,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Storage {
            message: context.to_string(),
            source: Some(Box::new(source)),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::storage_from("i/o", e)
    }
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::storage_from("sqlite", e)
    }
}

#[cfg(feature = "postgres")]
impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        Error::storage_from("postgresql", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn each_area_says_what_failed_and_a_storage_cause_travels_as_the_source() {
        assert_eq!(Error::Space("x".into()).to_string(), "search space: x");
        assert_eq!(
            Error::Study("told twice".into()).to_string(),
            "study: told twice"
        );
        let plain = Error::storage("torn");
        assert_eq!(plain.to_string(), "storage: torn");
        assert!(plain.source().is_none());
        let io = Error::from(std::io::Error::other("disk full"));
        assert_eq!(io.to_string(), "storage: i/o");
        assert_eq!(
            io.source().map(|s| s.to_string()).as_deref(),
            Some("disk full")
        );
    }
}
