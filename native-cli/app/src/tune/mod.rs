//! `strider tune`: studies on Optuna-compatible storages, objectives that run a config's
//! walk-forward validation or any command, parallel workers, and the summary the report draws.

pub mod command;
pub mod config_space;
pub mod ensemble_space;
pub mod session;
pub mod tracking;

pub use session::{Target, TuneRequest, TuneResult, tune};
