//! LightGBM's `model.txt`: parse, evaluate bit-exactly, write, explain (TreeSHAP).
//!
//! One tree format for the whole product: models trained natively (by LightGBM or by Strider)
//! predict identically here and in the browser. The decision rules follow LightGBM 4.x's
//! `tree.h`; the parser treats every file as untrusted and reports errors by line, never panics.

mod binning;
mod compiled;
mod error;
mod model;
mod shap;
mod train;
mod tree;

pub use compiled::CompiledModel;
pub use error::{Error, Result};
pub use model::{GbdtModel, Objective};
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
