//! The model registry on either store: registered models, versions, aliases, tags. On top of
//! MLflow's primitives Strider records what MLflow does not: every alias move (time, reason,
//! previous version) as a JSON history in the model tag `strider.alias_history.<alias>`, which
//! makes `rollback` possible, and lineage (run, data digest, config, git revision, parent
//! versions) as version tags.

use std::collections::BTreeMap;
use std::fs;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::json;

use super::local::{LocalStore, write_atomic};
use super::rest::RestClient;
use super::yaml::{self, Scalar};
use super::{check_key, now_ms};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionInfo {
    pub version: u64,
    pub run_id: String,
    pub source: String,
    pub creation_timestamp: i64,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    pub aliases: BTreeMap<String, u64>,
    pub versions: Vec<VersionInfo>,
}

/// One alias move.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct AliasMove {
    pub time_ms: i64,
    pub version: u64,
    pub previous: Option<u64>,
    pub reason: String,
}

/// What the registry records about the run behind a version.
pub struct RunLineage {
    pub artifact_root: String,
    pub tags: BTreeMap<String, String>,
    pub params: BTreeMap<String, String>,
}

pub const HISTORY_TAG: &str = "strider.alias_history.";

pub trait Registry {
    /// Create the registered model if needed and add a version; returns its number.
    fn create_version(
        &mut self,
        name: &str,
        run_id: &str,
        source: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<u64>;
    fn set_alias(&mut self, name: &str, alias: &str, version: u64) -> Result<()>;
    fn set_model_tag(&mut self, name: &str, key: &str, value: &str) -> Result<()>;
    fn set_version_tag(&mut self, name: &str, version: u64, key: &str, value: &str) -> Result<()>;
    fn get_model(&mut self, name: &str) -> Result<ModelInfo>;
    fn list_models(&mut self) -> Result<Vec<String>>;
    /// `(artifact root, tags, params)` of a run, for lineage.
    fn run_lineage(&mut self, run_id: &str) -> Result<RunLineage>;
}

fn check_alias(alias: &str) -> Result<()> {
    let ok = !alias.is_empty()
        && alias.len() <= 255
        && alias
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        && !alias.eq_ignore_ascii_case("latest")
        && !(alias.starts_with(['v', 'V'])
            && alias.len() > 1
            && alias[1..].chars().all(|c| c.is_ascii_digit()));
    if !ok {
        bail!(
            "alias `{alias}`: use letters, digits, `_` and `-`; `latest` and `v<digits>` are reserved by MLflow"
        );
    }
    Ok(())
}

/// Move an alias, recording the move. Returns the previous version.
pub fn move_alias(
    reg: &mut dyn Registry,
    name: &str,
    alias: &str,
    version: u64,
    reason: &str,
) -> Result<Option<u64>> {
    check_alias(alias)?;
    let model = reg.get_model(name)?;
    if !model.versions.iter().any(|v| v.version == version) {
        bail!("model `{name}` has no version {version}");
    }
    let previous = model.aliases.get(alias).copied();
    let key = format!("{HISTORY_TAG}{alias}");
    let mut history: Vec<AliasMove> = model
        .tags
        .get(&key)
        .and_then(|h| serde_json::from_str(h).ok())
        .unwrap_or_default();
    history.push(AliasMove {
        time_ms: now_ms(),
        version,
        previous,
        reason: reason.to_string(),
    });
    reg.set_alias(name, alias, version)?;
    reg.set_model_tag(name, &key, &serde_json::to_string(&history)?)?;
    Ok(previous)
}

/// The alias history of a model.
pub fn alias_history(model: &ModelInfo, alias: &str) -> Vec<AliasMove> {
    model
        .tags
        .get(&format!("{HISTORY_TAG}{alias}"))
        .and_then(|h| serde_json::from_str(h).ok())
        .unwrap_or_default()
}

/// Point the alias back at the version it held before its latest move.
pub fn rollback(
    reg: &mut dyn Registry,
    name: &str,
    alias: &str,
    reason: &str,
) -> Result<(u64, u64)> {
    let model = reg.get_model(name)?;
    let history = alias_history(&model, alias);
    let Some(last) = history.last() else {
        bail!("alias `{alias}` of `{name}` has no recorded moves to roll back");
    };
    let Some(previous) = last.previous else {
        bail!(
            "alias `{alias}` of `{name}` pointed at nothing before version {}",
            last.version
        );
    };
    move_alias(reg, name, alias, previous, reason)?;
    Ok((last.version, previous))
}

// ---- local store ---------------------------------------------------------------------------------

pub struct LocalRegistry<'a> {
    pub store: &'a LocalStore,
}

