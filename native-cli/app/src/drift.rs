//! `strider drift`: numeric tables and value streams read from CSV, compared with the drift
//! detectors of `strider-drift`.
//!
//! A table's first line is its header unless every cell of it is a number. A column is numeric
//! when its first present cell is a number; other columns (dates, tickers) are labels and are
//! skipped. In a numeric column, empty cells and `nan` / `NA` / `null` are missing values; any
//! other non-number is an error naming the file, line and column.

use std::path::Path;

use serde::Serialize;
use strider_drift::{DetectorSpec, DriftThresholds, TableDrift};

use crate::{Context, Result, bail};

/// The numeric columns of one CSV file, in file order.
#[derive(Debug, Clone, Default)]
pub struct NumericTable {
    pub columns: Vec<(String, Vec<f64>)>,
    /// Label columns (not numbers) that were left out.
    pub skipped: Vec<String>,
}

fn is_missing(cell: &str) -> bool {
    matches!(
        cell.to_ascii_lowercase().as_str(),
        "" | "nan" | "na" | "n/a" | "null" | "none"
    )
}

fn parse_number(cell: &str) -> Option<f64> {
    if is_missing(cell) {
        return Some(f64::NAN);
    }
    cell.parse::<f64>().ok()
}

/// Reads `text` (from `file`, named in errors) as a numeric table.
pub fn parse_table(file: &str, text: &str) -> Result<NumericTable> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let Some(first) = records.next() else {
        bail!("{file}: the file is empty");
    };
    let first = first.with_context(|| format!("{file}: line 1"))?;
    let headerless = first
        .iter()
        .all(|c| !is_missing(c) && c.parse::<f64>().is_ok());
    let names: Vec<String> = if headerless {
        (0..first.len()).map(|i| format!("column_{i}")).collect()
    } else {
        first.iter().map(str::to_string).collect()
    };
    check_names(file, &names)?;
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    if headerless {
        push_row(&mut cells, &first);
    }
    for (i, record) in records.enumerate() {
        let line = i + 2;
        let record = record.with_context(|| format!("{file}: line {line}"))?;
        push_row(&mut cells, &record);
    }
    let first_line = if headerless { 1 } else { 2 };
    let mut table = NumericTable::default();
    for (name, column) in names.into_iter().zip(cells) {
        match numeric_column(file, &name, &column, first_line)? {
            Some(values) => table.columns.push((name, values)),
            None => table.skipped.push(name),
        }
    }
    if table.columns.is_empty() {
        bail!(
            "{file}: no numeric column (columns: {})",
            table.skipped.join(", ")
        );
    }
    Ok(table)
}

fn push_row(cells: &mut [Vec<String>], record: &csv::StringRecord) {
    for (column, cell) in cells.iter_mut().zip(record.iter()) {
        column.push(cell.to_string());
    }
}

fn check_names(file: &str, names: &[String]) -> Result<()> {
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            bail!("{file}: line 1, column {}: the header is empty", i + 1);
        }
        if names[..i].contains(name) {
            bail!("{file}: line 1: column `{name}` appears twice");
        }
    }
    Ok(())
}

