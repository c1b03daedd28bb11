//! Declarative, causal features. A feature at row `t` of an instrument reads bars `<= t` only (a
//! property test in `tests/no_lookahead.rs` changes future bars and checks nothing earlier moves).

mod indicators;

pub use indicators::*;

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use crate::data::Instrument;
use crate::{Error, Result};

/// The longest window, period or lag a feature may have (about 400 years of daily bars): keeps
/// index arithmetic far from overflow whatever a config or a bundle says.
pub const MAX_FEATURE_WINDOW: usize = 100_000;

/// What a rolling statistic is taken of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// One-bar simple return of the (adjusted) price.
    #[default]
    Return,
    /// The (adjusted) price itself.
    Price,
    /// Traded volume.
    Volume,
}

/// One entry of `[[features]]`. Each may produce several columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FeatureSpec {
    /// k-bar simple returns `p[t]/p[t-k]-1`, one column per k.
    Returns { periods: Vec<usize> },
    /// The one-bar return lagged by each of `lags` bars (`r[t-l]`).
    LaggedReturns { lags: Vec<usize> },
    RollingMean {
        window: usize,
        #[serde(default)]
        of: Source,
    },
    RollingStd {
        window: usize,
        #[serde(default)]
        of: Source,
    },
    Zscore {
        window: usize,
        #[serde(default)]
        of: Source,
    },
    /// Wilder's RSI, 0..100.
    Rsi {
        #[serde(default = "d14")]
        window: usize,
    },
    /// MACD line, signal and histogram, each divided by the price (scale-free across tickers).
    Macd {
        #[serde(default = "d12")]
        fast: usize,
        #[serde(default = "d26")]
        slow: usize,
        #[serde(default = "d9")]
        signal: usize,
    },
    /// Wilder's ATR on adjusted OHLC, divided by the adjusted close.
    Atr {
        #[serde(default = "d14")]
        window: usize,
    },
    /// Rolling z-score of volume.
    VolumeZscore {
        #[serde(default = "d20")]
        window: usize,
    },
    /// Day of week: `dow` 0 = Monday .. 6 = Sunday, or one-hot `dow_mon..dow_sun`.
    DayOfWeek {
        #[serde(default)]
        onehot: bool,
    },
    /// A numeric column of the input file, used as is (optionally lagged).
    Column {
        name: String,
        #[serde(default)]
        lag: usize,
    },
}

fn d9() -> usize {
    9
}
fn d12() -> usize {
    12
}
fn d14() -> usize {
    14
}
fn d20() -> usize {
    20
}
fn d26() -> usize {
    26
}

/// Columns computed for one instrument: names and values aligned to the instrument's rows.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureColumns {
    pub names: Vec<String>,
    pub columns: Vec<Vec<f64>>,
}

fn source_tag(s: &Source) -> &'static str {
    match s {
        Source::Return => "ret",
        Source::Price => "price",
        Source::Volume => "volume",
    }
}

