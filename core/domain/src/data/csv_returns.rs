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

pub fn parse_returns(file: &str, text: &str) -> Result<ReturnsTable> {
    let table = read_table(file, text)?;
    let i_date = date_column(file, &table)?;
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
            let v = if cell.is_empty() || cell.eq_ignore_ascii_case("nan") {
                f64::NAN
            } else {
                let v: f64 = cell.parse().map_err(|_| {
                    cell_err(
                        file,
                        *line,
                        table.header(i),
                        format!("`{cell}` is not a number"),
                    )
                })?;
                if v.is_infinite() {
                    return Err(cell_err(
                        file,
                        *line,
                        table.header(i),
                        format!("`{cell}` is infinite"),
                    ));
                }
                if v <= -1.0 {
                    return Err(cell_err(
                        file,
                        *line,
                        table.header(i),
                        format!("return {v} <= -100% (is this a price column?)"),
                    ));
                }
                v
            };
            col.push(v);
        }
    }
    Ok(ReturnsTable { dates, columns })
}
