//! `strider tune`: optimise a config's model (walk-forward objective) or any command, on an
//! Optuna-compatible storage, with parallel workers; writes tuning.json (what the report draws)
//! and, for a config, the best configuration as a runnable config plus a run of it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use clap::builder::TypedValueParser;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use strider_core::config::Config;
use strider_tune::{
    Direction, Outcome, PrunerSpec, Sampler, SpaceFile, Study, TrialState, sampler_by_name,
    visualization,
};

use strider_app::tune::command::CommandObjective;
use strider_app::tune::config_space::{ConfigObjective, Metric};
use strider_app::tune::ensemble_space::EnsembleObjective;
use strider_tune::storage::StorageUrl;

#[derive(Args)]
pub struct TuneArgs {
    /// Run configuration to tune (default: the bundled example). Not with `-- CMD`.
    config: Option<PathBuf>,
    /// Trials this invocation runs (added to what the study already has).
    #[arg(long, default_value_t = 20)]
    trials: usize,
    /// Optuna storage URL: `sqlite:///PATH` or `journal:PATH`.
    #[arg(long, default_value = "sqlite:///study.db")]
    storage: String,
    /// Study name (default: the config's name + "-tune", or "command").
    #[arg(long)]
    study: Option<String>,
    /// Parallel workers in this process (more processes or machines may share the storage).
    #[arg(long, default_value_t = 1)]
    workers: usize,
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
    /// Config mode: also switch each [[features]] group in or out.
    #[arg(long)]
    feature_selection: bool,
    /// Config mode: tune the blend weights of the config's models (`weight.<model>`) instead of
    /// one model's parameters; the config runs once, each trial re-trades the blend.
    #[arg(long, conflicts_with_all = ["model", "feature_selection"])]
    ensemble: bool,
    /// Seconds between worker heartbeats; a RUNNING trial silent for twice as long is failed
    /// and retried with the same parameters.
    #[arg(long, default_value_t = 5.0)]
    heartbeat: f64,
    /// Where to write tuning.json (and best.toml plus the best run, for a config).
    /// Default: tunes/<study>.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    json: bool,
    /// The command to run per trial (after `--`).
    #[arg(last = true)]
    command: Vec<String>,
}

enum Objective {
    Config(Box<ConfigObjective>),
    Ensemble(Box<EnsembleObjective>),
    Command(CommandObjective),
}

fn pruner(name: &str) -> Result<PrunerSpec> {
    PrunerSpec::by_name(name).with_context(|| {
        format!("--pruner {name}: expected none, median, percentile, sha, hyperband, threshold or patient")
    })
}

