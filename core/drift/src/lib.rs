//! Drift detectors, each equal to the reference users already trust on the same input:
//! the two-sample Kolmogorov-Smirnov test (`scipy.stats.ks_2samp`, `method="auto"`), the
//! population stability index on the reference's deciles, and River 0.26's ADWIN and
//! Page-Hinkley stream detectors. [`columns`] compares two tables column by column.
//!
//! ```
//! use strider_drift::{DetectorSpec, detections, ks_2samp, psi};
//!
//! let before: Vec<f64> = (0..200).map(|i| ((i * 37) % 101) as f64).collect();
//! let after: Vec<f64> = before.iter().map(|x| x + 30.0).collect();
//! let ks = ks_2samp(&before, &after).unwrap();
//! assert!(ks.pvalue < 1e-6 && psi(&before, &after).unwrap() > 0.25);
//!
//! let stream: Vec<f64> = before.iter().chain(&after).copied().collect();
//! let adwin = DetectorSpec::parse("adwin", &[]).unwrap();
//! assert!(detections(&adwin, &stream).iter().any(|&i| i >= 200));
//! ```
//!
//! Architecture invariant: pure functions and plain state machines of their inputs: no I/O, no
//! clock, no threads, no randomness. Detector state is serde-serialisable so a service can commit
//! it with each step and resume after `kill -9` exactly where it stopped.
// No panics by construction in library code (tests may unwrap): see docs/configuration.md, "Limits and hostile input".
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod adwin;
pub mod columns;
pub mod kolmogorov;
pub mod ks;
pub mod page_hinkley;
pub mod psi;
pub mod stream;

pub use adwin::{Adwin, AdwinParams};
pub use columns::{ColumnDrift, DriftThresholds, TableDrift, column_drift, table_drift};
pub use ks::{KsMethod, KsResult, ks_2samp};
pub use page_hinkley::{PageHinkley, PageHinkleyParams, PhMode};
pub use psi::psi;
pub use stream::{DetectorSpec, StreamDetector, detections};
