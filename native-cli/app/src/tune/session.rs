//! A tuning session: build the objective (a config's model, its ensemble weights, or a command),
//! run the study's workers, then write `tuning.json` and, for a config, the best configuration as
//! a runnable config with a run of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::bail;
use crate::error::{Context, Result};
use serde_json::{Value, json};
use strider_tune::storage::StorageUrl;
use strider_tune::{
    Budget, Direction, FrozenTrial, Objective, PrunerSpec, SearchSpace, SpaceFile, Study,
    StudySpec, TrialState, optimize, sampler_by_name, visualization,
};

use super::command::CommandObjective;
use super::config_space::{ConfigObjective, Metric};
use super::ensemble_space::EnsembleObjective;
use super::tracking::{Fanout, SessionEnd, SessionInfo, Tracked, TrialSink, TuneTracking};
use crate::run::{ConfigSource, TrackingRequest};
use crate::rundir::{safe_name, write_atomic};

/// What to tune.
pub enum Target {
    /// A config's model (or, with `ensemble`, the blend weights of its models).
    Config {
        config: Option<PathBuf>,
        model: Option<String>,
        objective: Metric,
        feature_selection: bool,
        ensemble: bool,
    },
    /// Any command that reads its parameters and prints its objective value(s).
    Command {
        argv: Vec<String>,
        space: PathBuf,
        directions: Vec<Direction>,
    },
}

/// A tuning session's settings.
pub struct TuneRequest {
    pub target: Target,
    pub storage: String,
    pub study: Option<String>,
    pub n_trials: usize,
    pub workers: usize,
    pub sampler: String,
    pub pruner: PrunerSpec,
    pub seed: Option<u64>,
    /// Seconds between a trial's heartbeats; one silent for twice as long is failed and retried.
    pub heartbeat: f64,
    /// Seconds after which a command's trial is terminated and failed (`None`: no limit).
    pub trial_timeout: Option<f64>,
    /// Where tuning.json (and best.toml plus the best run) go; default `tunes/<study>`.
    pub out: Option<PathBuf>,
    /// Where the session is tracked (a parent run, a nested run per trial, the best run);
    /// `None`: not tracked.
    pub tracking: Option<TrackingRequest>,
    /// Hears each trial's training metrics and intermediate values as they happen (a terminal's
    /// progress line).
    pub live: Option<std::sync::Arc<dyn TrialSink>>,
}

/// What a finished session produced.
#[derive(Debug)]
pub struct TuneResult {
    pub study: String,
    pub directions: Vec<Direction>,
    pub trials: Vec<std::sync::Arc<FrozenTrial>>,
    pub best: Option<FrozenTrial>,
    /// `tuning.json`'s content.
    pub summary: Value,
    pub out_dir: PathBuf,
    /// The best configuration's files and run (config targets), else null.
    pub best_run: Value,
    /// The session's parent run and how it reached the tracking store, else null.
    pub tracking: Value,
}

enum Built {
    Config(Box<ConfigObjective>, Option<PathBuf>),
    Ensemble(Box<EnsembleObjective>, Option<PathBuf>),
    Command(CommandObjective),
}

impl Built {
    /// Streams each trial's intermediate values and training metrics to `sink`.
    fn set_sink(&mut self, sink: std::sync::Arc<dyn TrialSink>) {
        match self {
            Built::Config(o, _) => o.sink = Some(sink),
            Built::Ensemble(o, _) => o.sink = Some(sink),
            Built::Command(_) => {}
        }
    }

    fn objective(&self) -> &dyn Objective {
        match self {
            Built::Config(o, _) => o.as_ref(),
            Built::Ensemble(o, _) => o.as_ref(),
            Built::Command(o) => o,
        }
    }
}

/// The objective, its space, directions, default study name and seed.
struct Plan {
    built: Built,
    space: SearchSpace,
    directions: Vec<Direction>,
    default_study: String,
    seed: u64,
}

