//! Strider's platform-agnostic core.
//!
//! Architecture invariant: this crate does no I/O (no files, no network, no threads, no clock).
//! Everything it needs arrives as values (CSV text, config text, a seed) so the very same code runs
//! natively in the CLI and inside wasm32 in the browser.

pub mod backtest;
pub mod config;
pub mod data;
pub mod dataset;
pub mod error;
pub mod evaluation;
pub mod features;
pub mod labels;
pub mod metrics;
pub mod metrics_report;
pub mod model;
pub mod pipeline;
pub mod ranges;
pub mod report;
pub mod splits;
pub mod stats;
pub mod whatif;

pub use error::{Error, Result};
/// Seed derivation shared by every crate.
pub use strider_base::seed;
/// The tree engine this domain trains and evaluates (`model.txt`, the trainer, TreeSHAP).
pub use strider_gbdt as gbdt;

/// Version of the core, recorded in every run manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
