//! `strider select`: rank a finished run's models under other criteria and recommend one.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use strider_core::config::Config;
use strider_core::selection::{Benchmark, Rule, SelectionReport};

use crate::table::{Table, num};

#[derive(Args)]
#[command(
    after_help = "EXAMPLES:\n  strider select runs/bokeh-3-20261201T101500Z --min-dsr 0.9 --benchmark zero"
)]
pub struct SelectArgs {
    /// The run directory (written by `strider run`).
    run_dir: PathBuf,
    /// What ranks the models: max-dsr (default), max-sharpe or max-sortino.
    #[arg(long, value_parser = ["max-dsr", "max-sharpe", "max-sortino"])]
    rule: Option<String>,
    /// The least deflated Sharpe ratio a recommended model has (a probability).
    #[arg(long)]
    min_dsr: Option<f64>,
    /// The deepest drawdown allowed, e.g. -0.35.
    #[arg(long, allow_hyphen_values = true)]
    max_drawdown: Option<f64>,
    /// Do not require membership of the model confidence set.
    #[arg(long)]
    no_mcs: bool,
    /// The least share of folds with a positive Sharpe ratio.
    #[arg(long)]
    min_positive_folds: Option<f64>,
    /// What a model must beat: buy-and-hold or zero (cash).
    #[arg(long, value_parser = ["buy-and-hold", "zero"])]
    benchmark: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: SelectArgs) -> Result<()> {
    let config_path = args.run_dir.join("config.toml");
    let text = std::fs::read_to_string(&config_path).with_context(|| {
        format!(
            "reading {} (is this a run directory?)",
            config_path.display()
        )
    })?;
    let config = Config::from_toml(&text).with_context(|| config_path.display().to_string())?;
    let mut spec = config.selection.clone();
    if let Some(r) = &args.rule {
        spec.rule = match r.as_str() {
            "max-sharpe" => Rule::MaxSharpe,
            "max-sortino" => Rule::MaxSortino,
            _ => Rule::MaxDsr,
        };
    }
    if let Some(b) = &args.benchmark {
        spec.benchmark = if b == "zero" {
            Benchmark::Zero
        } else {
            Benchmark::BuyAndHold
        };
    }
    spec.min_dsr = args.min_dsr.unwrap_or(spec.min_dsr);
    spec.max_drawdown = args.max_drawdown.or(spec.max_drawdown);
    spec.require_mcs &= !args.no_mcs;
    spec.min_positive_folds = args.min_positive_folds.unwrap_or(spec.min_positive_folds);
    let report = strider_app::run::reselect(&args.run_dir, &spec)?;
    strider_app::rundir::write_atomic(
        &args.run_dir.join("selection.json"),
        &serde_json::to_vec_pretty(&report)?,
    )?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_leaderboard(&report);
    }
    Ok(())
}

/// The recommendation and its reasons, then every model ranked.
pub fn print_leaderboard(report: &SelectionReport) {
    match &report.recommended {
        Some(m) => crate::output::headline(&format!("recommended: {m}"), true),
        None => crate::output::headline("recommended: none", false),
    }
    for r in &report.reasons {
        println!("  - {r}");
    }
    println!();
    let mut t = Table::new(&[
        "rank", "model", "passes", "sharpe", "excess", "DSR", "SPA p", "MCS p", "DM p", "+folds",
        "max_dd", "holdout",
    ]);
    for r in &report.ranking {
        let m = &r.metrics;
        let holdout = m
            .holdout
            .as_ref()
            .and_then(|h| h["strategy"]["sharpe"].as_f64())
            .map_or("-".to_string(), |s| num(s, 2));
        t.row(vec![
            r.rank.to_string(),
            r.model.clone(),
            if r.passes { "yes" } else { "no" }.into(),
            num(m.sharpe, 2),
            num(m.excess_sharpe, 2),
            num(m.dsr, 3),
            num(m.spa_p_value, 3),
            num(m.mcs_p_value, 3),
            m.dm_vs_best_p_value.map_or("-".into(), |p| num(p, 3)),
            format!("{:.0}%", 100.0 * m.stability.positive_folds),
            format!("{:.1}%", 100.0 * m.max_drawdown),
            holdout,
        ]);
    }
    print!("{}", t.render());
    println!(
        "\n{} trials deflated for; {} out-of-sample days ({} .. {})",
        report.tests.n_trials,
        report.tests.periods,
        report
            .tests
            .first_date
            .map_or("-".into(), |d| d.to_string()),
        report.tests.last_date.map_or("-".into(), |d| d.to_string()),
    );
}
