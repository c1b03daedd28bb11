//! Paper trading: what the champions' scores, each on the bars of its own reign, would have
//! earned on the bars that have happened. Scores come from the registered bundles, scored once
//! per version over all the data (features are causal: a bar's score never depends on later
//! bars, which `tests/predict.rs` checks), and revealed bar by bar.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use strider_core::backtest::{self, PortfolioDay, StrategySpec};
use strider_core::bundle::{Bundle, Selection};
use strider_core::data::Instrument;
use strider_core::retrain::Matured;

use super::state::Reign;
use crate::Result;

/// One version's scores: `[instrument] date -> score`.
pub type VersionScores = Vec<BTreeMap<NaiveDate, f64>>;

/// Scores every bar of `instruments` with `bundle`.
pub fn score_all(bundle: &Bundle, instruments: &[Instrument]) -> Result<VersionScores> {
    let first = instruments.iter().filter_map(|i| i.dates.first()).min();
    let Some(&first) = first else {
        return Ok(Vec::new());
    };
    let index: HashMap<&str, usize> = instruments
        .iter()
        .enumerate()
        .map(|(i, inst)| (inst.name.as_str(), i))
        .collect();
    let mut out = vec![BTreeMap::new(); instruments.len()];
    for p in bundle.score(instruments, Selection::Since(first))? {
        if let Some(&i) = index.get(p.instrument.as_str()) {
            out[i].insert(p.date, p.score);
        }
    }
    Ok(out)
}

/// The live scores through `now`, aligned to each instrument's bars: each bar scored by the
/// champion of its reign.
pub fn live_scores(
    instruments: &[Instrument],
    reigns: &[Reign],
    scores: &HashMap<u64, VersionScores>,
    now: NaiveDate,
) -> Vec<Vec<Option<f64>>> {
    instruments
        .iter()
        .enumerate()
        .map(|(i, inst)| {
            inst.dates
                .iter()
                .map(|&d| {
                    let reign = reigns.iter().rev().find(|r| r.after < d)?;
                    if d > now {
                        return None;
                    }
                    scores.get(&reign.version)?.get(i)?.get(&d).copied()
                })
                .collect()
        })
        .collect()
}

/// The paper portfolio's realised days through `now`.
pub fn paper_days(
    instruments: &[Instrument],
    live: &[Vec<Option<f64>>],
    strategy: &StrategySpec,
    now: NaiveDate,
) -> Vec<PortfolioDay> {
    let through: Vec<Instrument> = instruments.iter().map(|i| i.through(now)).collect();
    let cut: Vec<Vec<Option<f64>>> = live
        .iter()
        .zip(&through)
        .map(|(s, i)| s[..i.len()].to_vec())
        .collect();
    backtest::run(&through, &cut, strategy).portfolio
}

/// Predictions made on bars in (`from`, `to`] whose `horizon`-bar forward return is known by
/// `now`.
pub fn matured(
    instruments: &[Instrument],
    live: &[Vec<Option<f64>>],
    strategy: &StrategySpec,
    horizon: usize,
    (from, to): (NaiveDate, NaiveDate),
    now: NaiveDate,
) -> Vec<Matured> {
    let mut out = Vec::new();
    // A `rank` strategy's position needs the date's cross-section, not the score alone.
    let signals = backtest::signals(instruments, live, strategy);
    for ((inst, scores), signals) in instruments.iter().zip(live).zip(signals.iter()) {
        let price = inst.price();
        let last = inst.dates.partition_point(|d| *d <= now);
        for (t, ((&d, s), signal)) in inst.dates.iter().zip(scores).zip(signals).enumerate() {
            let (Some(score), Some(signal), true) = (*s, *signal, d > from && d <= to) else {
                continue;
            };
            if t + horizon >= last {
                continue;
            }
            out.push(Matured {
                score,
                forward_return: price[t + horizon] / price[t] - 1.0,
                position: strategy.position(signal),
            });
        }
    }
    out
}

/// Portfolio returns of `scores` restricted to the signal bars in (`from`, `to`], realised by
/// `now`, keyed by date.
pub fn window_returns(
    instruments: &[Instrument],
    scores: &[Vec<Option<f64>>],
    strategy: &StrategySpec,
    (from, to): (NaiveDate, NaiveDate),
    now: NaiveDate,
) -> BTreeMap<NaiveDate, f64> {
    paper_days(
        instruments,
        &masked(instruments, scores, (from, to)),
        strategy,
        now,
    )
    .into_iter()
    .map(|d| (d.date, d.strategy))
    .collect()
}

/// Scores with every signal outside (`from`, `to`] removed.
pub fn masked(
    instruments: &[Instrument],
    scores: &[Vec<Option<f64>>],
    (from, to): (NaiveDate, NaiveDate),
) -> Vec<Vec<Option<f64>>> {
    instruments
        .iter()
        .zip(scores)
        .map(|(inst, s)| {
            inst.dates
                .iter()
                .zip(s)
                .map(|(&d, &v)| v.filter(|_| d > from && d <= to))
                .collect()
        })
        .collect()
}

/// A version's scores aligned to each instrument's bars.
pub fn aligned(instruments: &[Instrument], scores: &VersionScores) -> Vec<Vec<Option<f64>>> {
    instruments
        .iter()
        .enumerate()
        .map(|(i, inst)| {
            inst.dates
                .iter()
                .map(|d| scores.get(i).and_then(|m| m.get(d)).copied())
                .collect()
        })
        .collect()
}