fn plan(request: &TuneRequest) -> Result<Plan> {
    match &request.target {
        Target::Config {
            config,
            model,
            objective,
            feature_selection,
            ensemble,
        } => plan_config(
            config.as_deref(),
            model.as_deref(),
            *objective,
            *feature_selection,
            *ensemble,
            request.seed,
        ),
        Target::Command {
            argv,
            space,
            directions,
        } => {
            let text = std::fs::read_to_string(space)
                .with_context(|| format!("reading {}", space.display()))?;
            let space_set = SpaceFile::from_toml(&text)
                .and_then(|s| s.space())
                .with_context(|| space.display().to_string())?;
            let obj = CommandObjective {
                argv: argv.clone(),
                heartbeat: Duration::from_secs_f64(request.heartbeat),
                timeout: request.trial_timeout.map(Duration::from_secs_f64),
            };
            Ok(Plan {
                built: Built::Command(obj),
                space: space_set,
                directions: if directions.is_empty() {
                    vec![Direction::Minimize]
                } else {
                    directions.clone()
                },
                default_study: "command".into(),
                seed: request.seed.unwrap_or(42),
            })
        }
    }
}

fn plan_config(
    path: Option<&Path>,
    model: Option<&str>,
    objective: Metric,
    feature_selection: bool,
    ensemble: bool,
    seed: Option<u64>,
) -> Result<Plan> {
    let source = ConfigSource::load(path)?;
    let config = source.config()?;
    // Tuning never reads the holdout: trials see the bars validation sees.
    let instruments =
        strider_core::pipeline::validation_data(&config, source.load_data(&config)?.instruments)?.0;
    let model = match model {
        None => 0,
        Some(name) => config
            .models
            .iter()
            .position(|m| m.name == name)
            .with_context(|| format!("--model {name}: not in the config"))?,
    };
    let seed = seed.unwrap_or(config.seed_or_default());
    if ensemble {
        let default_study = format!("{}-ensemble-tune", config.name);
        let obj = EnsembleObjective::new(config, instruments, objective)?;
        return Ok(Plan {
            space: obj.space(),
            built: Built::Ensemble(Box::new(obj), source.base),
            directions: vec![Direction::Maximize],
            default_study,
            seed,
        });
    }
    let obj = ConfigObjective {
        seed: config.seed_or_default(),
        config,
        instruments,
        model,
        objective,
        tune_features: feature_selection,
        sink: None,
    };
    let default_study = format!("{}-{}-tune", obj.config.name, obj.config.models[model].name);
    Ok(Plan {
        space: obj.space(),
        built: Built::Config(Box::new(obj), source.base),
        directions: vec![Direction::Maximize],
        default_study,
        seed,
    })
}

/// Runs the session: trials on the storage, then the summary files and the best run.
pub fn tune(
    request: &TuneRequest,
    progress: &(dyn Fn(strider_tune::optimize::Progress) + Sync),
) -> Result<TuneResult> {
    if request.workers == 0 {
        bail!("--workers must be at least 1");
    }
    // A heartbeat of 0 would make every running trial look stale to every other worker.
    if !(request.heartbeat.is_finite() && request.heartbeat >= 0.05) {
        bail!("--heartbeat must be at least 0.05 seconds");
    }
    if request
        .trial_timeout
        .is_some_and(|t| !(t.is_finite() && t > 0.0))
    {
        bail!("--trial-timeout must be a positive number of seconds");
    }
    let url = StorageUrl::parse(&request.storage)?;
    let mut plan = plan(request)?;
    let study_name = request
        .study
        .clone()
        .unwrap_or_else(|| plan.default_study.clone());
    let sampler = sampler_by_name(&request.sampler, plan.seed, Some(&plan.space))?;
    // A storage or study that cannot be opened fails before the tracking store is written.
    Study::open(
        url.open()?.as_mut(),
        &study_name,
        &plan.directions,
        sampler.as_ref(),
        request.pruner.clone(),
    )?;
    let tracking = match &request.tracking {
        Some(t) => Some(TuneTracking::start(
            t,
            &session_info(request, &plan, &study_name),
        )?),
        None => None,
    };
    let sinks: Vec<std::sync::Arc<dyn TrialSink>> = (tracking.clone().map(|t| t as _))
        .into_iter()
        .chain(request.live.clone())
        .collect();
    if !sinks.is_empty() {
        plan.built.set_sink(std::sync::Arc::new(Fanout(sinks)));
    }
    let study = StudyRun {
        url: &url,
        plan: &plan,
        name: &study_name,
        sampler: sampler.as_ref(),
    };
    let outcome = run_study(request, &study, tracking.as_deref(), progress)
        .and_then(|()| summarise(request, &url, &plan, study_name));
    let outcome = outcome.and_then(|r| fail_if_nothing_completed(&r).map(|()| r));
    match tracking {
        Some(t) => finish_tracking(&t, outcome),
        None => outcome,
    }
}

