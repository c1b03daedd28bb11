//! `strider serve`: a model behind HTTP, following a registry alias.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use strider_app::deploy::ModelRef;
use strider_serve::{ServeOptions, serve_blocking};

#[derive(Args)]
#[command(after_help = "EXAMPLES:
  strider serve --model models:/my-trees@champion --tracking-uri http://127.0.0.1:5000 --port 8080
  strider serve --model runs/my-run/bundles/ridge --port 0
  curl -s localhost:8080/health")]
pub struct ServeArgs {
    /// A bundle folder, models:/NAME/VERSION, or models:/NAME@ALIAS (polled and hot-swapped).
    #[arg(long)]
    model: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0: any free port; the `listening` log line says which).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Seconds between registry polls.
    #[arg(long, default_value_t = 5.0)]
    poll: f64,
    /// Registry location for models:/ references (as for `strider models`).
    #[arg(long)]
    tracking_uri: Option<String>,
    /// Threads answering requests (default: one per CPU).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,
}

pub fn run(args: ServeArgs) -> Result<()> {
    if !(args.poll.is_finite() && args.poll > 0.0 && args.poll <= 86_400.0) {
        anyhow::bail!(
            "--poll {}: must be a positive number of seconds, at most a day (86400)",
            args.poll
        );
    }
    serve_blocking(ServeOptions {
        model: ModelRef::parse(&args.model)?,
        tracking_uri: args.tracking_uri,
        host: args.host,
        port: args.port,
        poll: Duration::from_secs_f64(args.poll),
        workers: args.workers.map(usize::from),
    })?;
    Ok(())
}
