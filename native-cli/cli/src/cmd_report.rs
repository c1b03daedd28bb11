//! `strider report RUN_DIR`: (re)write a run's self-contained `report.html`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use strider_app::report;

#[derive(Args)]
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
    let manifest_path = args.run_dir.join("manifest.json");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).with_context(|| {
            format!(
                "reading {} (is it a run directory?)",
                manifest_path.display()
            )
        })?)
        .with_context(|| format!("parsing {}", manifest_path.display()))?;
    let files = report::input_files(&manifest, args.data_dir.as_deref())?;
    let lineage_path = args.run_dir.join("tracking.json");
    let lineage = if lineage_path.exists() {
        serde_json::from_str(&std::fs::read_to_string(&lineage_path)?)
            .with_context(|| format!("parsing {}", lineage_path.display()))?
    } else {
        serde_json::Value::Null
    };
    let out = args.out.unwrap_or_else(|| args.run_dir.join("report.html"));
    let bytes = write(&args.run_dir, files, lineage, &out)?;
    if args.json {
        println!("{}", serde_json::json!({"report": out, "bytes": bytes}));
    } else {
        eprintln!("wrote {} ({:.1} MB)", out.display(), bytes as f64 / 1e6);
    }
    Ok(())
}

/// Render the report of `run_dir` into `out` (written under a temporary name, then renamed, so a
/// failure never leaves half a file). Returns its size in bytes.
pub fn write(
    run_dir: &Path,
    files: std::collections::BTreeMap<String, String>,
    lineage: serde_json::Value,
    out: &Path,
) -> Result<usize> {
    let payload = report::payload_from_dir(run_dir, files, lineage)?;
    let html = report::render(&payload)?;
    let tmp = out.with_extension("html.partial");
    std::fs::write(&tmp, &html).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    Ok(html.len())
}
