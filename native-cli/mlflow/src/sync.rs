//! Replay local runs to a server, idempotently. A server run mirrors a local one through the tag
//! `strider.source_run_id`: it is found, not duplicated, on every later sync. Params are
//! immutable and equal, tags are overwritten with the same values, MLflow drops metric points it
//! already has (same key, value, timestamp, step), artifacts are re-uploaded in place, and
//! dataset inputs are only logged when the server run has none with the same digest.

use std::collections::{BTreeMap, HashMap};

use crate::error::IoContext;
use crate::local::LocalStore;
use crate::rest::{RestClient, field_str};
use crate::{Error, PARENT_TAG, Result, RunData, SOURCE_RUN_TAG};

/// What a sync did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SyncReport {
    pub runs_created: usize,
    pub runs_updated: usize,
    pub metric_points: usize,
    pub artifacts: usize,
}

/// Local run id -> server run id, filled as runs are synced (parents before children).
pub type IdMap = HashMap<String, String>;

fn depth(run: &RunData, all: &HashMap<String, RunData>) -> usize {
    let mut d = 0;
    let mut cur = run.parent().map(str::to_string);
    while let Some(p) = cur {
        d += 1;
        cur = all.get(&p).and_then(|r| r.parent().map(str::to_string));
        if d > 64 {
            break;
        }
    }
    d
}

/// Sync every run of every local experiment (or only `only` run ids and their ancestors).
/// `known` holds server ids already known for local runs (created live), which skips a search.
pub fn sync_store(
    local: &LocalStore,
    rest: &RestClient,
    only: Option<&[String]>,
    known: &IdMap,
) -> Result<(SyncReport, IdMap)> {
    let mut report = SyncReport::default();
    let mut ids = known.clone();
    for (exp, name) in local.experiments() {
        let runs: HashMap<String, RunData> = local
            .run_ids(&exp)
            .into_iter()
            .filter_map(|r| local.read_run(&exp, &r).ok().map(|d| (r, d)))
            .collect();
        let mut wanted: Vec<&RunData> = runs
            .values()
            .filter(|r| only.is_none_or(|o| o.contains(&r.run_id)))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        wanted.sort_by_key(|r| (depth(r, &runs), r.start_time, r.run_id.clone()));
        let in_experiment = |source| Error::Sync {
            experiment: name.clone(),
            source: Box::new(source),
        };
        let server_exp = rest
            .get_or_create_experiment(&name)
            .map_err(in_experiment)?;
        for run in wanted {
            sync_run(local, rest, &server_exp, run, &mut ids, &mut report)
                .map_err(in_experiment)?;
        }
    }
    Ok((report, ids))
}

/// Make the server's copy of one local run complete. Returns the server run id.
pub fn sync_run(
    local: &LocalStore,
    rest: &RestClient,
    server_exp: &str,
    run: &RunData,
    ids: &mut IdMap,
    report: &mut SyncReport,
) -> Result<String> {
    let (found, found_by) = match ids.get(&run.run_id) {
        Some(sid) => (
            vec![rest.get("runs/get", &[("run_id", sid)])?["run"].clone()],
            "runs/get",
        ),
        None => (
            rest.search_runs_by_tag(server_exp, SOURCE_RUN_TAG, &run.run_id)?,
            "runs/search",
        ),
    };
    let mut tags: BTreeMap<String, String> = run.tags.clone();
    tags.insert(SOURCE_RUN_TAG.into(), run.run_id.clone());
    if let Some(parent) = run.parent() {
        match ids.get(parent) {
            Some(server_parent) => {
                tags.insert(PARENT_TAG.into(), server_parent.clone());
            }
            None => {
                tags.remove(PARENT_TAG);
            }
        }
    }
    let (server_id, artifact_uri, had_inputs) = match found.first() {
        Some(existing) => {
            report.runs_updated += 1;
            let digests: Vec<String> = existing["inputs"]["dataset_inputs"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|d| d["dataset"]["digest"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            (
                field_str(&existing["info"]["run_id"], found_by, "run.info.run_id")?,
                existing["info"]["artifact_uri"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                digests,
            )
        }
        None => {
            report.runs_created += 1;
            let created = rest.create_run(server_exp, &run.name, run.start_time, &tags)?;
            (
                field_str(&created["info"]["run_id"], "runs/create", "run.info.run_id")?,
                created["info"]["artifact_uri"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                Vec::new(),
            )
        }
    };
    ids.insert(run.run_id.clone(), server_id.clone());
    let metrics: Vec<_> = run.metrics.values().flatten().cloned().collect();
    report.metric_points += metrics.len();
    rest.log_batch(&server_id, &metrics, &run.params, &tags)?;
    let new_inputs: Vec<_> = run
        .inputs
        .iter()
        .filter(|d| !had_inputs.contains(&d.digest))
        .cloned()
        .collect();
    rest.log_inputs(&server_id, &new_inputs)?;
    for rel in &run.artifacts {
        let path = local.artifact_path(&run.experiment_id, &run.run_id, rel);
        let bytes = std::fs::read(&path).at("reading artifact", &path)?;
        rest.upload_artifact(&artifact_uri, rel, &bytes)?;
        report.artifacts += 1;
    }
    if run.status != crate::RunStatus::Running {
        rest.update_run(&server_id, run.status, run.end_time)?;
    }
    Ok(server_id)
}
