//! Scoring raw bars with a bundle: the bundle's own features on each instrument's history, then
//! the model on the selected bars, labelled or not. Features are causal, so a bar's score depends
//! on that bar and earlier ones only: appending later bars never changes it.

use chrono::NaiveDate;
use serde::Serialize;

use super::{Bundle, bad};
use crate::Result;
use crate::backtest::{SignalRule, rank_signals};
use crate::data::Instrument;
use crate::dataset::Dataset;

impl Selection {
    /// `--asof` wins over `--since`; neither is the latest bar.
    pub fn from_dates(asof: Option<NaiveDate>, since: Option<NaiveDate>) -> Self {
        match (asof, since) {
            (Some(d), _) => Selection::AsOf(d),
            (None, Some(d)) => Selection::Since(d),
            (None, None) => Selection::Latest,
        }
    }
}

/// Which bars to score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Selection {
    /// Each instrument's last bar.
    #[default]
    Latest,
    /// Each instrument's last bar on or before the date.
    AsOf(NaiveDate),
    /// Every bar on or after the date.
    Since(NaiveDate),
}

/// One scored bar: the model's score (the prediction; for a classifier the probability minus
/// 0.5) and the target position the bundle's strategy takes on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub instrument: String,
    pub date: NaiveDate,
    pub score: f64,
    pub position: f64,
}

/// The answer of `strider predict --json`, `POST /predict` and the browser's bundle page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictOutput {
    pub model: String,
    /// The registry version, when the model came from the registry.
    pub version: Option<u64>,
    pub bundle_sha256: String,
    pub predictions: Vec<Prediction>,
}

impl Bundle {
    /// [`Bundle::score`] with the model's name, version and content hash.
    pub fn predict(
        &self,
        instruments: &[Instrument],
        selection: Selection,
        version: Option<u64>,
    ) -> Result<PredictOutput> {
        Ok(PredictOutput {
            model: self.name().to_string(),
            version,
            bundle_sha256: self.sha256.clone(),
            predictions: self.score(instruments, selection)?,
        })
    }

    /// Scores the selected bars of every instrument, ordered by date, then instrument.
    pub fn score(
        &self,
        instruments: &[Instrument],
        selection: Selection,
    ) -> Result<Vec<Prediction>> {
        let m = &self.manifest;
        if instruments.is_empty() {
            return Err(bad("no instruments to score"));
        }
        for inst in instruments {
            m.signature.check(inst)?;
        }
        // A model trained on `close` reads `close`, even where the scored file also has
        // `adj_close` (which every price feature would otherwise switch to).
        let unadjusted: Vec<Instrument>;
        let instruments = if m.signature.price == "close" {
            unadjusted = instruments
                .iter()
                .map(|i| Instrument {
                    adj_close: None,
                    ..i.clone()
                })
                .collect();
            &unadjusted
        } else {
            instruments
        };
        let all = Dataset::build_for_scoring(instruments, &m.features, &m.label)?;
        // The model's own columns (a model may read a subset of the features), in its order.
        let data = all.select_features(&m.feature_names).map_err(|_| {
            bad(format!(
                "the data yields the features {:?}, the model was trained on {:?}",
                all.feature_names, m.feature_names
            ))
        })?;
        let rows = select(&data, selection)?;
        let raw = self.model.predict(&data, &rows)?;
        let mut out: Vec<Prediction> = rows
            .iter()
            .zip(raw)
            .map(|(&r, p)| {
                let meta = data.rows[r];
                let score = data.task.score(p);
                Prediction {
                    instrument: data.instruments[meta.instrument].clone(),
                    date: data.calendar[meta.time],
                    score,
                    position: m.strategy.position(score),
                }
            })
            .collect();
        out.sort_by(|a, b| (a.date, &a.instrument).cmp(&(b.date, &b.instrument)));
        if m.strategy.signal == SignalRule::Rank {
            let keyed: Vec<_> = (out.iter())
                .map(|p| (p.date, p.score, p.instrument.clone()))
                .collect();
            for (p, signal) in out.iter_mut().zip(rank_signals(&keyed, m.strategy.top_k)) {
                p.position = m.strategy.position(signal);
            }
        }
        Ok(out)
    }
}

/// The dataset rows a selection scores (rows are ordered by date, then instrument).
fn select(data: &Dataset, selection: Selection) -> Result<Vec<usize>> {
    let date = |r: usize| data.calendar[data.rows[r].time];
    let last_per_instrument = |upto: Option<NaiveDate>| -> Result<Vec<usize>> {
        let mut last: Vec<Option<usize>> = vec![None; data.instruments.len()];
        for r in 0..data.rows.len() {
            if upto.is_none_or(|d| date(r) <= d) {
                last[data.rows[r].instrument] = Some(r);
            }
        }
        let mut rows = Vec::new();
        for (i, r) in last.into_iter().enumerate() {
            match (r, upto) {
                (Some(r), _) => rows.push(r),
                (None, Some(d)) => {
                    return Err(bad(format!(
                        "instrument `{}` has no scorable bar on or before {d} (the first comes after the features' warm-up)",
                        data.instruments[i]
                    )));
                }
                (None, None) => {
                    return Err(bad(format!(
                        "instrument `{}` has no scorable bar",
                        data.instruments[i]
                    )));
                }
            }
        }
        rows.sort_unstable();
        Ok(rows)
    };
    match selection {
        Selection::Latest => last_per_instrument(None),
        Selection::AsOf(d) => last_per_instrument(Some(d)),
        Selection::Since(d) => {
            let rows: Vec<usize> = (0..data.rows.len()).filter(|&r| date(r) >= d).collect();
            if rows.is_empty() {
                return Err(bad(format!("no bar on or after {d} to score")));
            }
            Ok(rows)
        }
    }
}
