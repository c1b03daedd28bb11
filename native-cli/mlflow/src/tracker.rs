//! What `strider run` logs through. Every call lands in the local store at once; with a server,
//! runs and metric batches are also sent live, and [`Tracker::finish`] reconciles everything with
//! an idempotent sync, waiting for the server if it went away. Nothing logged is lost: if the
//! server stays down, the runs stay in the local buffer store for `strider mlflow sync`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::error::chain;
use crate::local::LocalStore;
use crate::rest::RestClient;
use crate::streamer::Streamer;
use crate::sync::{IdMap, SyncReport, sync_store};
use crate::{
    DatasetInput, Metric, PARENT_TAG, Result, RunStatus, SOURCE_RUN_TAG, TrackingUri, now_ms,
};

struct Remote {
    rest: RestClient,
    experiment: Option<String>,
    ids: IdMap,
    healthy: bool,
    /// Sends metric points from a thread of its own, at most a second after they are logged.
    streamer: Streamer,
}

/// Logs runs to a [`TrackingUri`]: always to a local store, and to a server if there is one.
pub struct Tracker {
    local: LocalStore,
    experiment: String,
    remote: Option<Remote>,
    runs: Vec<String>,
    /// Runs with artifacts: their status reaches a server only in the final sync, after the
    /// files (a FINISHED run is complete).
    with_artifacts: std::collections::HashSet<String>,
}

/// Outcome of [`Tracker::finish`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct FinishReport {
    pub tracking_uri: String,
    pub local_store: PathBuf,
    /// `None` for a local store; otherwise whether the server has everything.
    pub synced: Option<bool>,
    pub sync: Option<SyncReport>,
    /// Local run id -> server run id, for the runs that reached the server.
    pub server_run_ids: BTreeMap<String, String>,
    pub error: Option<String>,
}

/// Where runs for a server are buffered: `$STRIDER_MLFLOW_BUFFER`, else
/// `~/.cache/strider/mlflow-buffer/<host_port>/mlruns`.
pub(crate) fn buffer_dir(server: &str) -> PathBuf {
    if let Ok(d) = std::env::var("STRIDER_MLFLOW_BUFFER") {
        return PathBuf::from(d);
    }
    let host: String = server
        .split("://")
        .nth(1)
        .unwrap_or(server)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
    PathBuf::from(home)
        .join(".cache/strider/mlflow-buffer")
        .join(host)
        .join("mlruns")
}

impl Tracker {
    /// Open the store(s) of `uri` and get or create `experiment` there. An unreachable server is
    /// not an error: runs are then only buffered locally until [`Self::finish`].
    pub fn open(uri: TrackingUri, experiment: &str) -> Result<Self> {
        Self::open_with_budget(uri, experiment, crate::rest::REQUEST_TIMEOUT)
    }

    /// [`Tracker::open`] whose server calls each take at most `budget`, retries included: a
    /// server that accepts and never answers delays a run by about that much, then the run goes
    /// on locally (and is synced later).
    pub fn open_with_budget(uri: TrackingUri, experiment: &str, budget: Duration) -> Result<Self> {
        Self::open_buffered(uri, experiment, budget, None)
    }

    /// [`Tracker::open_with_budget`] buffering a server's runs in `buffer` (default: the user's
    /// cache, see `STRIDER_MLFLOW_BUFFER`).
    pub fn open_buffered(
        uri: TrackingUri,
        experiment: &str,
        budget: Duration,
        buffer: Option<PathBuf>,
    ) -> Result<Self> {
        let (local_root, remote) = match &uri {
            TrackingUri::Local(p) => (p.clone(), None),
            TrackingUri::Server(base) => {
                let rest = RestClient::new(base).with_budget(budget);
                let streamer = Streamer::start(RestClient::new(base).with_budget(budget));
                (
                    buffer.unwrap_or_else(|| buffer_dir(base)),
                    Some(Remote {
                        rest,
                        experiment: None,
                        ids: IdMap::new(),
                        healthy: true,
                        streamer,
                    }),
                )
            }
        };
        let local = LocalStore::open(&local_root)?;
        let exp = local.get_or_create_experiment(experiment)?;
        let mut t = Tracker {
            local,
            experiment: exp,
            remote,
            runs: Vec::new(),
            with_artifacts: Default::default(),
        };
        if let Some(r) = &mut t.remote {
            match r.rest.get_or_create_experiment(experiment) {
                Ok(id) => r.experiment = Some(id),
                Err(_) => r.healthy = false,
            }
        }
        Ok(t)
    }

