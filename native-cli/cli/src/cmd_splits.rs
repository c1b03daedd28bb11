use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use strider_core::splits::{SplitSpec, Window};

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Scheme {
    Tss,
    WalkForward,
    PurgedKfold,
    Cpcv,
}

#[derive(Clone, Copy, ValueEnum)]
enum WindowArg {
    Expanding,
    Rolling,
}

#[derive(Args)]
#[command(after_help = "EXAMPLES:
  strider splits --scheme walk-forward --n-samples 1000 --train-size 252 --test-size 63
  strider splits --scheme cpcv --n-samples 600 --n-folds 6 --n-test-folds 2 --purge 5 --embargo 5 --json
  strider splits --scheme purged-kfold --n-samples 500 --n-splits 5 --purge 5")]
pub struct SplitsArgs {
    /// The splitting scheme (each as scikit-learn or skfolio defines it).
    #[arg(long, value_enum)]
    scheme: Scheme,
    /// How many samples (rows, in time order) to split.
    #[arg(long, short)]
    n_samples: usize,
    /// tss, purged-kfold (default 5)
    #[arg(long)]
    n_splits: Option<usize>,
    /// tss
    #[arg(long)]
    max_train_size: Option<usize>,
    /// tss, walk-forward
    #[arg(long)]
    test_size: Option<usize>,
    /// tss, walk-forward (default 0)
    #[arg(long)]
    gap: Option<usize>,
    /// walk-forward
    #[arg(long)]
    train_size: Option<usize>,
    /// walk-forward (default: test size)
    #[arg(long)]
    step: Option<usize>,
    /// walk-forward (default rolling, as skfolio)
    #[arg(long, value_enum)]
    window: Option<WindowArg>,
    /// walk-forward: keep a final, shorter test window
    #[arg(long)]
    reduce_test: bool,
    /// cpcv (default 10)
    #[arg(long)]
    n_folds: Option<usize>,
    /// cpcv (default 8)
    #[arg(long)]
    n_test_folds: Option<usize>,
    /// purged-kfold: label horizon in samples; cpcv: purged size (default 0)
    #[arg(long)]
    purge: Option<usize>,
    /// purged-kfold, cpcv: samples embargoed after each test fold (default 0)
    #[arg(long)]
    embargo: Option<usize>,
    /// Print JSON: {"n_samples", "n_paths", "splits": [{"train", "test", ...}]}
    #[arg(long)]
    json: bool,
}

impl SplitsArgs {
    /// Reject options that do not apply to the chosen scheme instead of ignoring them.
    fn check_applicable(&self) -> Result<()> {
        use Scheme::*;
        let given: [(&str, bool, &[Scheme]); 12] = [
            ("--n-splits", self.n_splits.is_some(), &[Tss, PurgedKfold]),
            ("--max-train-size", self.max_train_size.is_some(), &[Tss]),
            ("--test-size", self.test_size.is_some(), &[Tss, WalkForward]),
            ("--gap", self.gap.is_some(), &[Tss, WalkForward]),
            ("--train-size", self.train_size.is_some(), &[WalkForward]),
            ("--step", self.step.is_some(), &[WalkForward]),
            ("--window", self.window.is_some(), &[WalkForward]),
            ("--reduce-test", self.reduce_test, &[WalkForward]),
            ("--n-folds", self.n_folds.is_some(), &[Cpcv]),
            ("--n-test-folds", self.n_test_folds.is_some(), &[Cpcv]),
            ("--purge", self.purge.is_some(), &[PurgedKfold, Cpcv]),
            ("--embargo", self.embargo.is_some(), &[PurgedKfold, Cpcv]),
        ];
        for (flag, set, schemes) in given {
            if set && !schemes.contains(&self.scheme) {
                bail!("{flag} does not apply to --scheme {}", self.scheme_name());
            }
        }
        Ok(())
    }

    fn scheme_name(&self) -> &'static str {
        match self.scheme {
            Scheme::Tss => "tss",
            Scheme::WalkForward => "walk-forward",
            Scheme::PurgedKfold => "purged-kfold",
            Scheme::Cpcv => "cpcv",
        }
    }

    fn spec(&self) -> Result<SplitSpec> {
        self.check_applicable()?;
        Ok(match self.scheme {
            Scheme::Tss => SplitSpec::Tss {
                n_splits: self.n_splits.unwrap_or(5),
                max_train_size: self.max_train_size,
                test_size: self.test_size,
                gap: Some(self.gap.unwrap_or(0)),
            },
            Scheme::WalkForward => {
                let (Some(train_size), Some(test_size)) = (self.train_size, self.test_size) else {
                    bail!("--scheme walk-forward needs --train-size and --test-size");
                };
                SplitSpec::WalkForward {
                    train_size,
                    test_size,
                    step: self.step,
                    gap: Some(self.gap.unwrap_or(0)),
                    window: match self.window {
                        Some(WindowArg::Expanding) => Window::Expanding,
                        _ => Window::Rolling,
                    },
                    reduce_test: self.reduce_test,
                }
            }
            Scheme::PurgedKfold => SplitSpec::PurgedKfold {
                n_splits: self.n_splits.unwrap_or(5),
                purge: self.purge,
                embargo: self.embargo.unwrap_or(0),
            },
            Scheme::Cpcv => SplitSpec::Cpcv {
                n_folds: self.n_folds.unwrap_or(10),
                n_test_folds: self.n_test_folds.unwrap_or(8),
                purge: Some(self.purge.unwrap_or(0)),
                embargo: self.embargo.unwrap_or(0),
            },
        })
    }
}

pub fn run(args: SplitsArgs) -> Result<()> {
    let spec = args.spec()?;
    let plan = spec.plan(args.n_samples, None, 0)?;
    let out = plan.to_json(args.scheme == Scheme::Cpcv);
    if let Some(i) = plan.first_empty() {
        eprintln!(
            "warning: split {i} has an empty training or test set (as the reference library yields it)"
        );
    }
    if args.json {
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    let fmt = |r: &[[usize; 2]]| {
        r.iter()
            .map(|[a, b]| {
                if a == b {
                    format!("{a}")
                } else {
                    format!("{a}..{b}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut t = crate::table::Table::new(&["split", "train", "test", "n_train", "n_test"]);
    for (i, (s, raw)) in out.splits.iter().zip(&plan.splits).enumerate() {
        t.row(vec![
            i.to_string(),
            fmt(&s.train),
            fmt(&s.test),
            raw.train.len().to_string(),
            raw.test.len().to_string(),
        ]);
    }
    println!(
        "{} on {} samples: {} splits, {} path(s)",
        args.scheme_name(),
        plan.n_samples,
        plan.splits.len(),
        plan.n_paths
    );
    print!("{}", t.render());
    Ok(())
}
