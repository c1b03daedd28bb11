//! Training a challenger: the config's model walked forward and fit once more on the data as it
//! stood on a date (every instrument cut there), as `strider run` would have done that day.

use chrono::NaiveDate;
use strider_core::bundle::{Bundle, BundleFiles};
use strider_core::config::Config;
use strider_core::data::Instrument;
use strider_core::pipeline;

use super::training_run::TrainingRun;
use crate::{Result, bail};

pub struct Trained {
    pub files: BundleFiles,
    pub bundle: Bundle,
    /// The walk-forward Sharpe ratio of the challenger's own validation on that data.
    pub validation_sharpe: f64,
    pub first_bar: NaiveDate,
    pub last_bar: NaiveDate,
}

/// The data as it stood on `through`, cut to the last `train_bars` bars when given.
pub fn data_through(
    instruments: &[Instrument],
    through: NaiveDate,
    train_bars: Option<usize>,
) -> Vec<Instrument> {
    instruments
        .iter()
        .map(|i| {
            let cut = i.through(through);
            match train_bars.and_then(|n| cut.dates.len().checked_sub(n)) {
                Some(first) if first > 0 && first < cut.dates.len() => {
                    let start = cut.dates[first];
                    cut.tail_from(start)
                }
                _ => cut,
            }
        })
        .collect()
}

/// Walks the model forward and fits it on every labelled bar of `instruments`, reporting the
/// pipeline's events (stages, folds, per-iteration training metrics) to `progress` as they happen.
/// With `run`, its training metrics also stream to MLflow (ended FAILED if the training fails).
pub fn train(
    config: &Config,
    model: usize,
    instruments: &[Instrument],
    progress: &super::Progress,
    mut run: Option<TrainingRun>,
) -> Result<Trained> {
    let native = crate::native_gbdt(Vec::new());
    let idx = [model];
    let out = pipeline::RunRequest::new(config, instruments, config.seed_or_default())
        .native_gbdt(native.as_deref())
        .models(&idx)
        .final_models(true)
        .run(&mut |e| {
            if let Some(r) = run.as_mut() {
                r.event(&e);
            }
            progress.emit(&e)
        });
    if let Some(r) = run {
        r.end(out.is_ok());
    }
    let out = out?;
    let Some(m) = out.models.into_iter().next() else {
        bail!("the run produced no model");
    };
    let Some(fin) = m.final_model else {
        bail!("the run produced no final model");
    };
    let bundle = Bundle::load_checked(&fin.bundle)?;
    let dates = instruments
        .iter()
        .flat_map(|i| i.dates.first().zip(i.dates.last()));
    let (first_bar, last_bar) = dates.fold((NaiveDate::MAX, NaiveDate::MIN), |(lo, hi), (a, b)| {
        (lo.min(*a), hi.max(*b))
    });
    Ok(Trained {
        files: fin.bundle,
        bundle,
        validation_sharpe: out
            .summary
            .models
            .first()
            .map_or(f64::NAN, |s| s.evaluation.strategy.sharpe),
        first_bar,
        last_bar,
    })
}
