use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use strider_core::config::Config;
use strider_core::pipeline::{self, Event, RunOutput};

use crate::table::{Table, num};
use strider_app::bundled;
use strider_app::manifest::{InputFile, Manifest};
use strider_app::rundir::{self, RunDir};
use strider_app::track_run::RunTracking;
use strider_mlflow::TrackingUri;
use strider_mlflow::tracker::Tracker;

#[derive(Args)]
pub struct RunArgs {
    /// Run configuration (TOML). Without it, the bundled example runs.
    pub(crate) config: Option<PathBuf>,
    /// Run directory to create (must not exist). Default: runs/<name>-<UTC time>.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Seed for every random choice (overrides the config's `seed`).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Print a JSON summary on stdout instead of tables.
    #[arg(long)]
    pub(crate) json: bool,
    /// Where to track the run: an MLflow server (`http(s)://...`), or a local `mlruns`
    /// directory (`file://PATH` or a path). Default: `$MLFLOW_TRACKING_URI`, else `./mlruns`.
    #[arg(long)]
    pub(crate) tracking_uri: Option<String>,
    /// MLflow experiment name (default: the config's `name`).
    #[arg(long)]
    pub(crate) experiment: Option<String>,
    /// Do not track the run (the run directory is still written).
    #[arg(long)]
    pub(crate) no_track: bool,
    /// Do not write report.html into the run directory (`strider report` can write it later).
    #[arg(long)]
    pub(crate) no_report: bool,
    /// Seconds to wait for an unreachable tracking server before leaving the run buffered locally.
    #[arg(long, default_value_t = 60)]
    pub(crate) tracking_wait: u64,
    /// Extra files for the run directory (e.g. `tuning.json` from `strider tune`), written
    /// before the report so it shows them.
    #[arg(skip)]
    pub(crate) extra_files: Vec<(String, Vec<u8>)>,
    /// Print nothing on stdout (a run started by another command).
    #[arg(skip)]
    pub(crate) quiet: bool,
}

/// The config text, where it came from, and how to read the data paths it names.
struct Source {
    label: String,
    text: String,
    base: Option<PathBuf>,
}

impl Source {
    fn load(config: Option<&Path>) -> Result<Self> {
        Ok(match config {
            None => Source {
                label: format!("bundled:{}", bundled::CONFIG_PATH),
                text: bundled::CONFIG.to_string(),
                base: None,
            },
            Some(p) => Source {
                label: p.display().to_string(),
                text: std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?,
                base: Some(p.parent().map(Path::to_path_buf).unwrap_or_default()),
            },
        })
    }

    fn read(&self, path: &str) -> std::result::Result<String, String> {
        match &self.base {
            None => bundled::file(path)
                .map(str::to_string)
                .ok_or_else(|| "not a bundled file".to_string()),
            Some(base) => {
                let full = base.join(path);
                std::fs::read_to_string(&full)
                    .map_err(|e| format!("cannot read {}: {e}", full.display()))
            }
        }
    }
}

