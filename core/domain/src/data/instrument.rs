use chrono::NaiveDate;
use serde::Serialize;

/// A named numeric column beyond the standard OHLCV set (user features).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    pub name: String,
    pub values: Vec<f64>,
}

/// Daily bars of one instrument, dates strictly increasing. A close-only panel column yields an
/// instrument with only `close`.
#[derive(Debug, Clone, PartialEq)]
pub struct Instrument {
    pub name: String,
    pub dates: Vec<NaiveDate>,
    pub open: Option<Vec<f64>>,
    pub high: Option<Vec<f64>>,
    pub low: Option<Vec<f64>>,
    pub close: Vec<f64>,
    pub volume: Option<Vec<f64>>,
    pub adj_close: Option<Vec<f64>>,
    pub extra: Vec<Column>,
}

impl Instrument {
    pub fn len(&self) -> usize {
        self.dates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }

    /// The bars on or after `start`.
    pub fn tail_from(&self, start: chrono::NaiveDate) -> Instrument {
        self.bars(self.dates.partition_point(|d| *d < start)..self.len())
    }

    /// The bars on or before `end`: the data as it stood on that date.
    pub fn through(&self, end: chrono::NaiveDate) -> Instrument {
        self.bars(0..self.dates.partition_point(|d| *d <= end))
    }

    /// The first `n` bars.
    pub fn head(&self, n: usize) -> Instrument {
        self.bars(0..n.min(self.len()))
    }

    /// The bars in `range` (within `0..len`), every column cut alike.
    fn bars(&self, range: std::ops::Range<usize>) -> Instrument {
        let cut = |v: &[f64]| v[range.clone()].to_vec();
        Instrument {
            name: self.name.clone(),
            dates: self.dates[range.clone()].to_vec(),
            open: self.open.as_deref().map(cut),
            high: self.high.as_deref().map(cut),
            low: self.low.as_deref().map(cut),
            close: cut(&self.close),
            volume: self.volume.as_deref().map(cut),
            adj_close: self.adj_close.as_deref().map(cut),
            extra: self
                .extra
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    values: cut(&c.values),
                })
                .collect(),
        }
    }

    /// The price returns are computed from: `adj_close` when present, else `close`.
    pub fn price(&self) -> &[f64] {
        self.adj_close.as_deref().unwrap_or(&self.close)
    }

    /// Simple one-period returns of [`Self::price`]; `NaN` on the first row.
    pub fn returns(&self) -> Vec<f64> {
        let p = self.price();
        let mut r = vec![f64::NAN; p.len()];
        for t in 1..p.len() {
            r[t] = p[t] / p[t - 1] - 1.0;
        }
        r
    }

    /// A raw OHLC column put on the adjusted scale (`x * adj_close / close`), so that splits and
    /// dividends do not show up as price gaps in range-based indicators such as ATR.
    pub fn adjusted(&self, raw: &[f64]) -> Vec<f64> {
        match &self.adj_close {
            Some(adj) => raw
                .iter()
                .zip(adj.iter().zip(&self.close))
                .map(|(x, (a, c))| x * a / c)
                .collect(),
            None => raw.to_vec(),
        }
    }

    /// A user column by name.
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        self.extra
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.values.as_slice())
    }
}
