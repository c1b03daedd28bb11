//! From out-of-sample predictions to daily strategy returns.
//!
//! Timing (no same-bar look-ahead): a prediction made with data up to the close of bar `t` is
//! traded `execution_lag` bars later (default 1: at the close of `t+1`), so the position first
//! earns the return of bar `t + 1 + execution_lag`. Costs are charged in basis points of the
//! absolute change in position (turnover) on the day the new position is first held.

use std::borrow::Cow;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::data::Instrument;
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SignalRule {
    /// Position = sign(score).
    #[default]
    Sign,
    /// +1 above `threshold`, -1 below `-threshold`, flat in between.
    Threshold,
    /// Position = score * `scale`, capped by `leverage`.
    Proportional,
    /// Cross-sectional: on each date long the `top_k` instruments with the highest scores and
    /// short the `top_k` lowest (at most half the date's instruments a side), flat between.
    /// For ranking models, whose scores order a date's instruments but have no zero.
    Rank,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategySpec {
    #[serde(default)]
    pub signal: SignalRule,
    /// Band half-width for `threshold`, in score units (predicted return, or probability - 0.5).
    #[serde(default)]
    pub threshold: f64,
    /// Multiplier for `proportional`.
    #[serde(default = "one")]
    pub scale: f64,
    #[serde(default)]
    pub long_only: bool,
    /// Cap on the absolute position per instrument.
    #[serde(default = "one")]
    pub leverage: f64,
    /// Instruments long (and short) per date for `rank`.
    #[serde(default = "one_bar")]
    pub top_k: usize,
    /// Cost per unit of turnover, in basis points.
    #[serde(default = "one")]
    pub cost_bps: f64,
    /// Bars between the prediction's close and the trade.
    #[serde(default = "one_bar")]
    pub execution_lag: usize,
}

fn one() -> f64 {
    1.0
}
fn one_bar() -> usize {
    1
}

impl Default for StrategySpec {
    fn default() -> Self {
        Self {
            signal: SignalRule::Sign,
            threshold: 0.0,
            scale: 1.0,
            long_only: false,
            leverage: 1.0,
            top_k: 1,
            cost_bps: 1.0,
            execution_lag: 1,
        }
    }
}

/// The longest execution delay a strategy may have, in bars.
pub const MAX_EXECUTION_LAG: usize = 1000;

impl StrategySpec {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::config("strategy", m));
        if self.threshold.is_nan() || self.threshold < 0.0 {
            return bad("threshold must be >= 0");
        }
        if self.leverage.is_nan() || self.leverage <= 0.0 {
            return bad("leverage must be > 0");
        }
        if self.cost_bps.is_nan() || self.cost_bps < 0.0 {
            return bad("cost_bps must be >= 0");
        }
        if !self.scale.is_finite() {
            return bad("scale must be finite");
        }
        if self.top_k == 0 {
            return bad("top_k must be >= 1");
        }
        if self.execution_lag > MAX_EXECUTION_LAG {
            return bad("execution_lag must be <= 1000 bars (MAX_EXECUTION_LAG)");
        }
        Ok(())
    }

    /// Target position for a score (> 0 means long); for `rank`, for the signal
    /// [`rank_signals`] made of the score.
    pub fn position(&self, score: f64) -> f64 {
        let raw = match self.signal {
            SignalRule::Sign | SignalRule::Rank => {
                if score > 0.0 {
                    1.0
                } else if score < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            SignalRule::Threshold => {
                if score > self.threshold {
                    1.0
                } else if score < -self.threshold {
                    -1.0
                } else {
                    0.0
                }
            }
            SignalRule::Proportional => score * self.scale,
        };
        let floor = if self.long_only { 0.0 } else { -self.leverage };
        raw.clamp(floor, self.leverage)
    }
}

