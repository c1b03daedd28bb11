//! The watch's registry moves, each safe to repeat: a step redone after `kill -9` finds the
//! version its cycle already registered (by the `strider.cycle` tag, or by its bundle folder when
//! the kill came before the tags were written) and an alias already moved (recording the move in
//! the alias history if the kill came between the two).

use std::collections::BTreeMap;
use std::path::Path;

use strider_mlflow::registry::{AliasMove, HISTORY_TAG, alias_history, move_alias};

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
    let source = format!("file://{}", std::fs::canonicalize(bundle_dir)?.display());
    if let Some(v) = version_of_cycle(tracking_uri, name, cycle, &source)? {
        return Ok(v);
    }
    let mut tags = tags.clone();
    tags.insert(CYCLE_TAG.into(), cycle.into());
    Ok(register_bundle(tracking_uri, bundle_dir, name, &[], &tags)?.version)
}

fn version_of_cycle(
    tracking_uri: Option<&str>,
    name: &str,
    cycle: &str,
    source: &str,
) -> Result<Option<u64>> {
    with_registry(tracking_uri, |reg| {
        if !reg.list_models()?.iter().any(|m| m == name) {
            return Ok(None);
        }
        let model = reg.get_model(name)?;
        Ok(model
            .versions
            .iter()
            .find(|v| {
                v.tags.get(CYCLE_TAG).map(String::as_str) == Some(cycle) || v.source == source
            })
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
        if model.aliases.get(alias) != Some(&version) {
            move_alias(reg, name, alias, version, reason)?;
            return Ok(());
        }
        let mut history = alias_history(&model, alias);
        if history.last().is_some_and(|h| h.version == version) {
            return Ok(());
        }
        // Killed between moving the alias and recording the move: record it now.
        let previous = history.last().map(|h| h.version);
        history.push(AliasMove {
            time_ms: strider_mlflow::now_ms(),
            version,
            previous,
            reason: reason.to_string(),
            by: "strider watch".into(),
        });
        let json = serde_json::to_string(&history)?;
        reg.set_model_tag(name, &format!("{HISTORY_TAG}{alias}"), &json)?;
        Ok(())
    })
}

/// Sets tags on a version (each write is idempotent).
pub fn tag_version(
    tracking_uri: Option<&str>,
    name: &str,
    version: u64,
    tags: &BTreeMap<String, String>,
) -> Result<()> {
    with_registry(tracking_uri, |reg| {
        for (k, v) in tags {
            reg.set_version_tag(name, version, k, v)?;
        }
        Ok(())
    })
}