impl LocalRegistry<'_> {
    fn dir(&self, name: &str) -> Result<std::path::PathBuf> {
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            bail!(
                "registered model name `{name}` must not be empty, contain slashes or start with a dot"
            );
        }
        Ok(self.store.root().join("models").join(name))
    }
}

fn read_kv_dir(dir: &std::path::Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if let Ok(v) = fs::read_to_string(e.path()) {
                out.insert(e.file_name().to_string_lossy().into_owned(), v);
            }
        }
    }
    out
}

impl Registry for LocalRegistry<'_> {
    fn create_version(
        &mut self,
        name: &str,
        run_id: &str,
        source: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<u64> {
        let dir = self.dir(name)?;
        let t = now_ms();
        if !dir.join("meta.yaml").exists() {
            write_atomic(
                &dir.join("meta.yaml"),
                yaml::write(&[
                    ("creation_timestamp", Scalar::Int(t)),
                    ("description", Scalar::Str(String::new())),
                    ("last_updated_timestamp", Scalar::Int(t)),
                    ("name", Scalar::Str(name.into())),
                ])
                .as_bytes(),
            )?;
        }
        let version = self
            .get_model(name)?
            .versions
            .iter()
            .map(|v| v.version)
            .max()
            .unwrap_or(0)
            + 1;
        let vdir = dir.join(format!("version-{version}"));
        write_atomic(
            &vdir.join("meta.yaml"),
            yaml::write(&[
                ("creation_timestamp", Scalar::Int(t)),
                ("current_stage", Scalar::Str("None".into())),
                ("description", Scalar::Null),
                ("last_updated_timestamp", Scalar::Int(t)),
                ("name", Scalar::Str(name.into())),
                ("run_id", Scalar::Str(run_id.into())),
                ("run_link", Scalar::Null),
                ("source", Scalar::Str(source.into())),
                ("status", Scalar::Str("READY".into())),
                ("status_message", Scalar::Null),
                ("storage_location", Scalar::Str(source.into())),
                ("user_id", Scalar::Null),
                ("version", Scalar::Int(version as i64)),
            ])
            .as_bytes(),
        )?;
        for (k, v) in tags {
            self.set_version_tag(name, version, k, v)?;
        }
        Ok(version)
    }

    fn set_alias(&mut self, name: &str, alias: &str, version: u64) -> Result<()> {
        write_atomic(
            &self.dir(name)?.join("aliases").join(alias),
            version.to_string().as_bytes(),
        )
    }

    fn set_model_tag(&mut self, name: &str, key: &str, value: &str) -> Result<()> {
        check_key("tag", key)?;
        write_atomic(&self.dir(name)?.join("tags").join(key), value.as_bytes())
    }

    fn set_version_tag(&mut self, name: &str, version: u64, key: &str, value: &str) -> Result<()> {
        check_key("tag", key)?;
        write_atomic(
            &self
                .dir(name)?
                .join(format!("version-{version}"))
                .join("tags")
                .join(key),
            value.as_bytes(),
        )
    }

    fn get_model(&mut self, name: &str) -> Result<ModelInfo> {
        let dir = self.dir(name)?;
        if !dir.join("meta.yaml").is_file() {
            bail!(
                "no registered model `{name}` in {}",
                self.store.root().display()
            );
        }
        let mut versions = Vec::new();
        for e in fs::read_dir(&dir)?.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let Some(v) = n
                .strip_prefix("version-")
                .and_then(|v| v.parse::<u64>().ok())
            else {
                continue;
            };
            let meta =
                yaml::read(&fs::read_to_string(e.path().join("meta.yaml")).unwrap_or_default());
            let s = |k: &str| {
                meta.get(k)
                    .and_then(|x| x.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            versions.push(VersionInfo {
                version: v,
                run_id: s("run_id"),
                source: s("source"),
                creation_timestamp: meta
                    .get("creation_timestamp")
                    .and_then(|x| x.as_i64())
                    .unwrap_or(0),
                tags: read_kv_dir(&e.path().join("tags")),
            });
        }
        versions.sort_by_key(|v| v.version);
        Ok(ModelInfo {
            name: name.to_string(),
            tags: read_kv_dir(&dir.join("tags")),
            aliases: read_kv_dir(&dir.join("aliases"))
                .into_iter()
                .filter_map(|(k, v)| Some((k, v.trim().parse().ok()?)))
                .collect(),
            versions,
        })
    }

    fn list_models(&mut self) -> Result<Vec<String>> {
        let mut out: Vec<String> = fs::read_dir(self.store.root().join("models"))
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.path().join("meta.yaml").is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        Ok(out)
    }

    fn run_lineage(&mut self, run_id: &str) -> Result<RunLineage> {
        let exp = self
            .store
            .experiment_of(run_id)
            .with_context(|| format!("no run `{run_id}` in {}", self.store.root().display()))?;
        let run = self.store.read_run(&exp, run_id)?;
        let root = format!(
            "file://{}",
            self.store.artifact_path(&exp, run_id, "").display()
        );
        Ok(RunLineage {
            artifact_root: root.trim_end_matches('/').to_string(),
            tags: run.tags,
            params: run.params,
        })
    }
}

// ---- server -----------------------------------------------------------------------------------------

pub struct RestRegistry<'a> {
    pub rest: &'a RestClient,
}

