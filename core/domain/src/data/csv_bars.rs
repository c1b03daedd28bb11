//! Bar files: `date,open,high,low,close,volume[,adj_close][,extra numeric columns]`, one
//! instrument a file, or several in a long ("tidy") file with an instrument column
//! (`date,ticker,open,...`: one row per date and instrument, in any order of instruments).
//! Headers are matched by meaning (`Date`, `Adj Close`, `Timestamp`, `Symbol`: see
//! [`super::headers`]). Rules: prices must be positive, volume not negative, `high` not below
//! `low` (errors naming the row); an `open` or `close` outside `[low, high]` is kept with a
//! warning, as is an unrecognised column that looks like a price.

#![deny(clippy::indexing_slicing)] // parses untrusted text: no index may panic

use std::collections::BTreeMap;

use csv::StringRecord;

use super::csv_common::{Table, cell_err, check_order, parse_date, parse_finite, read_table};
use super::headers::{Field, field, is_short, sounds_like_price};
use super::{Column, Instrument};
use crate::{Error, Result};

const REQUIRED: [Field; 6] = [
    Field::Date,
    Field::Open,
    Field::High,
    Field::Low,
    Field::Close,
    Field::Volume,
];

/// A parsed bar file: its instruments (sorted by name in a long file) and what looked wrong
/// without being an error.
#[derive(Debug, Clone, PartialEq)]
pub struct BarFile {
    pub instruments: Vec<Instrument>,
    pub warnings: Vec<String>,
}

/// Where each field is in the header.
struct Columns {
    date: usize,
    ohlcv: [usize; 5],
    adj: Option<usize>,
    instrument: Option<usize>,
    extra: Vec<usize>,
}

