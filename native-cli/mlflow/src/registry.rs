//! The model registry on either store: registered models, versions, aliases, tags. On top of
//! MLflow's primitives Strider records what MLflow does not: every alias move (time, reason,
//! previous version) as a JSON history in the model tag `strider.alias_history.<alias>`, which
//! makes `rollback` possible, and lineage (run, data digest, config, git revision, parent
//! versions) as version tags.

use std::collections::BTreeMap;
use std::fs;

use serde::Serialize;
use serde_json::json;

use crate::error::IoContext;
use crate::local::{LocalStore, write_atomic};
use crate::rest::{RestClient, field_str};
use crate::yaml::{self, Scalar};
use crate::{Error, Result, check_key, now_ms};

/// One version of a registered model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionInfo {
    pub version: u64,
    pub run_id: String,
    pub source: String,
    pub creation_timestamp: i64,
    pub tags: BTreeMap<String, String>,
}

/// A registered model: its tags, aliases (alias -> version) and versions (ascending).
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
    /// Who moved it: `$USER@$HOSTNAME` of the process (empty in histories written before).
    #[serde(default)]
    pub by: String,
}

/// `user@host` of this process, from the environment (`unknown` where unset).
fn who() -> String {
    let var = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| "unknown".into())
    };
    format!(
        "{}@{}",
        var(&["USER", "USERNAME"]),
        var(&["HOSTNAME", "COMPUTERNAME"])
    )
}

/// What the registry records about the run behind a version.
#[derive(Debug, Clone, PartialEq)]
pub struct RunLineage {
    pub artifact_root: String,
    pub tags: BTreeMap<String, String>,
    pub params: BTreeMap<String, String>,
}

/// Prefix of the model tag holding an alias's history (a JSON list of [`AliasMove`]).
pub const HISTORY_TAG: &str = "strider.alias_history.";

/// The registry operations both stores provide ([`LocalRegistry`], [`RestRegistry`]).
pub trait Registry {
    /// Create the registered model if needed and add a version; returns its number.
    fn create_version(
        &mut self,
        name: &str,
        run_id: &str,
        source: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<u64>;
    /// Point `alias` at `version` (unrecorded: use [`move_alias`] to keep the history).
    fn set_alias(&mut self, name: &str, alias: &str, version: u64) -> Result<()>;
    fn set_model_tag(&mut self, name: &str, key: &str, value: &str) -> Result<()>;
    fn set_version_tag(&mut self, name: &str, version: u64, key: &str, value: &str) -> Result<()>;
    fn get_model(&mut self, name: &str) -> Result<ModelInfo>;
    /// Names of all registered models.
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
        return Err(Error::InvalidAlias {
            alias: alias.to_string(),
        });
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
        return Err(Error::VersionNotFound {
            name: name.to_string(),
            version,
        });
    }
    let previous = model.aliases.get(alias).copied();
    let key = format!("{HISTORY_TAG}{alias}");
    // A history that does not parse is not overwritten (that would lose it): the move fails.
    let mut history: Vec<AliasMove> = match model.tags.get(&key) {
        Some(h) => serde_json::from_str(h).map_err(|source| Error::Json {
            context: format!("reading the history of `{name}@{alias}` (model tag `{key}`)"),
            source,
        })?,
        None => Vec::new(),
    };
    history.push(AliasMove {
        time_ms: now_ms(),
        version,
        previous,
        reason: reason.to_string(),
        by: who(),
    });
    reg.set_alias(name, alias, version)?;
    let json = serde_json::to_string(&history).map_err(|source| Error::Json {
        context: format!("writing the history of `{name}@{alias}`"),
        source,
    })?;
    reg.set_model_tag(name, &key, &json)?;
    Ok(previous)
}

/// The recorded moves of an alias, oldest first (empty if none, or if the tag does not parse).
pub fn alias_history(model: &ModelInfo, alias: &str) -> Vec<AliasMove> {
    model
        .tags
        .get(&format!("{HISTORY_TAG}{alias}"))
        .and_then(|h| serde_json::from_str(h).ok())
        .unwrap_or_default()
}

/// Point the alias back at the version it held before its latest move, recording that move too.
/// Returns `(version it left, version it points at now)`.
pub fn rollback(
    reg: &mut dyn Registry,
    name: &str,
    alias: &str,
    reason: &str,
) -> Result<(u64, u64)> {
    let model = reg.get_model(name)?;
    let history = alias_history(&model, alias);
    let Some(last) = history.last() else {
        return Err(Error::NoAliasHistory {
            name: name.to_string(),
            alias: alias.to_string(),
        });
    };
    let Some(previous) = last.previous else {
        return Err(Error::NothingToRollBackTo {
            name: name.to_string(),
            alias: alias.to_string(),
            version: last.version,
        });
    };
    move_alias(reg, name, alias, previous, reason)?;
    Ok((last.version, previous))
}

