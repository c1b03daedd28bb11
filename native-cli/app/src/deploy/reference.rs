//! Model references: a bundle folder, `models:/NAME/VERSION` or `models:/NAME@ALIAS` in the
//! registry (local `mlruns` or an MLflow server), resolved to the bundle's files.

use std::path::{Path, PathBuf};

use crate::bail;
use crate::error::{Context, Result};
use strider_core::bundle::BundleFiles;
use strider_mlflow::TrackingUri;
use strider_mlflow::local::LocalStore;
use strider_mlflow::registry::{LocalRegistry, Registry, RestRegistry};
use strider_mlflow::rest::RestClient;

use super::read_bundle_dir;

/// What `--model` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRef {
    Path(PathBuf),
    Version { name: String, version: u64 },
    Alias { name: String, alias: String },
}

impl ModelRef {
    pub fn parse(s: &str) -> Result<Self> {
        let Some(rest) = s.strip_prefix("models:/") else {
            return Ok(Self::Path(PathBuf::from(s)));
        };
        if let Some((name, alias)) = rest.split_once('@') {
            if name.is_empty() || alias.is_empty() {
                bail!("`{s}`: expected models:/NAME@ALIAS");
            }
            return Ok(Self::Alias {
                name: name.into(),
                alias: alias.into(),
            });
        }
        match rest.split_once('/') {
            Some((name, v)) if !name.is_empty() => {
                let version = v.parse().map_err(|_| {
                    crate::Error::Input(format!("`{s}`: version `{v}` is not a number"))
                })?;
                Ok(Self::Version {
                    name: name.into(),
                    version,
                })
            }
            _ => bail!("`{s}`: expected models:/NAME/VERSION or models:/NAME@ALIAS"),
        }
    }

    /// The registered model's name, for a registry reference.
    pub fn registered_name(&self) -> Option<&str> {
        match self {
            Self::Path(_) => None,
            Self::Version { name, .. } | Self::Alias { name, .. } => Some(name),
        }
    }
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Path(p) => write!(f, "{}", p.display()),
            Self::Version { name, version } => write!(f, "models:/{name}/{version}"),
            Self::Alias { name, alias } => write!(f, "models:/{name}@{alias}"),
        }
    }
}

/// A reference resolved: which registry version (if any), where its files came from, the files.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    pub version: Option<u64>,
    pub source: String,
    pub files: BundleFiles,
}

/// Opens the registry of `tracking_uri` (as `strider models` does) and calls `f` with it.
pub fn with_registry<T>(
    tracking_uri: Option<&str>,
    f: impl FnOnce(&mut dyn Registry) -> Result<T>,
) -> Result<T> {
    match TrackingUri::resolve(tracking_uri) {
        TrackingUri::Local(p) => {
            let store = LocalStore::open(&p)?;
            f(&mut LocalRegistry { store: &store })
        }
        TrackingUri::Server(base) => {
            let rest = RestClient::new(&base);
            f(&mut RestRegistry { rest: &rest })
        }
    }
}

/// [`with_registry`] on a registry that must exist already: a local store that does not is an
/// error, not created (looking a model up, or tagging one, never makes an empty store).
fn existing_registry<T>(
    tracking_uri: Option<&str>,
    f: impl FnOnce(&mut dyn Registry) -> Result<T>,
) -> Result<T> {
    match TrackingUri::resolve(tracking_uri) {
        TrackingUri::Local(p) if !p.is_dir() => bail!(
            "no model registry at {} (set --tracking-uri or MLFLOW_TRACKING_URI)",
            p.display()
        ),
        TrackingUri::Local(p) => {
            let store = LocalStore::open(&p)?;
            f(&mut LocalRegistry { store: &store })
        }
        TrackingUri::Server(base) => {
            let rest = RestClient::new(&base);
            f(&mut RestRegistry { rest: &rest })
        }
    }
}

