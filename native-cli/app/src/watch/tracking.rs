//! Each cycle as an MLflow run, written exactly once: the run id is derived from the cycle, a
//! redo after `kill -9` removes the partial run before writing it again, and a server receives it
//! through the idempotent sync (`strider.source_run_id`), never twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use strider_mlflow::local::LocalStore;
use strider_mlflow::{IdMap, Metric, RestClient, RunStatus, TrackingUri};

use crate::Result;

/// What a cycle logs.
pub struct CycleRun<'a> {
    pub experiment: &'a str,
    pub cycle: &'a str,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    pub tags: BTreeMap<String, String>,
    /// (artifact path, bytes): the cycle report and the cycle's events.
    pub artifacts: Vec<(String, Vec<u8>)>,
    /// The bar's date as milliseconds (the run's start and end time: reproducible).
    pub time_ms: i64,
}

/// The local store cycles are written to: the tracking store itself, or for a server a buffer
/// in the state directory.
fn local_root(tracking_uri: Option<&str>, state: &Path) -> (PathBuf, Option<String>) {
    match TrackingUri::resolve(tracking_uri) {
        TrackingUri::Local(p) => (p, None),
        TrackingUri::Server(base) => (state.join("tracking-buffer"), Some(base)),
    }
}

/// Logs `run`; `instance` (the state's id) keeps cycles of two state directories that share a
/// store apart.
pub fn log_cycle(
    tracking_uri: Option<&str>,
    state: &Path,
    instance: &str,
    run: &CycleRun,
) -> Result<()> {
    let (root, server) = local_root(tracking_uri, state);
    let store = LocalStore::open(&root)?;
    let exp = store.get_or_create_experiment(run.experiment)?;
    let key = format!("{}@{instance}", run.cycle);
    let id = strider_core::bundle::sha256_hex(key.as_bytes())[..32].to_string();
    let dir = root.join(&exp).join(&id);
    if dir.exists() {
        // A partial run from an interrupted step: written again from scratch.
        std::fs::remove_dir_all(&dir)?;
    }
    store.create_run(&exp, &id, run.cycle, run.time_ms, &run.tags)?;
    store.log_params(&exp, &id, &run.params)?;
    let metrics: Vec<Metric> = run
        .metrics
        .iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(k, v)| Metric {
            key: k.clone(),
            value: *v,
            timestamp: run.time_ms,
            step: 0,
        })
        .collect();
    store.log_metrics(&exp, &id, &metrics)?;
    for (path, bytes) in &run.artifacts {
        store.log_artifact(&exp, &id, path, bytes)?;
    }
    store.end_run(&exp, &id, RunStatus::Finished, run.time_ms)?;
    if let Some(base) = server {
        // Every buffered cycle, not only this one: runs a down server missed go now (the sync
        // is idempotent).
        let rest = RestClient::new(&base);
        let all = store.run_ids(&exp);
        strider_mlflow::sync::sync_store(&store, &rest, Some(&all), &IdMap::new())?;
    }
    Ok(())
}
