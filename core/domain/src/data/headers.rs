//! The column names bar files use, mapped to the ones Strider reads: `Date`, `Timestamp`,
//! `Adj Close`, `Adj. Close`, `adjclose`, `Open Price`, `Vol`, `Ticker`, `Symbol`, ... Matching
//! ignores case, spaces, dots, dashes and underscores.

/// What a header means, when it is one Strider reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Date,
    Open,
    High,
    Low,
    Close,
    Volume,
    AdjClose,
    /// The instrument of a long ("tidy") file: one row per date and instrument.
    Instrument,
}

impl Field {
    /// The canonical name (what errors and the docs say).
    pub fn name(self) -> &'static str {
        match self {
            Field::Date => "date",
            Field::Open => "open",
            Field::High => "high",
            Field::Low => "low",
            Field::Close => "close",
            Field::Volume => "volume",
            Field::AdjClose => "adj_close",
            Field::Instrument => "ticker",
        }
    }
}

/// Spellings per field, after [`squash`].
const SPELLINGS: [(Field, &[&str]); 8] = [
    (
        Field::Date,
        &[
            "date",
            "datetime",
            "timestamp",
            "time",
            "day",
            "tradedate",
            "dt",
        ],
    ),
    (Field::Open, &["open", "openprice", "o"]),
    (Field::High, &["high", "highprice", "h"]),
    (Field::Low, &["low", "lowprice", "l"]),
    (Field::Close, &["close", "closeprice", "c"]),
    (Field::Volume, &["volume", "vol", "v"]),
    (
        Field::AdjClose,
        &[
            "adjclose",
            "adjustedclose",
            "adjcloseprice",
            "adjustedcloseprice",
            "closeadj",
            "closeadjusted",
        ],
    ),
    (
        Field::Instrument,
        &[
            "ticker",
            "symbol",
            "instrument",
            "asset",
            "security",
            "permno",
        ],
    ),
];

/// Lower case without spaces, dots, dashes and underscores (`Adj. Close` -> `adjclose`).
fn squash(header: &str) -> String {
    header
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The field `header` names, if any.
pub fn field(header: &str) -> Option<Field> {
    let s = squash(header);
    SPELLINGS
        .iter()
        .find(|(_, names)| names.contains(&s.as_str()))
        .map(|(f, _)| *f)
}

/// Short spellings (`o`, `c`, `dt`, `day`, `time`, ...) name their field only where the file has
/// no longer spelling of it: otherwise they are ordinary extra columns.
pub fn is_short(header: &str) -> bool {
    ["o", "h", "l", "c", "v", "dt", "day", "time"].contains(&squash(header).as_str())
}

/// Whether an unrecognised header reads like a price's name, word by word (`Last`,
/// `Close (USD)`, `PX_LAST`, `Adjusted Px`, `VWAP`): such a column is kept as an extra column,
/// with a warning. Words that make it something else (`Open Interest`, `adj_factor`) keep it
/// quiet.
pub fn sounds_like_price(header: &str) -> bool {
    let words: Vec<String> = header
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let priced = [
        "close", "price", "adj", "adjusted", "last", "px", "vwap", "open", "high", "low",
    ];
    let other = [
        "interest", "factor", "ratio", "count", "flow", "volume", "return",
    ];
    words.iter().any(|w| priced.contains(&w.as_str()))
        && !words.iter().any(|w| other.contains(&w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_spellings_map_to_their_field() {
        for (h, f) in [
            ("Date", Field::Date),
            ("Timestamp", Field::Date),
            ("Adj Close", Field::AdjClose),
            ("Adj. Close", Field::AdjClose),
            ("adjclose", Field::AdjClose),
            ("adj_close", Field::AdjClose),
            ("Adjusted Close", Field::AdjClose),
            ("Open Price", Field::Open),
            ("VOLUME", Field::Volume),
            ("Ticker", Field::Instrument),
            ("symbol", Field::Instrument),
        ] {
            assert_eq!(field(h), Some(f), "{h}");
        }
        assert_eq!(field("signal"), None);
        assert_eq!(field("close_raw"), None);
        assert!(sounds_like_price("Close (USD)") && sounds_like_price("PX_LAST"));
        assert!(sounds_like_price("close_raw") && sounds_like_price("Adjusted_Px"));
        for quiet in [
            "signal",
            "Open Interest",
            "adj_factor",
            "cash_flow",
            "lowess",
        ] {
            assert!(!sounds_like_price(quiet), "{quiet}");
        }
        assert!(is_short("Day") && is_short("o") && !is_short("Date"));
    }
}
