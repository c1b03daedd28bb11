//! Robustness testing: after a run with `[robustness]`, or `strider validate RUN_DIR` later.

use std::path::Path;

use strider_core::config::Config;
use strider_core::data::Instrument;
use strider_core::pipeline::{self, RunOutput};
use strider_core::robustness::{RobustnessReport, robustness};

use crate::error::{Context, Result};

/// Every stress of the config's `[robustness]` (or the defaults) against `output`, the run of
/// `config` on `instruments` (the bars validation read) with `seed`.
pub fn stress(
    config: &Config,
    instruments: &[Instrument],
    seed: u64,
    output: &RunOutput,
) -> Result<RobustnessReport> {
    let native = crate::native_gbdt(Vec::new());
    let req = pipeline::RunRequest::new(config, instruments, seed).native_gbdt(native.as_deref());
    let spec = config.robustness.clone().unwrap_or_default();
    Ok(robustness(&req, output, &spec)?)
}

/// `strider validate`: re-runs a finished run from its directory (its config and its inputs,
/// checked against their recorded hashes, from `data_dir` or the config's directory), runs the
/// stresses and writes `validation.json` into the run directory.
pub fn validate_run_dir(run_dir: &Path, data_dir: Option<&Path>) -> Result<RobustnessReport> {
    let manifest_path = run_dir.join("manifest.json");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).with_context(|| {
            format!(
                "reading {} (is it a run directory?)",
                manifest_path.display()
            )
        })?)
        .with_context(|| format!("parsing {}", manifest_path.display()))?;
    let files = crate::report::input_files(&manifest, data_dir)?;
    let config_path = run_dir.join("config.toml");
    let config = Config::from_toml(
        &std::fs::read_to_string(&config_path)
            .with_context(|| format!("reading {}", config_path.display()))?,
    )
    .with_context(|| config_path.display().to_string())?;
    let all = strider_core::data::load(&config.data, &mut |p| {
        files
            .get(p)
            .cloned()
            .ok_or_else(|| "not among the run's inputs".to_string())
    })?;
    let (instruments, _) = pipeline::validation_data(&config, all)?;
    let seed = config.seed_or_default();
    let native = crate::native_gbdt(Vec::new());
    let output = pipeline::RunRequest::new(&config, &instruments, seed)
        .native_gbdt(native.as_deref())
        .run(&mut |_| {})?;
    let report = stress(&config, &instruments, seed, &output)?;
    crate::rundir::write_atomic(
        &run_dir.join("validation.json"),
        &serde_json::to_vec_pretty(&report)?,
    )?;
    Ok(report)
}
