use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use strider_core::metrics::MetricsSpec;
use strider_core::metrics_report::{MetricsOptions, MetricsReport, Outcome, Tests, metrics_report};

use crate::table::{Table, num};

#[derive(Args)]
#[command(after_help = "EXAMPLES:
  strider metrics returns.csv --benchmark spy
  strider metrics runs/my-run/returns.csv --benchmark buy_and_hold
  strider metrics weekly.csv --periods-per-year 52 --rf 0.02 --json")]
pub struct MetricsArgs {
    /// CSV of `date` + one column of simple returns per strategy.
    returns: PathBuf,
    /// Column to compare every other column against (alpha, beta, capture, ...); it is also the
    /// SPA benchmark. Without it SPA compares against cash.
    #[arg(long)]
    benchmark: Option<String>,
    /// Periods per year, to annualise (252 for daily bars, 52 weekly, 12 monthly).
    #[arg(long, default_value_t = 252.0)]
    periods_per_year: f64,
    /// Annual risk-free rate, de-annualised geometrically (negative rates are honoured).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    rf: f64,
    /// Seed of the SPA / MCS bootstraps.
    #[arg(long, default_value_t = strider_core::config::DEFAULT_SEED)]
    seed: u64,
    /// Bootstrap repetitions.
    #[arg(long, default_value_t = 1000)]
    reps: usize,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

pub fn run(args: MetricsArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.returns)
        .with_context(|| format!("reading {}", args.returns.display()))?;
    let table = strider_core::data::parse_returns(&args.returns.display().to_string(), &text)?;
    let spec = MetricsSpec {
        periods_per_year: args.periods_per_year,
        risk_free: args.rf,
    };
    spec_check(&spec)?;
    let opts = MetricsOptions {
        spec,
        benchmark: args.benchmark.clone(),
        seed: args.seed,
        reps: args.reps,
        ..Default::default()
    };
    let report = metrics_report(&table, &opts)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    print_metrics(&report);
    if let Some(b) = &args.benchmark {
        print_vs_benchmark(&report, b);
    }
    print_tests(&report.tests);
    Ok(())
}

/// One row per metric, one column per strategy.
fn print_metrics(report: &MetricsReport) {
    let names: Vec<&String> = report.columns.keys().collect();
    let mut header = vec!["metric"];
    header.extend(names.iter().map(|s| s.as_str()));
    let mut t = Table::new(&header);
    let fields: Vec<Vec<(&str, f64)>> = report
        .columns
        .values()
        .map(|c| c.metrics.fields())
        .collect();
    for (i, (key, _)) in fields[0].iter().enumerate() {
        let mut row = vec![key.to_string()];
        row.extend(fields.iter().map(|f| shown(key, f[i].1)));
        t.row(row);
    }
    print!("{}", t.render());
}

/// Returns, drawdowns, rates and risk as percentages (as quantstats shows them), counts as
/// integers, ratios with four decimals. `--json` keeps every value as the fraction it is.
fn shown(key: &str, v: f64) -> String {
    const PERCENT: [&str; 13] = [
        "total_return",
        "cagr",
        "volatility",
        "max_drawdown",
        "avg_drawdown",
        "win_rate",
        "hit_rate",
        "var_95",
        "cvar_95",
        "var_95_parametric",
        "cvar_95_parametric",
        "best_day",
        "worst_day",
    ];
    match key {
        "n_periods" | "longest_drawdown_days" => num(v, 0),
        "min_track_record_length" => num(v, 1),
        k if PERCENT.contains(&k) && v.is_finite() => format!("{:.2}%", v * 100.0),
        _ => num(v, 4),
    }
}

/// Alpha, beta and capture of every column against the benchmark column.
fn print_vs_benchmark(report: &MetricsReport, b: &str) {
    {
        println!("\nagainst {b}:");
        let mut t = Table::new(&["column", "alpha", "beta", "corr", "IR", "TE", "up", "down"]);
        for (name, c) in &report.columns {
            if let Some(v) = &c.vs_benchmark {
                t.row(vec![
                    name.clone(),
                    num(v.alpha, 4),
                    num(v.beta, 3),
                    num(v.correlation, 3),
                    num(v.information_ratio_annualized, 3),
                    num(v.tracking_error, 4),
                    num(v.up_capture, 3),
                    num(v.down_capture, 3),
                ]);
            }
        }
        print!("{}", t.render());
    }
}

/// DSR, PBO, SPA, MCS and Diebold-Mariano across the strategy columns, or why each is missing.
fn print_tests(tests: &Tests) {
    println!("\nstatistics across the strategy columns:");
    let line = |name: &str, o: Result<String, String>| match o {
        Ok(s) => println!("  {name:<4} {s}"),
        Err(e) => println!("  {name:<4} n/a: {e}"),
    };
    line(
        "dsr",
        match &tests.dsr {
            Outcome::Ok(d) => Ok(format!(
                "{} DSR {} (SR0 {} per period over {} trials)",
                d.selected,
                num(d.test.dsr, 4),
                num(d.test.expected_max_sharpe, 5),
                d.test.n_trials
            )),
            Outcome::Unavailable { error } => Err(error.clone()),
        },
    );
    line(
        "pbo",
        match &tests.pbo {
            Outcome::Ok(p) => Ok(format!(
                "PBO {} over {} combinations, P(OOS loss) {}",
                num(p.pbo, 4),
                p.n_combinations,
                num(p.prob_oos_loss, 4)
            )),
            Outcome::Unavailable { error } => Err(error.clone()),
        },
    );
    line(
        "spa",
        match &tests.spa {
            Outcome::Ok(s) => Ok(format!(
                "vs {}: SPA p {}, Reality Check p {} (best {})",
                s.benchmark,
                num(s.test.p_value, 3),
                num(s.test.p_value_upper, 3),
                s.best
            )),
            Outcome::Unavailable { error } => Err(error.clone()),
        },
    );
    line(
        "mcs",
        match &tests.mcs {
            Outcome::Ok(m) => Ok(format!(
                "{:.0}% set: {}",
                (1.0 - m.size) * 100.0,
                m.included.join(", ")
            )),
            Outcome::Unavailable { error } => Err(error.clone()),
        },
    );
    line(
        "dm",
        match &tests.dm {
            Outcome::Ok(d) => Ok(format!(
                "{} vs {}: stat {}, p {}",
                d.first,
                d.second,
                num(d.test.statistic, 3),
                num(d.test.p_value, 4)
            )),
            Outcome::Unavailable { error } => Err(error.clone()),
        },
    );
}

fn spec_check(spec: &MetricsSpec) -> Result<()> {
    if spec.periods_per_year.is_nan() || spec.periods_per_year <= 0.0 {
        anyhow::bail!("--periods-per-year must be > 0");
    }
    if spec.risk_free.is_nan() || spec.risk_free <= -1.0 {
        anyhow::bail!("--rf must be > -1");
    }
    Ok(())
}