/// The study a session's workers work on.
struct StudyRun<'a> {
    url: &'a StorageUrl,
    plan: &'a Plan,
    name: &'a str,
    sampler: &'a dyn strider_tune::Sampler,
}

/// The trials: this invocation's workers on the storage, each trial tracked when `tracking` is.
fn run_study(
    request: &TuneRequest,
    study: &StudyRun,
    tracking: Option<&TuneTracking>,
    progress: &(dyn Fn(strider_tune::optimize::Progress) + Sync),
) -> Result<()> {
    let (url, plan) = (study.url, study.plan);
    let spec = StudySpec {
        name: study.name,
        directions: &plan.directions,
        sampler: study.sampler,
        pruner: request.pruner.clone(),
        space: Some(&plan.space),
    };
    let budget = Budget {
        n_trials: request.n_trials,
        workers: request.workers,
        stale_after: 2.0 * request.heartbeat,
    };
    let tracked = tracking.map(|t| Tracked {
        inner: plan.built.objective(),
        tracking: t,
    });
    let objective: &dyn Objective = match &tracked {
        Some(t) => t,
        None => plan.built.objective(),
    };
    let on_progress = |p: strider_tune::optimize::Progress| {
        if let (Some(t), strider_tune::optimize::Progress::Told { number, state }) = (tracking, &p)
        {
            t.trial_told(*number, *state);
        }
        progress(p);
    };
    optimize(&|| url.open(), &spec, objective, budget, &on_progress)?;
    Ok(())
}

/// What the parent run records about the session (the storage's password hidden).
fn session_info<'a>(request: &TuneRequest, plan: &'a Plan, study: &'a str) -> SessionInfo<'a> {
    let (target, model, objective) = match &request.target {
        Target::Config {
            model,
            objective,
            ensemble,
            ..
        } => (
            if *ensemble { "ensemble" } else { "config" },
            model.clone().unwrap_or_default(),
            format!("{objective:?}").to_lowercase(),
        ),
        Target::Command { argv, .. } => ("command", String::new(), argv.join(" ")),
    };
    let params = BTreeMap::from([
        ("study".to_string(), study.to_string()),
        (
            "storage".to_string(),
            strider_tune::storage::postgres::redact(&request.storage),
        ),
        ("sampler".to_string(), request.sampler.clone()),
        ("pruner".to_string(), format!("{:?}", request.pruner)),
        ("seed".to_string(), plan.seed.to_string()),
        ("n_trials".to_string(), request.n_trials.to_string()),
        ("workers".to_string(), request.workers.to_string()),
        ("target".to_string(), target.to_string()),
        ("model".to_string(), model),
        ("objective".to_string(), objective),
    ]);
    SessionInfo {
        study,
        directions: &plan.directions,
        params: params
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k, v.chars().take(strider_mlflow::MAX_PARAM_VALUE).collect()))
            .collect(),
    }
}

