//! Experiment tracking in MLflow's model: experiments, runs (nested through
//! `mlflow.parentRunId`), params, metrics with step and timestamp, tags, artifacts, dataset
//! inputs, and the model registry.
//!
//! Two stores speak it: [`local::LocalStore`] writes MLflow's FileStore layout (`mlruns/`, which
//! MLflow reads with `MLFLOW_ALLOW_FILE_STORE=true` and converts with `mlflow migrate-filestore`),
//! and [`rest::RestClient`] talks to a real MLflow server. A run is always written locally first;
//! a server is fed live and then reconciled by [`sync::sync_run`], which is idempotent. So a
//! server outage only delays delivery, and `strider mlflow sync` is the same code path.

pub mod local;
pub mod registry;
pub mod rest;
pub mod sync;
pub mod tracker;
mod yaml;

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

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
    pub fn parent(&self) -> Option<&str> {
        self.tags.get(PARENT_TAG).map(String::as_str)
    }
}

pub const PARENT_TAG: &str = "mlflow.parentRunId";
/// Tag a synced server run carries: the id of the local run it mirrors (makes sync idempotent).
pub const SOURCE_RUN_TAG: &str = "strider.source_run_id";

pub const MAX_KEY: usize = 250;
pub const MAX_PARAM_VALUE: usize = 6000;
pub const MAX_TAG_VALUE: usize = 8000;

/// MLflow's key rule: alphanumerics, `_ - . space / :`, a normalised relative path, <= 250 chars.
pub fn check_key(kind: &str, key: &str) -> Result<()> {
    let ok_chars = key
        .chars()
        .all(|c| c.is_alphanumeric() || "_-. /:".contains(c));
    let normalised = !key.starts_with('/')
        && !key.contains("//")
        && !key.split('/').any(|p| p == ".." || p == ".");
    if key.is_empty() || key.len() > MAX_KEY || !ok_chars || !normalised {
        bail!(
            "invalid {kind} key `{key}`: MLflow keys are 1-{MAX_KEY} characters of letters, digits, `_ - . space / :` forming a relative path"
        );
    }
    Ok(())
}

pub fn check_value(kind: &str, key: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        bail!(
            "{kind} `{key}` is {} characters long; MLflow keeps at most {max} (it would silently truncate it)",
            value.chars().count()
        );
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