fn tags_of(v: &serde_json::Value) -> BTreeMap<String, String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| {
                    Some((
                        t["key"].as_str()?.to_string(),
                        t["value"].as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Registry for RestRegistry<'_> {
    fn create_version(
        &mut self,
        name: &str,
        run_id: &str,
        source: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<u64> {
        match self
            .rest
            .post("registered-models/create", json!({"name": name}))
        {
            Ok(_) => {}
            Err(e) if e.error_code.as_deref() == Some("RESOURCE_ALREADY_EXISTS") => {}
            Err(e) => return Err(e.into()),
        }
        let t: Vec<_> = tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let v = self.rest.post(
            "model-versions/create",
            json!({"name": name, "source": source, "run_id": run_id, "tags": t}),
        )?;
        v["model_version"]["version"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .context("version number")
    }

    fn set_alias(&mut self, name: &str, alias: &str, version: u64) -> Result<()> {
        self.rest.post(
            "registered-models/alias",
            json!({"name": name, "alias": alias, "version": version.to_string()}),
        )?;
        Ok(())
    }

    fn set_model_tag(&mut self, name: &str, key: &str, value: &str) -> Result<()> {
        self.rest.post(
            "registered-models/set-tag",
            json!({"name": name, "key": key, "value": value}),
        )?;
        Ok(())
    }

    fn set_version_tag(&mut self, name: &str, version: u64, key: &str, value: &str) -> Result<()> {
        self.rest.post(
            "model-versions/set-tag",
            json!({"name": name, "version": version.to_string(), "key": key, "value": value}),
        )?;
        Ok(())
    }

    fn get_model(&mut self, name: &str) -> Result<ModelInfo> {
        let m = self.rest.get("registered-models/get", &[("name", name)])?;
        let m = &m["registered_model"];
        let vs = self.rest.get(
            "model-versions/search",
            &[
                ("filter", &format!("name='{}'", name.replace('\'', "\\'"))),
                ("max_results", "1000"),
            ],
        )?;
        let mut versions: Vec<VersionInfo> = vs["model_versions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| {
                        Some(VersionInfo {
                            version: v["version"].as_str()?.parse().ok()?,
                            run_id: v["run_id"].as_str().unwrap_or_default().to_string(),
                            source: v["source"].as_str().unwrap_or_default().to_string(),
                            creation_timestamp: v["creation_timestamp"].as_i64().unwrap_or(0),
                            tags: tags_of(&v["tags"]),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        versions.sort_by_key(|v| v.version);
        Ok(ModelInfo {
            name: name.to_string(),
            tags: tags_of(&m["tags"]),
            aliases: m["aliases"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| {
                            Some((
                                x["alias"].as_str()?.to_string(),
                                x["version"].as_str()?.parse().ok()?,
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            versions,
        })
    }

    fn list_models(&mut self) -> Result<Vec<String>> {
        let v = self
            .rest
            .get("registered-models/search", &[("max_results", "1000")])?;
        Ok(v["registered_models"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default())
    }

    fn run_lineage(&mut self, run_id: &str) -> Result<RunLineage> {
        let r = self.rest.get("runs/get", &[("run_id", run_id)])?;
        let run = &r["run"];
        Ok(RunLineage {
            artifact_root: run["info"]["artifact_uri"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            tags: tags_of(&run["data"]["tags"]),
            params: tags_of(&run["data"]["params"]),
        })
    }
}