const DOW: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl FeatureSpec {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::config("features", m));
        if self.lengths().iter().any(|&n| n > MAX_FEATURE_WINDOW) {
            return bad("windows, periods and lags must be <= 100000 bars (MAX_FEATURE_WINDOW)");
        }
        match self {
            Self::Returns { periods } if periods.is_empty() || periods.contains(&0) => {
                bad("returns.periods must be non-empty and >= 1")
            }
            Self::LaggedReturns { lags } if lags.is_empty() => {
                bad("lagged_returns.lags must be non-empty")
            }
            Self::RollingMean { window, .. } | Self::Rsi { window } | Self::Atr { window }
                if *window < 1 =>
            {
                bad("window must be >= 1")
            }
            Self::RollingStd { window, .. }
            | Self::Zscore { window, .. }
            | Self::VolumeZscore { window }
                if *window < 2 =>
            {
                bad("a standard deviation needs window >= 2")
            }
            Self::Macd { fast, slow, signal } if *fast == 0 || *signal == 0 || fast >= slow => {
                bad("macd needs 0 < fast < slow and signal >= 1")
            }
            _ => Ok(()),
        }
    }

    /// Every window, period and lag of the feature, in bars.
    fn lengths(&self) -> Vec<usize> {
        match self {
            Self::Returns { periods } => periods.clone(),
            Self::LaggedReturns { lags } => lags.clone(),
            Self::RollingMean { window, .. }
            | Self::RollingStd { window, .. }
            | Self::Zscore { window, .. }
            | Self::Rsi { window }
            | Self::Atr { window }
            | Self::VolumeZscore { window } => vec![*window],
            Self::Macd { fast, slow, signal } => vec![*fast, *slow, *signal],
            Self::Column { lag, .. } => vec![*lag],
            Self::DayOfWeek { .. } => Vec::new(),
        }
    }

    /// The input columns this feature reads besides the date and the price (`close`, or
    /// `adj_close` where the data has it).
    pub fn inputs(&self) -> Vec<String> {
        let of = |s: &Source| match s {
            Source::Volume => vec!["volume".to_string()],
            Source::Return | Source::Price => Vec::new(),
        };
        match self {
            Self::RollingMean { of: s, .. }
            | Self::RollingStd { of: s, .. }
            | Self::Zscore { of: s, .. } => of(s),
            Self::Atr { .. } => vec!["high".into(), "low".into()],
            Self::VolumeZscore { .. } => vec!["volume".into()],
            Self::Column { name, .. } => vec![name.clone()],
            Self::Returns { .. }
            | Self::LaggedReturns { .. }
            | Self::Rsi { .. }
            | Self::Macd { .. }
            | Self::DayOfWeek { .. } => Vec::new(),
        }
    }

    /// Compute this feature's columns for one instrument.
    pub fn compute(&self, inst: &Instrument) -> Result<FeatureColumns> {
        let err = |message: String| Error::Feature {
            feature: self.label(),
            instrument: inst.name.clone(),
            message,
        };
        let price = inst.price();
        let source = |s: &Source| -> Result<Vec<f64>> {
            Ok(match s {
                Source::Return => inst.returns(),
                Source::Price => price.to_vec(),
                Source::Volume => inst
                    .volume
                    .clone()
                    .ok_or_else(|| err("needs a volume column".into()))?,
            })
        };
        let one = |name: String, col: Vec<f64>| FeatureColumns {
            names: vec![name],
            columns: vec![col],
        };
        Ok(match self {
            Self::Returns { periods } => FeatureColumns {
                names: periods.iter().map(|k| format!("ret_{k}")).collect(),
                columns: periods.iter().map(|&k| pct_change(price, k)).collect(),
            },
            Self::LaggedReturns { lags } => {
                let r = inst.returns();
                FeatureColumns {
                    names: lags.iter().map(|l| format!("ret_1_lag_{l}")).collect(),
                    columns: lags.iter().map(|&l| lag(&r, l)).collect(),
                }
            }
            Self::RollingMean { window, of } => one(
                format!("mean_{}_{window}", source_tag(of)),
                rolling_mean(&source(of)?, *window),
            ),
            Self::RollingStd { window, of } => one(
                format!("std_{}_{window}", source_tag(of)),
                rolling_std(&source(of)?, *window),
            ),
            Self::Zscore { window, of } => one(
                format!("z_{}_{window}", source_tag(of)),
                rolling_zscore(&source(of)?, *window),
            ),
            Self::Rsi { window } => one(format!("rsi_{window}"), rsi(price, *window)),
            Self::Macd { fast, slow, signal } => {
                let f = ema(price, *fast);
                let s = ema(price, *slow);
                let line: Vec<f64> = f.iter().zip(&s).map(|(a, b)| a - b).collect();
                let sig = ema(&line, *signal);
                // EMAs start at the first bar but need ~slow + signal bars to forget their seed:
                // blank that warm-up explicitly so it is dropped, not trained on.
                let warm = slow + signal - 1;
                let scaled = |v: &[f64]| -> Vec<f64> {
                    v.iter()
                        .zip(price)
                        .enumerate()
                        .map(|(t, (x, p))| if t < warm { f64::NAN } else { x / p })
                        .collect()
                };
                let hist: Vec<f64> = line.iter().zip(&sig).map(|(a, b)| a - b).collect();
                FeatureColumns {
                    names: vec![
                        format!("macd_{fast}_{slow}"),
                        format!("macd_signal_{fast}_{slow}_{signal}"),
                        format!("macd_hist_{fast}_{slow}_{signal}"),
                    ],
                    columns: vec![scaled(&line), scaled(&sig), scaled(&hist)],
                }
            }
            Self::Atr { window } => {
                let (Some(h), Some(l)) = (&inst.high, &inst.low) else {
                    return Err(err("needs high and low columns".into()));
                };
                let close = inst.adjusted(&inst.close);
                let a = atr(&inst.adjusted(h), &inst.adjusted(l), &close, *window);
                one(
                    format!("atr_{window}"),
                    a.iter().zip(&close).map(|(a, c)| a / c).collect(),
                )
            }
            Self::VolumeZscore { window } => one(
                format!("volume_z_{window}"),
                rolling_zscore(&source(&Source::Volume)?, *window),
            ),
            Self::DayOfWeek { onehot: false } => one(
                "dow".into(),
                inst.dates
                    .iter()
                    .map(|d| f64::from(d.weekday().num_days_from_monday()))
                    .collect(),
            ),
            Self::DayOfWeek { onehot: true } => FeatureColumns {
                // Always seven columns, so the shape never depends on which dates the data holds.
                names: DOW.iter().map(|d| format!("dow_{d}")).collect(),
                columns: (0..7u32)
                    .map(|k| {
                        inst.dates
                            .iter()
                            .map(|d| f64::from(u8::from(d.weekday().num_days_from_monday() == k)))
                            .collect()
                    })
                    .collect(),
            },
            Self::Column { name, lag: l } => {
                let col = inst
                    .column(name)
                    .ok_or_else(|| err(format!("no column `{name}` in the data")))?;
                let label = if *l == 0 {
                    name.clone()
                } else {
                    format!("{name}_lag_{l}")
                };
                one(label, lag(col, *l))
            }
        })
    }

    /// A short description used in error messages.
    pub fn label(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// All configured features of one instrument, in config order.
pub fn compute_all(specs: &[FeatureSpec], inst: &Instrument) -> Result<FeatureColumns> {
    let mut out = FeatureColumns {
        names: Vec::new(),
        columns: Vec::new(),
    };
    for spec in specs {
        let f = spec.compute(inst)?;
        out.names.extend(f.names);
        out.columns.extend(f.columns);
    }
    Ok(out)
}
