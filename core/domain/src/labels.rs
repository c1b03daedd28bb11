//! Labels: the forward k-day return (regression) or its sign (classification). Each label carries
//! the row where its information ends, which the purging splitters use.

use serde::{Deserialize, Serialize};

use crate::data::Instrument;
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LabelKind {
    /// `price[t+k] / price[t] - 1`.
    #[default]
    ForwardReturn,
    /// 1 if the forward return is > 0, else 0.
    Direction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Regression,
    Classification,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSpec {
    #[serde(default)]
    pub kind: LabelKind,
    /// k, in bars.
    #[serde(default = "one")]
    pub horizon: usize,
}

fn one() -> usize {
    1
}

impl Default for LabelSpec {
    fn default() -> Self {
        Self {
            kind: LabelKind::ForwardReturn,
            horizon: 1,
        }
    }
}

/// Labels of one instrument, aligned to its rows. `NaN` where the horizon runs past the data.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    pub value: Vec<f64>,
    pub forward_return: Vec<f64>,
    /// Row index (in the instrument) of the last bar the label depends on: `t + horizon`.
    pub end_row: Vec<usize>,
}

impl Task {
    /// The score a prediction trades on: the predicted return, or for a classifier the
    /// probability of an up move minus one half (positive means long).
    pub fn score(self, prediction: f64) -> f64 {
        match self {
            Task::Regression => prediction,
            Task::Classification => prediction - 0.5,
        }
    }
}

impl LabelSpec {
    pub fn task(&self) -> Task {
        match self.kind {
            LabelKind::ForwardReturn => Task::Regression,
            LabelKind::Direction => Task::Classification,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.horizon == 0 {
            return Err(Error::config("label.horizon", "must be >= 1"));
        }
        if self.horizon > crate::features::MAX_FEATURE_WINDOW {
            return Err(Error::config(
                "label.horizon",
                "must be <= 100000 bars (MAX_FEATURE_WINDOW)",
            ));
        }
        Ok(())
    }

    pub fn compute(&self, inst: &Instrument) -> Labels {
        let p = inst.price();
        let n = p.len();
        let k = self.horizon;
        let mut forward_return = vec![f64::NAN; n];
        for t in 0..n.saturating_sub(k) {
            forward_return[t] = p[t + k] / p[t] - 1.0;
        }
        let value = match self.kind {
            LabelKind::ForwardReturn => forward_return.clone(),
            LabelKind::Direction => forward_return
                .iter()
                .map(|r| {
                    if r.is_nan() {
                        f64::NAN
                    } else {
                        f64::from(u8::from(*r > 0.0))
                    }
                })
                .collect(),
        };
        Labels {
            value,
            forward_return,
            end_row: (0..n).map(|t| t + k).collect(),
        }
    }
}

/// Relevance grades of one date's rows for the ranking objectives and NDCG: the number of the
/// date's rows with a strictly smaller value (ties share a grade), so the best of m instruments
/// gets m - 1; with more than 31 instruments the ranks are bucketed into LightGBM's 31 default
/// grades (0..=30). NaN values get grade 0.
pub fn cross_section_grades(values: &[f64]) -> Vec<f64> {
    const GRADES: usize = 31;
    let m = values.len();
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_by(f64::total_cmp);
    values
        .iter()
        .map(|v| {
            let below = if v.is_nan() {
                0
            } else {
                sorted.partition_point(|w| w < v)
            };
            (below * GRADES.min(m) / m) as f64
        })
        .collect()
}

/// Consecutive runs of equal keys (rows ordered by date: one run per date) as (start, len).
pub fn runs<K: PartialEq>(keys: &[K]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        match out.last_mut() {
            Some((s, n)) if keys[*s] == *k => *n += 1,
            _ => out.push((i, 1)),
        }
    }
    out
}

#[cfg(test)]
mod cross_section_tests {
    #[test]
    fn grades_rank_a_cross_section_with_ties_sharing() {
        assert_eq!(
            super::cross_section_grades(&[0.02, -0.01, 0.05, 0.02]),
            vec![1.0, 0.0, 3.0, 1.0]
        );
        // 62 instruments: two ranks a grade, the best in grade 30.
        let many: Vec<f64> = (0..62).map(f64::from).collect();
        let g = super::cross_section_grades(&many);
        assert_eq!((g[0], g[1], g[2], g[61]), (0.0, 0.0, 1.0, 30.0));
        assert_eq!(
            super::runs(&[3, 3, 4, 4, 4, 3]),
            vec![(0, 2), (2, 3), (5, 1)]
        );
    }
}
