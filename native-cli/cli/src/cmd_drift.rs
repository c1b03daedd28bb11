use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use strider_drift::{DetectorSpec, DriftThresholds, TableDrift};

use crate::table::{Table, num};

#[derive(Args)]
#[command(after_help = "EXAMPLES:
  strider drift --reference train.csv --current last_month.csv
  strider drift --stream errors.csv --detector adwin --param delta=0.01 --json")]
pub struct DriftArgs {
    /// Reference table (CSV with a header; numeric columns are compared, others skipped).
    #[arg(long, requires = "current", conflicts_with = "stream")]
    reference: Option<PathBuf>,
    /// Current table, compared column by column with the reference (PSI and KS).
    #[arg(long, requires = "reference")]
    current: Option<PathBuf>,
    /// A stream of values (one numeric column, or pick one with --column), fed to --detector.
    #[arg(long, requires = "detector")]
    stream: Option<PathBuf>,
    /// Stream detector: adwin or page-hinkley (River 0.26's algorithms and defaults).
    #[arg(long, value_parser = ["adwin", "page-hinkley"])]
    detector: Option<String>,
    /// A detector parameter, KEY=VALUE (adwin: delta, clock, max_buckets, min_window_length,
    /// grace_period; page-hinkley: min_instances, delta, threshold, alpha, mode).
    #[arg(long = "param", value_name = "KEY=VALUE", requires = "stream")]
    params: Vec<String>,
    /// The stream's column, when the file has more than one numeric column.
    #[arg(long, requires = "stream")]
    column: Option<String>,
    /// A column drifts when its PSI reaches this and its KS p-value is below --ks-pvalue.
    #[arg(long, default_value_t = DriftThresholds::default().psi)]
    psi_threshold: f64,
    /// A column drifts when its KS p-value is below this and its PSI reaches --psi-threshold.
    #[arg(long, default_value_t = DriftThresholds::default().ks_pvalue)]
    ks_pvalue: f64,
    /// The table drifts when at least this share of its columns drift.
    #[arg(long, default_value_t = DriftThresholds::default().share)]
    share: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: DriftArgs) -> Result<()> {
    if let Some(stream) = &args.stream {
        return run_stream(&args, stream);
    }
    let (Some(reference), Some(current)) = (&args.reference, &args.current) else {
        bail!("give --reference and --current (two tables), or --stream with --detector");
    };
    let thresholds = DriftThresholds {
        psi: args.psi_threshold,
        ks_pvalue: args.ks_pvalue,
        share: args.share,
    };
    let drift = strider_app::drift::compare_files(reference, current, &thresholds)?;
    if args.json {
        println!("{}", serde_json::to_string(&drift)?);
    } else {
        print_table(&drift);
    }
    Ok(())
}

fn run_stream(args: &DriftArgs, stream: &std::path::Path) -> Result<()> {
    let detector = args.detector.as_deref().unwrap_or("adwin");
    let params = args
        .params
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_string(), v.trim().to_string())),
            None => bail!("--param {p}: expected KEY=VALUE"),
        })
        .collect::<Result<Vec<_>>>()?;
    let spec = DetectorSpec::parse(detector, &params).map_err(anyhow::Error::msg)?;
    let found = strider_app::drift::detect_stream(stream, args.column.as_deref(), spec)?;
    if args.json {
        println!("{}", serde_json::to_string(&found)?);
        return Ok(());
    }
    let at: Vec<String> = found.detections.iter().map(|i| i.to_string()).collect();
    println!(
        "{detector} on `{}` ({} values): {} detection(s){}{}",
        found.column,
        found.n,
        at.len(),
        if at.is_empty() { "" } else { " at rows " },
        at.join(", ")
    );
    Ok(())
}

fn print_table(drift: &TableDrift) {
    let mut t = Table::new(&["column", "psi", "ks D", "ks p", "drifted"]);
    for (name, c) in &drift.columns {
        t.row(vec![
            name.clone(),
            num(c.psi, 4),
            num(c.ks_statistic, 4),
            format!("{:.3e}", c.ks_pvalue),
            if c.drifted { "yes" } else { "no" }.into(),
        ]);
    }
    print!("{}", t.render());
    println!(
        "drift: {} ({} of {} columns drifted; bound {:.0}%)",
        if drift.drift { "YES" } else { "no" },
        drift.columns.values().filter(|c| c.drifted).count(),
        drift.columns.len(),
        drift.thresholds.share * 100.0
    );
}