pub fn run(args: RunArgs) -> Result<()> {
    let source = Source::load(args.config.as_deref())?;
    let mut config = Config::from_toml(&source.text).with_context(|| source.label.clone())?;
    let seed = args.seed.unwrap_or(config.seed_or_default());
    config.seed = Some(seed);

    let mut inputs = Vec::new();
    let mut input_texts = std::collections::BTreeMap::new();
    let instruments = strider_core::data::load(&config.data, &mut |path| {
        let text = source.read(path)?;
        inputs.push(InputFile::new(path, &text));
        input_texts.insert(path.to_string(), text.clone());
        Ok(text)
    })?;

    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| rundir::default_dir(&config.name));
    if dir.exists() {
        anyhow::bail!(
            "{} already exists; choose another --out (nothing was written)",
            dir.display()
        );
    }
    let fingerprint = strider_core::data::fingerprint(&instruments);
    let manifest = Manifest::new(seed, source.label.clone(), fingerprint, inputs);
    let mut lineage = serde_json::Value::Null;
    let mut tracking = if args.no_track {
        None
    } else {
        let uri = TrackingUri::resolve(args.tracking_uri.as_deref());
        let experiment = args.experiment.as_deref().unwrap_or(&config.name);
        lineage = serde_json::json!({
            "tracking_uri": match &uri {
                TrackingUri::Local(p) => p.display().to_string(),
                TrackingUri::Server(s) => s.clone(),
            },
            "experiment": experiment,
        });
        let tracker = Tracker::open(uri, experiment)?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| config.name.clone());
        let t = RunTracking::start(tracker, &name, &config, &manifest)?;
        lineage["run_id"] = t.parent.clone().into();
        Some(t)
    };

    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:24} [{bar:30}] {pos}/{len} folds {elapsed}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let n_models = config.models.len() as u64;
    let mut tracking_error: Option<anyhow::Error> = None;
    let native = strider_app::native_gbdt(Vec::new());
    let result = pipeline::run_with(
        &config,
        &instruments,
        seed,
        &mut |e| {
            let tracked = match (&e, tracking.as_mut()) {
                (
                    Event::Train {
                        model,
                        split,
                        train,
                    },
                    Some(t),
                ) => t.train_event(model, *split, train),
                (Event::FoldDone { model, split, .. }, Some(t)) => t.fold_done(model, *split),
                _ => Ok(()),
            };
            if let Err(err) = tracked {
                tracking_error.get_or_insert(err);
            }
            match e {
                Event::Stage { name } => bar.set_message(name),
                Event::FoldDone { n_splits, .. } => {
                    bar.set_length(n_splits as u64 * n_models);
                    bar.inc(1);
                }
                Event::Train { .. } => {}
            }
        },
        native.as_deref(),
    );
    bar.finish_and_clear();
    let output = match result {
        Ok(o) => o,
        Err(e) => {
            // Keep the tracking record honest: the run failed, it did not stay RUNNING.
            if let Some(t) = tracking.as_mut() {
                t.fail(&e.to_string());
                t.tracker
                    .finish(std::time::Duration::from_secs(args.tracking_wait.min(5)));
            }
            return Err(e.into());
        }
    };
    if let Some(e) = tracking_error {
        return Err(e.context("tracking the run"));
    }
    assert_eq!(manifest.data_fingerprint, output.summary.data_fingerprint);
    write_run(
        &dir,
        &config,
        &manifest,
        &output,
        &lineage,
        &args.extra_files,
    )?;
    let report_path = if args.no_report {
        None
    } else {
        let path = dir.join("report.html");
        crate::cmd_report::write(&dir, input_texts, lineage.clone(), &path)
            .context("writing report.html (the run directory is complete without it)")?;
        Some(path)
    };

    let report = match tracking.as_mut() {
        Some(t) => {
            t.complete(&config, &output, &dir)?;
            let parent = t.parent.clone();
            let r = t
                .tracker
                .finish(std::time::Duration::from_secs(args.tracking_wait));
            Some((parent, r))
        }
        None => None,
    };
    let tracking_json = report.as_ref().map(|(parent, r)| {
        serde_json::json!({
            "run_id": parent,
            "server_run_id": r.server_run_ids.get(parent),
            "report": r,
        })
    });
    if let Some((parent, r)) = &report {
        match r.synced {
            Some(false) => eprintln!(
                "warning: the tracking server did not answer ({}); run {parent} is buffered in {} - \
                 replay it with `strider mlflow sync --from {} --to {}`",
                r.error.as_deref().unwrap_or("unreachable"),
                r.local_store.display(),
                r.local_store.display(),
                r.tracking_uri
            ),
            _ if !args.json => eprintln!(
                "tracked as run {} in {}",
                r.server_run_ids.get(parent).unwrap_or(parent),
                r.tracking_uri
            ),
            _ => {}
        }
    }

    if args.quiet {
    } else if args.json {
        let json = serde_json::json!({ "run_dir": dir, "report": report_path, "tracking": tracking_json, "summary": output.summary });
        println!("{}", serde_json::to_string(&json)?);
    } else {
        print_tables(&output, &dir);
        if let Some(p) = &report_path {
            println!("report: {}", p.display());
        }
    }
    Ok(())
}

fn csv_bytes(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(&r)?;
    }
    Ok(w.into_inner()?)
}

