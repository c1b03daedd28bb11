//! Statistics that guard against overfitting: the deflated Sharpe ratio, the probability of
//! backtest overfitting (CSCV), Diebold-Mariano with the Harvey-Leybourne-Newbold correction,
//! White's Reality Check and Hansen's SPA, and the model confidence set. Bootstraps are the
//! stationary bootstrap, seeded, so results are reproducible and identical natively and in wasm.

mod bootstrap;
mod dm;
mod dsr;
mod mcs;
mod msprt;
mod pbo;
mod spa;

pub use bootstrap::{StationaryBootstrap, default_block_size};
pub use dm::{DieboldMariano, diebold_mariano};
pub use dsr::{DeflatedSharpe, deflated_sharpe, expected_max_sharpe};
pub use mcs::{Mcs, McsMethod, model_confidence_set};
pub use msprt::{Decision, Msprt, MsprtResult, MsprtSpec, msprt};
pub use pbo::{Pbo, probability_of_backtest_overfitting};
pub use spa::{Spa, superior_predictive_ability};
