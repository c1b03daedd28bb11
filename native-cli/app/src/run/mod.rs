//! One run, start to finish: load the config and data, validate walk-forward, write the run
//! directory and its report, and track it. `strider run`, `strider tune` (the best
//! configuration's run) and any native program call [`run_to_dir`].

mod files;
mod robust;
mod select;
mod source;

use std::path::PathBuf;
use std::time::Duration;

use crate::bail;
use crate::error::{Context, Result};
use serde_json::{Value, json};
use strider_core::pipeline::{self, Event, RunOutput};
use strider_mlflow::TrackingUri;
use strider_mlflow::tracker::{FinishReport, Tracker};

pub use files::write_run;
pub use robust::{stress, validate_run_dir};
pub use select::{HoldoutRecord, reselect, run_dir_input, select_run};
pub use source::{ConfigSource, LoadedData};

use crate::manifest::Manifest;
use crate::rundir;
use crate::track_run::RunTracking;

/// Where to track a run.
#[derive(Debug, Clone, Default)]
pub struct TrackingRequest {
    /// An MLflow server (`http(s)://...`) or a local `mlruns` directory; default:
    /// `$MLFLOW_TRACKING_URI`, else `./mlruns`.
    pub uri: Option<String>,
    /// The MLflow experiment (default: the config's name).
    pub experiment: Option<String>,
    /// How long to wait for an unreachable server before leaving the run buffered locally.
    pub wait: Duration,
    /// Extra tags on the parent run (a tuning session's best run names its study and trial).
    pub tags: std::collections::BTreeMap<String, String>,
}

/// Everything a run needs besides the config and data.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// The config file; `None` runs the bundled example.
    pub config: Option<PathBuf>,
    /// The run directory to create (must not exist); default `runs/<name>-<UTC time>`.
    pub out: Option<PathBuf>,
    /// Overrides the config's seed.
    pub seed: Option<u64>,
    /// `None`: the run is not tracked (its directory is still written).
    pub tracking: Option<TrackingRequest>,
    /// Write `report.html` into the run directory.
    pub report: bool,
    /// Extra files for the run directory (e.g. `tuning.json`), written before the report so it
    /// shows them.
    pub extra_files: Vec<(String, Vec<u8>)>,
    /// Trials tried besides the config's models (a tuning study's): selection deflates for them.
    pub other_trials: usize,
}