fn write_run(
    dir: &Path,
    config: &Config,
    manifest: &Manifest,
    out: &RunOutput,
    lineage: &serde_json::Value,
    extra_files: &[(String, Vec<u8>)],
) -> Result<()> {
    let mut rd = RunDir::new();
    for (name, bytes) in extra_files {
        rd.add(name, bytes.clone());
    }
    if !lineage.is_null() {
        rd.add_json("tracking.json", lineage)?;
    }
    rd.add("config.toml", config.to_toml());
    rd.add_json("manifest.json", manifest)?;
    rd.add_json("summary.json", &out.summary)?;
    rd.add(
        "folds.csv",
        csv_bytes(
            &[
                "model",
                "split",
                "train_start",
                "train_end",
                "test_start",
                "test_end",
                "train_dates",
                "test_dates",
                "train_rows",
                "test_rows",
                "ic",
                "directional_accuracy",
                "rmse",
                "strategy_sharpe",
                "strategy_return",
            ],
            out.summary.folds.iter().map(|f| {
                let m = &f.metrics;
                vec![
                    f.model.clone(),
                    f.split.to_string(),
                    f.train[0][0].to_string(),
                    f.train[f.train.len() - 1][1].to_string(),
                    f.test[0][0].to_string(),
                    f.test[f.test.len() - 1][1].to_string(),
                    f.train_dates.to_string(),
                    f.test_dates.to_string(),
                    f.train_rows.to_string(),
                    f.test_rows.to_string(),
                    m.ic.to_string(),
                    m.directional_accuracy.to_string(),
                    m.rmse.to_string(),
                    m.strategy_sharpe.to_string(),
                    m.strategy_return.to_string(),
                ]
            }),
        )?,
    );
    rd.add(
        "predictions.csv",
        csv_bytes(
            &[
                "model",
                "path",
                "split",
                "date",
                "instrument",
                "prediction",
                "label",
                "forward_return",
            ],
            out.models.iter().flat_map(|m| {
                m.predictions.iter().map(|p| {
                    vec![
                        m.name.clone(),
                        p.path.to_string(),
                        p.split.to_string(),
                        p.date.to_string(),
                        p.instrument.clone(),
                        p.prediction.to_string(),
                        p.label.to_string(),
                        p.forward_return.to_string(),
                    ]
                })
            }),
        )?,
    );
    rd.add(
        "returns.csv",
        csv_bytes(
            &[
                "model",
                "date",
                "strategy",
                "gross",
                "cost",
                "benchmark",
                "exposure",
                "turnover",
            ],
            out.models.iter().flat_map(|m| {
                m.backtest.portfolio.iter().map(|d| {
                    vec![
                        m.name.clone(),
                        d.date.to_string(),
                        d.strategy.to_string(),
                        d.gross.to_string(),
                        d.cost.to_string(),
                        d.benchmark.to_string(),
                        d.exposure.to_string(),
                        d.turnover.to_string(),
                    ]
                })
            }),
        )?,
    );
    for m in &out.models {
        for (k, f) in m.fitted.iter().enumerate() {
            rd.add_json(&format!("models/{}/split-{k}.json", m.name), f)?;
        }
        for (k, files) in m.artifacts.iter().enumerate() {
            for (file, bytes) in files {
                rd.add(format!("models/{}/split-{k}.{file}", m.name), bytes.clone());
            }
        }
    }
    // {model: [[{step, name, value}, ...] per split]}, for the report's learning-curve charts.
    let curves: serde_json::Map<String, serde_json::Value> = out
        .models
        .iter()
        .filter(|m| m.learning_curves.iter().any(|c| !c.is_empty()))
        .map(|m| Ok((m.name.clone(), serde_json::to_value(&m.learning_curves)?)))
        .collect::<Result<_>>()?;
    if !curves.is_empty() {
        rd.add_json("learning_curves.json", &curves)?;
    }
    rd.commit(dir)
}

fn print_tables(out: &RunOutput, dir: &Path) {
    let s = &out.summary;
    println!(
        "{}: {} instruments, {} rows on {} dates ({} .. {}), {} features, {} splits",
        s.name,
        s.dataset.instruments.len(),
        s.dataset.rows,
        s.dataset.dates,
        s.dataset.first_date,
        s.dataset.last_date,
        s.dataset.features.len(),
        s.split.n_splits
    );
    let mut t = Table::new(&[
        "model", "split", "train", "test", "rows", "IC", "dir.acc", "sharpe", "return",
    ]);
    for f in &s.folds {
        t.row(vec![
            f.model.clone(),
            f.split.to_string(),
            format!("{}..{}", f.train[0][0], f.train[f.train.len() - 1][1]),
            format!("{}..{}", f.test[0][0], f.test[f.test.len() - 1][1]),
            format!("{}/{}", f.train_rows, f.test_rows),
            num(f.metrics.ic, 3),
            num(f.metrics.directional_accuracy, 3),
            num(f.metrics.strategy_sharpe, 2),
            num(f.metrics.strategy_return * 100.0, 1) + "%",
        ]);
    }
    print!("{}", t.render());
    println!();
    let mut t = Table::new(&[
        "model", "series", "sharpe", "sortino", "cagr", "max_dd", "hit_rate", "total",
    ]);
    for m in &s.models {
        for (label, x) in [
            ("net", &m.evaluation.strategy),
            ("gross", &m.evaluation.gross),
            ("buy&hold", &m.evaluation.benchmark),
        ] {
            t.row(vec![
                m.name.clone(),
                label.into(),
                num(x.sharpe, 3),
                num(x.sortino, 3),
                num(x.cagr * 100.0, 2) + "%",
                num(x.max_drawdown * 100.0, 2) + "%",
                num(x.hit_rate, 3),
                num(x.total_return * 100.0, 1) + "%",
            ]);
        }
    }
    print!("{}", t.render());
    println!();
    let mut t = Table::new(&[
        "model",
        "slice",
        "periods",
        "sharpe",
        "return",
        "contribution",
    ]);
    for m in &s.models {
        let a = &m.evaluation.attribution;
        for g in a.by_instrument.iter().chain(&a.by_side) {
            t.row(vec![
                m.name.clone(),
                g.group.clone(),
                g.n_periods.to_string(),
                num(g.sharpe, 3),
                num(g.total_return * 100.0, 1) + "%",
                num(g.contribution * 100.0, 1) + "%",
            ]);
        }
    }
    print!("{}", t.render());
    let d = &s.deflated_sharpe;
    if d.n_trials >= 2 {
        println!(
            "\ndeflated Sharpe of the best of {} models: {} (PSR against SR0 = {} per period)",
            d.n_trials,
            num(d.dsr, 3),
            num(d.expected_max_sharpe, 4)
        );
    }
    println!("\nrun directory: {}", dir.display());
}
