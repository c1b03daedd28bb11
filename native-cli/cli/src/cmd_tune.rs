//! `strider tune`: optimise a config's model (walk-forward objective) or any command, on an
//! Optuna-compatible storage, with parallel workers; writes tuning.json (what the report draws)
//! and, for a config, the best configuration as a runnable config plus a run of it.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use clap::builder::TypedValueParser;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use strider_app::tune::config_space::Metric;
use strider_app::tune::tracking::TrialSink;
use strider_app::tune::{Target, TuneRequest, TuneResult, tune};
use strider_core::model::TrainEvent;
use strider_tune::optimize::Progress;
use strider_tune::storage::postgres::redact;
use strider_tune::{Direction, PrunerSpec, TrialState};

#[derive(Args)]
#[command(after_help = "EXAMPLES:
  strider tune my.toml --trials 50 --model trees --pruner median
  strider tune my.toml --trials 50 --workers 2 --storage postgresql://u:p@db/optuna --study shared
  strider tune my.toml --ensemble --trials 30
  strider tune --space space.toml --trials 100 --direction minimize -- python objective.py
Trials are tracked in MLflow (a parent run, a nested run per trial); the best configuration is
written to tunes/<study>/best.toml and run, tracked, ready for `strider models register`.")]
pub struct TuneArgs {
    /// Run configuration to tune (default: the bundled example). Not with `-- CMD`.
    config: Option<PathBuf>,
    /// Trials this invocation runs (added to what the study already has).
    #[arg(long, default_value_t = 20)]
    trials: usize,
    /// Optuna storage URL: `sqlite:///PATH`, `postgresql://USER:PASS@HOST/DB` or `journal:PATH`.
    #[arg(long, default_value = "sqlite:///study.db")]
    storage: String,
    /// Study name (default: the config's name + "-tune", or "command").
    #[arg(long)]
    study: Option<String>,
    /// Parallel workers in this process (more processes or machines may share the storage).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// The sampler, as Optuna's: TPE (multivariate; `tpe-univariate` for Optuna's default),
    /// CMA-ES, random, grid or QMC (Sobol).
    #[arg(long, default_value = "tpe", value_parser = ["tpe", "tpe-univariate", "cmaes", "random", "grid", "qmc"])]
    sampler: String,
    /// none, median, percentile, sha (successive halving), hyperband, threshold, patient.
    #[arg(long, default_value = "none")]
    pruner: String,
    /// Seed of the sampler (default: the config's seed, else 42).
    #[arg(long)]
    seed: Option<u64>,
    /// The search space (SPACE.toml); required with `-- CMD`.
    #[arg(long)]
    space: Option<PathBuf>,
    /// Objective direction(s) for a command: one, or two for a Pareto front.
    #[arg(long, num_args = 1..=2, value_parser = ["minimize", "maximize"])]
    direction: Vec<String>,
    /// Config mode: the model to tune (default: the first).
    #[arg(long)]
    model: Option<String>,
    /// Config mode: the objective (out-of-sample net Sharpe, or its deflated value).
    #[arg(long, default_value = "sharpe", value_parser = clap::builder::PossibleValuesParser::new(Metric::NAMES).map(|s| s.parse::<Metric>().expect("a listed name")))]
    objective: Metric,
    /// Config mode: also switch each `[[features]]` group in or out.
    #[arg(long)]
    feature_selection: bool,
    /// Config mode: tune an ensemble of all the config's models (method, weight objective, blend
    /// fraction) instead of one model's parameters; each trial walks the ensemble forward, its
    /// weights learned fold by fold from earlier folds only. best.toml adds `tuned-ensemble`.
    #[arg(long, conflicts_with_all = ["model", "feature_selection"])]
    ensemble: bool,
    /// Seconds between worker heartbeats; a RUNNING trial silent for twice as long is failed
    /// and retried with the same parameters.
    #[arg(long, default_value_t = 5.0)]
    heartbeat: f64,
    /// Command mode: seconds after which a trial's command is terminated and the trial failed.
    #[arg(long)]
    trial_timeout: Option<f64>,
    /// Where to write tuning.json (and best.toml plus the best run, for a config).
    /// Default: `tunes/<study>`.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tracking: crate::tracking_args::TrackingArgs,
    /// The command to run per trial (after `--`).
    #[arg(last = true)]
    command: Vec<String>,
}

fn pruner(name: &str) -> Result<PrunerSpec> {
    let spec = PrunerSpec::by_name(name).with_context(|| {
        format!("--pruner {name}: expected none, median, percentile, sha, hyperband, threshold or patient")
    })?;
    if matches!(
        spec,
        PrunerSpec::Threshold {
            lower: None,
            upper: None,
            ..
        }
    ) {
        bail!(
            "--pruner threshold needs bounds; use a Python-style study or SPACE.toml-driven command with its own checks"
        );
    }
    Ok(spec)
}

fn target(args: &TuneArgs) -> Result<Target> {
    if args.command.is_empty() {
        if args.space.is_some() {
            bail!(
                "--space is for `-- CMD`; a config's space is built in (see --feature-selection)"
            );
        }
        return Ok(Target::Config {
            config: args.config.clone(),
            model: args.model.clone(),
            objective: args.objective,
            feature_selection: args.feature_selection,
            ensemble: args.ensemble,
        });
    }
    if args.config.is_some() {
        bail!("give either CONFIG.toml or `-- CMD`, not both");
    }
    let space = args
        .space
        .clone()
        .context("`-- CMD` needs --space SPACE.toml")?;
    let directions = args
        .direction
        .iter()
        .map(|d| {
            if d == "maximize" {
                Direction::Maximize
            } else {
                Direction::Minimize
            }
        })
        .collect();
    Ok(Target::Command {
        argv: args.command.clone(),
        space,
        directions,
    })
}

