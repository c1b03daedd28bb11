//! Strider's native application layer: everything the `strider` binary does that is neither
//! argument handling nor printing. Run directories and manifests, the self-contained report,
//! tracking a run in MLflow, tuning objectives over a config, and native LightGBM.
//!
//! Architecture invariant: no clap, no terminal output; progress reaches the caller through
//! callbacks and results come back as values, so any native program can drive a run. Errors are
//! typed ([`Error`]) with the engines' errors as their sources.
//!
//! Run the bundled example (three large caps, four models, walk-forward) into a new run
//! directory, as `strider run --no-track --no-report` does:
//!
//! ```
//! use strider_app::run::{RunRequest, run_to_dir};
//!
//! let dir = std::env::temp_dir().join(format!("strider-doc-{}", std::process::id()));
//! let request = RunRequest { out: Some(dir.join("run")), ..Default::default() };
//! let result = run_to_dir(&request, &mut |_progress| {})?;
//! assert!(result.dir.join("summary.json").exists());
//! assert_eq!(result.output.summary.models.len(), 4);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), strider_app::Error>(())
//! ```
// No panics by construction in library code (tests may unwrap): see docs/configuration.md, "Limits and hostile input".
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod ab;
pub mod bundled;
pub mod deploy;
pub mod drift;
mod error;
pub mod gbdt_files;
pub mod init;
#[cfg(feature = "lightgbm")]
mod lightgbm_engine;
pub mod manifest;
pub mod parquet_text;
pub mod report;
pub mod run;
pub mod rundir;
pub mod track_run;
pub mod tune;
pub mod watch;

pub use error::{Context, Error, Result};

/// The native GBDT trainer of this build, if any (native LightGBM with the `lightgbm` feature).
///
/// LightGBM's OpenMP threads spin by default, which stalls shared machines: a program should set
/// `OMP_WAIT_POLICY=passive` before it starts any thread (the `strider` binary does so first
/// thing in `main`).
pub fn native_gbdt(categorical: Vec<usize>) -> Option<Box<dyn strider_core::gbdt::NativeTrainer>> {
    #[cfg(feature = "lightgbm")]
    {
        Some(Box::new(lightgbm_engine::LightGbm { categorical }))
    }
    #[cfg(not(feature = "lightgbm"))]
    {
        let _ = categorical;
        None
    }
}
