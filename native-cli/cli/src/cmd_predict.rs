//! `strider predict`: score the newest bars with a deployed model.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::Args;
use strider_app::deploy::{ModelRef, read_bar_files, resolve};
use strider_core::bundle::{Bundle, Selection};

use crate::table::Table;

#[derive(Args)]
#[command(after_help = "EXAMPLES:
  strider predict --model runs/my-run/bundles/trees --data data/AAPL.csv --data data/MSFT.csv
  strider predict --model models:/my-trees@champion --data data/AAPL.csv --tracking-uri http://127.0.0.1:5000 --json
  strider predict --model models:/my-trees/3 --data data/AAPL.csv --since 2024-01-01")]
pub struct PredictArgs {
    /// A bundle folder (RUN_DIR/bundles/NAME), models:/NAME/VERSION or models:/NAME@ALIAS.
    #[arg(long)]
    model: String,
    /// Raw bars of one instrument (date, open, high, low, close, volume[, adj_close]); the
    /// instrument is the file stem. Repeat for several instruments.
    #[arg(long = "data", required = true)]
    data: Vec<PathBuf>,
    /// Score each instrument's last bar on or before this date instead of its last bar.
    #[arg(long, conflicts_with = "since")]
    asof: Option<NaiveDate>,
    /// Score every bar on or after this date.
    #[arg(long)]
    since: Option<NaiveDate>,
    /// Registry location for models:/ references (as for `strider models`).
    #[arg(long)]
    tracking_uri: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: PredictArgs) -> Result<()> {
    let reference = ModelRef::parse(&args.model)?;
    let resolved = resolve(&reference, args.tracking_uri.as_deref())?;
    let bundle =
        Bundle::load_checked(&resolved.files).with_context(|| format!("loading {reference}"))?;
    let instruments = read_bar_files(&args.data)?;
    let selection = Selection::from_dates(args.asof, args.since);
    let out = bundle.predict(&instruments, selection, resolved.version)?;
    if args.json {
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    let version = out
        .version
        .map_or(String::new(), |v| format!(" version {v}"));
    println!("{}{version} ({})", out.model, &out.bundle_sha256[..12]);
    let mut t = Table::new(&["date", "instrument", "score", "position"]);
    for p in &out.predictions {
        t.row(vec![
            p.date.to_string(),
            p.instrument.clone(),
            format!("{:.6}", p.score),
            format!("{}", p.position),
        ]);
    }
    print!("{}", t.render());
    Ok(())
}