pub fn run(args: TuneArgs) -> Result<()> {
    let request = TuneRequest {
        target: target(&args)?,
        storage: args.storage.clone(),
        study: args.study.clone(),
        n_trials: args.trials,
        workers: args.workers,
        sampler: args.sampler.clone(),
        pruner: pruner(&args.pruner)?,
        seed: args.seed,
        heartbeat: args.heartbeat,
        trial_timeout: args.trial_timeout,
        out: args.out.clone(),
        tracking: args.tracking.request(),
        live: None,
    };
    let bar = crate::output::progress_bar(args.trials as u64, args.json);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:48} [{bar:30}] {pos}/{len} trials {elapsed}")?
            .progress_chars("=> "),
    );
    let request = TuneRequest {
        live: Some(std::sync::Arc::new(LiveLine(bar.clone()))),
        ..request
    };
    let result = tune(&request, &|p| match p {
        Progress::StaleRetried(n) => bar.println(format!(
            "failed {n} stale trial(s) of a lost worker; retrying their parameters"
        )),
        Progress::Told { number, state } => {
            bar.set_message(format!("trial {number}: {}", state.name()));
            if crate::output::verbose() {
                bar.suspend(|| eprintln!("trial {number}: {}", state.name()));
            }
            bar.inc(1);
        }
    });
    bar.finish_and_clear();
    let result = result?;
    if args.json {
        println!("{}", result_json(&result, &args.storage));
    } else {
        print_result(&result, &args.storage);
    }
    Ok(())
}

/// The progress line's message: the latest training metric or intermediate value of any trial.
struct LiveLine(ProgressBar);

impl TrialSink for LiveLine {
    fn train(&self, trial: usize, _model: &str, split: usize, e: &TrainEvent) {
        self.0.set_message(format!(
            "trial {trial} fold {split} {} {} = {:.5}",
            e.name, e.step, e.value
        ));
    }

    fn intermediate(&self, trial: usize, step: i64, value: f64) {
        self.0
            .set_message(format!("trial {trial} after fold {step}: {value:.4}"));
    }
}

fn result_json(r: &TuneResult, storage: &str) -> Value {
    let best = r.best.as_ref();
    json!({
        "study": r.study,
        "storage": redact(storage),
        "n_trials": r.trials.len(),
        "n_complete": r.count(TrialState::Complete),
        "directions": r.directions.iter().map(|d| format!("{d:?}").to_lowercase()).collect::<Vec<_>>(),
        "best_value": best.and_then(|b| b.value()),
        "best_params": best.map(|b| b.external_params()),
        "best_trial": best.map(|b| b.number),
        "pareto_front": r.summary["pareto_front"],
        "out": r.out_dir,
        "best": r.best_run,
        "tracking": r.tracking,
    })
}

fn print_result(r: &TuneResult, storage: &str) {
    println!(
        "study {} on {}: {} trials ({} complete, {} pruned, {} failed)",
        r.study,
        redact(storage),
        r.trials.len(),
        r.count(TrialState::Complete),
        r.count(TrialState::Pruned),
        r.count(TrialState::Fail),
    );
    if let Some(b) = &r.best {
        println!(
            "best: trial {} value {} params {}",
            b.number,
            b.value().unwrap_or(f64::NAN),
            Value::from(
                b.external_params()
                    .into_iter()
                    .collect::<serde_json::Map<_, _>>()
            )
        );
    }
    if r.directions.len() > 1 {
        println!("Pareto front: trials {}", r.summary["pareto_front"]);
    }
    println!(
        "tuning summary: {}",
        r.out_dir.join("tuning.json").display()
    );
    if let Some(c) = r.best_run.get("config") {
        println!("best config: {}", c.as_str().unwrap_or_default());
    }
    if let Some(rep) = r.best_run.get("report") {
        println!("best run's report: {}", rep.as_str().unwrap_or_default());
    }
    let best = &r.best_run["tracking"];
    if let Some(id) = best["server_run_id"].as_str().or(best["run_id"].as_str()) {
        println!(
            "best run tracked as {id}; register it: strider models register --run {id} --model MODEL --name NAME"
        );
    }
    print_tracking(&r.tracking);
}

/// Where the session was tracked, or how to deliver it when the server did not answer.
fn print_tracking(t: &Value) {
    let Some(parent) = t["run_id"].as_str() else {
        return;
    };
    let report = &t["report"];
    let uri = report["tracking_uri"].as_str().unwrap_or_default();
    if report["synced"] == false {
        crate::output::warning(&format!(
            "the tracking server did not answer; session run {parent} is buffered in {} - \
             replay it with `strider mlflow sync --from {} --to {uri}`",
            report["local_store"].as_str().unwrap_or_default(),
            report["local_store"].as_str().unwrap_or_default(),
        ));
    } else {
        let id = t["server_run_id"].as_str().unwrap_or(parent);
        println!("tracked as run {id} (one nested run per trial) in {uri}");
    }
    if let Some(e) = t["error"].as_str() {
        crate::output::warning(&format!("some of the session's tracking failed: {e}"));
    }
}
