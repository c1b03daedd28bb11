//! Strider's domain: market data, causal features and forward labels, leak-free splitters,
//! models (ridge, logistic, gradient-boosted trees, LSTMs), the costed backtest, metrics and
//! overfitting statistics, the walk-forward [`pipeline`], the what-if engine and the report's
//! payload. It re-exports the tree engine it uses as [`gbdt`].
//!
//! Architecture invariant: this crate does no I/O (no files, no network, no clock, no required
//! threads: the `parallel` feature only spreads independent work over rayon natively).
//! Everything it needs arrives as values (CSV text, config text, a seed) so the very same code
//! runs natively in the CLI and inside wasm32 in the browser, with the same bits.
//!
//! Validate a config walk-forward on data held in memory:
//!
//! ```
//! use strider_core::config::Config;
//!
//! // Two years of a made-up daily series (any CSV text with date, OHLC and volume will do).
//! let mut csv = String::from("date,open,high,low,close,volume\n");
//! let mut price = 100.0_f64;
//! let mut day = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
//! for i in 0..500 {
//!     price *= 1.0 + 0.01 * ((i as f64) * 0.7).sin();
//!     csv += &format!("{day},{price},{},{},{price},1000\n", price * 1.01, price * 0.99);
//!     day = day.succ_opt().unwrap();
//! }
//! let config = Config::from_toml(r#"
//!     [data]
//!     files = ["made-up.csv"]
//!     [[features]]
//!     kind = "returns"
//!     periods = [1, 5]
//!     [split]
//!     scheme = "walk-forward"
//!     train_size = 200
//!     test_size = 50
//!     [[models]]
//!     kind = "ridge"
//! "#)?;
//! let instruments = strider_core::data::load(&config.data, &mut |_path| Ok(csv.clone()))?;
//! let out = strider_core::pipeline::run(&config, &instruments, 42, &mut |_event| {})?;
//! assert_eq!(out.summary.models.len(), 1);
//! assert!(out.summary.split.n_splits >= 5);
//! assert!(out.models[0].predictions.iter().all(|p| p.prediction.is_finite()));
//! # Ok::<(), strider_core::Error>(())
//! ```
// No panics by construction in library code (tests may unwrap): see docs/configuration.md, "Limits and hostile input".
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod backtest;
pub mod bundle;
pub mod config;
mod config_error;
pub mod data;
pub mod dataset;
pub mod error;
pub mod evaluation;
pub mod features;
pub mod labels;
pub mod metrics;
pub mod metrics_report;
pub mod model;
pub mod names;
pub mod pipeline;
pub mod ranges;
pub mod report;
pub mod retrain;
pub mod robustness;
pub mod selection;
pub mod splits;
pub mod stats;
pub mod whatif;

pub use error::{Error, Result};
/// Seed derivation shared by every crate.
pub use strider_base::seed;
/// The drift detectors (KS, PSI, ADWIN, Page-Hinkley) the retraining triggers use.
pub use strider_drift as drift;
/// The tree engine this domain trains and evaluates (`model.txt`, the trainer, TreeSHAP).
pub use strider_gbdt as gbdt;

/// Version of the core, recorded in every run manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