/// The registry version a reference names now (`None` for a bundle path): an alias is looked up.
pub fn current_version(r: &ModelRef, tracking_uri: Option<&str>) -> Result<Option<u64>> {
    match r {
        ModelRef::Path(_) => Ok(None),
        ModelRef::Version { version, .. } => Ok(Some(*version)),
        ModelRef::Alias { name, alias } => existing_registry(tracking_uri, |reg| {
            let model = reg.get_model(name)?;
            let v = model.aliases.get(alias).copied().ok_or_else(|| {
                crate::Error::Input(format!("{r}: model `{name}` has no alias `{alias}`"))
            })?;
            Ok(Some(v))
        }),
    }
}

/// Records in the registry that the serving process `instance` now serves `version` of `name`:
/// a version tag `strider.served_by.<instance>` with the time, and a model tag
/// `strider.serving.<instance>` with the version.
pub fn record_serving(
    tracking_uri: Option<&str>,
    name: &str,
    version: u64,
    instance: &str,
) -> Result<()> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    existing_registry(tracking_uri, |reg| {
        reg.set_version_tag(
            name,
            version,
            &format!("strider.served_by.{instance}"),
            &now,
        )?;
        reg.set_model_tag(
            name,
            &format!("strider.serving.{instance}"),
            &version.to_string(),
        )?;
        Ok(())
    })
}

/// The files at a version source: a local folder (`file://`, only for a local store: a server's
/// version naming a path names it on another machine) or, on a server, an artifact folder.
fn files_at(
    tracking_uri: Option<&str>,
    source: &str,
    download: Option<&str>,
) -> Result<BundleFiles> {
    match (
        TrackingUri::resolve(tracking_uri),
        source.strip_prefix("file://"),
    ) {
        (TrackingUri::Local(_), Some(path)) => read_bundle_dir(Path::new(path)),
        (TrackingUri::Local(_), None) => read_bundle_dir(Path::new(source)),
        (TrackingUri::Server(_), Some(_)) => bail!(
            "the source {source} is a path on the machine that registered it, not on the server; register the bundle with --bundle on the server"
        ),
        (TrackingUri::Server(base), None) => {
            let files = RestClient::new(&base).download_artifact_dir(download.unwrap_or(source))?;
            Ok(files.into_iter().collect())
        }
    }
}

/// Reads and checks the bundle a new version will point at, before it is registered.
pub fn check_registered_bundle(tracking_uri: Option<&str>, source: &str) -> Result<()> {
    let files = files_at(tracking_uri, source, None)?;
    strider_core::bundle::Bundle::load_checked(&files)?;
    Ok(())
}

/// Resolves `r` (a registry reference through `tracking_uri`, as `strider models` does).
pub fn resolve(r: &ModelRef, tracking_uri: Option<&str>) -> Result<ResolvedModel> {
    let (name, wanted) = match r {
        ModelRef::Path(p) => {
            return Ok(ResolvedModel {
                version: None,
                source: p.display().to_string(),
                files: read_bundle_dir(p)?,
            });
        }
        ModelRef::Version { name, version } => (name, Ok(*version)),
        ModelRef::Alias { name, alias } => (name, Err(alias)),
    };
    let uri = TrackingUri::resolve(tracking_uri);
    let model = existing_registry(tracking_uri, |reg| Ok(reg.get_model(name)?))?;
    let version = match wanted {
        Ok(v) => v,
        Err(alias) => *model.aliases.get(alias).ok_or_else(|| {
            crate::Error::Input(format!("{r}: model `{name}` has no alias `{alias}`"))
        })?,
    };
    let v = model
        .versions
        .iter()
        .find(|v| v.version == version)
        .ok_or_else(|| {
            crate::Error::Input(format!("{r}: model `{name}` has no version {version}"))
        })?;
    let download = match &uri {
        TrackingUri::Server(base) => {
            Some(RestClient::new(base).model_version_download_uri(name, version)?)
        }
        TrackingUri::Local(_) => None,
    };
    let files = files_at(tracking_uri, &v.source, download.as_deref())
        .with_context(|| format!("{r} (version {version}, source {})", v.source))?;
    if files.is_empty() {
        bail!(
            "{r}: version {version}'s source {} holds no bundle",
            v.source
        );
    }
    Ok(ResolvedModel {
        version: Some(version),
        source: v.source.clone(),
        files,
    })
}
