//! What a registry version records about the model it serves: the run's lineage (data digest,
//! config, git revision, parents) or, for a bundle folder registered as it is, the bundle's.

use std::collections::BTreeMap;

use crate::bail;
use crate::error::{Context, Error, Result};
use strider_core::bundle::Bundle;
use strider_mlflow::registry::{Registry, RunLineage};

/// Lineage tags of a new version: the run, its data digest, config and git revision, parents.
pub fn lineage_tags(
    reg: &mut dyn Registry,
    run: &str,
    parents: &[String],
) -> Result<(String, BTreeMap<String, String>)> {
    let RunLineage {
        artifact_root: root,
        tags,
        params,
    } = reg.run_lineage(run)?;
    let mut out = BTreeMap::from([("strider.run_id".to_string(), run.to_string())]);
    for (k, v) in [
        ("strider.data_fingerprint", "strider.data_fingerprint"),
        ("strider.git_revision", "strider.git_revision"),
        ("strider.seed", "strider.seed"),
        ("strider.config_source", "strider.config_source"),
    ] {
        if let Some(x) = tags.get(k) {
            out.insert(v.to_string(), x.clone());
        }
    }
    if !tags.contains_key("strider.data_fingerprint") {
        bail!(
            "run `{run}` has no strider.data_fingerprint tag: register the parent run of a `strider run`"
        );
    }
    let config = strider_mlflow::local::hex_digest(&serde_json::to_string(&params)?);
    out.insert("strider.config_digest".into(), config[..16].to_string());
    check_parents(reg, parents)?;
    if !parents.is_empty() {
        out.insert("strider.parent_versions".into(), parents.join(","));
    }
    Ok((format!("{root}/run"), out))
}

/// A bundle folder read and checked before anything is registered.
struct CheckedBundle {
    files: strider_core::bundle::BundleFiles,
    bundle: Bundle,
    source: String,
}

fn read_checked(path: &std::path::Path) -> Result<CheckedBundle> {
    let files = super::read_bundle_dir(path)?;
    let bundle = Bundle::load_checked(&files)
        .with_context(|| format!("{} is not a usable bundle", path.display()))?;
    let abs = std::fs::canonicalize(path)?;
    Ok(CheckedBundle {
        files,
        bundle,
        source: format!("file://{}", abs.display()),
    })
}

/// Lineage tags of a bundle registered as it is: its manifest gives the data fingerprint, seed
/// and content hash; parents must exist.
fn bundle_tags(
    reg: &mut dyn Registry,
    bundle: &Bundle,
    parents: &[String],
) -> Result<BTreeMap<String, String>> {
    let training = &bundle.manifest.training;
    let mut t = BTreeMap::from([
        (
            "strider.data_fingerprint".to_string(),
            training.data_fingerprint.clone(),
        ),
        // The final fit's own seed (derived from the run's), not the run's `strider.seed`.
        ("strider.fit_seed".to_string(), training.seed.to_string()),
        ("strider.bundle_sha256".to_string(), bundle.sha256.clone()),
        ("strider.model".to_string(), bundle.name().to_string()),
    ]);
    check_parents(reg, parents)?;
    if !parents.is_empty() {
        t.insert("strider.parent_versions".into(), parents.join(","));
    }
    Ok(t)
}

fn check_parents(reg: &mut dyn Registry, parents: &[String]) -> Result<()> {
    for p in parents {
        let (n, v) = p
            .split_once(':')
            .ok_or_else(|| Error::Input(format!("--parent `{p}`: expected NAME:VERSION")))?;
        let v: u64 = v
            .parse()
            .map_err(|_| Error::Input(format!("--parent `{p}`: version is not a number")))?;
        if !reg.get_model(n)?.versions.iter().any(|x| x.version == v) {
            bail!("--parent `{p}`: model `{n}` has no version {v}");
        }
    }
    Ok(())
}

/// A version registered from a bundle folder.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Registered {
    pub version: u64,
    pub source: String,
    /// The MLflow LoggedModel the version was made from (servers only).
    pub model_id: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// Registers a bundle folder as a new version of `name`. In a local store the version's source
/// is the folder; on a server the files are uploaded as an MLflow LoggedModel (in the
/// experiment named after the bundle's run) and the version is made from it, so any machine can
/// load it.
pub fn register_bundle(
    tracking_uri: Option<&str>,
    path: &std::path::Path,
    name: &str,
    parents: &[String],
    extra: &BTreeMap<String, String>,
) -> Result<Registered> {
    use strider_mlflow::TrackingUri;
    use strider_mlflow::registry::RestRegistry;
    use strider_mlflow::rest::RestClient;
    let checked = read_checked(path)?;
    match TrackingUri::resolve(tracking_uri) {
        TrackingUri::Local(_) => super::with_registry(tracking_uri, |reg| {
            let mut tags = bundle_tags(reg, &checked.bundle, parents)?;
            tags.extend(extra.clone());
            let version = reg.create_version(name, "", &checked.source, &tags)?;
            Ok(Registered {
                version,
                source: checked.source,
                model_id: None,
                tags,
            })
        }),
        TrackingUri::Server(base) => {
            let rest = RestClient::new(&base);
            let reg = &mut RestRegistry { rest: &rest };
            let mut tags = bundle_tags(reg, &checked.bundle, parents)?;
            tags.extend(extra.clone());
            let bundle = &checked.bundle;
            let experiment = bundle.manifest.training.run_name.clone();
            let files: Vec<(String, Vec<u8>)> = checked.files.into_iter().collect();
            let model = strider_mlflow::logged_model::log_model(
                &rest,
                &experiment,
                bundle.name(),
                None,
                &files,
                &tags,
            )?
            .ok_or_else(|| {
                Error::Input(format!(
                    "{base} has no LoggedModel API (MLflow < 3): register a tracked run's bundle with --run RUN --model MODEL"
                ))
            })?;
            let version = reg.create_version_of_logged_model(name, "", &model, &tags)?;
            Ok(Registered {
                version,
                source: format!("models:/{}", model.model_id),
                model_id: Some(model.model_id),
                tags,
            })
        }
    }
}
