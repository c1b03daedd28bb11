//! Drawdowns as quantstats 0.0.86 computes them: wealth compounded from a phantom base of 1 the
//! period before the first return (so a first-day loss is a drawdown), NaN returns count as 0,
//! and episodes run from the first underwater date to the last underwater date before recovery
//! (or the last date if never recovered). Durations are calendar days, end - start + 1.

use chrono::NaiveDate;
use serde::Serialize;

/// `wealth / running peak - 1` per period (0 at a new high).
pub fn drawdown_series(returns: &[f64]) -> Vec<f64> {
    let (mut wealth, mut peak) = (1.0f64, 1.0f64);
    returns
        .iter()
        .map(|r| {
            wealth *= 1.0 + if r.is_finite() { *r } else { 0.0 };
            peak = peak.max(wealth);
            let dd = wealth / peak - 1.0;
            if dd == 0.0 { 0.0 } else { dd }
        })
        .collect()
}

pub fn max_drawdown(returns: &[f64]) -> f64 {
    drawdown_series(returns).into_iter().fold(0.0, f64::min)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Episode {
    pub start: NaiveDate,
    pub valley: NaiveDate,
    pub end: NaiveDate,
    /// Calendar days, `end - start + 1`.
    pub days: i64,
    /// The deepest drawdown of the episode (negative).
    pub max_drawdown: f64,
}

/// Streaming drawdown bookkeeping: feed returns in order, get the episodes.
pub struct DrawdownTracker {
    wealth: f64,
    peak: f64,
    t: usize,
    /// (start, valley, valley depth) of the episode in progress.
    open: Option<(usize, usize, f64)>,
    closed: Vec<(usize, usize, usize, f64)>,
}

impl Default for DrawdownTracker {
    fn default() -> Self {
        Self {
            wealth: 1.0,
            peak: 1.0,
            t: 0,
            open: None,
            closed: Vec::new(),
        }
    }
}

impl DrawdownTracker {
    /// One period's return; NaN counts as 0 (quantstats fills gaps before compounding).
    pub fn push(&mut self, r: f64) {
        self.wealth *= 1.0 + if r.is_finite() { r } else { 0.0 };
        self.peak = self.peak.max(self.wealth);
        let dd = self.wealth / self.peak - 1.0;
        let t = self.t;
        if dd < 0.0 {
            match &mut self.open {
                Some((_, valley, depth)) => {
                    if dd < *depth {
                        *valley = t;
                        *depth = dd;
                    }
                }
                None => self.open = Some((t, t, dd)),
            }
        } else if let Some((start, valley, depth)) = self.open.take() {
            self.closed.push((start, valley, t - 1, depth));
        }
        self.t += 1;
    }

    pub fn max_drawdown(&self) -> f64 {
        self.closed
            .iter()
            .map(|e| e.3)
            .chain(self.open.map(|o| o.2))
            .fold(0.0, f64::min)
    }

    /// Episodes with their dates; one still open at the end runs to the last date.
    pub fn episodes(&self, dates: &[NaiveDate]) -> Vec<Episode> {
        let last = self.t.saturating_sub(1);
        self.closed
            .iter()
            .copied()
            .chain(self.open.map(|(s, v, d)| (s, v, last, d)))
            .map(|(start, valley, end, depth)| Episode {
                start: dates[start],
                valley: dates[valley],
                end: dates[end],
                days: (dates[end] - dates[start]).num_days() + 1,
                max_drawdown: depth,
            })
            .collect()
    }
}

/// Drawdown episodes, in time order.
pub fn episodes(dates: &[NaiveDate], returns: &[f64]) -> Vec<Episode> {
    let mut tr = DrawdownTracker::default();
    returns.iter().for_each(|r| tr.push(*r));
    tr.episodes(dates)
}
