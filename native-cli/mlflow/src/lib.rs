//! MLflow tracking and model registry in Rust: experiments, runs (nested through
//! `mlflow.parentRunId`), params, metrics with step and timestamp, tags, artifacts, dataset
//! inputs, and a model registry whose aliases keep a history that can be rolled back.
//!
//! Two stores speak it: [`LocalStore`] writes MLflow's FileStore layout (`mlruns/`, which MLflow
//! reads with `MLFLOW_ALLOW_FILE_STORE=true` and converts with `mlflow migrate-filestore`), and
//! [`RestClient`] talks to a real MLflow server. [`Tracker`] always writes a run locally first; a
//! server is fed live and then reconciled by [`sync::sync_run`], which is idempotent. So a server
//! outage only delays delivery, and `strider mlflow sync` is the same code path. The registry
//! ([`registry`]) works on either store through the [`Registry`] trait.
//!
//! Architecture invariant: this crate depends on nothing else in Strider (only on crates.io
//! crates), so it builds and is tested on its own. Every network call is an HTTP request made by
//! a [`RestClient`], and every attempt runs under a deadline: 60 s for the whole exchange
//! ([`rest::REQUEST_TIMEOUT`]: connecting, sending, reading the full response), of which
//! connecting may take at most 30 s ([`rest::CONNECT_TIMEOUT`]); only DNS resolution cannot be
//! interrupted. A request is tried at most [`RetryPolicy::attempts`] times (5 by default, on
//! 408 / 429 / 5xx and connection failures, waiting 0.2 s doubling up to 5 s in between). Local
//! metadata files are replaced atomically (write, then rename). Errors are the typed [`Error`]
//! (`Send + Sync + 'static`, so `anyhow`'s `?` and `.context()` take it).
//!
//! ```
//! use std::collections::BTreeMap;
//! use strider_mlflow::{LocalStore, Metric, RunStatus, now_ms};
//!
//! // A fresh store in a unique temporary directory.
//! let dir = std::env::temp_dir().join(format!("strider-mlflow-doc-{}-{}", std::process::id(), now_ms()));
//! let store = LocalStore::open(&dir)?;
//! let exp = store.get_or_create_experiment("demo")?;
//! assert_eq!(store.get_or_create_experiment("demo")?, exp); // found, not created twice
//!
//! let run = "0123456789abcdef0123456789abcdef"; // the caller picks run ids (a uuid4 hex)
//! store.create_run(&exp, run, "first", now_ms(), &BTreeMap::new())?;
//! let rmse = Metric { key: "rmse".into(), value: 0.25, timestamp: now_ms(), step: 3 };
//! store.log_metrics(&exp, run, &[rmse])?;
//! store.end_run(&exp, run, RunStatus::Finished, now_ms())?;
//!
//! let data = store.read_run(&exp, run)?;
//! assert_eq!(data.metrics["rmse"].len(), 1);
//! assert_eq!(data.metrics["rmse"][0].value, 0.25);
//! assert_eq!(data.metrics["rmse"][0].step, 3);
//! assert_eq!(data.status, RunStatus::Finished);
//! std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), strider_mlflow::Error>(())
//! ```
// No panics by construction in library code (tests may unwrap): see docs/configuration.md, "Limits and hostile input".
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod error;
pub mod local;
pub mod logged_model;
pub mod mlmodel;
pub mod registry;
pub mod rest;
mod streamer;
pub mod sync;
pub mod tracker;
mod yaml;

pub use error::{Error, Result};
pub use local::LocalStore;
pub use registry::{
    AliasMove, LocalRegistry, ModelInfo, Registry, RestRegistry, RunLineage, VersionInfo,
};
pub use rest::{RestClient, RestError, RetryPolicy};
pub use sync::{IdMap, SyncReport};
pub use tracker::{FinishReport, Tracker};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One metric point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub key: String,
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub step: i64,
}

/// A dataset a run consumed, as MLflow's `log-inputs` records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInput {
    pub name: String,
    /// At most 36 characters (MLflow's limit).
    pub digest: String,
    pub source_type: String,
    /// JSON-encoded source, e.g. `{"uri": "file:///data/x.csv"}`.
    pub source: String,
    /// JSON-encoded profile, e.g. `{"num_rows": 100}`.
    pub profile: String,
    /// `training`, `validation` or `test`.
    pub context: String,
}

/// A run's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunStatus {
    Running,
    Finished,
    Failed,
    Killed,
}

impl RunStatus {
    /// The FileStore's integer code.
    pub fn code(self) -> i64 {
        match self {
            RunStatus::Running => 1,
            RunStatus::Finished => 3,
            RunStatus::Failed => 4,
            RunStatus::Killed => 5,
        }
    }

    /// The status of a FileStore code (unknown codes read as `Running`).
    pub fn from_code(c: i64) -> Self {
        match c {
            3 => RunStatus::Finished,
            4 => RunStatus::Failed,
            5 => RunStatus::Killed,
            _ => RunStatus::Running,
        }
    }

