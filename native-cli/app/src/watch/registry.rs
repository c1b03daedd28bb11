//! The watch's registry moves, each safe to repeat: a step redone after `kill -9` finds the
//! version its cycle already registered (by the `strider.cycle` tag) and an alias already moved.

use std::collections::BTreeMap;
use std::path::Path;

use strider_mlflow::registry::move_alias;

use crate::Result;
use crate::deploy::{register_bundle, with_registry};

/// The tag naming the cycle that registered a version.
pub const CYCLE_TAG: &str = "strider.cycle";

/// The version registered for `cycle`, registering the bundle folder if there is none yet.
pub fn register_once(
    tracking_uri: Option<&str>,
    name: &str,
    cycle: &str,
    bundle_dir: &Path,
    tags: &BTreeMap<String, String>,
) -> Result<u64> {
    if let Some(v) = version_of_cycle(tracking_uri, name, cycle)? {
        return Ok(v);
    }
    let mut tags = tags.clone();
    tags.insert(CYCLE_TAG.into(), cycle.into());
    Ok(register_bundle(tracking_uri, bundle_dir, name, &[], &tags)?.version)
}

fn version_of_cycle(tracking_uri: Option<&str>, name: &str, cycle: &str) -> Result<Option<u64>> {
    with_registry(tracking_uri, |reg| {
        if !reg.list_models()?.iter().any(|m| m == name) {
            return Ok(None);
        }
        let model = reg.get_model(name)?;
        Ok(model
            .versions
            .iter()
            .find(|v| v.tags.get(CYCLE_TAG).map(String::as_str) == Some(cycle))
            .map(|v| v.version))
    })
}

/// Points `alias` at `version` (recorded with `reason`) unless it already does.
pub fn point_alias(
    tracking_uri: Option<&str>,
    name: &str,
    alias: &str,
    version: u64,
    reason: &str,
) -> Result<()> {
    with_registry(tracking_uri, |reg| {
        let model = reg.get_model(name)?;
        if model.aliases.get(alias) == Some(&version) {
            return Ok(());
        }
        move_alias(reg, name, alias, version, reason)?;
        Ok(())
    })
}
