//! Where returns came from: calendar tables and per-group (fold, instrument, side) summaries.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::series::sharpe;
use crate::metrics::MetricsSpec;

/// Compounded returns of one calendar year, by month (quantstats `monthly_returns`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YearRow {
    pub year: i32,
    /// January..December; `null` for months without data.
    pub months: [Option<f64>; 12],
    pub total: f64,
}

pub fn calendar_table(dates: &[NaiveDate], returns: &[f64]) -> Vec<YearRow> {
    let mut rows: Vec<YearRow> = Vec::new();
    for (d, r) in dates.iter().zip(returns) {
        let r = if r.is_finite() { *r } else { 0.0 };
        if rows.last().is_none_or(|y| y.year != d.year()) {
            rows.push(YearRow {
                year: d.year(),
                months: [None; 12],
                total: 0.0,
            });
        }
        let Some(row) = rows.last_mut() else { continue };
        let m = &mut row.months[d.month0() as usize];
        *m = Some((1.0 + m.unwrap_or(0.0)) * (1.0 + r) - 1.0);
        row.total = (1.0 + row.total) * (1.0 + r) - 1.0;
    }
    rows
}

/// A slice of the out-of-sample record: one fold, one instrument, or one side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupMetrics {
    pub group: String,
    pub n_periods: usize,
    pub total_return: f64,
    pub sharpe: f64,
    /// Sum of this group's per-period contributions to the portfolio return.
    pub contribution: f64,
}

impl GroupMetrics {
    /// `returns` are the group's own returns; `contributions` its share of the portfolio's.
    pub fn new(group: String, returns: &[f64], contributions: &[f64], spec: &MetricsSpec) -> Self {
        Self {
            group,
            n_periods: returns.len(),
            total_return: returns.iter().map(|r| 1.0 + r).product::<f64>() - 1.0,
            sharpe: sharpe(returns, spec),
            contribution: contributions.iter().sum(),
        }
    }
}
