//! A bundle's signature: the input columns its features read, the outputs, the bar frequency and
//! the history the features need. Data that does not fit is refused with what is missing.

use serde::{Deserialize, Serialize};

use super::bad;
use crate::Result;
use crate::data::Instrument;
use crate::dataset::Dataset;
use crate::features::FeatureSpec;

/// One column of MLflow's column-based signature (`{"name": ..., "type": ...}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    pub name: String,
    /// MLflow's type names: `string`, `double`, `datetime`.
    #[serde(rename = "type")]
    pub kind: String,
}

fn column(name: &str, kind: &str) -> ColumnSpec {
    ColumnSpec {
        name: name.into(),
        kind: kind.into(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Raw bar columns per instrument: `date`, then the price and what the features read.
    pub inputs: Vec<ColumnSpec>,
    pub outputs: Vec<ColumnSpec>,
    /// The price the model was trained on: `adj_close`, or `close` (then a scored file's
    /// `adj_close` is ignored, so returns are computed as in training).
    pub price: String,
    /// `daily`, `weekly`, `monthly` or `other`, from the median gap between training bars.
    pub frequency: String,
    /// Bars before the first one every feature is defined on (the first score is on bar
    /// `warmup_bars`, 0-based).
    pub warmup_bars: usize,
}

/// The outputs of `strider predict` per instrument and bar.
fn outputs() -> Vec<ColumnSpec> {
    vec![
        column("instrument", "string"),
        column("date", "datetime"),
        column("score", "double"),
        column("position", "double"),
    ]
}

impl Signature {
    /// The signature of a model trained on `instruments` with `features`.
    pub fn of(instruments: &[Instrument], features: &[FeatureSpec], data: &Dataset) -> Self {
        let price = if instruments.iter().all(|i| i.adj_close.is_some()) {
            "adj_close"
        } else {
            "close"
        };
        let mut inputs = vec![column("date", "datetime"), column("close", "double")];
        if price == "adj_close" {
            inputs.push(column("adj_close", "double"));
        }
        for name in features.iter().flat_map(FeatureSpec::inputs) {
            if !inputs.iter().any(|c| c.name == name) {
                inputs.push(column(&name, "double"));
            }
        }
        let gaps: Vec<i64> = instruments.iter().filter_map(median_gap_days).collect();
        let frequency = frequency_of(gaps.iter().copied().min().unwrap_or(1));
        // Instruments too short to give a row say nothing about the warm-up.
        let warmup_bars = data
            .drops
            .iter()
            .filter(|d| d.rows > 0)
            .map(|d| d.warmup)
            .min()
            .unwrap_or(0);
        Self {
            inputs,
            outputs: outputs(),
            price: price.into(),
            frequency: frequency.into(),
            warmup_bars,
        }
    }

    /// Refuses an instrument whose columns, frequency or history do not fit.
    pub fn check(&self, inst: &Instrument) -> Result<()> {
        let missing: Vec<&str> = self
            .inputs
            .iter()
            .map(|c| c.name.as_str())
            .filter(|name| !has_column(inst, name))
            .collect();
        if !missing.is_empty() {
            let wanted: Vec<&str> = self.inputs.iter().map(|c| c.name.as_str()).collect();
            return Err(bad(format!(
                "instrument `{}` has no {} column{}; the model reads {}",
                inst.name,
                quoted(&missing),
                if missing.len() == 1 { "" } else { "s" },
                wanted.join(", ")
            )));
        }
        if let Some(gap) = median_gap_days(inst) {
            let freq = frequency_of(gap);
            if freq != self.frequency {
                return Err(bad(format!(
                    "instrument `{}` has {freq} bars (median gap {gap} days); the model was trained on {} bars",
                    inst.name, self.frequency
                )));
            }
        }
        if inst.len() <= self.warmup_bars {
            return Err(bad(format!(
                "instrument `{}` has {} bars; the features need {} bars of history before the first score",
                inst.name,
                inst.len(),
                self.warmup_bars
            )));
        }
        Ok(())
    }
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn has_column(inst: &Instrument, name: &str) -> bool {
    match name {
        "date" | "close" => true,
        "open" => inst.open.is_some(),
        "high" => inst.high.is_some(),
        "low" => inst.low.is_some(),
        "volume" => inst.volume.is_some(),
        "adj_close" => inst.adj_close.is_some(),
        other => inst.column(other).is_some(),
    }
}

/// Median calendar-day gap between consecutive bars (`None` under two bars).
fn median_gap_days(inst: &Instrument) -> Option<i64> {
    let mut gaps: Vec<i64> = inst
        .dates
        .windows(2)
        .filter_map(|w| match w {
            [a, b] => Some((*b - *a).num_days()),
            _ => None,
        })
        .collect();
    gaps.sort_unstable();
    gaps.get(gaps.len() / 2).copied()
}

/// Bar frequency from the median gap: daily bars have 1 (3 over weekends), weekly 7, monthly
/// 28-31.
fn frequency_of(median_gap_days: i64) -> &'static str {
    match median_gap_days {
        ..=3 => "daily",
        4..=10 => "weekly",
        11..=45 => "monthly",
        _ => "other",
    }
}