/// `signal = "rank"`: each entry's signal (+1, -1 or 0) from its score's rank among the entries
/// of the same date `key`, highest first, ties broken by `tie` (the instrument's name, so every
/// caller ranks alike). Non-finite scores are not ranked (signal 0).
pub fn rank_signals<K: Ord + Copy, T: Ord>(entries: &[(K, f64, T)], top_k: usize) -> Vec<f64> {
    let mut order: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].1.is_finite())
        .collect();
    order.sort_by(|&a, &b| {
        let (ea, eb) = (&entries[a], &entries[b]);
        (ea.0.cmp(&eb.0))
            .then(eb.1.total_cmp(&ea.1))
            .then(ea.2.cmp(&eb.2))
    });
    let mut out = vec![0.0; entries.len()];
    for date in order.chunk_by(|&a, &b| entries[a].0 == entries[b].0) {
        let k = top_k.min(date.len() / 2);
        date[..k].iter().for_each(|&i| out[i] = 1.0);
        date[date.len() - k..].iter().for_each(|&i| out[i] = -1.0);
    }
    out
}

/// The scores as the strategy's signals: for `rank`, +1 / -1 / 0 across the instruments of
/// each signal date; for the other rules the scores as they are.
pub fn signals<'s>(
    instruments: &[Instrument],
    scores: &'s [Vec<Option<f64>>],
    spec: &StrategySpec,
) -> Cow<'s, [Vec<Option<f64>>]> {
    if spec.signal != SignalRule::Rank {
        return Cow::Borrowed(scores);
    }
    let at: Vec<(usize, usize, NaiveDate, f64)> = (instruments.iter().zip(scores).enumerate())
        .flat_map(|(i, (inst, sc))| {
            (sc.iter().enumerate()).filter_map(move |(t, s)| Some((i, t, inst.dates[t], (*s)?)))
        })
        .collect();
    let keyed: Vec<(NaiveDate, f64, &str)> = (at.iter())
        .map(|&(i, _, d, s)| (d, s, instruments[i].name.as_str()))
        .collect();
    let mut out: Vec<Vec<Option<f64>>> = scores.iter().map(|s| vec![None; s.len()]).collect();
    for (&(i, t, _, _), signal) in at.iter().zip(rank_signals(&keyed, spec.top_k)) {
        out[i][t] = Some(signal);
    }
    Cow::Owned(out)
}

/// One instrument-day of the backtest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstrumentDay {
    pub date: NaiveDate,
    pub instrument: usize,
    /// Bar of the prediction that set this day's position.
    pub signal_bar: usize,
    pub position: f64,
    /// Absolute change of position entering this day.
    pub trade: f64,
    pub asset_return: f64,
    pub gross: f64,
    pub cost: f64,
    pub net: f64,
}

/// One day of the equal-weighted portfolio across instruments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortfolioDay {
    pub date: NaiveDate,
    pub strategy: f64,
    pub gross: f64,
    pub cost: f64,
    /// Buy-and-hold of the same instruments over the same days.
    pub benchmark: f64,
    /// Mean absolute position.
    pub exposure: f64,
    /// Mean absolute position change.
    pub turnover: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backtest {
    pub days: Vec<InstrumentDay>,
    pub portfolio: Vec<PortfolioDay>,
}

/// Backtest scores aligned to each instrument's bars (`None` where there is no out-of-sample
/// prediction).
pub fn run(
    instruments: &[Instrument],
    scores: &[Vec<Option<f64>>],
    spec: &StrategySpec,
) -> Backtest {
    let shift = 1 + spec.execution_lag;
    let scores = signals(instruments, scores, spec);
    let mut days = Vec::new();
    for (i, (inst, sc)) in instruments.iter().zip(scores.iter()).enumerate() {
        let r = inst.returns();
        let mut prev: Option<(usize, f64)> = None; // (bar, position) of the previous held day
        for (j, &asset_return) in r.iter().enumerate().skip(shift) {
            let t = j - shift;
            let Some(score) = sc[t] else { continue };
            let position = spec.position(score);
            let before = match prev {
                Some((b, p)) if b + 1 == j => p,
                _ => 0.0, // after a gap the book was flat
            };
            let gross = position * asset_return;
            let trade = (position - before).abs();
            let cost = spec.cost_bps * 1e-4 * trade;
            days.push(InstrumentDay {
                date: inst.dates[j],
                instrument: i,
                signal_bar: t,
                position,
                trade,
                asset_return,
                gross,
                cost,
                net: gross - cost,
            });
            prev = Some((j, position));
        }
    }
    days.sort_by_key(|d| (d.date, d.instrument));
    let portfolio = portfolio(&days);
    Backtest { days, portfolio }
}

