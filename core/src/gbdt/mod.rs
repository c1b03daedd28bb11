//! LightGBM's `model.txt`: parse, evaluate bit-exactly, write, explain (TreeSHAP).
//!
//! One tree format for the whole product: models trained natively (by LightGBM or by Strider)
//! predict identically here and in the browser. The decision rules follow LightGBM 4.x's
//! `tree.h`; the parser treats every file as untrusted and reports errors by line, never panics.

mod binning;
mod compiled;
mod model;
mod shap;
mod train;
mod tree;

pub use compiled::CompiledModel;
pub use model::{GbdtModel, Objective};
pub use train::{Engine, GbdtObjective, GbdtParams, TrainData, train};
pub use tree::Tree;

/// A trainer outside the core (native LightGBM in the CLI). The core stays free of native code;
/// the CLI passes one in through [`crate::model::FitContext`].
pub trait NativeTrainer {
    fn train(
        &self,
        params: &GbdtParams,
        data: &TrainData,
        valid: Option<&TrainData>,
    ) -> crate::Result<GbdtModel>;
}
