//! What the binary's test files share: the repository root and a project over copies of the
//! bundled data.
#![allow(dead_code)]

pub mod planted;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A config in `dir` over copies of the bundled data, with `edit` applied to the TOML.
pub fn project(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    for t in ["AAPL", "MSFT", "IBM"] {
        std::fs::copy(
            repo().join(format!("examples/data/{t}.csv")),
            dir.join(format!("data/{t}.csv")),
        )
        .unwrap();
    }
    let cfg = edit(std::fs::read_to_string(repo().join("examples/default.toml")).unwrap());
    let path = dir.join("config.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

/// The `strider` binary run in `cwd`.
pub fn strider(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strider"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("strider runs")
}

/// A successful command's stdout as JSON (its stderr in the failure message otherwise).
pub fn ok_json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}
