//! `strider validate`: robustness stresses of a finished run.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use strider_core::robustness::RobustnessReport;

use crate::table::{Table, num};

#[derive(Args)]
#[command(after_help = "EXAMPLES:\n  strider validate runs/bokeh-3-20261201T101500Z --json")]
pub struct ValidateArgs {
    /// The run directory (written by `strider run`); its `[robustness]` table, or the defaults.
    run_dir: PathBuf,
    /// Where the run's input files are (default: the config's directory, as recorded).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ValidateArgs) -> Result<()> {
    let report = strider_app::run::validate_run_dir(&args.run_dir, args.data_dir.as_deref())?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_robustness(&report);
        println!(
            "\nwritten: {}",
            args.run_dir.join("validation.json").display()
        );
    }
    Ok(())
}

/// Each model's passed stresses, then every stress.
pub fn print_robustness(report: &RobustnessReport) {
    for m in &report.models {
        println!(
            "{}: {}/{} robustness checks pass",
            m.model, m.passed, m.checks
        );
    }
    let mut t = Table::new(&[
        "model", "check", "variant", "sharpe", "stressed", "change", "passes",
    ]);
    for c in &report.checks {
        t.row(vec![
            c.model.clone(),
            c.check.into(),
            c.variant.clone(),
            num(c.base, 2),
            num(c.value, 2),
            num(c.change, 2),
            if c.passes { "yes" } else { "no" }.into(),
        ]);
    }
    print!("{}", t.render());
}