/// Where each field is: full spellings first, then short ones (`o`, `dt`, `day`) for the fields
/// still missing; an instrument column only when its first value is not a number.
fn columns(file: &str, table: &Table) -> Result<Columns> {
    let headers = &table.headers;
    let file_err = |message: String| Error::DataFile {
        file: file.to_string(),
        message,
    };
    let first_row = table.rows.first().map(|(_, r)| r);
    let numeric = |i: usize| {
        first_row
            .and_then(|r| r.get(i))
            .is_some_and(|v| v.parse::<f64>().is_ok())
    };
    let mut found: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut extra = Vec::new();
    let strong = headers.iter().enumerate().filter(|(_, h)| !is_short(h));
    let short = headers.iter().enumerate().filter(|(_, h)| is_short(h));
    for (i, h) in strong.chain(short) {
        let f = field(h).filter(|f| *f != Field::Instrument || !numeric(i));
        let f = f.filter(|f| !(is_short(h) && found.contains_key(f.name())));
        match f {
            Some(f) => {
                if let Some(&j) = found.get(f.name()) {
                    let first = headers.get(j).map_or("", String::as_str);
                    return Err(file_err(format!(
                        "columns `{first}` and `{h}` both mean `{}`",
                        f.name()
                    )));
                }
                found.insert(f.name(), i);
            }
            None => extra.push(i),
        }
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .map(|f| f.name())
        .filter(|n| !found.contains_key(n))
        .collect();
    if !missing.is_empty() {
        return Err(file_err(format!(
            "missing column(s) {}; expected date,open,high,low,close,volume[,adj_close][,extra] \
             (or a long file with a ticker column); the header has {}",
            missing.join(", "),
            headers.join(",")
        )));
    }
    let at = |f: Field| found.get(f.name()).copied().unwrap_or(0);
    extra.sort_unstable();
    Ok(Columns {
        date: at(Field::Date),
        ohlcv: [
            Field::Open,
            Field::High,
            Field::Low,
            Field::Close,
            Field::Volume,
        ]
        .map(at),
        adj: found.get(Field::AdjClose.name()).copied(),
        instrument: found.get(Field::Instrument.name()).copied(),
        extra,
    })
}

/// Parse one bar file. A file without an instrument column is one instrument named `name`.
pub fn parse_bar_file(name: &str, file: &str, text: &str) -> Result<BarFile> {
    let table = read_table(file, text)?;
    let cols = columns(file, &table)?;
    let groups: Vec<(String, Vec<&(u64, StringRecord)>)> = match cols.instrument {
        None => vec![(name.to_string(), table.rows.iter().collect())],
        Some(k) => {
            let mut by: BTreeMap<String, Vec<&(u64, StringRecord)>> = BTreeMap::new();
            for row in &table.rows {
                let id = row.1.get(k).unwrap_or_default();
                if id.is_empty() {
                    return Err(cell_err(
                        file,
                        row.0,
                        table.header(k),
                        "empty instrument".into(),
                    ));
                }
                by.entry(id.to_string()).or_default().push(row);
            }
            by.into_iter().collect()
        }
    };
    let mut out = BarFile {
        instruments: Vec::with_capacity(groups.len()),
        warnings: Vec::new(),
    };
    let mut outside: Vec<(String, usize, String)> = Vec::new();
    let mut columns_said = std::collections::HashSet::new();
    for (id, rows) in groups {
        let inst = build(&id, file, &table, &cols, &rows)?;
        if let Some(o) = outside_range(&inst) {
            outside.push(o);
        }
        // A long file's column warnings are the same for every instrument: said once.
        for w in price_like_columns(file, &inst) {
            if columns_said.insert(w.clone()) {
                out.warnings.push(w);
            }
        }
        out.instruments.push(inst);
    }
    out.warnings.extend(outside_warnings(file, &outside));
    Ok(out)
}

/// Parse one instrument's daily bars. `file` is used only in error messages.
pub fn parse_bars(name: &str, file: &str, text: &str) -> Result<Instrument> {
    let mut parsed = parse_bar_file(name, file, text)?;
    if parsed.instruments.len() != 1 {
        return Err(Error::DataFile {
            file: file.to_string(),
            message: format!(
                "holds {} instruments (a long file); one was expected here",
                parsed.instruments.len()
            ),
        });
    }
    Ok(parsed.instruments.remove(0))
}

/// One instrument from its rows.
fn build(
    name: &str,
    file: &str,
    table: &Table,
    cols: &Columns,
    rows: &[&(u64, StringRecord)],
) -> Result<Instrument> {
    let [i_open, i_high, i_low, i_close, i_vol] = cols.ohlcv;
    let numeric: Vec<usize> = cols
        .ohlcv
        .iter()
        .copied()
        .chain(cols.adj)
        .chain(cols.extra.iter().copied())
        .collect();
    let mut dates = Vec::with_capacity(rows.len());
    let mut values: BTreeMap<usize, Vec<f64>> = numeric
        .iter()
        .map(|&i| (i, Vec::with_capacity(rows.len())))
        .collect();
    let mut prev = None;
    for (line, rec) in rows.iter().map(|r| (r.0, &r.1)) {
        let date = parse_date(
            file,
            line,
            table.header(cols.date),
            rec.get(cols.date).unwrap_or_default(),
        )?;
        check_order(file, line, table.header(cols.date), prev, date)?;
        prev = Some(date);
        dates.push(date);
        for &i in &numeric {
            let header = table.header(i);
            let cell = rec.get(i).unwrap_or_default();
            let v =
                parse_finite(file, line, header, cell).map_err(|e| text_column_hint(e, cols, i))?;
            let positive_price =
                [i_open, i_high, i_low, i_close].contains(&i) || Some(i) == cols.adj;
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
            values.entry(i).or_default().push(v);
        }
        let high = values
            .get(&i_high)
            .and_then(|v| v.last())
            .copied()
            .unwrap_or(0.0);
        let low = values
            .get(&i_low)
            .and_then(|v| v.last())
            .copied()
            .unwrap_or(0.0);
        if high < low {
            return Err(cell_err(
                file,
                line,
                table.header(i_low),
                format!("low {low} is above high {high}"),
            ));
        }
    }
    let mut take = |i: usize| values.remove(&i).unwrap_or_default();
    Ok(Instrument {
        name: name.to_string(),
        dates,
        open: Some(take(i_open)),
        high: Some(take(i_high)),
        low: Some(take(i_low)),
        close: take(i_close),
        volume: Some(take(i_vol)),
        adj_close: cols.adj.map(&mut take),
        extra: cols
            .extra
            .iter()
            .map(|&i| Column {
                name: table.header(i).to_string(),
                values: take(i),
            })
            .collect(),
    })
}

/// A text cell in a column that is not the instrument's: say how a long file names it.
fn text_column_hint(e: Error, cols: &Columns, i: usize) -> Error {
    match e {
        Error::DataCell {
            file,
            line,
            column,
            message,
        } if cols.instrument.is_none()
            && cols.extra.contains(&i)
            && message.ends_with("is not a number") =>
        {
            Error::DataCell {
                file,
                line,
                column,
                message: format!(
                    "{message} (if this column names the instrument of a long file, call it ticker, symbol or instrument)"
                ),
            }
        }
        other => other,
    }
}

/// What is kept but looks wrong: opens or closes outside the bar's range, and unrecognised
/// columns that look like prices (by name, or by staying within the bars' range).
/// (instrument, bars, first date) when some bar's open or close is outside its [low, high].
fn outside_range(inst: &Instrument) -> Option<(String, usize, String)> {
    let (Some(open), Some(high), Some(low)) = (&inst.open, &inst.high, &inst.low) else {
        return None;
    };
    let outside = |x: f64, t: usize| {
        let (h, l) = (
            high.get(t).copied().unwrap_or(x),
            low.get(t).copied().unwrap_or(x),
        );
        let tol = 1e-9 * h.abs().max(1.0);
        x > h + tol || x < l - tol
    };
    let bad: Vec<usize> = (0..inst.len())
        .filter(|&t| {
            outside(open.get(t).copied().unwrap_or(0.0), t)
                || outside(inst.close.get(t).copied().unwrap_or(0.0), t)
        })
        .collect();
    let first = inst.dates.get(*bad.first()?)?.to_string();
    Some((inst.name.clone(), bad.len(), first))
}

/// One line per instrument with bars outside their range, or one for the file past three.
fn outside_warnings(file: &str, outside: &[(String, usize, String)]) -> Vec<String> {
    let line = |(name, n, first): &(String, usize, String)| {
        format!(
            "{file}: {name}: {n} bar(s) have an open or close outside [low, high] (first on \
             {first}); kept as they are"
        )
    };
    match outside {
        [] => Vec::new(),
        few if few.len() <= 3 => few.iter().map(line).collect(),
        many => vec![format!(
            "{file}: {} instruments have bars with an open or close outside [low, high] (e.g. \
             {}); kept as they are",
            many.len(),
            many.first()
                .map(line)
                .unwrap_or_default()
                .trim_start_matches(&format!("{file}: "))
        )],
    }
}

/// Unrecognised columns that look like prices (by name, or by staying within the bars' range).
fn price_like_columns(file: &str, inst: &Instrument) -> Vec<String> {
    let mut out = Vec::new();
    let (Some(high), Some(low)) = (&inst.high, &inst.low) else {
        return out;
    };
    for column in &inst.extra {
        let within = column
            .values
            .iter()
            .enumerate()
            .filter(|(t, v)| {
                **v > 0.0
                    && **v >= 0.5 * low.get(*t).copied().unwrap_or(f64::INFINITY)
                    && **v <= 2.0 * high.get(*t).copied().unwrap_or(0.0)
            })
            .count();
        let looks_like = within * 20 >= column.values.len() * 19;
        if sounds_like_price(&column.name) || looks_like {
            out.push(format!(
                "{file}: column `{}` looks like a price but is not one Strider reads (it is kept as an extra column); if it is the split- and dividend-adjusted close, name it adj_close",
                column.name
            ));
        }
    }
    out
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
    fn a_yahoo_header_is_read_by_meaning_and_its_adjusted_close_prices_returns() {
        // A 2:1 split between the two days: the raw close halves, the adjusted one does not.
        let text = "Date,Open,High,Low,Close,Adj Close,Volume\n\
            2020-01-02,100,101,99,100,50,10\n\
            2020-01-03,51,52,50,51,51,20\n";
        let b = parse_bars("x", "x.csv", text).unwrap();
        assert_eq!(b.adj_close.as_deref(), Some(&[50.0, 51.0][..]));
        assert!(b.extra.is_empty());
        assert!((b.returns()[1] - 0.02).abs() < 1e-12);
        for h in ["Adj. Close", "adjclose", "Adjusted Close"] {
            let t = text.replace("Adj Close", h).replace("Date", "Timestamp");
            assert_eq!(parse_bars("x", "x.csv", &t).unwrap(), b, "{h}");
        }
    }

    #[test]
    fn a_long_file_holds_one_instrument_per_ticker() {
        let text = "date,ticker,open,high,low,close,volume\n\
            2020-01-02,BBB,10,11,9,10,1\n\
            2020-01-02,AAA,20,21,19,20,1\n\
            2020-01-03 00:00:00,AAA,20,22,19,21,1\n";
        let f = parse_bar_file("x", "x.csv", text).unwrap();
        let names: Vec<&str> = f.instruments.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["AAA", "BBB"]);
        assert_eq!(f.instruments[0].close, [20.0, 21.0]);
        assert!(
            parse_bars("x", "x.csv", text)
                .unwrap_err()
                .to_string()
                .contains("2 instruments")
        );
        let e = err(&text.replace("ticker", "name"));
        assert!(
            e.contains("`BBB` is not a number") && e.contains("call it ticker"),
            "{e}"
        );
    }

    #[test]
    fn short_names_and_numeric_asset_columns_stay_extra_columns() {
        let text = "date,day,open,high,low,close,volume,asset\n\
            2020-01-02T16:00:00Z,4,1,2,1,1.5,9,7\n\
            2020-01-03T16:00:00+01:00,5,1,2,1,1.5,9,8\n";
        let f = parse_bar_file("x", "x.csv", text).unwrap();
        assert_eq!(f.instruments.len(), 1);
        let extra: Vec<&str> = f.instruments[0]
            .extra
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(extra, ["day", "asset"]);
        for bad in [
            "2020-01-02 garbage",
            "2020-01-02T99:99",
            "2020-01-02 16:00+1",
        ] {
            let t = format!("date,open,high,low,close,volume\n{bad},1,2,1,1,1\n");
            assert!(err(&t).contains("not a date"), "{bad}");
        }
    }

    #[test]
    fn impossible_bars_are_errors_or_warnings_by_rule() {
        let e = err("date,open,high,low,close,volume\n2020-01-02,1,1,2,1,5\n");
        assert!(
            e.contains("line 2, column `low`") && e.contains("above high"),
            "{e}"
        );
        let f = parse_bar_file(
            "x",
            "x.csv",
            "date,open,high,low,close,volume,Close_raw\n2020-01-02,1,2,1,3,5,1.5\n",
        )
        .unwrap();
        assert_eq!(f.warnings.len(), 2, "{:?}", f.warnings);
        let said = |w: &str| f.warnings.iter().any(|x| x.contains(w));
        assert!(said("outside [low, high] (first on 2020-01-02)"));
        assert!(said("`Close_raw` looks like a price"));
        let e = err("date,open,high,low,close,close\n2020-01-02,1,1,1,1,5\n");
        assert!(e.contains("twice") || e.contains("both mean"), "{e}");
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
