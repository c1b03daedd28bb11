//! The modelling table: features and labels of every instrument stacked into rows, each row
//! stamped with its instrument, its date, its position on the shared calendar and the calendar
//! position where its label's information ends.
//!
//! Splitters work on calendar positions (dates), not rows, so several instruments on one date
//! always fall on the same side of a split and purging is by time.

use chrono::NaiveDate;

use crate::data::Instrument;
use crate::features::{FeatureSpec, compute_all};
use crate::labels::{LabelSpec, Task};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowMeta {
    pub instrument: usize,
    /// Row index inside the instrument's own bars.
    pub bar: usize,
    /// Position of this row's date on [`Dataset::calendar`].
    pub time: usize,
    /// Calendar position of the first calendar date >= the label's end date; may equal
    /// `calendar.len()` when the label ends after the last modelled date.
    pub label_end: usize,
}

/// How many rows of an instrument were dropped, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DropReport {
    pub instrument: String,
    pub bars: usize,
    /// Leading rows whose features are not yet defined (indicator warm-up).
    pub warmup: usize,
    /// Trailing rows whose label horizon runs past the data.
    pub no_label: usize,
    pub rows: usize,
}

#[derive(Debug, Clone)]
pub struct Dataset {
    pub feature_names: Vec<String>,
    /// Row-major, `rows.len() x feature_names.len()`.
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    /// The forward return behind each label (equal to `y` for regression).
    pub forward_return: Vec<f64>,
    pub rows: Vec<RowMeta>,
    pub instruments: Vec<String>,
    /// Sorted dates that have at least one row.
    pub calendar: Vec<NaiveDate>,
    pub task: Task,
    pub drops: Vec<DropReport>,
}

/// One instrument's features, labels and the bars it keeps as rows.
struct Part {
    cols: Vec<Vec<f64>>,
    keep: Vec<usize>,
    y: Vec<f64>,
    fwd: Vec<f64>,
    end_row: Vec<usize>,
}

impl Part {
    /// The instrument's part, its drop report and its feature names. Rows run from the first bar
    /// every feature is defined on (the warm-up) to the last labelled bar, or to the last bar
    /// with `keep_unlabelled`.
    fn of(
        inst: &Instrument,
        features: &[FeatureSpec],
        label: &LabelSpec,
        keep_unlabelled: bool,
    ) -> Result<(Self, DropReport, Vec<String>)> {
        let f = compute_all(features, inst)?;
        let labels = label.compute(inst);
        let n = inst.len();
        let first = (0..n)
            .find(|&t| f.columns.iter().all(|c| c[t].is_finite()))
            .unwrap_or(n);
        let last_labelled = if keep_unlabelled {
            n
        } else {
            n.saturating_sub(label.horizon)
        };
        for t in first..n {
            if let Some((j, _)) = f
                .columns
                .iter()
                .enumerate()
                .find(|(_, c)| !c[t].is_finite())
            {
                return Err(Error::Feature {
                    feature: f.names[j].clone(),
                    instrument: inst.name.clone(),
                    message: format!(
                        "undefined value on {} after the warm-up (check the data for gaps)",
                        inst.dates[t]
                    ),
                });
            }
        }
        let keep: Vec<usize> = (first..last_labelled).collect();
        let drop = DropReport {
            instrument: inst.name.clone(),
            bars: n,
            warmup: first.min(n),
            no_label: n - last_labelled.max(first),
            rows: keep.len(),
        };
        let part = Part {
            cols: f.columns,
            keep,
            y: labels.value,
            fwd: labels.forward_return,
            end_row: labels.end_row,
        };
        Ok((part, drop, f.names))
    }
}

impl Dataset {
    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// The same rows with only the named feature columns, in that order. The error names the
    /// first unknown feature and the ones there are.
    pub fn select_features(&self, names: &[String]) -> std::result::Result<Self, String> {
        let cols = names
            .iter()
            .map(|n| {
                self.feature_names
                    .iter()
                    .position(|f| f == n)
                    .ok_or_else(|| {
                        format!(
                            "no feature `{n}`; the features are {}",
                            self.feature_names.join(", ")
                        )
                    })
            })
            .collect::<std::result::Result<Vec<usize>, String>>()?;
        let k = self.n_features();
        let x = if k == 0 {
            Vec::new()
        } else {
            self.x
                .chunks_exact(k)
                .flat_map(|row| cols.iter().map(move |&c| row[c]))
                .collect()
        };
        Ok(Self {
            feature_names: names.to_vec(),
            x,
            y: self.y.clone(),
            forward_return: self.forward_return.clone(),
            rows: self.rows.clone(),
            instruments: self.instruments.clone(),
            calendar: self.calendar.clone(),
            task: self.task,
            drops: self.drops.clone(),
        })
    }