// ---- local store ---------------------------------------------------------------------------------

/// The registry of a [`LocalStore`], under `mlruns/models/` (MLflow's FileStore layout).
#[derive(Debug)]
pub struct LocalRegistry<'a> {
    pub store: &'a LocalStore,
}

impl LocalRegistry<'_> {
    fn dir(&self, name: &str) -> Result<std::path::PathBuf> {
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(Error::InvalidModelName {
                name: name.to_string(),
            });
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
            return Err(Error::ModelNotFound {
                name: name.to_string(),
                location: self.store.root().display().to_string(),
            });
        }
        let mut versions = Vec::new();
        for e in fs::read_dir(&dir).at("reading", &dir)?.flatten() {
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
        let mut aliases = BTreeMap::new();
        for (alias, v) in read_kv_dir(&dir.join("aliases")) {
            let version = v.trim().parse().map_err(|_| Error::CorruptStore {
                path: dir.join("aliases").join(&alias),
                problem: format!("alias `{alias}` holds `{}`, not a version number", v.trim()),
            })?;
            aliases.insert(alias, version);
        }
        Ok(ModelInfo {
            name: name.to_string(),
            tags: read_kv_dir(&dir.join("tags")),
            aliases,
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
            .ok_or_else(|| Error::RunNotFound {
                run_id: run_id.to_string(),
                location: self.store.root().display().to_string(),
            })?;
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

/// The registry of an MLflow server.
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

impl RestRegistry<'_> {
    /// A version made from a logged model: source `models:/<model_id>` (MLflow 3's form, which
    /// the server resolves to the model's artifact location and its UI links to the model).
    pub fn create_version_of_logged_model(
        &mut self,
        name: &str,
        run_id: &str,
        model: &crate::logged_model::LoggedModel,
        tags: &BTreeMap<String, String>,
    ) -> Result<u64> {
        let source = format!("models:/{}", model.model_id);
        self.create(name, run_id, &source, Some(&model.model_id), tags)
    }

    fn create(
        &mut self,
        name: &str,
        run_id: &str,
        source: &str,
        model_id: Option<&str>,
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
        let mut body = json!({"name": name, "source": source, "run_id": run_id, "tags": t});
        if let Some(id) = model_id {
            body["model_id"] = id.into();
        }
        let v = self.rest.post("model-versions/create", body)?;
        field_str(
            &v["model_version"]["version"],
            "model-versions/create",
            "model_version.version",
        )?
        .parse()
        .map_err(|_| Error::UnexpectedResponse {
            endpoint: "model-versions/create",
            field: "model_version.version",
        })
    }
}

impl Registry for RestRegistry<'_> {
    fn create_version(
        &mut self,
        name: &str,
        run_id: &str,
        source: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<u64> {
        self.create(name, run_id, source, None, tags)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A local store with model `m` at versions 1 and 2.
    fn two_versions(tmp: &std::path::Path) -> LocalStore {
        let store = LocalStore::open(tmp).unwrap();
        let mut reg = LocalRegistry { store: &store };
        let tags = BTreeMap::from([("strider.run_id".to_string(), "r1".to_string())]);
        assert_eq!(
            reg.create_version("m", "r1", "file:///a", &tags).unwrap(),
            1
        );
        assert_eq!(
            reg.create_version("m", "r2", "file:///b", &BTreeMap::new())
                .unwrap(),
            2
        );
        store
    }

    #[test]
    fn alias_moves_are_recorded_and_rolled_back() {
        let tmp = tempfile::tempdir().unwrap();
        let store = two_versions(tmp.path());
        let reg = &mut LocalRegistry { store: &store };
        let m = reg.get_model("m").unwrap();
        assert_eq!(
            m.versions.iter().map(|v| v.version).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(m.versions[0].run_id, "r1");
        assert_eq!(m.versions[0].source, "file:///a");
        assert_eq!(m.versions[0].tags["strider.run_id"], "r1");
        assert_eq!(reg.list_models().unwrap(), ["m"]);

        assert_eq!(move_alias(reg, "m", "champion", 1, "first").unwrap(), None);
        assert_eq!(
            move_alias(reg, "m", "champion", 2, "better").unwrap(),
            Some(1)
        );
        assert_eq!(reg.get_model("m").unwrap().aliases["champion"], 2);

        assert_eq!(
            rollback(reg, "m", "champion", "regression").unwrap(),
            (2, 1)
        );
        let m = reg.get_model("m").unwrap();
        assert_eq!(m.aliases["champion"], 1);
        let h = alias_history(&m, "champion");
        let seen: Vec<(u64, Option<u64>, &str)> = h
            .iter()
            .map(|x| (x.version, x.previous, x.reason.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (1, None, "first"),
                (2, Some(1), "better"),
                (1, Some(2), "regression")
            ]
        );
        assert!(h.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
        // Other aliases have their own (empty) history.
        assert!(alias_history(&m, "challenger").is_empty());

        // Rolling back the rollback returns to where the alias was before it.
        assert_eq!(rollback(reg, "m", "champion", "undo").unwrap(), (1, 2));
        let m = reg.get_model("m").unwrap();
        assert_eq!(m.aliases["champion"], 2);
        assert_eq!(alias_history(&m, "champion").len(), 4);
    }

    #[test]
    fn alias_errors_name_what_is_wrong() {
        let tmp = tempfile::tempdir().unwrap();
        let store = two_versions(tmp.path());
        let reg = &mut LocalRegistry { store: &store };

        let e = rollback(reg, "m", "champion", "").unwrap_err();
        assert!(matches!(e, Error::NoAliasHistory { .. }), "{e:?}");
        assert!(e.to_string().contains("roll back"));

        move_alias(reg, "m", "champion", 1, "").unwrap();
        let e = rollback(reg, "m", "champion", "").unwrap_err();
        assert!(
            matches!(e, Error::NothingToRollBackTo { version: 1, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("roll back"));

        let e = move_alias(reg, "m", "champion", 9, "").unwrap_err();
        assert!(
            matches!(e, Error::VersionNotFound { version: 9, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("no version 9"));
        // A refused move changes nothing.
        let m = reg.get_model("m").unwrap();
        assert_eq!(m.aliases["champion"], 1);
        assert_eq!(alias_history(&m, "champion").len(), 1);

        for bad in ["latest", "V3", "v12", "has space", ""] {
            let e = move_alias(reg, "m", bad, 1, "").unwrap_err();
            assert!(matches!(e, Error::InvalidAlias { .. }), "{bad}: {e:?}");
        }
        assert!(move_alias(reg, "m", "v1-candidate", 1, "").is_ok());

        let e = reg.get_model("nope").unwrap_err();
        assert!(
            e.is_not_found() && e.to_string().contains("not found"),
            "{e:?}"
        );
        let e = reg.get_model("../m").unwrap_err();
        assert!(matches!(e, Error::InvalidModelName { .. }), "{e:?}");
    }

    #[test]
    fn corrupt_alias_state_is_reported_not_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let store = two_versions(tmp.path());
        let reg = &mut LocalRegistry { store: &store };
        let dir = store.root().join("models/m");

        fs::create_dir_all(dir.join("aliases")).unwrap();
        fs::write(dir.join("aliases/champion"), "two").unwrap();
        let e = reg.get_model("m").unwrap_err();
        match &e {
            Error::CorruptStore { path, problem } => {
                assert_eq!(path, &dir.join("aliases/champion"));
                assert!(problem.contains("`two`"), "{problem}");
            }
            other => panic!("expected CorruptStore, got {other:?}"),
        }
        fs::write(dir.join("aliases/champion"), "2\n").unwrap();
        assert_eq!(reg.get_model("m").unwrap().aliases["champion"], 2);

        let key = format!("{HISTORY_TAG}champion");
        reg.set_model_tag("m", &key, "not json").unwrap();
        let e = move_alias(reg, "m", "champion", 1, "").unwrap_err();
        assert!(matches!(e, Error::Json { .. }), "{e:?}");
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(reg.get_model("m").unwrap().tags[&key], "not json");
    }

    #[test]
    fn lineage_of_a_local_run() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::open(tmp.path()).unwrap();
        let exp = store.get_or_create_experiment("e").unwrap();
        let run = "0123456789abcdef0123456789abcdef";
        let tags = BTreeMap::from([("strider.data_fingerprint".to_string(), "fp".to_string())]);
        store.create_run(&exp, run, "r", 1, &tags).unwrap();
        let params = BTreeMap::from([("lr".to_string(), "0.1".to_string())]);
        store.log_params(&exp, run, &params).unwrap();
        let reg = &mut LocalRegistry { store: &store };

        let l = reg.run_lineage(run).unwrap();
        assert_eq!(l.tags["strider.data_fingerprint"], "fp");
        assert_eq!(l.params, params);
        assert!(l.artifact_root.starts_with("file://"));
        assert!(l.artifact_root.ends_with(&format!("{exp}/{run}/artifacts")));

        let e = reg.run_lineage("missing").unwrap_err();
        assert!(matches!(e, Error::RunNotFound { .. }), "{e:?}");
    }
}