/// Closes the session's parent run with its figures, files and the best run's id; a failed
/// session's run ends FAILED with the reason. Returns the session's outcome unchanged (with
/// where it was tracked).
fn finish_tracking(tracking: &TuneTracking, outcome: Result<TuneResult>) -> Result<TuneResult> {
    let mut metrics = BTreeMap::new();
    let mut tags = BTreeMap::new();
    let mut artifacts = Vec::new();
    match &outcome {
        Ok(r) => {
            for (key, state) in [
                ("n_complete", TrialState::Complete),
                ("n_pruned", TrialState::Pruned),
                ("n_failed", TrialState::Fail),
            ] {
                metrics.insert(key.to_string(), r.count(state) as f64);
            }
            metrics.insert("n_trials".into(), r.trials.len() as f64);
            if let Some(b) = &r.best {
                metrics.insert("best_value".into(), b.value().unwrap_or(f64::NAN));
                tags.insert("strider.tune.best_trial".into(), b.number.to_string());
            }
            let best_run = &r.best_run["tracking"];
            if let Some(id) = best_run["server_run_id"]
                .as_str()
                .or(best_run["run_id"].as_str())
            {
                tags.insert("strider.tune.best_run".into(), id.to_string());
            }
            for file in ["tuning.json", "best.toml"] {
                if let Ok(bytes) = std::fs::read(r.out_dir.join(file)) {
                    artifacts.push((file.to_string(), bytes));
                }
            }
        }
        Err(e) => {
            let reason: String = e
                .chain()
                .chars()
                .take(strider_mlflow::MAX_TAG_VALUE)
                .collect();
            tags.insert("strider.error".into(), reason);
        }
    }
    let status = if outcome.is_ok() {
        strider_mlflow::RunStatus::Finished
    } else {
        strider_mlflow::RunStatus::Failed
    };
    // The best run already waited for a server that did not answer: no second wait.
    let best_synced = outcome.as_ref().map_or(true, |r| {
        r.best_run["tracking"]["report"]["synced"] != false
    });
    let wait = if best_synced {
        std::time::Duration::MAX
    } else {
        std::time::Duration::ZERO
    };
    let end = SessionEnd {
        metrics,
        tags,
        artifacts,
        status,
    };
    let (report, error) = tracking.finish(&end, wait);
    let mut result = outcome?;
    let parent = tracking.parent();
    result.tracking = json!({
        "run_id": parent,
        "server_run_id": report.server_run_ids.get(&parent),
        "report": report,
        "error": error,
    });
    Ok(result)
}

/// Reads every worker's and process's trials back, writes tuning.json and the best run.
fn summarise(
    request: &TuneRequest,
    url: &StorageUrl,
    plan: &Plan,
    study_name: String,
) -> Result<TuneResult> {
    let mut storage = url.open()?;
    let random = strider_tune::RandomSampler { seed: plan.seed };
    let mut study = Study::open(
        storage.as_mut(),
        &study_name,
        &plan.directions,
        &random,
        PrunerSpec::None,
    )?;
    let trials = study.trials()?;
    let summary = visualization::study_summary(&study.info, &trials, plan.seed);
    let out_dir = request
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("tunes").join(safe_name(&study_name)));
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    write_atomic(
        &out_dir.join("tuning.json"),
        &serde_json::to_vec_pretty(&summary)?,
    )?;
    let best = if plan.directions.len() == 1 {
        study.best_trial()?
    } else {
        None
    };
    // Either objective turns the best trial into a config; both are written and run alike.
    let best_config = match (&plan.built, &best) {
        (Built::Config(obj, base), Some(b)) => {
            Some((obj.apply(&b.external_params())?, obj.objective, base, b))
        }
        (Built::Ensemble(obj, base), Some(b)) => {
            Some((obj.apply(&b.external_params())?, obj.objective, base, b))
        }
        _ => None,
    };
    let best_run = match best_config {
        Some((config, objective, base, best)) => BestRun {
            objective,
            base: base.as_deref(),
            best,
            study_name: &study_name,
            out_dir: &out_dir,
            summary: &summary,
            tracking: request.tracking.as_ref(),
        }
        .write(config)?,
        None => Value::Null,
    };
    Ok(TuneResult {
        study: study_name,
        directions: plan.directions.clone(),
        trials,
        best,
        summary,
        out_dir,
        best_run,
        tracking: Value::Null,
    })
}

/// The best trial's config as a runnable file, and its run.
struct BestRun<'a> {
    objective: Metric,
    base: Option<&'a Path>,
    best: &'a FrozenTrial,
    study_name: &'a str,
    out_dir: &'a Path,
    summary: &'a Value,
    /// The session's tracking: the best run is tracked in its experiment, tagged with the study.
    tracking: Option<&'a TrackingRequest>,
}

