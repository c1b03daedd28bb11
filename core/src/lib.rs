//! Strider's platform-agnostic core.
//!
//! Architecture invariant: this crate does no I/O (no files, no network, no threads, no clock).
//! Everything it needs arrives as values (CSV text, config text, a seed) so the very same code runs
//! natively in the CLI and inside wasm32 in the browser.

pub mod backtest;
pub mod config;
mod cpu;
pub mod data;
pub mod dataset;
pub mod error;
pub mod evaluation;
pub mod features;
pub mod gbdt;
pub mod labels;
pub mod metrics;
pub mod metrics_report;
pub mod model;
pub mod pipeline;
pub mod ranges;
pub mod report;
pub mod seed;
pub mod splits;
pub mod stats;
pub mod tune;
pub mod whatif;

pub use error::{Error, Result};

/// Version of the core, recorded in every run manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