    pub fn row(&self, i: usize) -> &[f64] {
        let k = self.n_features();
        &self.x[i * k..(i + 1) * k]
    }

    /// Rows whose calendar position is in `times` (sorted), in row order.
    pub fn rows_at(&self, times: &[usize]) -> Vec<usize> {
        let mut in_set = vec![false; self.calendar.len()];
        for &t in times {
            in_set[t] = true;
        }
        (0..self.rows.len())
            .filter(|&i| in_set[self.rows[i].time])
            .collect()
    }

    /// Per calendar position, the latest label end of any row on that date (the `t1` of AFML).
    pub fn label_end_by_time(&self) -> Vec<usize> {
        let mut out: Vec<usize> = (0..self.calendar.len()).collect();
        for r in &self.rows {
            out[r.time] = out[r.time].max(r.label_end);
        }
        out
    }

    /// The modelling table: rows from the end of the features' warm-up to the last bar whose
    /// label is known.
    pub fn build(
        instruments: &[Instrument],
        features: &[FeatureSpec],
        label: &LabelSpec,
    ) -> Result<Self> {
        Self::build_rows(instruments, features, label, false)
    }

    /// The scoring table: the same rows as [`Dataset::build`] plus the trailing bars whose label
    /// is not known yet (their `y` and forward return are `NaN`). Features are causal, so every
    /// row's features equal those of the modelling table bit for bit.
    pub fn build_for_scoring(
        instruments: &[Instrument],
        features: &[FeatureSpec],
        label: &LabelSpec,
    ) -> Result<Self> {
        Self::build_rows(instruments, features, label, true)
    }

    fn build_rows(
        instruments: &[Instrument],
        features: &[FeatureSpec],
        label: &LabelSpec,
        keep_unlabelled: bool,
    ) -> Result<Self> {
        let mut names: Option<Vec<String>> = None;
        let mut parts = Vec::new();
        let mut drops = Vec::new();
        for inst in instruments {
            let (part, drop, part_names) = Part::of(inst, features, label, keep_unlabelled)?;
            match &names {
                None => names = Some(part_names),
                Some(n) if *n != part_names => {
                    return Err(Error::Dataset(format!(
                        "instrument `{}` yields different feature columns",
                        inst.name
                    )));
                }
                _ => {}
            }
            drops.push(drop);
            parts.push(part);
        }
        let feature_names = names.unwrap_or_default();
        let mut calendar: Vec<NaiveDate> = instruments
            .iter()
            .zip(&parts)
            .flat_map(|(inst, p)| p.keep.iter().map(|&t| inst.dates[t]))
            .collect();
        calendar.sort_unstable();
        calendar.dedup();
        if calendar.is_empty() {
            return Err(Error::Dataset(
                "no rows left after the feature warm-up and label horizon: the data is too short"
                    .into(),
            ));
        }
        // Rows ordered by (date, instrument) so every date's rows are contiguous.
        let mut order: Vec<(usize, usize, usize)> = Vec::new(); // (time, instrument, bar)
        for (i, (inst, p)) in instruments.iter().zip(&parts).enumerate() {
            for &t in &p.keep {
                // The calendar is the union of the kept dates, so every search succeeds.
                if let Ok(time) = calendar.binary_search(&inst.dates[t]) {
                    order.push((time, i, t));
                }
            }
        }
        order.sort_unstable();
        let k = feature_names.len();
        let mut ds = Dataset {
            feature_names,
            x: Vec::with_capacity(order.len() * k),
            y: Vec::with_capacity(order.len()),
            forward_return: Vec::with_capacity(order.len()),
            rows: Vec::with_capacity(order.len()),
            instruments: instruments.iter().map(|i| i.name.clone()).collect(),
            calendar,
            task: label.task(),
            drops,
        };
        for (time, i, t) in order {
            let p = &parts[i];
            ds.x.extend(p.cols.iter().map(|c| c[t]));
            ds.y.push(p.y[t]);
            ds.forward_return.push(p.fwd[t]);
            // An unlabelled row's label would end after the data: past the calendar's end.
            let end_date = instruments[i].dates.get(p.end_row[t]).copied();
            ds.rows.push(RowMeta {
                instrument: i,
                bar: t,
                time,
                label_end: end_date.map_or(ds.calendar.len(), |end| {
                    ds.calendar.partition_point(|d| *d < end)
                }),
            });
        }
        Ok(ds)
    }
}
