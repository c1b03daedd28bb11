//! Tree models over plain numeric CSV files (`strider gbdt train` / `predict`): reading a
//! feature table, splitting off the label, parsing `KEY=VALUE` parameters, and writing
//! predictions or TreeSHAP contributions.

#![deny(clippy::indexing_slicing)] // parses untrusted text: no index may panic

use std::path::Path;

use crate::bail;
use crate::error::{Context, Result};
use strider_core::gbdt::{GbdtModel, GbdtParams};

/// A CSV with a header: (column names, rows of numbers; empty or `nan` is missing). Columns in
/// `ignore`, and date columns (a first value like `2020-01-02`, with or without a time), are
/// left out; any other text is an error naming the cell.
pub fn read_table(path: &Path, ignore: &[String]) -> Result<(Vec<String>, Vec<Vec<f64>>)> {
    let file = path.display().to_string();
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("reading {file}"))?;
    let all: Vec<String> = rdr.headers()?.iter().map(String::from).collect();
    let mut records = rdr.records().peekable();
    let first = match records.peek() {
        Some(Ok(rec)) => Some(rec.clone()),
        _ => None,
    };
    let keep: Vec<usize> = (0..all.len())
        .filter(|&i| all.get(i).is_some_and(|h| !ignore.contains(h)))
        .filter(|&i| {
            !first
                .as_ref()
                .is_some_and(|r| is_date(r.get(i).unwrap_or_default()))
        })
        .collect();
    let headers: Vec<String> = keep.iter().filter_map(|&i| all.get(i).cloned()).collect();
    let mut rows = Vec::new();
    for rec in records {
        let rec = rec.with_context(|| file.clone())?;
        let line = rec.position().map_or(0, |p| p.line());
        rows.push(
            keep.iter()
                .zip(&headers)
                .map(|(&i, name)| cell(rec.get(i).unwrap_or_default(), &file, line, name))
                .collect::<Result<Vec<f64>>>()?,
        );
    }
    if rows.is_empty() {
        bail!("{file}: no data rows");
    }
    Ok((headers, rows))
}

/// `YYYY-MM-DD`, alone or followed by a time.
fn is_date(v: &str) -> bool {
    let day = v.get(..10).unwrap_or(v);
    v.parse::<f64>().is_err() && chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok()
}

/// One cell: a number, or missing (empty or `nan`).
fn cell(v: &str, file: &str, line: u64, column: &str) -> Result<f64> {
    if v.is_empty() || v.eq_ignore_ascii_case("nan") {
        return Ok(f64::NAN);
    }
    v.parse::<f64>().with_context(|| {
        format!(
            "{file}: line {line}, column `{column}`: `{v}` is not a number (skip the column with --ignore {column})"
        )
    })
}

/// LightGBM's query groups from a column (`--group`): the sizes of the runs of equal
/// consecutive values, e.g. one group per date. A value that comes back after other values is
/// an error naming its line (LightGBM needs each query's rows together).
pub fn query_groups(path: &Path, column: &str) -> Result<Vec<u32>> {
    let file = path.display().to_string();
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("reading {file}"))?;
    let Some(c) = rdr.headers()?.iter().position(|h| h == column) else {
        bail!("{file}: no column `{column}` (--group)");
    };
    let mut seen = std::collections::HashSet::new();
    let mut last: Option<String> = None;
    let mut sizes: Vec<u32> = Vec::new();
    for rec in rdr.records() {
        let rec = rec.with_context(|| file.clone())?;
        let v = rec.get(c).unwrap_or_default();
        match (&last, sizes.last_mut()) {
            (Some(l), Some(n)) if l == v => *n += 1,
            _ => {
                if !seen.insert(v.to_string()) {
                    let line = rec.position().map_or(0, |p| p.line());
                    bail!(
                        "{file}: line {line}, column `{column}`: query `{v}` appeared before; sort the rows by `{column}`"
                    );
                }
                sizes.push(1);
                last = Some(v.to_string());
            }
        }
    }
    Ok(sizes)
}

/// Features and labels of a table; the label column must be finite.
pub fn split_target(
    path: &Path,
    headers: &[String],
    rows: &[Vec<f64>],
    target: &str,
) -> Result<(Vec<String>, Vec<f64>, Vec<f64>)> {
    let t = headers
        .iter()
        .position(|h| h == target)
        .with_context(|| format!("{}: no column `{target}`", path.display()))?;
    let names: Vec<String> = headers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != t)
        .map(|(_, h)| h.clone())
        .collect();
    let mut x = Vec::with_capacity(rows.len() * names.len());
    let mut y = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let Some(&label) = r.get(t).filter(|v| v.is_finite()) else {
            bail!("{}: row {} has no finite `{target}`", path.display(), i + 2);
        };
        y.push(label);
        x.extend(
            r.iter()
                .enumerate()
                .filter(|(j, _)| *j != t)
                .map(|(_, v)| *v),
        );
    }
    Ok((names, x, y))
}

