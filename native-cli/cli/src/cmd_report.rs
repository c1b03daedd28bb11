//! `strider report RUN_DIR`: (re)write a run's self-contained `report.html`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

#[derive(Args)]
#[command(after_help = "EXAMPLES:
  strider report runs/my-run
  strider report runs/my-run --out /tmp/report.html --data-dir moved/data")]
pub struct ReportArgs {
    /// A run directory written by `strider run`.
    run_dir: PathBuf,
    /// Where to write the report (default: RUN_DIR/report.html).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Directory the run's data paths are relative to (default: the run's config directory; the
    /// bundled example needs none).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Print `{"report": PATH, "bytes": N}` on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ReportArgs) -> Result<()> {
    let out = args.out.unwrap_or_else(|| args.run_dir.join("report.html"));
    let bytes =
        strider_app::report::write_for_run_dir(&args.run_dir, &out, args.data_dir.as_deref())?;
    if args.json {
        println!("{}", serde_json::json!({"report": out, "bytes": bytes}));
    } else {
        eprintln!("wrote {} ({:.1} MB)", out.display(), bytes as f64 / 1e6);
    }
    Ok(())
}
