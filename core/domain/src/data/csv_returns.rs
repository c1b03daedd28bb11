//! A returns table: `date` + one column of simple returns per strategy. Empty cells and `NaN`
//! are missing observations (metrics skip them); anything else unparsable is an error.

#![deny(clippy::indexing_slicing)] // parses untrusted text: no index may panic

use chrono::NaiveDate;

use super::csv_common::{cell_err, check_order, date_column, parse_date, read_table};
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct ReturnsTable {
    pub dates: Vec<NaiveDate>,
    pub columns: Vec<(String, Vec<f64>)>,
}

/// A returns table: `date` plus one column per series; or a run's own `returns.csv` (long:
/// `model,date,strategy,...,benchmark`), read as one column per model (its net returns) plus
/// `buy_and_hold`.
pub fn parse_returns(file: &str, text: &str) -> Result<ReturnsTable> {
    let table = read_table(file, text)?;
    let i_date = date_column(file, &table)?;
    let at = |name: &str| {
        table
            .headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
    };
    if let (Some(i_model), Some(i_strategy)) = (at("model"), at("strategy")) {
        return run_returns(file, &table, [i_date, i_model, i_strategy], at("benchmark"));
    }
    let mut columns: Vec<(String, Vec<f64>)> = table
        .headers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != i_date)
        .map(|(_, h)| (h.clone(), Vec::with_capacity(table.rows.len())))
        .collect();
    if columns.is_empty() {
        return Err(Error::DataFile {
            file: file.to_string(),
            message: "no return columns besides `date`".into(),
        });
    }
    let mut dates = Vec::with_capacity(table.rows.len());
    let mut prev = None;
    for (line, rec) in &table.rows {
        let date = parse_date(
            file,
            *line,
            table.header(i_date),
            rec.get(i_date).unwrap_or_default(),
        )?;
        check_order(file, *line, table.header(i_date), prev, date)?;
        prev = Some(date);
        dates.push(date);
        let cells = rec.iter().enumerate().filter(|(i, _)| *i != i_date);
        for ((_, col), (i, cell)) in columns.iter_mut().zip(cells) {
            col.push(return_cell(file, *line, table.header(i), cell)?);
        }
    }
    Ok(ReturnsTable { dates, columns })
}

/// One return: empty or `NaN` is missing; infinite or at most -100% is an error.
fn return_cell(file: &str, line: u64, column: &str, cell: &str) -> Result<f64> {
    if cell.is_empty() || cell.eq_ignore_ascii_case("nan") {
        return Ok(f64::NAN);
    }
    let v: f64 = cell
        .parse()
        .map_err(|_| cell_err(file, line, column, format!("`{cell}` is not a number")))?;
    if v.is_infinite() {
        return Err(cell_err(
            file,
            line,
            column,
            format!("`{cell}` is infinite"),
        ));
    }
    if v <= -1.0 {
        return Err(cell_err(
            file,
            line,
            column,
            format!("return {v} <= -100% (is this a price column?)"),
        ));
    }
    Ok(v)
}

/// A run's long returns file pivoted: each model's dates strictly increasing, the table's dates
/// their union (a model without a date has a missing value there).
fn run_returns(
    file: &str,
    table: &super::csv_common::Table,
    [i_date, i_model, i_strategy]: [usize; 3],
    i_bench: Option<usize>,
) -> Result<ReturnsTable> {
    use std::collections::BTreeMap;
    let mut order: Vec<String> = Vec::new();
    let mut series: BTreeMap<String, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
    let mut bench: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    let mut last: BTreeMap<String, NaiveDate> = BTreeMap::new();
    for (line, rec) in &table.rows {
        let model = rec.get(i_model).unwrap_or_default().to_string();
        let cell = |i: usize| rec.get(i).unwrap_or_default();
        let date = parse_date(file, *line, table.header(i_date), cell(i_date))?;
        check_order(
            file,
            *line,
            table.header(i_date),
            last.get(&model).copied(),
            date,
        )?;
        last.insert(model.clone(), date);
        let v = return_cell(file, *line, table.header(i_strategy), cell(i_strategy))?;
        if !series.contains_key(&model) {
            order.push(model.clone());
        }
        series.entry(model).or_default().insert(date, v);
        if let Some(i) = i_bench {
            let b = return_cell(file, *line, table.header(i), cell(i))?;
            bench.entry(date).or_insert(b);
        }
    }
    let dates: Vec<NaiveDate> = {
        let mut all: Vec<NaiveDate> = series.values().flat_map(|s| s.keys().copied()).collect();
        all.sort_unstable();
        all.dedup();
        all
    };
    let column = |values: &BTreeMap<NaiveDate, f64>| -> Vec<f64> {
        dates
            .iter()
            .map(|d| values.get(d).copied().unwrap_or(f64::NAN))
            .collect()
    };
    let mut columns: Vec<(String, Vec<f64>)> = order
        .iter()
        .filter_map(|m| series.get(m).map(|s| (m.clone(), column(s))))
        .collect();
    if i_bench.is_some() {
        columns.push(("buy_and_hold".into(), column(&bench)));
    }
    Ok(ReturnsTable { dates, columns })
}
