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
