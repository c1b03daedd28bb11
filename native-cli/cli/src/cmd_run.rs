//! `strider run`: argument handling, a progress bar, and the tables or JSON of a finished run.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use indicatif::ProgressStyle;
use strider_app::run::{Progress, RunRequest, RunResult, run_to_dir};
use strider_core::pipeline::RunOutput;

use crate::table::{Table, num};

#[derive(Args)]
#[command(after_help = "EXAMPLES:
  strider run                               # the bundled example
  strider init data/*.csv && strider run strider.toml
  strider run my.toml -o runs/first --folds # the per-fold table too
  strider run my.toml --json --no-track | jq .selection.recommended")]
pub struct RunArgs {
    /// Run configuration (TOML). Without it, the bundled example runs.
    config: Option<PathBuf>,
    /// Run directory to create (must not exist). Default: `runs/<name>-<UTC time>`.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Seed for every random choice (overrides the config's `seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Print a JSON summary on stdout instead of tables.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tracking: crate::tracking_args::TrackingArgs,
    /// Do not write report.html into the run directory (`strider report` can write it later).
    #[arg(long)]
    no_report: bool,
    /// Also print the per-fold table (every model x split).
    #[arg(long)]
    folds: bool,
}

impl RunArgs {
    fn request(&self) -> RunRequest {
        RunRequest {
            config: self.config.clone(),
            out: self.out.clone(),
            seed: self.seed,
            tracking: self.tracking.request(),
            report: !self.no_report,
            extra_files: Vec::new(),
            other_trials: 0,
        }
    }
}

pub fn run(args: RunArgs) -> Result<()> {
    let bar = crate::output::progress_bar(0, args.json);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:24} [{bar:30}] {pos}/{len} folds {elapsed}")?
            .progress_chars("=> "),
    );
    let result = run_to_dir(&args.request(), &mut |p| match p {
        Progress::Stage(name) => bar.set_message(name.to_string()),
        Progress::Warning(w) => bar.suspend(|| crate::output::warning(w)),
        Progress::Fold { total } => {
            bar.set_length(total);
            bar.inc(1);
        }
        Progress::Train {
            model,
            split,
            name,
            step,
            value,
        } => bar.set_message(format!("{model} fold {split}: {name} {value:.5} at {step}")),
    });
    bar.finish_and_clear();
    let result = result?;
    report_tracking(&result, args.json);
    if args.json {
        let json = serde_json::json!({
            "run_dir": result.dir,
            "report": result.report,
            "tracking": result.tracking_json(),
            "summary": result.output.summary,
            "selection": result.selection,
            "holdout": result.holdout,
            "robustness": result.robustness,
        });
        println!("{}", serde_json::to_string(&json)?);
    } else {
        crate::cmd_select::print_leaderboard(&result.selection);
        println!();
        print_tables(
            &result.output,
            &result.dir,
            args.folds || crate::output::verbose(),
        );
        if let Some(r) = &result.robustness {
            println!();
            crate::cmd_validate::print_robustness(r);
        }
        if let Some(p) = &result.report {
            println!("report: {}", p.display());
        }
    }
    Ok(())
}

/// Where the run was tracked, or how to deliver it when the server did not answer.
fn report_tracking(result: &RunResult, json: bool) {
    let Some(t) = &result.tracking else { return };
    let (parent, r) = (&t.run_id, &t.report);
    match r.synced {
        Some(false) => crate::output::warning(&format!(
            "the tracking server did not answer ({}); run {parent} is buffered in {} - \
             replay it with `strider mlflow sync --from {} --to {}`",
            r.error.as_deref().unwrap_or("unreachable"),
            r.local_store.display(),
            r.local_store.display(),
            r.tracking_uri
        )),
        _ if !json && !crate::output::quiet() => eprintln!(
            "tracked as run {} in {}",
            r.server_run_ids.get(parent).unwrap_or(parent),
            r.tracking_uri
        ),
        _ => {}
    }
}

fn print_tables(out: &RunOutput, dir: &Path, folds: bool) {
    let s = &out.summary;
    println!(
        "{}: {} instruments, {} rows on {} dates ({} .. {}), {} features, {} splits",
        s.name,
        s.dataset.instruments.len(),
        s.dataset.rows,
        s.dataset.dates,
        s.dataset.first_date,
        s.dataset.last_date,
        s.dataset.features.len(),
        s.split.n_splits
    );
    let mut t = Table::new(&[
        "model", "split", "train", "test", "rows", "IC", "dir.acc", "NDCG", "sharpe", "return",
    ]);
    for f in s.folds.iter().filter(|_| folds) {
        t.row(vec![
            f.model.clone(),
            f.split.to_string(),
            format!("{}..{}", f.train[0][0], f.train[f.train.len() - 1][1]),
            format!("{}..{}", f.test[0][0], f.test[f.test.len() - 1][1]),
            format!("{}/{}", f.train_rows, f.test_rows),
            num(f.metrics.ic, 3),
            num(f.metrics.directional_accuracy, 3),
            num(f.metrics.ndcg, 3),
            num(f.metrics.strategy_sharpe, 2),
            num(f.metrics.strategy_return * 100.0, 1) + "%",
        ]);
    }
    if folds {
        print!("{}", t.render());
        println!();
    }
    let mut t = Table::new(&[
        "model", "series", "sharpe", "sortino", "cagr", "max_dd", "hit_rate", "total",
    ]);
    for m in &s.models {
        for (label, x) in [
            ("net", &m.evaluation.strategy),
            ("gross", &m.evaluation.gross),
            ("buy&hold", &m.evaluation.benchmark),
        ] {
            t.row(vec![
                m.name.clone(),
                label.into(),
                num(x.sharpe, 3),
                num(x.sortino, 3),
                num(x.cagr * 100.0, 2) + "%",
                num(x.max_drawdown * 100.0, 2) + "%",
                num(x.hit_rate, 3),
                num(x.total_return * 100.0, 1) + "%",
            ]);
        }
    }
    print!("{}", t.render());
    println!();
    let mut t = Table::new(&[
        "model",
        "slice",
        "periods",
        "sharpe",
        "return",
        "contribution",
    ]);
    for m in &s.models {
        let a = &m.evaluation.attribution;
        for g in a.by_instrument.iter().chain(&a.by_side) {
            t.row(vec![
                m.name.clone(),
                g.group.clone(),
                g.n_periods.to_string(),
                num(g.sharpe, 3),
                num(g.total_return * 100.0, 1) + "%",
                num(g.contribution * 100.0, 1) + "%",
            ]);
        }
    }
    print!("{}", t.render());
    let d = &s.deflated_sharpe;
    if d.n_trials >= 2 {
        println!(
            "\ndeflated Sharpe of the best of {} models: {} (PSR against SR0 = {} per period)",
            d.n_trials,
            num(d.dsr, 3),
            num(d.expected_max_sharpe, 4)
        );
    }
    println!("\nrun directory: {}", dir.display());
}