/// The column's values, or `None` for a label column (its first present cell is not a number).
fn numeric_column(
    file: &str,
    name: &str,
    cells: &[String],
    first_line: usize,
) -> Result<Option<Vec<f64>>> {
    let Some(first) = cells.iter().find(|c| !is_missing(c)) else {
        return Ok(Some(vec![f64::NAN; cells.len()]));
    };
    if first.parse::<f64>().is_err() {
        return Ok(None);
    }
    cells
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            parse_number(cell).ok_or_else(|| {
                crate::Error::Input(format!(
                    "{file}: line {}, column `{name}`: `{cell}` is not a number",
                    i + first_line
                ))
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

pub fn read_table(path: &Path) -> Result<NumericTable> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_table(&path.display().to_string(), &text)
}

/// `strider drift --reference --current`: every numeric column of the reference against the
/// same column of the current file.
pub fn compare_files(
    reference: &Path,
    current: &Path,
    thresholds: &DriftThresholds,
) -> Result<TableDrift> {
    thresholds.validate().map_err(crate::Error::Input)?;
    let r = read_table(reference)?;
    let c = read_table(current)?;
    for (name, _) in &c.columns {
        if !r.columns.iter().any(|(n, _)| n == name) {
            bail!(
                "{}: column `{name}` is not in the reference {}",
                current.display(),
                reference.display()
            );
        }
    }
    strider_drift::table_drift(&r.columns, &c.columns, thresholds).map_err(|e| {
        crate::Error::Input(format!(
            "{} against {}: {e}",
            current.display(),
            reference.display()
        ))
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct StreamDrift {
    pub detector: DetectorSpec,
    pub column: String,
    pub n: usize,
    pub detections: Vec<usize>,
}

/// `strider drift --stream`: the detector over one column of `path` (the only numeric one
/// unless `column` names it). Indices count data rows from 0; missing values are skipped by the
/// detector but keep their index.
pub fn detect_stream(path: &Path, column: Option<&str>, spec: DetectorSpec) -> Result<StreamDrift> {
    let table = read_table(path)?;
    let (name, values) = match column {
        Some(want) => table
            .columns
            .iter()
            .find(|(n, _)| n == want)
            .ok_or_else(|| {
                crate::Error::Input(format!(
                    "{}: no numeric column `{want}` (numeric columns: {})",
                    path.display(),
                    names(&table)
                ))
            })?,
        None if table.columns.len() == 1 => &table.columns[0],
        None => bail!(
            "{}: {} numeric columns ({}); say which with --column",
            path.display(),
            table.columns.len(),
            names(&table)
        ),
    };
    Ok(StreamDrift {
        detector: spec,
        column: name.clone(),
        n: values.len(),
        detections: strider_drift::detections(&spec, values),
    })
}

fn names(table: &NumericTable) -> String {
    table
        .columns
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_skipped_and_missing_cells_are_nan() {
        let t = parse_table("x.csv", "date,a,b\n2020-01-01,1,\n2020-01-02,2,NaN\n").unwrap();
        assert_eq!(t.skipped, ["date"]);
        assert_eq!(t.columns[0], ("a".to_string(), vec![1.0, 2.0]));
        assert!(t.columns[1].1.iter().all(|v| v.is_nan()));
    }

    #[test]
    fn a_bad_cell_names_file_line_and_column() {
        let e = parse_table("x.csv", "a,b\n1,2\n3,oops\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.csv: line 3, column `b`: `oops` is not a number"
        );
    }

    #[test]
    fn a_file_of_numbers_has_no_header() {
        let t = parse_table("v.csv", "0.5\n1.5\n").unwrap();
        assert_eq!(t.columns[0].1, [0.5, 1.5]);
    }

    #[test]
    fn ragged_rows_and_duplicate_names_are_errors() {
        assert!(
            parse_table("x.csv", "a,b\n1\n")
                .unwrap_err()
                .chain()
                .contains("line 2")
        );
        assert!(
            parse_table("x.csv", "a,a\n1,2\n")
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        assert!(parse_table("x.csv", "").is_err());
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let alphabet = b"0123456789.,-+eE\n\r\"naN \tx\xff";
        let mut state = 1u64;
        for _ in 0..3000 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            let len = (state >> 58) as usize * 4;
            let bytes: Vec<u8> = (0..len)
                .map(|i| {
                    let r = state.rotate_left(i as u32 * 7) ^ (i as u64).wrapping_mul(0x9E37);
                    alphabet[(r % alphabet.len() as u64) as usize]
                })
                .collect();
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(t) = parse_table("h.csv", &text) {
                let thresholds = DriftThresholds::default();
                let _ = strider_drift::table_drift(&t.columns, &t.columns, &thresholds);
                for (_, v) in &t.columns {
                    for name in ["adwin", "page-hinkley"] {
                        let spec = DetectorSpec::parse(name, &[]).unwrap();
                        let _ = strider_drift::detections(&spec, v);
                    }
                }
            }
        }
    }
}
