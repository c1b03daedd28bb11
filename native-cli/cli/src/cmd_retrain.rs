use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

#[derive(Args)]
#[command(after_help = "EXAMPLES:
  strider retrain watch.toml --model ridge --reason \"new data vendor\"
  strider retrain watch.toml --model ridge --reason \"manual\" --state postgresql://u:p@db/strider")]
pub struct RetrainArgs {
    /// The config `strider watch` runs.
    config: PathBuf,
    /// The model to retrain (the `[retrain]` table's model).
    #[arg(long)]
    model: String,
    /// Why: recorded with the trigger.
    #[arg(long)]
    reason: String,
    /// The watch's state: its directory, or the postgresql:// URL it shares.
    #[arg(long, default_value = "strider-watch")]
    state: String,
    /// Print `{"request": PATH}` instead of a sentence.
    #[arg(long)]
    json: bool,
}

/// Queues a manual trigger; the watch acts on it at its next bar (once).
pub fn run(args: RetrainArgs) -> Result<()> {
    let path =
        strider_app::watch::request_retrain(&args.config, &args.state, &args.model, &args.reason)?;
    if args.json {
        println!("{}", serde_json::json!({"request": path}));
    } else {
        println!(
            "queued {}: `strider watch` retrains {} at its next bar",
            path, args.model
        );
    }
    Ok(())
}