/// LightGBM-style `KEY=VALUE` parameters through the same strict parser as a config's
/// `[[models]]` table.
pub fn params_from_pairs(params: &[String]) -> Result<GbdtParams> {
    let mut table = toml::Table::new();
    for p in params {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("--param `{p}`: expected KEY=VALUE"))?;
        let value = v
            .parse::<i64>()
            .map(toml::Value::Integer)
            .or_else(|_| v.parse::<f64>().map(toml::Value::Float))
            .unwrap_or_else(|_| toml::Value::String(v.to_string()));
        table.insert(k.to_string(), value);
    }
    let value = toml::Value::Table(table);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let message = strider_core::config::with_suggestion(e.inner().message());
        crate::Error::Input(format!("--param {}: {message}", e.path()))
    })
}

/// What to write for each row of a feature file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictKind {
    /// The model's output (probabilities for classifiers).
    Output,
    /// Raw scores before the link function.
    Raw,
    /// TreeSHAP contributions per feature plus the bias.
    Contributions,
}

/// The file's column for each of the model's features, in the model's order. Named features are
/// taken by name (any order; other columns are not read); a model with
/// LightGBM's automatic names (`Column_0`, ...) takes the columns by position. A first line
/// that is all numbers is a missing header, not a row to drop.
pub fn feature_columns(
    file: &str,
    headers: &[String],
    ignore: &[String],
    features: &[String],
) -> Result<Vec<usize>> {
    if !headers.is_empty() && headers.iter().all(|h| h.trim().parse::<f64>().is_ok()) {
        bail!(
            "{file}: line 1 is data, not a header; add a first line naming the model's features: {}",
            features.join(",")
        );
    }
    let kept: Vec<(usize, &str)> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| !ignore.contains(h))
        .map(|(i, h)| (i, h.as_str()))
        .collect();
    let automatic = features
        .iter()
        .enumerate()
        .all(|(i, f)| *f == format!("Column_{i}"));
    if automatic {
        if kept.len() != features.len() {
            bail!(
                "{file}: {} feature columns, the model expects {} (taken by position)",
                kept.len(),
                features.len()
            );
        }
        return Ok(kept.iter().map(|(i, _)| *i).collect());
    }
    let missing: Vec<&str> = features
        .iter()
        .filter(|f| !kept.iter().any(|(_, h)| h == f))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        bail!(
            "{file}: missing the model's feature column(s) {} (the model expects {})",
            missing.join(", "),
            features.join(", ")
        );
    }
    // Columns that are not the model's features (a date, a label, ids) are left alone.
    let named: Vec<&str> = kept
        .iter()
        .map(|(_, h)| *h)
        .filter(|h| features.iter().any(|f| f == h))
        .collect();
    if named.len() != features.len() {
        bail!("{file}: a feature column appears twice");
    }
    Ok(features
        .iter()
        .filter_map(|f| kept.iter().find(|(_, h)| h == f).map(|(i, _)| *i))
        .collect())
}

/// Scores every row of `data` (a CSV of the model's features; `ignore` names columns to skip)
/// with the model file `model` and writes the result as CSV to `out`.
pub fn predict_file(
    model: &Path,
    data: &Path,
    kind: PredictKind,
    ignore: &[String],
    out: &Path,
) -> Result<()> {
    let (raw, contrib) = (kind == PredictKind::Raw, kind == PredictKind::Contributions);
    let text =
        std::fs::read_to_string(model).with_context(|| format!("reading {}", model.display()))?;
    let m = GbdtModel::parse(&text).with_context(|| model.display().to_string())?;
    let file = data.display().to_string();
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(data)
        .with_context(|| format!("reading {file}"))?;
    let headers: Vec<String> = rdr.headers()?.iter().map(String::from).collect();
    let keep = feature_columns(&file, &headers, ignore, &m.feature_names)?;
    let k = m.num_outputs();
    let f = m.num_features();
    let names: Vec<String> = if contrib {
        (0..k)
            .flat_map(|o| {
                let fnames: Vec<String> = keep
                    .iter()
                    .filter_map(|&i| headers.get(i).cloned())
                    .chain(["bias".to_string()])
                    .collect();
                fnames
                    .into_iter()
                    .map(move |n| if k > 1 { format!("class{o}_{n}") } else { n })
            })
            .collect()
    } else if k > 1 {
        (0..k).map(|o| format!("class{o}")).collect()
    } else {
        vec!["pred".into()]
    };
    let mut x: Vec<f64> = Vec::new();
    let mut n = 0usize;
    for rec in rdr.records() {
        let rec = rec.with_context(|| file.clone())?;
        let line = rec.position().map_or(0, |p| p.line());
        for &i in &keep {
            let name = headers.get(i).map_or("", String::as_str);
            x.push(cell(rec.get(i).unwrap_or_default(), &file, line, name)?);
        }
        n += 1;
    }
    let width = if contrib { k * (f + 1) } else { k };
    let values: Vec<f64> = if contrib {
        let mut all = Vec::with_capacity(n * width);
        for row in x.chunks(f) {
            all.extend(m.contributions(row)?);
        }
        all
    } else if raw {
        m.compile().predict_raw_batch(&x, n)
    } else {
        m.predict_batch(&x, n)
    };
    // Written whole (temporary name, then renamed): a failure leaves no partial file.
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&names)?;
    for row in values.chunks(width) {
        w.write_record(row.iter().map(|v| format!("{v:?}")))?;
    }
    crate::rundir::write_atomic(out, &w.into_inner()?)
}
