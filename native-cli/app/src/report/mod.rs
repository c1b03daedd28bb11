//! `report.html`: one self-contained file (HTML, CSS, JS, the wasm core and the run's data
//! inlined) that opens from disk with no server or network and stays live: the page re-runs the
//! what-if and retrains trees through the same core as the CLI.

mod assets;
mod html;
mod payload;

pub use html::render;
pub use payload::{input_files, payload_from_dir};