pub fn portfolio(days: &[InstrumentDay]) -> Vec<PortfolioDay> {
    days.chunk_by(|a, b| a.date == b.date)
        .map(|group| {
            let m = group.len() as f64;
            let mean = |f: fn(&InstrumentDay) -> f64| group.iter().map(f).sum::<f64>() / m;
            PortfolioDay {
                date: group[0].date,
                strategy: mean(|d| d.net),
                gross: mean(|d| d.gross),
                cost: mean(|d| d.cost),
                benchmark: mean(|d| d.asset_return),
                exposure: mean(|d| d.position.abs()),
                turnover: mean(|d| d.trade),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::parse_panel;

    #[test]
    fn trades_one_bar_after_the_signal_and_charges_turnover() {
        let inst = parse_panel(
            "p.csv",
            "date,A\n2020-01-01,100\n2020-01-02,110\n2020-01-03,99\n2020-01-06,99\n2020-01-07,198\n",
        )
        .unwrap();
        // Signal on bar 0 (long) and bar 1 (short): held on bars 2 and 3 with lag 1.
        let scores = vec![vec![Some(0.5), Some(-0.2), None, None, None]];
        let spec = StrategySpec {
            cost_bps: 10.0,
            ..Default::default()
        };
        let bt = run(&inst, &scores, &spec);
        assert_eq!(bt.days.len(), 2);
        assert_eq!(bt.days[0].signal_bar, 0);
        assert_eq!(bt.days[0].date.to_string(), "2020-01-03");
        assert!((bt.days[0].gross - (99.0 / 110.0 - 1.0)).abs() < 1e-15);
        assert!((bt.days[0].cost - 0.001).abs() < 1e-15);
        assert_eq!(bt.days[1].position, -1.0);
        assert!((bt.days[1].cost - 0.002).abs() < 1e-15);
        // The big move on bar 4 has no signal behind it and is not earned.
        assert_eq!(bt.portfolio.len(), 2);
    }

    #[test]
    fn rank_signals_go_long_the_top_and_short_the_bottom_of_each_date() {
        // Date 1: four instruments (k = 1: one long, one short); date 2: three, with k = 2
        // capped at one a side; date 3: one instrument alone stays flat.
        let e = [
            (1, 0.3, "a"),
            (1, -0.1, "b"),
            (1, 0.9, "c"),
            (1, 0.2, "d"),
            (2, 5.0, "a"),
            (2, 7.0, "b"),
            (2, 6.0, "c"),
            (3, 1.0, "a"),
        ];
        assert_eq!(rank_signals(&e[..4], 1), vec![0.0, -1.0, 1.0, 0.0]);
        assert_eq!(
            rank_signals(&e, 2),
            vec![1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 0.0, 0.0]
        );
        // Ties go by name whatever the entries' order; NaN is not ranked.
        let tied = [
            (1, 0.5, "z"),
            (1, 0.5, "m"),
            (1, f64::NAN, "a"),
            (1, 0.1, "b"),
        ];
        assert_eq!(rank_signals(&tied, 1), vec![0.0, 1.0, 0.0, -1.0]);
        let spec = StrategySpec {
            signal: SignalRule::Rank,
            long_only: true,
            ..Default::default()
        };
        assert_eq!(spec.position(-1.0), 0.0);
        assert_eq!(spec.position(1.0), 1.0);
    }

    #[test]
    fn position_rules() {
        let mut s = StrategySpec::default();
        assert_eq!(s.position(0.3), 1.0);
        s.long_only = true;
        assert_eq!(s.position(-0.3), 0.0);
        s.signal = SignalRule::Threshold;
        s.threshold = 0.5;
        s.long_only = false;
        assert_eq!(s.position(0.3), 0.0);
        assert_eq!(s.position(-0.6), -1.0);
        s.signal = SignalRule::Proportional;
        s.scale = 10.0;
        s.leverage = 2.0;
        assert_eq!(s.position(0.1), 1.0);
        assert_eq!(s.position(-0.5), -2.0);
    }
}
