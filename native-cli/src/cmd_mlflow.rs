//! `strider mlflow sync --from DIR --to URI`: replay a local `mlruns` store to a server.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

use crate::tracking::local::LocalStore;
use crate::tracking::rest::RestClient;
use crate::tracking::sync::{IdMap, sync_store};

#[derive(Args)]
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
        #[arg(long)]
        json: bool,
    },
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
    }
}