impl BestRun<'_> {
    /// best.toml, runnable from where it is written (data paths made absolute, or the bundled
    /// data copied beside it), and a full run of it with the study in its report.
    fn write(&self, config: strider_core::config::Config) -> Result<Value> {
        let (base, best, study_name, out_dir, summary) = (
            self.base,
            self.best,
            self.study_name,
            self.out_dir,
            self.summary,
        );
        let mut config = config;
        for path in config
            .data
            .files
            .iter_mut()
            .chain(config.data.panels.iter_mut())
        {
            match base {
                Some(base) => {
                    let full = base.join(&*path);
                    *path = std::fs::canonicalize(&full)
                        .unwrap_or(full)
                        .display()
                        .to_string();
                }
                None => {
                    let text = crate::bundled::file(path).context("bundled data")?;
                    let dest = out_dir.join(&*path);
                    std::fs::create_dir_all(dest.parent().unwrap_or(out_dir))?;
                    std::fs::write(&dest, text)?;
                }
            }
        }
        let best_toml = out_dir.join("best.toml");
        let mut text = format!(
            "# Best of study `{}` (trial {}, {} = {}), written by strider tune.\n# Data paths are absolute, or the bundled data sits beside this file.\n",
            study_name,
            best.number,
            match self.objective {
                Metric::Sharpe => "out-of-sample Sharpe",
                Metric::Dsr => "deflated Sharpe",
            },
            best.value().unwrap_or(f64::NAN)
        );
        text.push_str(&config.to_toml()?);
        write_atomic(&best_toml, text.as_bytes())?;
        let tracking = self.tracking.map(|t| TrackingRequest {
            experiment: Some(
                t.experiment
                    .clone()
                    .unwrap_or_else(|| study_name.to_string()),
            ),
            tags: BTreeMap::from([
                ("strider.tune.study".to_string(), study_name.to_string()),
                ("strider.tune.trial".to_string(), best.number.to_string()),
            ]),
            ..t.clone()
        });
        let run = run_with_study(Some(best_toml.clone()), out_dir, summary, tracking)?;
        Ok(json!({
            "config": best_toml,
            "run_dir": run.dir,
            "report": run.dir.join("report.html"),
            "tracking": run.tracking_json(),
        }))
    }
}

/// Runs a config into `<out_dir>/best-run-<time>` with the study's `tuning.json` in the run
/// directory, so its report shows the study; tracked as a `strider run` is, so its bundles can be
/// registered from the run (`strider models register --run`).
fn run_with_study(
    config: Option<PathBuf>,
    out_dir: &Path,
    summary: &Value,
    tracking: Option<TrackingRequest>,
) -> Result<crate::run::RunResult> {
    let run_dir = out_dir.join(format!(
        "best-run-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    let request = crate::run::RunRequest {
        config,
        out: Some(run_dir.clone()),
        report: true,
        extra_files: vec![("tuning.json".into(), serde_json::to_vec_pretty(summary)?)],
        // Every trial of the study was a try: the best run's selection deflates for them all.
        other_trials: summary["n_trials"].as_u64().unwrap_or(0) as usize,
        tracking,
        ..Default::default()
    };
    crate::run::run_to_dir(&request, &mut |_| {}).context("running the best configuration")
}

/// A study with trials of which none completed has no answer: an error with the last reason.
fn fail_if_nothing_completed(r: &TuneResult) -> Result<()> {
    if r.trials.is_empty() || r.count(TrialState::Complete) > 0 {
        return Ok(());
    }
    let reason = r
        .trials
        .iter()
        .rev()
        .find_map(|t| t.user_attrs.get("strider:fail_reason"))
        .and_then(|v| v.as_str())
        .unwrap_or("no reason recorded");
    bail!(
        "none of the {} trials of study `{}` completed ({} failed, {} pruned); the last failure: {reason}",
        r.trials.len(),
        r.study,
        r.count(TrialState::Fail),
        r.count(TrialState::Pruned),
    )
}

impl TuneResult {
    /// Trials in `state`.
    pub fn count(&self, state: TrialState) -> usize {
        self.trials.iter().filter(|t| t.state == state).count()
    }
}
