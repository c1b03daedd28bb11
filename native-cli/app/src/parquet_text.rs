//! Parquet data files (native only), read as the CSV text the data parsers take, so a Parquet file
//! follows every rule a CSV one does (header spellings, long files, errors naming the row). Flat
//! schemas: numbers (integers and floats), strings (a long file's ticker), booleans, dates and
//! timestamps (their UTC day). The text is what the run's manifest hashes and what its report
//! embeds.

use std::path::Path;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

use crate::bail;
use crate::error::{Context, Result};

/// The most text a Parquet file may expand to (a few hundred MB of compressed columns, or a
/// crafted file that decompresses without end, stops here).
pub const MAX_TEXT_BYTES: usize = 1 << 30;

/// A data file's text: a CSV as it is, a Parquet file as CSV text.
pub fn read_data(path: &Path) -> Result<String> {
    if is_parquet(path) {
        return to_csv_text(path);
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Whether `path` names a Parquet file (`.parquet` or `.pq`).
pub fn is_parquet(path: &Path) -> bool {
    path.extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("parquet") || x.eq_ignore_ascii_case("pq"))
}

/// The file as CSV text: a header of its columns, then one line per row.
pub fn to_csv_text(path: &Path) -> Result<String> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).with_context(|| format!("reading {shown}"))?;
    let reader = SerializedFileReader::new(file).map_err(|e| {
        crate::Error::Input(format!("{shown}: not a Parquet file Strider reads: {e}"))
    })?;
    let schema = reader.metadata().file_metadata().schema_descr();
    let names: Vec<String> = schema
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    if schema.root_schema().get_fields().len() != names.len() {
        bail!("{shown}: nested columns are not supported; flatten the file first");
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&names)?;
    let rows = reader
        .get_row_iter(None)
        .map_err(|e| crate::Error::Input(format!("{shown}: {e}")))?;
    for (k, row) in rows.enumerate() {
        let row = row.map_err(|e| crate::Error::Input(format!("{shown}: row {}: {e}", k + 1)))?;
        let cells = row
            .get_column_iter()
            .map(|(name, f)| {
                cell(f).with_context(|| format!("{shown}: row {}, column `{name}`", k + 1))
            })
            .collect::<Result<Vec<String>>>()?;
        w.write_record(&cells)?;
        if w.get_ref().len() > MAX_TEXT_BYTES {
            bail!("{shown}: more than {MAX_TEXT_BYTES} bytes of data (MAX_TEXT_BYTES)");
        }
    }
    let bytes = w
        .into_inner()
        .map_err(|e| crate::Error::Input(e.to_string()))?;
    String::from_utf8(bytes)
        .map_err(|_| crate::Error::Input(format!("{shown}: text that is not UTF-8")))
}

/// One value as the CSV parsers read it.
fn cell(f: &Field) -> Result<String> {
    let day = |d: chrono::DateTime<chrono::Utc>| d.date_naive().format("%Y-%m-%d").to_string();
    Ok(match f {
        Field::Null => String::new(),
        Field::Bool(b) => u8::from(*b).to_string(),
        Field::Byte(v) => v.to_string(),
        Field::Short(v) => v.to_string(),
        Field::Int(v) => v.to_string(),
        Field::Long(v) => v.to_string(),
        Field::UByte(v) => v.to_string(),
        Field::UShort(v) => v.to_string(),
        Field::UInt(v) => v.to_string(),
        Field::ULong(v) => v.to_string(),
        Field::Float16(v) => f64::from(*v).to_string(),
        Field::Float(v) => f64::from(*v).to_string(),
        Field::Double(v) => v.to_string(),
        Field::Str(s) => s.clone(),
        Field::Date(days) => {
            let d = chrono::DateTime::from_timestamp(i64::from(*days) * 86_400, 0);
            d.map(day).context("a date out of range")?
        }
        Field::TimestampMillis(ms) => {
            let d = chrono::DateTime::from_timestamp_millis(*ms);
            d.map(day).context("a timestamp out of range")?
        }
        Field::TimestampMicros(us) => {
            let d = chrono::DateTime::from_timestamp_micros(*us);
            d.map(day).context("a timestamp out of range")?
        }
        other => bail!("values like {other} are not supported (numbers, text, dates)"),
    })
}