/// What a caller hears while a run works.
pub enum Progress<'a> {
    /// A pipeline stage started.
    Stage(&'a str),
    /// One more model x fold finished, of `total`.
    Fold { total: u64 },
    /// Something in the data looked wrong without being an error (said before the work starts).
    Warning(&'a str),
    /// A training metric as it is computed (per iteration or epoch).
    Train {
        model: &'a str,
        split: usize,
        name: &'a str,
        step: usize,
        value: f64,
    },
}

/// Where the run was tracked, and whether a server got it.
pub struct TrackingOutcome {
    pub run_id: String,
    pub report: FinishReport,
}

/// A finished run.
pub struct RunResult {
    pub dir: PathBuf,
    pub report: Option<PathBuf>,
    pub tracking: Option<TrackingOutcome>,
    pub output: RunOutput,
    pub selection: strider_core::selection::SelectionReport,
    pub holdout: Option<HoldoutRecord>,
    /// The stresses of `[robustness]`, when the config has the table.
    pub robustness: Option<strider_core::robustness::RobustnessReport>,
}

impl RunResult {
    /// The `tracking` object of `strider run --json`.
    pub fn tracking_json(&self) -> Value {
        match &self.tracking {
            None => Value::Null,
            Some(t) => json!({
                "run_id": t.run_id,
                "server_run_id": t.report.server_run_ids.get(&t.run_id),
                "report": t.report,
            }),
        }
    }
}

/// Runs `request` into a new run directory (built under a temporary name and renamed into place,
/// so a failure leaves nothing behind), writes its report and tracks it.
pub fn run_to_dir(request: &RunRequest, progress: &mut dyn FnMut(Progress)) -> Result<RunResult> {
    let source = ConfigSource::load(request.config.as_deref())?;
    let mut config = source.config()?;
    let seed = request.seed.unwrap_or(config.seed_or_default());
    config.seed = Some(seed);
    let data = source.load_data(&config)?;
    for w in &data.warnings {
        progress(Progress::Warning(w));
    }
    let dir = request
        .out
        .clone()
        .unwrap_or_else(|| rundir::default_dir(&config.name));
    if dir.exists() {
        bail!(
            "{} already exists; choose another --out (nothing was written)",
            dir.display()
        );
    }
    // With a holdout, everything from here to the selection sees only the bars before it.
    let (validated, holdout_start) = pipeline::validation_data(&config, data.instruments.clone())?;
    let fingerprint = strider_core::data::fingerprint(&validated);
    let mut manifest = Manifest::new(seed, source.label.clone(), fingerprint, data.inputs);
    let (mut tracking, lineage) = match &request.tracking {
        None => (None, Value::Null),
        Some(t) => start_tracking(t, &dir, &config, &manifest)?,
    };
    let wait = request
        .tracking
        .as_ref()
        .map(|r| r.wait)
        .unwrap_or_default();
    let output = validate(&config, &validated, seed, tracking.as_mut(), wait, progress)?;
    if manifest.data_fingerprint != output.summary.data_fingerprint {
        bail!("internal: the data changed between loading and validation");
    }
    let (selection, holdout) = select_run(
        &output,
        &config,
        request.other_trials,
        holdout_start.map(|s| (s, data.instruments.as_slice())),
    )?;
    manifest.holdout = holdout.clone();
    let mut files = request.extra_files.clone();
    files.push((
        "selection.json".into(),
        serde_json::to_vec_pretty(&selection)?,
    ));
    let robustness = match &config.robustness {
        Some(_) => {
            progress(Progress::Stage("robustness"));
            let r = stress(&config, &validated, seed, &output)?;
            files.push(("validation.json".into(), serde_json::to_vec_pretty(&r)?));
            Some(r)
        }
        None => None,
    };
    write_run(&dir, &config, &manifest, &output, &lineage, &files)?;
    let report = if request.report {
        let path = dir.join("report.html");
        crate::report::write(&dir, data.texts, lineage.clone(), &path)
            .context("writing report.html (the run directory is complete without it)")?;
        Some(path)
    } else {
        None
    };
    let tracking = match tracking {
        Some(mut t) => {
            t.complete(&config, &output, &dir)?;
            let report = t.tracker.finish(wait);
            Some(TrackingOutcome {
                run_id: t.parent,
                report,
            })
        }
        None => None,
    };
    Ok(RunResult {
        dir,
        report,
        tracking,
        output,
        selection,
        holdout,
        robustness,
    })
}

/// Opens the tracker and starts the parent run; returns it with the lineage the run directory
/// and report record.
fn start_tracking(
    request: &TrackingRequest,
    dir: &std::path::Path,
    config: &strider_core::config::Config,
    manifest: &Manifest,
) -> Result<(Option<RunTracking>, Value)> {
    let uri = TrackingUri::resolve(request.uri.as_deref());
    let experiment = request.experiment.as_deref().unwrap_or(&config.name);
    let mut lineage = json!({
        "tracking_uri": match &uri {
            TrackingUri::Local(p) => p.display().to_string(),
            TrackingUri::Server(s) => s.clone(),
        },
        "experiment": experiment,
    });
    // Each server call gets at most the run's tracking wait (1 s to 60 s), so a server that
    // accepts and never answers delays the run by seconds, not minutes.
    let budget = request.wait.clamp(
        Duration::from_secs(1),
        strider_mlflow::rest::REQUEST_TIMEOUT,
    );
    let tracker = Tracker::open_with_budget(uri, experiment, budget)?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| config.name.clone());
    let t = RunTracking::start(tracker, &name, config, manifest, &request.tags)?;
    lineage["run_id"] = t.parent.clone().into();
    Ok((Some(t), lineage))
}

/// The walk-forward validation, streaming training events to tracking and progress to the caller.
/// A failed run is recorded as failed, never left RUNNING.
fn validate(
    config: &strider_core::config::Config,
    instruments: &[strider_core::data::Instrument],
    seed: u64,
    mut tracking: Option<&mut RunTracking>,
    wait: Duration,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunOutput> {
    let n_models = config.models.len() as u64;
    let mut tracking_error: Option<crate::Error> = None;
    let native = crate::native_gbdt(Vec::new());
    let request = pipeline::RunRequest::new(config, instruments, seed)
        .native_gbdt(native.as_deref())
        .final_models(true);
    let result = request.run(&mut |e| {
        let tracked = match (&e, tracking.as_deref_mut()) {
            (
                Event::Train {
                    model,
                    split,
                    train,
                },
                Some(t),
            ) => t.train_event(model, *split, train),
            (
                Event::FoldDone {
                    model,
                    split,
                    n_splits,
                    ..
                },
                Some(t),
            ) => t.fold_done(model, *split, *n_splits),
            _ => Ok(()),
        };
        if let Err(err) = tracked {
            tracking_error.get_or_insert(err);
        }
        match e {
            Event::Stage { name } => progress(Progress::Stage(&name)),
            Event::FoldDone { n_splits, .. } => progress(Progress::Fold {
                total: n_splits as u64 * n_models,
            }),
            Event::Train {
                model,
                split,
                train,
            } => progress(Progress::Train {
                model: &model,
                split,
                name: &train.name,
                step: train.step,
                value: train.value,
            }),
        }
    });
    if let Some(t) = tracking.as_deref_mut() {
        // The final fits' last training points, before the files are written.
        t.tracker.flush();
    }
    match result {
        Ok(o) => match tracking_error {
            Some(e) => Err(e.context("tracking the run")),
            None => Ok(o),
        },
        Err(e) => {
            if let Some(t) = tracking {
                t.fail(&e.to_string());
                t.tracker.finish(wait.min(Duration::from_secs(5)));
            }
            Err(e.into())
        }
    }
}