    /// The REST API's name.
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }
}

/// Everything recorded about one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunData {
    pub run_id: String,
    pub experiment_id: String,
    pub name: String,
    pub status: RunStatus,
    pub start_time: i64,
    pub end_time: Option<i64>,
    pub params: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, Vec<Metric>>,
    pub inputs: Vec<DatasetInput>,
    /// Artifact paths relative to the run's artifact root.
    pub artifacts: Vec<String>,
}

impl RunData {
    /// The parent run's id, for a nested run.
    pub fn parent(&self) -> Option<&str> {
        self.tags.get(PARENT_TAG).map(String::as_str)
    }
}

/// Tag MLflow nests runs by: the parent run's id.
pub const PARENT_TAG: &str = "mlflow.parentRunId";
/// Tag a synced server run carries: the id of the local run it mirrors (makes sync idempotent).
pub const SOURCE_RUN_TAG: &str = "strider.source_run_id";

/// MLflow's longest metric, param or tag key.
pub const MAX_KEY: usize = 250;
/// MLflow's longest param value, in characters.
pub const MAX_PARAM_VALUE: usize = 6000;
/// MLflow's longest tag value, in characters.
pub const MAX_TAG_VALUE: usize = 8000;

/// MLflow's key rule: alphanumerics, `_ - . space / :`, a normalised relative path, <= 250 chars.
pub(crate) fn check_key(kind: &'static str, key: &str) -> Result<()> {
    let ok_chars = key
        .chars()
        .all(|c| c.is_alphanumeric() || "_-. /:".contains(c));
    let normalised = !key.starts_with('/')
        && !key.contains("//")
        && !key.split('/').any(|p| p == ".." || p == ".");
    if key.is_empty() || key.len() > MAX_KEY || !ok_chars || !normalised {
        return Err(Error::InvalidKey {
            kind,
            key: key.to_string(),
        });
    }
    Ok(())
}

/// MLflow's length limit on param and tag values (counted in characters).
pub(crate) fn check_value(kind: &'static str, key: &str, value: &str, max: usize) -> Result<()> {
    let len = value.chars().count();
    if len > max {
        return Err(Error::ValueTooLong {
            kind,
            key: key.to_string(),
            len,
            max,
        });
    }
    Ok(())
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Where runs go: a local `mlruns/` directory or an MLflow server.
#[derive(Debug, Clone, PartialEq)]
pub enum TrackingUri {
    Local(std::path::PathBuf),
    Server(String),
}

impl TrackingUri {
    /// `http(s)://...` is a server; `file://PATH` or a plain path is a local store. Without a
    /// value, `MLFLOW_TRACKING_URI` is used, then `./mlruns`.
    pub fn resolve(given: Option<&str>) -> Self {
        let env = std::env::var("MLFLOW_TRACKING_URI")
            .ok()
            .filter(|s| !s.is_empty());
        let raw = given
            .map(str::to_string)
            .or(env)
            .unwrap_or_else(|| "mlruns".into());
        if raw.starts_with("http://") || raw.starts_with("https://") {
            TrackingUri::Server(raw.trim_end_matches('/').to_string())
        } else {
            TrackingUri::Local(raw.strip_prefix("file://").unwrap_or(&raw).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflow_rules() {
        for ok in ["loss", "val/auc", "model.depth", "a-b_c d:e", "ünïcode"] {
            assert!(check_key("metric", ok).is_ok(), "{ok}");
        }
        let too_long = "k".repeat(MAX_KEY + 1);
        for bad in [
            "",
            "/abs",
            "a//b",
            "../up",
            "a/./b",
            "semi;colon",
            &too_long,
        ] {
            let e = check_key("param", bad).unwrap_err();
            assert!(e.to_string().starts_with("invalid param key"), "{bad}: {e}");
        }
        assert!(check_value("tag", "k", &"é".repeat(10), 10).is_ok());
        assert!(matches!(
            check_value("tag", "k", &"é".repeat(11), 10),
            Err(Error::ValueTooLong {
                len: 11,
                max: 10,
                ..
            })
        ));
    }

    #[test]
    fn status_codes_round_trip_and_uris_resolve() {
        for s in [
            RunStatus::Running,
            RunStatus::Finished,
            RunStatus::Failed,
            RunStatus::Killed,
        ] {
            assert_eq!(RunStatus::from_code(s.code()), s);
        }
        assert_eq!(RunStatus::Failed.name(), "FAILED");
        assert_eq!(
            TrackingUri::resolve(Some("https://mlflow.example:5000/")),
            TrackingUri::Server("https://mlflow.example:5000".into())
        );
        assert_eq!(
            TrackingUri::resolve(Some("file:///tmp/mlruns")),
            TrackingUri::Local("/tmp/mlruns".into())
        );
        assert_eq!(
            TrackingUri::resolve(Some("runs/here")),
            TrackingUri::Local("runs/here".into())
        );
    }
}
