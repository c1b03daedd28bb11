//! The holdout: a final period cut off before anything else sees the data. Validation, tuning,
//! weights and selection run on the bars before it; only [`evaluate_holdout`] reads it, once per
//! chosen model, with the model refit on everything before it (its bundle).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::backtest;
use crate::bundle::{Bundle, Selection};
use crate::data::Instrument;
use crate::metrics::{MetricsSpec, SeriesMetrics, series_metrics};
use crate::{Error, Result};

/// `[holdout]`: `start = "YYYY-MM-DD"` (the first holdout date) or `fraction = 0.2` (the last
/// fifth of the dates any instrument has).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldoutSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<f64>,
}

impl HoldoutSpec {
    pub fn validate(&self) -> Result<()> {
        match (self.start, self.fraction) {
            (Some(_), None) => Ok(()),
            (None, Some(f)) if f > 0.0 && f <= 0.5 => Ok(()),
            (None, Some(f)) => Err(Error::config(
                "holdout.fraction",
                format!("= {f} must be in (0, 0.5]"),
            )),
            _ => Err(Error::config(
                "holdout",
                "set exactly one of `start` (a date) and `fraction`",
            )),
        }
    }

    /// The first holdout date on these instruments. Both sides must keep some bars.
    pub fn start_date(&self, instruments: &[Instrument]) -> Result<NaiveDate> {
        let mut calendar: Vec<NaiveDate> = instruments
            .iter()
            .flat_map(|i| i.dates.iter().copied())
            .collect();
        calendar.sort_unstable();
        calendar.dedup();
        let start = match (self.start, self.fraction) {
            (Some(s), _) => s,
            (None, Some(f)) => {
                let keep = ((calendar.len() as f64) * (1.0 - f)).floor() as usize;
                *calendar.get(keep).ok_or_else(|| {
                    Error::config("holdout.fraction", "leaves no date in the holdout")
                })?
            }
            (None, None) => return Err(Error::config("holdout", "has no start")),
        };
        let before = calendar.iter().filter(|d| **d < start).count();
        if before == 0 || before == calendar.len() {
            return Err(Error::config(
                "holdout.start",
                format!(
                    "{start} leaves {before} of {} dates before the holdout and {} in it; both need some",
                    calendar.len(),
                    calendar.len() - before
                ),
            ));
        }
        Ok(start)
    }
}

/// What validation, tuning and selection may read of a config's data: the bars before the
/// holdout (with the holdout's start), or all of them without a `[holdout]`. Every reader of a
/// config's data for validation (the run, the tuner, the report's re-runs) goes through this.
pub fn validation_data(
    config: &crate::config::Config,
    instruments: Vec<Instrument>,
) -> Result<(Vec<Instrument>, Option<NaiveDate>)> {
    match &config.holdout {
        None => Ok((instruments, None)),
        Some(h) => {
            let start = h.start_date(&instruments)?;
            Ok((before_holdout(&instruments, start), Some(start)))
        }
    }
}

/// The bars before `start`: everything validation may read.
pub fn before_holdout(instruments: &[Instrument], start: NaiveDate) -> Vec<Instrument> {
    instruments
        .iter()
        .map(|i| i.head(i.dates.partition_point(|d| *d < start)))
        .collect()
}

/// A model's one look at the holdout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HoldoutEvaluation {
    pub model: String,
    pub start: NaiveDate,
    pub first_date: Option<NaiveDate>,
    pub last_date: Option<NaiveDate>,
    /// Net of costs, on the holdout days.
    pub strategy: SeriesMetrics,
    pub benchmark: SeriesMetrics,
}

/// Scores every holdout bar with the bundle (fit on the bars before the holdout; features use the
/// history before each bar, as live), trades them with the bundle's strategy and measures the
/// holdout days.
pub fn evaluate_holdout(
    bundle: &Bundle,
    instruments: &[Instrument],
    start: NaiveDate,
    metrics: &MetricsSpec,
) -> Result<HoldoutEvaluation> {
    let predictions = bundle.score(instruments, Selection::Since(start))?;
    let mut scores: Vec<Vec<Option<f64>>> =
        instruments.iter().map(|i| vec![None; i.len()]).collect();
    for p in predictions {
        let Some(k) = instruments.iter().position(|i| i.name == p.instrument) else {
            continue;
        };
        if let Ok(bar) = instruments[k].dates.binary_search(&p.date) {
            scores[k][bar] = Some(p.score);
        }
    }
    let bt = backtest::run(instruments, &scores, &bundle.manifest.strategy);
    let days: Vec<_> = bt.portfolio.iter().filter(|d| d.date >= start).collect();
    let dates: Vec<NaiveDate> = days.iter().map(|d| d.date).collect();
    let net: Vec<f64> = days.iter().map(|d| d.strategy).collect();
    let bench: Vec<f64> = days.iter().map(|d| d.benchmark).collect();
    Ok(HoldoutEvaluation {
        model: bundle.manifest.model.name.clone(),
        start,
        first_date: dates.first().copied(),
        last_date: dates.last().copied(),
        strategy: series_metrics(&dates, &net, None, metrics),
        benchmark: series_metrics(&dates, &bench, None, metrics),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(name: &str, n: usize) -> Instrument {
        let d0 = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        Instrument {
            name: name.into(),
            dates: (0..n as u64).map(|i| d0 + chrono::Days::new(i)).collect(),
            open: None,
            high: None,
            low: None,
            close: vec![1.0; n],
            volume: Some(vec![5.0; n]),
            adj_close: None,
            extra: Vec::new(),
        }
    }

    #[test]
    fn a_fraction_starts_at_the_last_share_of_the_union_calendar() {
        let data = [inst("a", 10), inst("b", 8)];
        let h = HoldoutSpec {
            start: None,
            fraction: Some(0.2),
        };
        let start = h.start_date(&data).unwrap();
        assert_eq!(start, NaiveDate::from_ymd_opt(2020, 1, 9).unwrap());
        let cut = before_holdout(&data, start);
        assert_eq!((cut[0].len(), cut[1].len()), (8, 8));
        assert_eq!(cut[0].volume.as_ref().unwrap().len(), 8);
    }

    #[test]
    fn both_sides_must_keep_bars_and_exactly_one_key_is_set() {
        let data = [inst("a", 10)];
        let at = |d: u32| HoldoutSpec {
            start: NaiveDate::from_ymd_opt(2020, 1, d),
            fraction: None,
        };
        assert!(at(1).start_date(&data).is_err());
        assert!(at(31).start_date(&data).is_err());
        assert!(at(5).start_date(&data).is_ok());
        let both = HoldoutSpec {
            start: NaiveDate::from_ymd_opt(2020, 1, 5),
            fraction: Some(0.1),
        };
        assert!(both.validate().is_err());
        let big = HoldoutSpec {
            start: None,
            fraction: Some(0.9),
        };
        assert!(
            big.validate()
                .unwrap_err()
                .to_string()
                .contains("holdout.fraction")
        );
    }
}
