//! A cycle's training as a live MLflow run: experiment `<model>-watch-training`, one run per
//! training (`<cycle>/gate`, `<cycle>/final`), its per-iteration metrics streamed while it trains
//! (`train/split-K/NAME`; split K = the walk-forward's count is the final fit). A training run
//! records an attempt: a cycle redone after `kill -9` trains again in a run of its own (the
//! partial one stays RUNNING), while the cycle itself stays one run in `<model>-watch`.
//! Tracking never fails a cycle: a store that cannot be opened leaves the training untracked.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use strider_core::pipeline::Event;
use strider_mlflow::tracker::Tracker;
use strider_mlflow::{Metric, RunStatus, TrackingUri, now_ms};

pub struct TrainingRun {
    tracker: Tracker,
    run: String,
}

/// Where a training run goes and what it is.
pub struct TrainingRunSpec<'a> {
    pub tracking_uri: Option<&'a str>,
    /// The state directory (a server's runs are buffered in its `tracking-buffer`).
    pub state: &'a Path,
    pub registered: &'a str,
    pub cycle: &'a str,
    pub stage: &'a str,
    pub instance: &'a str,
}

/// Each server call of a training run's tracking takes at most this (a down server costs a
/// cycle seconds, not the registry timeout twice).
const BUDGET: Duration = Duration::from_secs(2);

impl TrainingRun {
    pub fn start(spec: &TrainingRunSpec) -> Option<Self> {
        let uri = TrackingUri::resolve(spec.tracking_uri);
        let experiment = format!("{}-watch-training", spec.registered);
        let buffer = spec.state.join("tracking-buffer");
        let mut tracker = Tracker::open_buffered(uri, &experiment, BUDGET, Some(buffer)).ok()?;
        let tags = BTreeMap::from([
            ("strider.cycle".to_string(), spec.cycle.to_string()),
            ("strider.stage".to_string(), spec.stage.to_string()),
            (
                "strider.watch.instance".to_string(),
                spec.instance.to_string(),
            ),
            (
                "mlflow.source.name".to_string(),
                "strider watch".to_string(),
            ),
        ]);
        let name = format!("{}/{}", spec.cycle, spec.stage);
        let run = tracker.start_run(&name, None, &tags).ok()?;
        Some(Self { tracker, run })
    }

    /// A pipeline event: training metrics are logged (and streamed), the rest ignored.
    pub fn event(&mut self, e: &Event) {
        if let Event::Train { split, train, .. } = e {
            let point = Metric {
                key: format!("train/split-{split}/{}", train.name),
                value: train.value,
                timestamp: now_ms(),
                step: train.step as i64,
            };
            let _ = self.tracker.log_metrics(&self.run, &[point]);
        }
    }

    /// Ends the run (FAILED when the training failed) and sends what is left, without waiting
    /// for a server that went away (the buffer keeps it for `strider mlflow sync`).
    pub fn end(mut self, trained: bool) {
        let status = if trained {
            RunStatus::Finished
        } else {
            RunStatus::Failed
        };
        let _ = self.tracker.end_run(&self.run, status);
        self.tracker.finish(Duration::ZERO);
    }
}
