use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use strider_core::stats::{Decision, MsprtSpec};

#[derive(Args)]
pub struct AbArgs {
    #[command(subcommand)]
    command: AbCommand,
}

#[derive(Subcommand)]
enum AbCommand {
    /// Champion (A) against challenger (B) with an always-valid sequential test (mSPRT) on the
    /// paired differences: looking after every observation keeps the false-positive rate at or
    /// under --alpha.
    #[command(after_help = "EXAMPLES:
  strider ab test --a champion_returns.csv --b challenger_returns.csv --alpha 0.05 --json")]
    Test {
        /// A's per-bar returns (one numeric column, or --column).
        #[arg(long)]
        a: PathBuf,
        /// B's per-bar returns, paired with A's row by row.
        #[arg(long)]
        b: PathBuf,
        /// The column to read from both files.
        #[arg(long)]
        column: Option<String>,
        /// The test's level: a decision is wrong with probability at most alpha, however often
        /// it is looked at.
        #[arg(long, default_value_t = MsprtSpec::default().alpha)]
        alpha: f64,
        /// The mixing prior's standard deviation in units of the differences' (the effect size
        /// the test is most sensitive to).
        #[arg(long, default_value_t = MsprtSpec::default().tau)]
        tau: f64,
        /// Observations before the first look.
        #[arg(long, default_value_t = MsprtSpec::default().burn_in)]
        burn_in: usize,
        /// Print JSON (with the p-value after every observation).
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: AbArgs) -> Result<()> {
    let AbCommand::Test {
        a,
        b,
        column,
        alpha,
        tau,
        burn_in,
        json,
    } = args.command;
    let spec = MsprtSpec {
        alpha,
        tau,
        burn_in,
    };
    let r = strider_app::ab::ab_test(&a, &b, column.as_deref(), &spec)?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    let verdict = match (r.decision, r.at) {
        (Decision::B, Some(i)) => format!("B is better (decided at observation {i})"),
        (Decision::A, Some(i)) => format!("A is better (decided at observation {i})"),
        _ => "no difference yet: continue".to_string(),
    };
    println!(
        "{verdict}; always-valid p = {:.4} after {} observations; mean B - A = {:+.3e}",
        r.p_value, r.n, r.mean_difference
    );
    Ok(())
}
