//! `strider mlflow sync --from DIR --to URI`: replay a local `mlruns` store to a server.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

use strider_mlflow::local::LocalStore;
use strider_mlflow::rest::RestClient;
use strider_mlflow::sync::{IdMap, sync_store};

#[derive(Args)]
#[command(after_help = "EXAMPLES:
  strider mlflow sync --from ~/.cache/strider/mlflow-buffer/127.0.0.1_5000/mlruns --to http://127.0.0.1:5000
  strider mlflow sync --from mlruns --to http://mlflow.internal:5000 --json")]
pub struct MlflowArgs {
    #[command(subcommand)]
    command: MlflowCommand,
}

#[derive(Subcommand)]
enum MlflowCommand {
    /// Replay every run of a local store to a server; running it twice creates nothing new.
    Sync {
        /// The local `mlruns` directory.
        #[arg(long)]
        from: PathBuf,
        /// The server, `http(s)://host:port`.
        #[arg(long)]
        to: String,
        /// Print the sync's counts as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Measure logging throughput against a server (see benches/reference/mlflow_logging.py).
    Bench {
        /// The server, `http(s)://host:port`.
        #[arg(long)]
        to: String,
        /// Points sent in batches (up to 1000 per request, as strider logs).
        #[arg(long, default_value_t = 10_000)]
        points: usize,
        /// Points sent one request each.
        #[arg(long, default_value_t = 300)]
        single: usize,
        /// Print the throughputs as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn bench(to: &str, points: usize, single: usize, json: bool) -> Result<()> {
    use std::collections::BTreeMap;
    use std::time::Instant;
    use strider_mlflow::{Metric, now_ms};
    let rest = RestClient::new(to);
    let exp = rest.get_or_create_experiment("strider-logging-bench")?;
    let run = rest.create_run(&exp, "bench", now_ms(), &BTreeMap::new())?;
    let run = run["info"]["run_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let t0 = now_ms();
    let metric = |i: usize, key: &str| Metric {
        key: key.into(),
        value: i as f64 * 0.5,
        timestamp: t0 + i as i64,
        step: i as i64,
    };
    let start = Instant::now();
    for i in 0..single {
        rest.log_batch(
            &run,
            &[metric(i, "single")],
            &BTreeMap::new(),
            &BTreeMap::new(),
        )?;
    }
    let per_call = single as f64 / start.elapsed().as_secs_f64();
    let all: Vec<Metric> = (0..points).map(|i| metric(i, "batched")).collect();
    let start = Instant::now();
    rest.log_batch(&run, &all, &BTreeMap::new(), &BTreeMap::new())?;
    let batched = points as f64 / start.elapsed().as_secs_f64();
    if json {
        println!(
            "{}",
            serde_json::json!({"per_call_points_per_s": per_call, "batched_points_per_s": batched, "points": points, "single": single})
        );
    } else {
        println!("one request per point: {per_call:.1} points/s ({single} points)");
        println!("batched (1000 per request): {batched:.0} points/s ({points} points)");
    }
    Ok(())
}

pub fn run(args: MlflowArgs) -> Result<()> {
    match args.command {
        MlflowCommand::Sync { from, to, json } => {
            if !from.join("0").is_dir() && !from.is_dir() {
                bail!("{} is not an mlruns directory", from.display());
            }
            if !(to.starts_with("http://") || to.starts_with("https://")) {
                bail!("--to must be an http(s):// MLflow server, got `{to}`");
            }
            let local = LocalStore::open(&from)?;
            let rest = RestClient::new(&to);
            let (report, ids) = sync_store(&local, &rest, None, &IdMap::new())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string(
                        &serde_json::json!({"report": report, "server_run_ids": ids})
                    )?
                );
            } else {
                println!(
                    "synced {} runs to {to}: {} created, {} already there; {} metric points, {} artifacts",
                    report.runs_created + report.runs_updated,
                    report.runs_created,
                    report.runs_updated,
                    report.metric_points,
                    report.artifacts
                );
            }
            Ok(())
        }
        MlflowCommand::Bench {
            to,
            points,
            single,
            json,
        } => bench(&to, points, single, json),
    }
}
