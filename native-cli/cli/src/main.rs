//! `strider`: the command-line edge of Strider. Reads files, writes run directories, shows
//! progress; all computation is in the library crates (`strider-app` and below).

mod cmd_ab;
mod cmd_completions;
mod cmd_drift;
mod cmd_gbdt;
mod cmd_init;
mod cmd_metrics;
mod cmd_mlflow;
mod cmd_models;
mod cmd_monitor;
mod cmd_predict;
mod cmd_report;
mod cmd_retrain;
mod cmd_run;
mod cmd_select;
mod cmd_serve;
mod cmd_splits;
mod cmd_tune;
mod cmd_validate;
mod cmd_watch;
mod output;
mod table;
mod tracking_args;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "strider", version, about = "Train, validate and backtest trading models", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Results only: no progress bars, warnings or hints.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// More detail: a run's per-fold table, every trial of a study.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    verbose: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Write a commented, runnable config for your bar files (then `strider run` it).
    Init(cmd_init::InitArgs),
    /// Load data, build features and labels, walk forward, backtest, write a run directory.
    Run(cmd_run::RunArgs),
    /// Print the train/test index sets of a splitting scheme.
    Splits(cmd_splits::SplitsArgs),
    /// Performance metrics and overfitting statistics of a returns CSV.
    Metrics(cmd_metrics::MetricsArgs),
    /// The model registry: register runs, move aliases (recorded), roll back, show lineage.
    Models(cmd_models::ModelsArgs),
    /// Rank a finished run's models under (other) selection criteria and recommend one.
    Select(cmd_select::SelectArgs),
    /// Robustness stresses of a finished run (costs, delays, noise, seeds, start dates, regimes).
    Validate(cmd_validate::ValidateArgs),
    /// Data drift between two tables (PSI, Kolmogorov-Smirnov), or change points in a stream
    /// (ADWIN, Page-Hinkley).
    Drift(cmd_drift::DriftArgs),
    /// A/B tests: champion against challenger with an always-valid sequential test.
    Ab(cmd_ab::AbArgs),
    /// Keep a deployed model healthy: follow new bars (or replay history), fire retraining
    /// triggers, gate challengers, promote and roll back.
    Watch(cmd_watch::WatchArgs),
    /// Write a self-contained page over a `strider watch` service's event log: live against
    /// backtest, drift over time, triggers, promotions, rollbacks and A/B trials.
    Monitor(cmd_monitor::MonitorArgs),
    /// Ask a running (or the next) `strider watch` to retrain a model now.
    Retrain(cmd_retrain::RetrainArgs),
    /// Write a run's self-contained, interactive report.html.
    Report(cmd_report::ReportArgs),
    /// Optimise hyper-parameters (a config's model, or any command) on an Optuna storage.
    Tune(cmd_tune::TuneArgs),
    /// MLflow utilities: sync a local store to a server.
    Mlflow(cmd_mlflow::MlflowArgs),
    /// Gradient-boosted trees in LightGBM's model.txt format.
    Gbdt(cmd_gbdt::GbdtArgs),
    /// Score the newest bars with a deployed model (a bundle or a registry version).
    Predict(cmd_predict::PredictArgs),
    /// Serve a model over HTTP (POST /predict, GET /health, GET /metrics), hot-swapping it when
    /// its registry alias moves.
    Serve(cmd_serve::ServeArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(cmd_completions::CompletionsArgs),
}

fn main() -> std::process::ExitCode {
    set_process_environment();
    let cli = Cli::parse();
    output::set(cli.quiet, cli.verbose);
    let result = match cli.command {
        Command::Init(a) => cmd_init::run(a),
        Command::Run(a) => cmd_run::run(a),
        Command::Splits(a) => cmd_splits::run(a),
        Command::Metrics(a) => cmd_metrics::run(a),
        Command::Models(a) => cmd_models::run(a),
        Command::Select(a) => cmd_select::run(a),
        Command::Validate(a) => cmd_validate::run(a),
        Command::Drift(a) => cmd_drift::run(a),
        Command::Ab(a) => cmd_ab::run(a),
        Command::Watch(a) => cmd_watch::run(a),
        Command::Monitor(a) => cmd_monitor::run(a),
        Command::Retrain(a) => cmd_retrain::run(a),
        Command::Report(a) => cmd_report::run(a),
        Command::Tune(a) => cmd_tune::run(a),
        Command::Mlflow(a) => cmd_mlflow::run(a),
        Command::Gbdt(a) => cmd_gbdt::run(a),
        Command::Predict(a) => cmd_predict::run(a),
        Command::Serve(a) => cmd_serve::run(a),
        Command::Completions(a) => cmd_completions::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            output::error(&chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Environment the libraries' native dependencies read, set once before any thread exists; and
/// SIGPIPE back to its default, so `strider run | head -1` ends quietly like any Unix tool
/// instead of panicking on a closed pipe (Rust ignores SIGPIPE by default).
fn set_process_environment() {
    #[cfg(unix)]
    // SAFETY: `signal` with SIG_DFL installs no handler code; it runs before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // LightGBM's OpenMP threads spin by default, which stalls shared 2-core machines.
    if std::env::var_os("OMP_WAIT_POLICY").is_none() {
        // SAFETY: this is the first statement of `main`: no other thread exists yet, so nothing
        // can read the environment concurrently.
        unsafe { std::env::set_var("OMP_WAIT_POLICY", "passive") };
    }
}

/// The error and its causes on one line, each once (a cause whose text the message already ends
/// with is not repeated).
fn chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// `strider SUB ... --ARG` for every argument without a description, every command included.
    fn undescribed(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            let described = arg
                .get_help()
                .is_some_and(|h| !h.to_string().trim().is_empty());
            if !described {
                out.push(format!("{path} {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_name() != "help" {
                undescribed(sub, &format!("{path} {}", sub.get_name()), out);
            }
        }
    }

    #[test]
    fn every_argument_of_every_command_is_described() {
        let mut missing = Vec::new();
        undescribed(&super::Cli::command(), "strider", &mut missing);
        assert!(
            missing.is_empty(),
            "{} undescribed:\n{}",
            missing.len(),
            missing.join("\n")
        );
    }

    /// Every command a user runs shows examples at the end of its `--help` (a group's, such as
    /// `models` or `gbdt`, on the group or on each of its commands).
    #[test]
    fn every_command_has_examples() {
        let cli = super::Cli::command();
        let mut missing = Vec::new();
        for sub in cli.get_subcommands().filter(|s| s.get_name() != "help") {
            let has = |c: &clap::Command| {
                c.get_after_help()
                    .is_some_and(|h| h.to_string().contains("EXAMPLES"))
            };
            let children: Vec<&clap::Command> = sub
                .get_subcommands()
                .filter(|s| s.get_name() != "help")
                .collect();
            let covered = has(sub) || (!children.is_empty() && children.iter().all(|c| has(c)));
            if !covered {
                missing.push(sub.get_name().to_string());
            }
        }
        assert!(missing.is_empty(), "no EXAMPLES: {missing:?}");
    }

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