    /// Run a remote call while the server is healthy; a failure marks it down until `finish`.
    fn remote_do(&mut self, f: impl FnOnce(&mut Remote) -> Result<()>) {
        if let Some(r) = &mut self.remote
            && r.healthy
            && r.experiment.is_some()
            && f(r).is_err()
        {
            r.healthy = false;
        }
    }

    /// Start a run (a child of `parent` if given); returns its local run id.
    pub fn start_run(
        &mut self,
        name: &str,
        parent: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut tags = tags.clone();
        if let Some(p) = parent {
            tags.insert(PARENT_TAG.into(), p.into());
        }
        let start = now_ms();
        self.local
            .create_run(&self.experiment, &id, name, start, &tags)?;
        self.runs.push(id.clone());
        let local_id = id.clone();
        self.remote_do(|r| {
            let mut server_tags = tags.clone();
            server_tags.insert(SOURCE_RUN_TAG.into(), local_id.clone());
            if let Some(p) = parent {
                match r.ids.get(p) {
                    Some(sp) => {
                        server_tags.insert(PARENT_TAG.into(), sp.clone());
                    }
                    None => {
                        server_tags.remove(PARENT_TAG);
                    }
                }
            }
            let Some(experiment) = r.experiment.as_deref() else {
                return Ok(()); // remote_do runs only once the experiment exists
            };
            let run = r.rest.create_run(experiment, name, start, &server_tags)?;
            let sid = run["info"]["run_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            r.ids.insert(local_id, sid);
            Ok(())
        });
        Ok(id)
    }

    pub fn log_params(&mut self, run: &str, params: &BTreeMap<String, String>) -> Result<()> {
        self.local.log_params(&self.experiment, run, params)?;
        self.remote_do(|r| match r.ids.get(run) {
            Some(sid) => r.rest.log_batch(sid, &[], params, &BTreeMap::new()),
            None => Ok(()),
        });
        Ok(())
    }

    pub fn set_tags(&mut self, run: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        self.local.set_tags(&self.experiment, run, tags)?;
        self.remote_do(|r| match r.ids.get(run) {
            Some(sid) => r.rest.log_batch(sid, &[], &BTreeMap::new(), tags),
            None => Ok(()),
        });
        Ok(())
    }

    /// Append metric points; with a server they are also streamed to it, batched, within a
    /// second.
    pub fn log_metrics(&mut self, run: &str, metrics: &[Metric]) -> Result<()> {
        self.local.log_metrics(&self.experiment, run, metrics)?;
        if let Some(r) = &self.remote
            && r.healthy
            && let Some(sid) = r.ids.get(run)
        {
            r.streamer.send(sid, metrics);
        }
        Ok(())
    }

    /// Send the streamed points queued so far now, without waiting for the second to pass.
    pub fn flush(&mut self) {
        if let Some(r) = &self.remote {
            r.streamer.flush();
        }
    }

    pub fn log_input(&mut self, run: &str, d: &DatasetInput) -> Result<()> {
        self.local.log_input(&self.experiment, run, d)?;
        self.remote_do(|r| match r.ids.get(run) {
            Some(sid) => r.rest.log_inputs(sid, std::slice::from_ref(d)),
            None => Ok(()),
        });
        Ok(())
    }

    /// Artifacts are written locally and uploaded by the final sync.
    pub fn log_artifact(&mut self, run: &str, rel: &str, bytes: &[u8]) -> Result<()> {
        self.with_artifacts.insert(run.to_string());
        self.local.log_artifact(&self.experiment, run, rel, bytes)
    }

    /// Ends a run. A server hears it at once for a run without artifacts (a long session's
    /// finished trials do not show as running until its end); a run with artifacts is marked
    /// ended there by the final sync, after its files, so a FINISHED run is a complete one.
    pub fn end_run(&mut self, run: &str, status: RunStatus) -> Result<()> {
        let end = now_ms();
        self.local.end_run(&self.experiment, run, status, end)?;
        if self.with_artifacts.contains(run) {
            return Ok(());
        }
        self.remote_do(|r| match r.ids.get(run) {
            Some(sid) => r.rest.update_run(sid, status, Some(end)),
            None => Ok(()),
        });
        Ok(())
    }

    /// Reconcile the server with everything logged in this session. Waits up to `wait` for an
    /// unreachable server to come back; if it does not, the runs stay buffered locally.
    pub fn finish(&mut self, wait: Duration) -> FinishReport {
        let local_store = self.local.root().to_path_buf();
        let Some(r) = &mut self.remote else {
            return FinishReport {
                tracking_uri: local_store.display().to_string(),
                local_store,
                synced: None,
                sync: None,
                server_run_ids: BTreeMap::new(),
                error: None,
            };
        };
        // The stream is done before the sync compares the stores (the sync sends the points the
        // server lacks; MLflow's SQL stores drop a point they already hold).
        r.streamer.stop();
        let deadline = Instant::now() + wait;
        let mut last_err;
        loop {
            match r.rest.check_health() {
                Ok(()) => match sync_store(&self.local, &r.rest, Some(&self.runs), &r.ids) {
                    Ok((rep, ids)) => {
                        return FinishReport {
                            tracking_uri: r.rest.base().to_string(),
                            local_store,
                            synced: Some(true),
                            sync: Some(rep),
                            server_run_ids: ids.into_iter().collect(),
                            error: None,
                        };
                    }
                    Err(e) => last_err = chain(&e),
                },
                // A server that answers with an error is not "unreachable": say which it is.
                Err(e) if e.status.is_some() => {
                    last_err = format!("{} answered /health with {e}", r.rest.base())
                }
                Err(e) => last_err = format!("not reachable: {e}"),
            }
            if Instant::now() >= deadline {
                return FinishReport {
                    tracking_uri: r.rest.base().to_string(),
                    local_store,
                    synced: Some(false),
                    sync: None,
                    server_run_ids: r.ids.clone().into_iter().collect(),
                    error: Some(last_err),
                };
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_tracker_nests_runs_and_finishes_without_a_server() {
        let tmp = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(TrackingUri::Local(tmp.path().into()), "exp").unwrap();
        let parent = t.start_run("parent", None, &BTreeMap::new()).unwrap();
        let child = t
            .start_run("child", Some(&parent), &BTreeMap::new())
            .unwrap();
        assert_eq!(child.len(), 32);
        assert_ne!(parent, child);
        let point = |step| Metric {
            key: "loss".into(),
            value: 1.0 / (step + 1) as f64,
            timestamp: 1,
            step,
        };
        t.log_metrics(&child, &[point(0), point(1)]).unwrap();
        t.flush();
        let e = t
            .log_metrics(
                &child,
                &[Metric {
                    key: String::new(),
                    ..point(2)
                }],
            )
            .unwrap_err();
        assert!(matches!(e, crate::Error::InvalidKey { .. }), "{e:?}");
        t.end_run(&child, RunStatus::Failed).unwrap();
        t.end_run(&parent, RunStatus::Finished).unwrap();

        let report = t.finish(Duration::ZERO);
        assert_eq!(report.synced, None);
        assert_eq!(report.error, None);
        assert!(report.server_run_ids.is_empty());

        let store = LocalStore::open(&report.local_store).unwrap();
        let exp = store.experiment_of(&child).unwrap();
        let c = store.read_run(&exp, &child).unwrap();
        assert_eq!(c.parent(), Some(parent.as_str()));
        assert_eq!(c.status, RunStatus::Failed);
        assert_eq!(c.metrics["loss"].len(), 2);
        let p = store.read_run(&exp, &parent).unwrap();
        assert_eq!((p.parent(), p.status), (None, RunStatus::Finished));
    }
}
