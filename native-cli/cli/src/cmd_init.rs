//! `strider init DATA...`: write a commented, runnable config for your bar files.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use strider_app::init::init_file;

#[derive(Args)]
#[command(after_help = "EXAMPLES:
  strider init data/*.csv                 # writes strider.toml
  strider init prices_long.csv -o my.toml # a long file: date,ticker,open,high,low,close,volume
  strider run strider.toml")]
pub struct InitArgs {
    /// Bar files (one instrument each, or a long file with a ticker column) or close-only panels.
    #[arg(required = true, value_name = "DATA")]
    data: Vec<PathBuf>,
    /// Where to write the config.
    #[arg(short, long, default_value = "strider.toml", value_name = "FILE")]
    out: PathBuf,
    /// The config's `name` (runs are `runs/<name>-<time>`; default: the file's stem).
    #[arg(long)]
    name: Option<String>,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
    /// Print what was found and written as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: InitArgs) -> Result<()> {
    let r = init_file(&args.data, &args.out, args.name.as_deref(), args.force)?;
    for w in &r.warnings {
        crate::output::warning(w);
    }
    if args.json {
        let mut v = serde_json::to_value(&r)?;
        v["path"] = args.out.display().to_string().into();
        println!("{v}");
        return Ok(());
    }
    println!(
        "wrote {}: {} instrument(s) ({}), {} {} bars from {} to {}, walk-forward {} train / {} test",
        args.out.display(),
        r.instruments.len(),
        r.instruments.join(", "),
        r.bars,
        r.frequency,
        r.first_date,
        r.last_date,
        r.train_size,
        r.test_size,
    );
    println!("next: strider run {}", args.out.display());
    Ok(())
}
