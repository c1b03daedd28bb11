//! Deployment: bundles on disk (folders with MLflow's `MLmodel`), resolving a model reference
//! (a bundle path, `models:/NAME/VERSION`, `models:/NAME@ALIAS`) to a loaded bundle, and scoring
//! CSV files with it (`strider predict`). The HTTP server lives in `strider serve`'s crate.

mod folder;
mod mlmodel;
mod predict;
mod reference;
mod register;

pub use folder::{read_bundle_dir, write_bundle_dir};
pub use mlmodel::with_mlmodel;
pub use predict::read_bar_files;
pub use reference::{
    ModelRef, ResolvedModel, check_registered_bundle, current_version, record_serving, resolve,
    with_registry,
};
pub use register::{Registered, lineage_tags, register_bundle};
