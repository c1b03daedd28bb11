//! The tracking flags `strider run` and `strider tune` share.

use std::time::Duration;

use clap::Args;
use strider_app::run::TrackingRequest;

#[derive(Args)]
pub struct TrackingArgs {
    /// Where to track: an MLflow server (`http(s)://...`), or a local `mlruns` directory
    /// (`file://PATH` or a path). Default: `$MLFLOW_TRACKING_URI`, else `./mlruns`.
    #[arg(long)]
    tracking_uri: Option<String>,
    /// MLflow experiment name (default: the config's `name` for a run, the study's name for a
    /// tuning session).
    #[arg(long)]
    experiment: Option<String>,
    /// Do not track (the run directory or tuning summary is still written).
    #[arg(long)]
    no_track: bool,
    /// Seconds to wait for an unreachable tracking server before leaving the runs buffered
    /// locally (`strider mlflow sync` sends them later).
    #[arg(long, default_value_t = 60)]
    tracking_wait: u64,
}

impl TrackingArgs {
    /// `None` with `--no-track`.
    pub fn request(&self) -> Option<TrackingRequest> {
        (!self.no_track).then(|| TrackingRequest {
            uri: self.tracking_uri.clone(),
            experiment: self.experiment.clone(),
            wait: Duration::from_secs(self.tracking_wait),
            tags: Default::default(),
        })
    }
}
