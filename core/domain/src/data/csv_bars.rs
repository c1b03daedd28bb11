//! `date,open,high,low,close,volume[,adj_close][,extra numeric columns]`, one instrument a file.

#![deny(clippy::indexing_slicing)] // parses untrusted text: no index may panic

use super::csv_common::{cell_err, check_order, parse_date, parse_finite, read_table};
use super::{Column, Instrument};
use crate::{Error, Result};

const REQUIRED: [&str; 6] = ["date", "open", "high", "low", "close", "volume"];

/// Parse one instrument's daily bars. `file` is used only in error messages.
pub fn parse_bars(name: &str, file: &str, text: &str) -> Result<Instrument> {
    let table = read_table(file, text)?;
    let lower: Vec<String> = table
        .headers
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let pos = |name: &str| lower.iter().position(|h| h == name);
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| pos(c).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(Error::DataFile {
            file: file.to_string(),
            message: format!(
                "missing column(s) {}; expected date,open,high,low,close,volume[,adj_close][,extra]",
                missing.join(", ")
            ),
        });
    }
    let [i_date, i_open, i_high, i_low, i_close, i_vol] = REQUIRED.map(|c| pos(c).unwrap_or(0));
    let i_adj = pos("adj_close");
    let extra_idx: Vec<usize> = lower
        .iter()
        .enumerate()
        .filter(|(i, l)| *i != i_date && !REQUIRED.contains(&l.as_str()) && Some(*i) != i_adj)
        .map(|(i, _)| i)
        .collect();

    let n = table.rows.len();
    let mut dates = Vec::with_capacity(n);
    let mut cols: Vec<Vec<f64>> = vec![Vec::with_capacity(n); lower.len()];
    let mut prev = None;
    for (line, rec) in &table.rows {
        let line = *line;
        let date = parse_date(
            file,
            line,
            table.header(i_date),
            rec.get(i_date).unwrap_or_default(),
        )?;
        check_order(file, line, table.header(i_date), prev, date)?;
        prev = Some(date);
        dates.push(date);
        for (i, col) in cols.iter_mut().enumerate() {
            if i == i_date {
                continue;
            }
            let header = table.header(i);
            let v = parse_finite(file, line, header, rec.get(i).unwrap_or_default())?;
            let positive_price = [i_open, i_high, i_low, i_close].contains(&i) || Some(i) == i_adj;
            if positive_price && v <= 0.0 {
                return Err(cell_err(
                    file,
                    line,
                    header,
                    format!("price {v} must be positive"),
                ));
            }
            if i == i_vol && v < 0.0 {
                return Err(cell_err(
                    file,
                    line,
                    header,
                    format!("volume {v} is negative"),
                ));
            }
            col.push(v);
        }
    }
    let mut take = |i: usize| cols.get_mut(i).map(std::mem::take).unwrap_or_default();
    Ok(Instrument {
        name: name.to_string(),
        dates,
        open: Some(take(i_open)),
        high: Some(take(i_high)),
        low: Some(take(i_low)),
        close: take(i_close),
        volume: Some(take(i_vol)),
        adj_close: i_adj.map(&mut take),
        extra: extra_idx
            .iter()
            .map(|&i| Column {
                name: table.header(i).to_string(),
                values: take(i),
            })
            .collect(),
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    const GOOD: &str = "date,open,high,low,close,volume,adj_close,signal\n\
        2020-01-02,10,11,9,10.5,100,5.25,1\n\
        2020-01-03,10.5,12,10,11,200,5.5,-1\n";

    #[test]
    fn parses_columns_and_extras() {
        let b = parse_bars("x", "x.csv", GOOD).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b.price(), &[5.25, 5.5]);
        assert_eq!(b.extra[0].name, "signal");
        assert_eq!(b.extra[0].values, vec![1.0, -1.0]);
    }

    fn err(text: &str) -> String {
        parse_bars("x", "x.csv", text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = err("date,open,high,low,close,volume\n2020-01-02,1,1,1,abc,5\n");
        assert_eq!(e, "x.csv: line 2, column `close`: `abc` is not a number");
        let e = err("date,open,high,low,close,volume\n2020-01-02,1,1,1,NaN,5\n");
        assert!(
            e.contains("line 2, column `close`") && e.contains("not finite"),
            "{e}"
        );
        let e =
            err("date,open,high,low,close,volume\n2020-01-03,1,1,1,1,5\n2020-01-02,1,1,1,1,5\n");
        assert!(
            e.contains("line 3, column `date`") && e.contains("sorted"),
            "{e}"
        );
        let e =
            err("date,open,high,low,close,volume\n2020-01-02,1,1,1,1,5\n2020-01-02,1,1,1,1,5\n");
        assert!(e.contains("line 3") && e.contains("duplicate date"), "{e}");
        let e = err("date,open,high,close\n2020-01-02,1,1,1\n");
        assert!(e.contains("missing column(s) low, volume"), "{e}");
        assert!(err("").contains("empty file"));
        assert!(err("date,open,high,low,close,volume\n").contains("no data rows"));
        let e = err("date,open,high,low,close,volume\n02/01/2020,1,1,1,1,5\n");
        assert!(e.contains("not a date"), "{e}");
        let e = err("date,open,high,low,close,volume\n2020-01-02,1,1,1,1\n");
        assert!(e.contains("line 2") && e.contains("5 fields"), "{e}");
    }
}
