use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use strider_app::watch::write_monitor;

#[derive(Args)]
#[command(after_help = "EXAMPLES:
  strider monitor ops/                      # writes ops/monitor.html
  strider monitor replay/ --out monitor.html --json
  strider monitor postgresql://u:p@db/strider --out monitor.html")]
pub struct MonitorArgs {
    /// The state of a `strider watch` service (its --state: a directory or a postgresql:// URL).
    #[arg(default_value = "strider-watch")]
    state: String,
    /// With a PostgreSQL state holding several watches: the registered model name of the one.
    #[arg(long)]
    name: Option<String>,
    /// Where to write the page (default: STATE/monitor.html).
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,
    /// Print `{"out": PATH, "status": {...}}` (the status `GET /status` serves).
    #[arg(long)]
    json: bool,
}

/// Writes the monitor page over the service's committed event log.
pub fn run(args: MonitorArgs) -> Result<()> {
    let (out, status) = write_monitor(&args.state, args.name.as_deref(), args.out.as_deref())?;
    if args.json {
        println!("{}", serde_json::json!({"out": out, "status": status}));
    } else {
        let live = status.live.get("sharpe").and_then(|v| v.as_f64());
        println!(
            "{}: {} bars, {} cycles ({} promoted, {} rejected, {} rolled back), {} errors; champion {}, live Sharpe {}",
            out.display(),
            status.bars,
            status.cycles,
            status.promotions,
            status.rejections,
            status.rollbacks,
            status.errors,
            status
                .champion
                .map_or("none".into(), |v| format!("version {v}")),
            live.map_or("-".into(), |s| format!("{s:.3}")),
        );
    }
    Ok(())
}
