//! What a run records so it can be reproduced: versions, git revision, seed, config source and the
//! data's fingerprint plus each input file's own SHA-256. No wall-clock time: the same inputs and
//! seed give the same bytes.

use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Serialize)]
pub struct InputFile {
    pub path: String,
    pub bytes: usize,
    pub sha256: String,
}

impl InputFile {
    pub fn new(path: &str, text: &str) -> Self {
        Self {
            path: path.to_string(),
            bytes: text.len(),
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
        }
    }
}

#[derive(Serialize)]
pub struct Manifest {
    pub strider_version: &'static str,
    pub core_version: &'static str,
    pub git_revision: &'static str,
    pub rustc: &'static str,
    pub target: String,
    pub seed: u64,
    pub config_source: String,
    pub data_fingerprint: String,
    pub inputs: Vec<InputFile>,
    /// The holdout: its start, and how many models read it in this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holdout: Option<crate::run::HoldoutRecord>,
}

impl Manifest {
    pub fn new(
        seed: u64,
        config_source: String,
        data_fingerprint: String,
        inputs: Vec<InputFile>,
    ) -> Self {
        Self {
            strider_version: env!("CARGO_PKG_VERSION"),
            core_version: strider_core::VERSION,
            git_revision: env!("STRIDER_GIT_REV"),
            rustc: env!("STRIDER_RUSTC"),
            target: format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
            seed,
            config_source,
            data_fingerprint,
            inputs,
            holdout: None,
        }
    }
}
