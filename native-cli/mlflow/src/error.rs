//! The crate's one error type. Each variant names what failed and carries the error beneath it as
//! its [`source`](std::error::Error::source), so `anyhow`'s `{:#}` (or any error reporter) prints
//! the whole chain on one line, e.g. `writing /x/mlruns/0/meta.yaml: Permission denied (os error
//! 13)`. Messages never repeat their source's text.

use std::path::{Path, PathBuf};

use crate::rest::RestError;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in tracking, the registry and sync.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- the MLflow server ----------------------------------------------------------------------
    /// The server answered with an error status, or could not be reached (after the retries).
    #[error(transparent)]
    Rest(#[from] RestError),

    /// Uploading one artifact through the server's artifact proxy failed.
    #[error("uploading artifact `{path}`")]
    ArtifactUpload {
        /// The artifact's path relative to the run's artifact root.
        path: String,
        #[source]
        source: RestError,
    },
    /// Downloading an artifact (or listing a folder) through the artifact proxy failed.
    #[error("downloading artifact `{path}`")]
    ArtifactDownload {
        path: String,
        #[source]
        source: RestError,
    },

    /// The run's artifact root is not proxied by the tracking server, so artifacts cannot be sent.
    #[error(
        "run artifact root `{artifact_uri}` is not served by the tracking server (mlflow-artifacts:/); start it with artifact serving"
    )]
    ArtifactsNotServed { artifact_uri: String },

    /// A successful answer lacked a field MLflow always sends.
    #[error("the MLflow server's answer to `{endpoint}` has no `{field}`")]
    UnexpectedResponse {
        endpoint: &'static str,
        field: &'static str,
    },

    /// Replaying one local experiment to the server failed.
    #[error("syncing experiment `{experiment}`")]
    Sync {
        experiment: String,
        #[source]
        source: Box<Error>,
    },

    // ---- the local store ------------------------------------------------------------------------
    /// A file-system operation on the local store failed.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done: `reading`, `writing`, `creating`, ...
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A store file exists but does not hold what MLflow's layout says it should.
    #[error("corrupt store file {}: {problem}", path.display())]
    CorruptStore { path: PathBuf, problem: String },

    /// JSON could not be written or read.
    #[error("{context}")]
    Json {
        /// What was being (de)serialised.
        context: String,
        #[source]
        source: serde_json::Error,
    },

    // ---- MLflow's rules -------------------------------------------------------------------------
    /// A metric, param or tag key breaks MLflow's key rule.
    #[error(
        "invalid {kind} key `{key}`: MLflow keys are 1-{max} characters of letters, digits, `_ - . space / :` forming a relative path",
        max = crate::MAX_KEY
    )]
    InvalidKey { kind: &'static str, key: String },

    /// A param or tag value is longer than MLflow keeps.
    #[error(
        "{kind} `{key}` is {len} characters long; MLflow keeps at most {max} (it would silently truncate it)"
    )]
    ValueTooLong {
        kind: &'static str,
        key: String,
        len: usize,
        max: usize,
    },

    /// Params are immutable in MLflow: logging a different value for a logged key.
    #[error("param `{key}` is already `{old}`; MLflow does not allow changing it to `{new}`")]
    ParamChanged {
        key: String,
        old: String,
        new: String,
    },

    /// An artifact path that is absolute or not normalised (`..`, `.`, empty segments).
    #[error("artifact path `{path}` must be relative and normalised")]
    InvalidArtifactPath { path: String },

    /// An alias MLflow would refuse or reserves (`latest`, `v<digits>`).
    #[error(
        "alias `{alias}`: use letters, digits, `_` and `-`; `latest` and `v<digits>` are reserved by MLflow"
    )]
    InvalidAlias { alias: String },

    /// A registered model name the local registry cannot store as a directory.
    #[error(
        "registered model name `{name}` must not be empty, contain slashes or start with a dot"
    )]
    InvalidModelName { name: String },

    // ---- not found ------------------------------------------------------------------------------
    /// No such run.
    #[error("run `{run_id}` not found in {location}")]
    RunNotFound {
        run_id: String,
        /// `experiment <id>`, or the store's root.
        location: String,
    },

    /// No such registered model.
    #[error("registered model `{name}` not found in {location}")]
    ModelNotFound { name: String, location: String },

    /// The model exists but not this version.
    #[error("model `{name}` has no version {version}")]
    VersionNotFound { name: String, version: u64 },

    /// `rollback` of an alias that was never moved (through this crate).
    #[error("alias `{alias}` of `{name}` has no recorded moves to roll back")]
    NoAliasHistory { name: String, alias: String },

    /// `rollback` of an alias whose latest move was its first: there is no earlier version.
    #[error(
        "alias `{alias}` of `{name}` pointed at nothing before version {version}: nothing to roll back to"
    )]
    NothingToRollBackTo {
        name: String,
        alias: String,
        version: u64,
    },
}

impl Error {
    /// The server error underneath, if this is one (directly or while syncing or uploading).
    pub fn rest(&self) -> Option<&RestError> {
        match self {
            Error::Rest(e)
            | Error::ArtifactUpload { source: e, .. }
            | Error::ArtifactDownload { source: e, .. } => Some(e),
            Error::Sync { source, .. } => source.rest(),
            _ => None,
        }
    }

    /// Whether this is a "does not exist" error (run, model, version, alias history).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Error::RunNotFound { .. }
                | Error::ModelNotFound { .. }
                | Error::VersionNotFound { .. }
                | Error::NoAliasHistory { .. }
        )
    }
}

/// The error and its sources, `outer: inner: ...`, on one line (what `anyhow`'s `{:#}` prints).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// Attach the action and path to an I/O error.
pub(crate) trait IoContext<T> {
    fn at(self, action: &'static str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, action: &'static str, path: &Path) -> Result<T> {
        self.map_err(|source| Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_send_sync_static_and_chains_its_source() {
        fn assert_bounds<E: std::error::Error + Send + Sync + 'static>() {}
        assert_bounds::<Error>();

        let io: Result<()> = Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "denied",
        ))
        .at("writing", Path::new("/x/meta.yaml"));
        let e = io.unwrap_err();
        assert_eq!(e.to_string(), "writing /x/meta.yaml");
        assert_eq!(chain(&e), "writing /x/meta.yaml: denied");

        let rest = RestError {
            status: Some(503),
            error_code: None,
            message: "down".into(),
        };
        let e = Error::Sync {
            experiment: "exp".into(),
            source: Box::new(Error::from(rest)),
        };
        assert_eq!(chain(&e), "syncing experiment `exp`: HTTP 503: down");
        assert!(e.rest().is_some_and(RestError::is_unavailable));
        assert!(!e.is_not_found());
    }
}
