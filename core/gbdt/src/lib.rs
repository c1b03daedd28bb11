//! Gradient-boosted trees in LightGBM's format: parse, evaluate bit-exactly, write and explain
//! (TreeSHAP) `model.txt`, and a histogram trainer that grows LightGBM's trees.
//!
//! One tree format for the whole product: models trained natively (by LightGBM or by Strider)
//! predict identically here and in the browser. The decision rules follow LightGBM 4.x's
//! `tree.h`; the parser treats every file as untrusted and reports errors by line, never panics.
//!
//! Architecture invariant: pure Rust with no I/O, no clock and no required threads (the
//! `parallel` feature only spreads batch prediction over rayon), so it builds for
//! `wasm32-unknown-unknown`; nothing here depends on the rest of Strider but `strider-base`.
//!
//! Train a model, save it as `model.txt`, load it back and predict:
//!
//! ```
//! use strider_gbdt::{GbdtModel, GbdtParams, TrainData, train};
//!
//! // y = 2 * x0 - x1 on a small grid.
//! let (mut x, mut y) = (Vec::new(), Vec::new());
//! for i in 0..200 {
//!     let (a, b) = ((i % 20) as f64, (i / 20) as f64);
//!     x.extend([a, b]);
//!     y.push(2.0 * a - b);
//! }
//! let data = TrainData { x: &x, n_features: 2, y: &y, feature_names: vec!["x0".into(), "x1".into()], groups: &[] };
//! let params = GbdtParams { num_iterations: 50, num_leaves: 8, min_data_in_leaf: 5, ..Default::default() };
//! let model = train(&params, &data, None, &mut |_iteration, _metric, _value| {})?;
//!
//! let text = model.write(); // LightGBM's model.txt, readable by LightGBM itself
//! let loaded = GbdtModel::parse(&text)?;
//! let p = loaded.predict(&[10.0, 3.0])[0];
//! assert_eq!(p, model.predict(&[10.0, 3.0])[0]);
//! assert!((p - 17.0).abs() < 1.5, "{p}");
//! # Ok::<(), strider_gbdt::Error>(())
//! ```
// No panics by construction in library code (tests may unwrap): see docs/configuration.md, "Limits and hostile input".
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod binning;
mod categorical;
mod compiled;
mod error;
mod grow;
mod loss;
mod model;
mod objective;
mod rank;
mod shap;
mod split;
mod threads;
mod train;
mod tree;

pub use compiled::CompiledModel;
pub use error::{Error, Result};
pub use model::{GbdtModel, Objective};
pub use rank::{default_label_gains, ndcg_at};
pub use shap::MAX_SHAP_DEPTH;
pub use train::{Engine, GbdtObjective, GbdtParams, TrainData, train};
pub use tree::Tree;

/// A trainer outside this crate (native LightGBM in the CLI). This crate stays free of native
/// code; the domain passes one in through `strider_core::model::FitContext`.
pub trait NativeTrainer {
    fn train(
        &self,
        params: &GbdtParams,
        data: &TrainData,
        valid: Option<&TrainData>,
    ) -> Result<GbdtModel>;
}
