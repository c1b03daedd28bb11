//! Wide close-only panel: `date` + one column of prices per ticker. An empty cell means the ticker
//! has no bar that day (e.g. before its listing); NaN or infinity is an error.

#![deny(clippy::indexing_slicing)] // parses untrusted text: no index may panic

use super::Instrument;
use super::csv_common::{cell_err, check_order, date_column, parse_date, parse_finite, read_table};
use crate::{Error, Result};

pub fn parse_panel(file: &str, text: &str) -> Result<Vec<Instrument>> {
    let table = read_table(file, text)?;
    let i_date = date_column(file, &table)?;
    if table.headers.len() < 2 {
        return Err(Error::DataFile {
            file: file.to_string(),
            message: "a panel needs `date` and at least one ticker column".into(),
        });
    }
    let mut out: Vec<Instrument> = table
        .headers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != i_date)
        .map(|(_, h)| Instrument {
            name: h.clone(),
            dates: Vec::new(),
            open: None,
            high: None,
            low: None,
            close: Vec::new(),
            volume: None,
            adj_close: None,
            extra: Vec::new(),
        })
        .collect();
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
        let cells = rec.iter().enumerate().filter(|(i, _)| *i != i_date);
        for (inst, (i, cell)) in out.iter_mut().zip(cells) {
            if cell.is_empty() {
                continue;
            }
            let v = parse_finite(file, *line, table.header(i), cell)?;
            if v <= 0.0 {
                return Err(cell_err(
                    file,
                    *line,
                    table.header(i),
                    format!("price {v} must be positive"),
                ));
            }
            inst.dates.push(date);
            inst.close.push(v);
        }
    }
    if let Some(empty) = out.iter().find(|i| i.is_empty()) {
        return Err(Error::DataFile {
            file: file.to_string(),
            message: format!("column `{}` has no values", empty.name),
        });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn blanks_are_missing_bars() {
        let p = parse_panel("p.csv", "date,A,B\n2020-01-02,1,\n2020-01-03,2,3\n").unwrap();
        assert_eq!(p[0].close, vec![1.0, 2.0]);
        assert_eq!(p[1].close, vec![3.0]);
        assert_eq!(p[1].dates.len(), 1);
    }

    #[test]
    fn nan_is_an_error() {
        let e = parse_panel("p.csv", "date,A\n2020-01-02,nan\n").unwrap_err();
        assert!(
            e.to_string().starts_with("p.csv: line 2, column `A`"),
            "{e}"
        );
    }
}