pub fn run(args: TuneArgs) -> Result<()> {
    if args.workers == 0 {
        bail!("--workers must be at least 1");
    }
    let url = StorageUrl::parse(&args.storage)?;
    let pruner = pruner(&args.pruner)?;
    if matches!(
        pruner,
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
    let mut config_base: Option<PathBuf> = None;
    let (objective, space, directions, default_study, seed, config_text) = if args
        .command
        .is_empty()
    {
        if args.space.is_some() {
            bail!(
                "--space is for `-- CMD`; a config's space is built in (see --feature-selection)"
            );
        }
        let (label, text, base) = match &args.config {
            None => (
                "bundled".to_string(),
                strider_app::bundled::CONFIG.to_string(),
                None,
            ),
            Some(p) => (
                p.display().to_string(),
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
                Some(p.parent().map(PathBuf::from).unwrap_or_default()),
            ),
        };
        let config = Config::from_toml(&text).with_context(|| label.clone())?;
        config_base = base.clone();
        let instruments = strider_core::data::load(&config.data, &mut |path| match &base {
            None => strider_app::bundled::file(path)
                .map(str::to_string)
                .ok_or_else(|| "not bundled".to_string()),
            Some(b) => std::fs::read_to_string(b.join(path)).map_err(|e| e.to_string()),
        })?;
        let model = match &args.model {
            None => 0,
            Some(name) => config
                .models
                .iter()
                .position(|m| &m.name == name)
                .with_context(|| format!("--model {name}: not in the config"))?,
        };
        let seed = args.seed.unwrap_or(config.seed_or_default());
        if args.ensemble {
            let name = format!("{}-ensemble-tune", config.name);
            let obj = EnsembleObjective::new(config, instruments, args.objective)?;
            let space = obj.space();
            (
                Objective::Ensemble(Box::new(obj)),
                space,
                vec![Direction::Maximize],
                name,
                seed,
                Some(text),
            )
        } else {
            let obj = ConfigObjective {
                seed: config.seed_or_default(),
                config,
                instruments,
                model,
                objective: args.objective,
                tune_features: args.feature_selection,
            };
            let space = obj.space();
            let name = format!("{}-{}-tune", obj.config.name, obj.config.models[model].name);
            (
                Objective::Config(Box::new(obj)),
                space,
                vec![Direction::Maximize],
                name,
                seed,
                Some(text),
            )
        }
    } else {
        if args.config.is_some() {
            bail!("give either CONFIG.toml or `-- CMD`, not both");
        }
        let space_path = args
            .space
            .as_ref()
            .context("`-- CMD` needs --space SPACE.toml")?;
        let text = std::fs::read_to_string(space_path)
            .with_context(|| format!("reading {}", space_path.display()))?;
        let space = SpaceFile::from_toml(&text)
            .and_then(|s| s.space())
            .with_context(|| space_path.display().to_string())?;
        let directions = if args.direction.is_empty() {
            vec![Direction::Minimize]
        } else {
            args.direction
                .iter()
                .map(|d| {
                    if d == "maximize" {
                        Direction::Maximize
                    } else {
                        Direction::Minimize
                    }
                })
                .collect()
        };
        let obj = CommandObjective {
            argv: args.command.clone(),
            heartbeat: Duration::from_secs_f64(args.heartbeat.max(0.05)),
        };
        (
            Objective::Command(obj),
            space,
            directions,
            "command".to_string(),
            args.seed.unwrap_or(42),
            None,
        )
    };
    let study_name = args.study.clone().unwrap_or(default_study);
    let sampler: Box<dyn Sampler> = sampler_by_name(&args.sampler, seed, Some(&space))?;
    let remaining = AtomicUsize::new(args.trials);
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(args.trials as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:40} [{bar:30}] {pos}/{len} trials {elapsed}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let grace = 2.0 * args.heartbeat;
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..args.workers)
            .map(|_| {
                let (url, sampler, pruner, space, objective, bar, remaining, directions, study_name) = (
                    &url, sampler.as_ref(), pruner.clone(), &space, &objective, &bar, &remaining,
                    &directions, &study_name,
                );
                scope.spawn(move || -> Result<()> {
                    let mut storage = url.open()?;
                    let mut study = Study::open(storage.as_mut(), study_name, directions, sampler, pruner)?;
                    while remaining.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                        let id = study.info.id;
                        let failed = study.storage().fail_stale_trials(id, grace)?;
                        if !failed.is_empty() {
                            bar.println(format!("failed {} stale trial(s) of a lost worker; retrying their parameters", failed.len()));
                        }
                        if study.exhausted()? {
                            break;
                        }
                        let mut trial = study.ask(Some(space))?;
                        let outcome = match objective {
                            Objective::Config(o) => o.run(&mut study, &mut trial),
                            Objective::Ensemble(o) => o.run(&mut study, &mut trial),
                            Objective::Command(o) => o.run(&mut study, &mut trial),
                        }
                        .unwrap_or_else(|e| Outcome::Fail(format!("{e:#}")));
                        let number = trial.number;
                        let state = study.tell(trial, outcome)?;
                        bar.set_message(format!("trial {number}: {}", state.name()));
                        bar.inc(1);
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a worker panicked")))
            })
            .collect()
    });
    bar.finish_and_clear();
    for r in results {
        r?;
    }

    // Summary, from the storage (every worker's and process's trials).
    let mut storage = url.open()?;
    let random = strider_tune::RandomSampler { seed };
    let mut study = Study::open(
        storage.as_mut(),
        &study_name,
        &directions,
        &random,
        PrunerSpec::None,
    )?;
    let trials = study.trials()?;
    let summary = visualization::study_summary(&study.info, &trials, seed);
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("tunes").join(safe(&study_name)));
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    write_atomic(
        &out_dir.join("tuning.json"),
        &serde_json::to_vec_pretty(&summary)?,
    )?;
    let best = if directions.len() == 1 {
        study.best_trial()?
    } else {
        None
    };
    let mut best_run = Value::Null;
    if let (Objective::Config(obj), Some(b), Some(_)) = (&objective, &best, &config_text) {
        let mut config = obj.apply(&b.external_params())?;
        // Runnable from where it is written: data paths made absolute, or the bundled data
        // copied beside it.
        for path in config
            .data
            .files
            .iter_mut()
            .chain(config.data.panels.iter_mut())
        {
            match &config_base {
                Some(base) => {
                    let full = base.join(&*path);
                    *path = std::fs::canonicalize(&full)
                        .unwrap_or(full)
                        .display()
                        .to_string();
                }
                None => {
                    let text = strider_app::bundled::file(path).context("bundled data")?;
                    let dest = out_dir.join(&*path);
                    std::fs::create_dir_all(dest.parent().unwrap_or(&out_dir))?;
                    std::fs::write(&dest, text)?;
                }
            }
        }
        let best_toml = out_dir.join("best.toml");
        let mut text = format!(
            "# Best of study `{}` (trial {}, {} = {}), written by strider tune.\n# Data paths are absolute, or the bundled data sits beside this file.\n",
            study_name,
            b.number,
            match obj.objective {
                Metric::Sharpe => "out-of-sample Sharpe",
                Metric::Dsr => "deflated Sharpe",
            },
            b.value().unwrap_or(f64::NAN)
        );
        text.push_str(&config.to_toml());
        write_atomic(&best_toml, text.as_bytes())?;
        // A full run of the best configuration, with the study in its report.
        let run_dir = run_with_study(Some(best_toml.clone()), &out_dir, &summary)?;
        best_run =
            json!({"config": best_toml, "run_dir": run_dir, "report": run_dir.join("report.html")});
    }
    if let (Objective::Ensemble(_), Some(b)) = (&objective, &best) {
        let weights: serde_json::Map<String, Value> = b
            .external_params()
            .into_iter()
            .filter_map(|(k, v)| k.strip_prefix("weight.").map(|m| (m.to_string(), v)))
            .collect();
        let path = out_dir.join("best_weights.json");
        write_atomic(&path, &serde_json::to_vec_pretty(&weights)?)?;
        // The config's run, whose report opens its what-if on these weights.
        let run_dir = run_with_study(args.config.clone(), &out_dir, &summary)?;
        best_run = json!({"weights": weights, "weights_file": path, "run_dir": run_dir, "report": run_dir.join("report.html")});
    }
    let n_complete = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .count();
    let json = json!({
        "study": study_name,
        "storage": strider_tune::storage::postgres::redact(&args.storage),
        "n_trials": trials.len(),
        "n_complete": n_complete,
        "directions": directions.iter().map(|d| format!("{d:?}").to_lowercase()).collect::<Vec<_>>(),
        "best_value": best.as_ref().and_then(|b| b.value()),
        "best_params": best.as_ref().map(|b| b.external_params()),
        "best_trial": best.as_ref().map(|b| b.number),
        "pareto_front": summary["pareto_front"],
        "out": out_dir,
        "best": best_run,
    });
    if args.json {
        println!("{json}");
    } else {
        println!(
            "study {study_name} on {}: {} trials ({} complete, {} pruned, {} failed)",
            strider_tune::storage::postgres::redact(&args.storage),
            trials.len(),
            n_complete,
            trials
                .iter()
                .filter(|t| t.state == TrialState::Pruned)
                .count(),
            trials
                .iter()
                .filter(|t| t.state == TrialState::Fail)
                .count()
        );
        if let Some(b) = &best {
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
        if directions.len() > 1 {
            println!("Pareto front: trials {}", summary["pareto_front"]);
        }
        println!("tuning summary: {}", out_dir.join("tuning.json").display());
        if let Some(c) = best_run.get("config") {
            println!("best config: {}", c.as_str().unwrap_or_default());
        }
        if let Some(r) = best_run.get("report") {
            println!("best run's report: {}", r.as_str().unwrap_or_default());
        }
    }
    Ok(())
}

/// Run a config (untracked, quietly) into `<out_dir>/best-run-<time>` with the study's
/// `tuning.json` in the run directory, so its report shows the study.
fn run_with_study(
    config: Option<PathBuf>,
    out_dir: &std::path::Path,
    summary: &Value,
) -> Result<PathBuf> {
    let run_dir = out_dir.join(format!(
        "best-run-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    crate::cmd_run::run(crate::cmd_run::RunArgs {
        config,
        out: Some(run_dir.clone()),
        seed: None,
        json: false,
        tracking_uri: None,
        experiment: None,
        no_track: true,
        no_report: false,
        tracking_wait: 0,
        extra_files: vec![("tuning.json".into(), serde_json::to_vec_pretty(summary)?)],
        quiet: true,
    })
    .context("running the best configuration")?;
    Ok(run_dir)
}

fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
