//! Helpers shared by the bar and panel parsers: reading records with their line numbers, and the
//! cell-level checks whose messages name file, line and column.

#![deny(clippy::indexing_slicing)] // parses untrusted text: no index may panic

use chrono::NaiveDate;
use csv::StringRecord;

use crate::{Error, Result};

pub(super) struct Table {
    pub headers: Vec<String>,
    /// (1-based line number in the file, record)
    pub rows: Vec<(u64, StringRecord)>,
}

impl Table {
    /// Column `i`'s name ("" past the header: records are as wide as the header, csv checks it).
    pub fn header(&self, i: usize) -> &str {
        self.headers.get(i).map_or("", String::as_str)
    }
}

pub(super) fn read_table(file: &str, text: &str) -> Result<Table> {
    let file_err = |message: String| Error::DataFile {
        file: file.to_string(),
        message,
    };
    if text.trim().is_empty() {
        return Err(file_err("empty file (no header, no rows)".into()));
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| file_err(format!("cannot read header: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for h in &headers {
        if h.is_empty() {
            return Err(file_err("header has an empty column name".into()));
        }
        if !seen.insert(h.to_ascii_lowercase()) {
            return Err(file_err(format!("header names column `{h}` twice")));
        }
    }
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => Error::DataCell {
                    file: file.to_string(),
                    line,
                    column: "*".into(),
                    message: format!("row has {len} fields, the header has {expected_len}"),
                },
                _ => file_err(format!("line {line}: {e}")),
            }
        })?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.iter().all(|c| c.is_empty()) {
            continue; // a blank trailing line is not data
        }
        rows.push((line, rec));
    }
    if rows.is_empty() {
        return Err(file_err("no data rows after the header".into()));
    }
    Ok(Table { headers, rows })
}

/// Index of the `date` column (case-insensitive), or an error naming the file.
pub(super) fn date_column(file: &str, table: &Table) -> Result<usize> {
    table
        .headers
        .iter()
        .position(|h| h.eq_ignore_ascii_case("date"))
        .or_else(|| {
            let date = Some(super::headers::Field::Date);
            table
                .headers
                .iter()
                .position(|h| super::headers::field(h) == date)
        })
        .ok_or_else(|| Error::DataFile {
            file: file.to_string(),
            message: "missing column `date`".into(),
        })
}

pub(super) fn cell_err(file: &str, line: u64, column: &str, message: String) -> Error {
    Error::DataCell {
        file: file.to_string(),
        line,
        column: column.to_string(),
        message,
    }
}

/// A day: `YYYY-MM-DD`, or a timestamp on that day (`2020-01-02 00:00:00`, `2020-01-02T16:00Z`:
/// bars are daily, the time is dropped).
pub(super) fn parse_date(file: &str, line: u64, column: &str, s: &str) -> Result<NaiveDate> {
    let day = match (s.get(..10), s.get(10..11), s.get(11..)) {
        (Some(d), Some(" " | "T"), Some(time)) if is_time(time) => d,
        _ => s,
    };
    NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| {
        cell_err(
            file,
            line,
            column,
            format!("`{s}` is not a date (expected YYYY-MM-DD)"),
        )
    })
}

/// A time of day: `HH:MM[:SS[.fff]]`, then optionally `Z` or an offset `±HH[:]MM`.
fn is_time(s: &str) -> bool {
    let s = s.strip_suffix('Z').unwrap_or(s);
    // A clock has no sign: one starts the offset.
    let (clock, offset) = match s.find(['+', '-']) {
        Some(k) => s.split_at(k),
        None => (s, ""),
    };
    let digits: String = offset.chars().skip(1).filter(|c| *c != ':').collect();
    let offset_ok =
        offset.is_empty() || (digits.len() == 4 && digits.chars().all(|c| c.is_ascii_digit()));
    offset_ok
        && ["%H:%M:%S%.f", "%H:%M"]
            .iter()
            .any(|f| chrono::NaiveTime::parse_from_str(clock, f).is_ok())
}

/// A finite number; NaN, inf and blanks are errors.
pub(super) fn parse_finite(file: &str, line: u64, column: &str, s: &str) -> Result<f64> {
    if s.is_empty() {
        return Err(cell_err(file, line, column, "empty value".into()));
    }
    let v: f64 = s
        .parse()
        .map_err(|_| cell_err(file, line, column, format!("`{s}` is not a number")))?;
    if !v.is_finite() {
        return Err(cell_err(
            file,
            line,
            column,
            format!("`{s}` is not finite (NaN and infinity are not allowed)"),
        ));
    }
    Ok(v)
}

/// Dates must be strictly increasing: a repeat or a step back is an error at the later line.
pub(super) fn check_order(
    file: &str,
    line: u64,
    column: &str,
    prev: Option<NaiveDate>,
    cur: NaiveDate,
) -> Result<()> {
    match prev {
        Some(p) if p == cur => Err(cell_err(
            file,
            line,
            column,
            format!("duplicate date {cur}"),
        )),
        Some(p) if p > cur => Err(cell_err(
            file,
            line,
            column,
            format!("date {cur} comes after {p}: dates must be sorted ascending"),
        )),
        _ => Ok(()),
    }
}
