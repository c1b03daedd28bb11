//! What a run records so it can be reproduced: versions, git revision, seed, config source and the
//! data's fingerprint plus each input file's own SHA-256. No wall-clock time: the same inputs and
//! seed give the same bytes.

use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Serialize)]
pub struct InputFile {
    /// As the config names it (relative to the config's folder).
    pub path: String,
    /// Where it was read, absolute (absent for the bundled data): `strider report` and
    /// `strider validate` find it from any working directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub bytes: usize,
    pub sha256: String,
}

impl InputFile {
    pub fn new(path: &str, text: &str) -> Self {
        Self {
            path: path.to_string(),
            location: None,
            bytes: text.len(),
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
        }
    }

    /// The file as read from `location`.
    pub fn at(path: &str, location: &std::path::Path, text: &str) -> Self {
        let full = std::fs::canonicalize(location).unwrap_or_else(|_| location.to_path_buf());
        Self {
            location: Some(full.display().to_string()),
            ..Self::new(path, text)
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
