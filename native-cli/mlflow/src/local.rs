//! MLflow's FileStore layout (`mlruns/`), written natively. Metadata files are written to a
//! temporary name and renamed into place; metric points are appended, one `write` per batch, so
//! a crash never leaves a torn line and readers never see partial files.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::IoContext;
use crate::yaml::{self, Scalar};
use crate::{
    DatasetInput, Error, Metric, Result, RunData, RunStatus, check_key, check_value, now_ms,
};

/// An MLflow FileStore (`mlruns/` directory) on the local disk.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
}

/// Write via a temporary file and rename (atomic on POSIX).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let (Some(dir), Some(file)) = (path.parent(), path.file_name()) else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file path inside a directory",
        ))
        .at("writing", path);
    };
    fs::create_dir_all(dir).at("creating", dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        file.to_string_lossy(),
        std::process::id()
    ));
    fs::write(&tmp, bytes).at("writing", &tmp)?;
    fs::rename(&tmp, path).at("renaming into", path)?;
    Ok(())
}

fn file_uri(p: &Path) -> String {
    format!("file://{}", p.display())
}

fn read_dir_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Files under `dir`, as paths relative to it ('/'-joined), recursively.
fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    for name in read_dir_names(dir) {
        let p = dir.join(&name);
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        if p.is_dir() {
            walk(&p, &rel, out);
        } else {
            out.push(rel);
        }
    }
}

fn parse_metric_line(key: &str, line: &str) -> Option<Metric> {
    let mut it = line.split_whitespace();
    let timestamp = it.next()?.parse().ok()?;
    let value = match it.next()? {
        "nan" | "NaN" => f64::NAN,
        "inf" | "Infinity" => f64::INFINITY,
        "-inf" | "-Infinity" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let step = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    Some(Metric {
        key: key.to_string(),
        value,
        timestamp,
        step,
    })
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{v:?}")
    }
}

impl LocalStore {
    /// Open (creating if needed) a store rooted at `root` (the `mlruns` directory).
    pub fn open(root: &Path) -> Result<Self> {
        fs::create_dir_all(root.join(".trash")).at("creating", root)?;
        let root = fs::canonicalize(root).at("resolving", root)?;
        let store = Self { root };
        let default = store.root.join("0/meta.yaml");
        if !default.exists() {
            store.write_experiment_meta("0", "Default", now_ms())?;
        }
        Ok(store)
    }

    /// The store's root (canonical path of the `mlruns` directory).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn write_experiment_meta(&self, id: &str, name: &str, t: i64) -> Result<()> {
        let dir = self.root.join(id);
        write_atomic(
            &dir.join("meta.yaml"),
            yaml::write(&[
                ("artifact_location", Scalar::Str(file_uri(&dir))),
                ("creation_time", Scalar::Int(t)),
                ("experiment_id", Scalar::Str(id.into())),
                ("last_update_time", Scalar::Int(t)),
                ("lifecycle_stage", Scalar::Str("active".into())),
                ("name", Scalar::Str(name.into())),
            ])
            .as_bytes(),
        )
    }

    /// `(id, name)` of every active experiment.
    pub fn experiments(&self) -> Vec<(String, String)> {
        read_dir_names(&self.root)
            .into_iter()
            .filter(|n| n.chars().all(|c| c.is_ascii_digit()))
            .filter_map(|id| {
                let meta =
                    yaml::read(&fs::read_to_string(self.root.join(&id).join("meta.yaml")).ok()?);
                let name = meta.get("name")?.as_str()?.to_string();
                (meta.get("lifecycle_stage").and_then(|s| s.as_str()) != Some("deleted"))
                    .then_some((id, name))
            })
            .collect()
    }

    /// The id of the active experiment called `name`, created if there is none.
    pub fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        if let Some((id, _)) = self.experiments().into_iter().find(|(_, n)| n == name) {
            return Ok(id);
        }
        // Every numbered folder counts, readable or not (deleted, or with a corrupt meta.yaml):
        // a new experiment never takes an existing folder and the runs inside it.
        let next = read_dir_names(&self.root)
            .iter()
            .filter_map(|id| id.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        let id = next.to_string();
        self.write_experiment_meta(&id, name, now_ms())?;
        Ok(id)
    }

    fn run_dir(&self, exp: &str, run: &str) -> PathBuf {
        self.root.join(exp).join(run)
    }

    /// The experiment a run belongs to.
    pub fn experiment_of(&self, run_id: &str) -> Option<String> {
        self.experiments()
            .into_iter()
            .map(|(id, _)| id)
            .find(|id| self.run_dir(id, run_id).join("meta.yaml").is_file())
    }

    fn write_run_meta(
        &self,
        exp: &str,
        run: &str,
        name: &str,
        status: RunStatus,
        start: i64,
        end: Option<i64>,
    ) -> Result<()> {
        let dir = self.run_dir(exp, run);
        write_atomic(
            &dir.join("meta.yaml"),
            yaml::write(&[
                (
                    "artifact_uri",
                    Scalar::Str(file_uri(&dir.join("artifacts"))),
                ),
                ("end_time", end.map_or(Scalar::Null, Scalar::Int)),
                ("entry_point_name", Scalar::Str(String::new())),
                ("experiment_id", Scalar::Str(exp.into())),
                ("lifecycle_stage", Scalar::Str("active".into())),
                ("run_id", Scalar::Str(run.into())),
                ("run_name", Scalar::Str(name.into())),
                ("source_name", Scalar::Str(String::new())),
                ("source_type", Scalar::Int(4)),
                ("source_version", Scalar::Str(String::new())),
                ("start_time", Scalar::Int(start)),
                ("status", Scalar::Int(status.code())),
                ("tags", Scalar::EmptyList),
                (
                    "user_id",
                    Scalar::Str(std::env::var("USER").unwrap_or_else(|_| "strider".into())),
                ),
            ])
            .as_bytes(),
        )
    }

    /// Create a run; `run_id` is given by the caller (a uuid4 hex for new runs).
    pub fn create_run(
        &self,
        exp: &str,
        run_id: &str,
        name: &str,
        start: i64,
        tags: &BTreeMap<String, String>,
    ) -> Result<()> {
        self.write_run_meta(exp, run_id, name, RunStatus::Running, start, None)?;
        let mut all = tags.clone();
        all.insert("mlflow.runName".into(), name.into());
        all.entry("mlflow.source.type".into())
            .or_insert_with(|| "LOCAL".into());
        all.entry("mlflow.user".into())
            .or_insert_with(|| std::env::var("USER").unwrap_or_else(|_| "strider".into()));
        self.set_tags(exp, run_id, &all)?;
        // MLflow's FileStore takes a folder for a run only when it has all three (a run that
        // logs no metric or param would otherwise be invisible to it).
        for sub in ["artifacts", "metrics", "params"] {
            let dir = self.run_dir(exp, run_id).join(sub);
            fs::create_dir_all(&dir).at("creating", &dir)?;
        }
        Ok(())
    }

    /// Append metric points (one `write` per key), after checking every key.
    pub fn log_metrics(&self, exp: &str, run: &str, metrics: &[Metric]) -> Result<()> {
        let mut by_key: BTreeMap<&str, String> = BTreeMap::new();
        for m in metrics {
            check_key("metric", &m.key)?;
            by_key.entry(&m.key).or_default().push_str(&format!(
                "{} {} {}\n",
                m.timestamp,
                format_value(m.value),
                m.step
            ));
        }
        for (key, lines) in by_key {
            let path = self.run_dir(exp, run).join("metrics").join(key);
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir).at("creating", dir)?;
            }
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .at("opening", &path)?;
            f.write_all(lines.as_bytes()).at("appending to", &path)?;
        }
        Ok(())
    }

    /// Params are immutable, as in MLflow: the same value again is fine, a different one is not.
    pub fn log_params(
        &self,
        exp: &str,
        run: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<()> {
        for (k, v) in params {
            check_key("param", k)?;
            check_value("param", k, v, crate::MAX_PARAM_VALUE)?;
            let path = self.run_dir(exp, run).join("params").join(k);
            if let Ok(old) = fs::read_to_string(&path) {
                if &old != v {
                    return Err(Error::ParamChanged {
                        key: k.clone(),
                        old,
                        new: v.clone(),
                    });
                }
                continue;
            }
            write_atomic(&path, v.as_bytes())?;
        }
        Ok(())
    }

    /// Set (overwrite) run tags.
    pub fn set_tags(&self, exp: &str, run: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        for (k, v) in tags {
            check_key("tag", k)?;
            check_value("tag", k, v, crate::MAX_TAG_VALUE)?;
            write_atomic(&self.run_dir(exp, run).join("tags").join(k), v.as_bytes())?;
        }
        Ok(())
    }

    /// Record a dataset input of a run (the same name and digest are stored once).
    pub fn log_input(&self, exp: &str, run: &str, d: &DatasetInput) -> Result<()> {
        // Dataset id: deterministic in (name, digest), so the same dataset is recorded once.
        let id = hex_digest(&format!("{}\n{}", d.name, d.digest))[..32].to_string();
        write_atomic(
            &self
                .root
                .join(exp)
                .join("datasets")
                .join(&id)
                .join("meta.yaml"),
            yaml::write(&[
                ("digest", Scalar::Str(d.digest.clone())),
                ("name", Scalar::Str(d.name.clone())),
                ("profile", Scalar::Str(d.profile.clone())),
                ("schema", Scalar::Null),
                ("source", Scalar::Str(d.source.clone())),
                ("source_type", Scalar::Str(d.source_type.clone())),
            ])
            .as_bytes(),
        )?;
        let edge = format!("{}{}", &id[..16], &hex_digest(run)[..16]);
        let body = yaml::write(&[
            ("destination_id", Scalar::Str(run.into())),
            ("destination_type", Scalar::Str("RUN".into())),
            ("source_id", Scalar::Str(id)),
            ("source_type", Scalar::Str("DATASET".into())),
        ]) + &format!("tags:\n  mlflow.data.context: {}\n", d.context);
        write_atomic(
            &self
                .run_dir(exp, run)
                .join("inputs")
                .join(edge)
                .join("meta.yaml"),
            body.as_bytes(),
        )
    }

    /// Write an artifact at `rel` (a relative, normalised `/`-separated path) under the run.
    pub fn log_artifact(&self, exp: &str, run: &str, rel: &str, bytes: &[u8]) -> Result<()> {
        if rel
            .split('/')
            .any(|p| p == ".." || p == "." || p.is_empty())
        {
            return Err(Error::InvalidArtifactPath {
                path: rel.to_string(),
            });
        }
        write_atomic(&self.run_dir(exp, run).join("artifacts").join(rel), bytes)
    }

    /// Close a run with `status` at `end` (ms since the epoch).
    pub fn end_run(&self, exp: &str, run: &str, status: RunStatus, end: i64) -> Result<()> {
        let d = self.read_run(exp, run)?;
        self.write_run_meta(exp, run, &d.name, status, d.start_time, Some(end))
    }

    /// Ids of the runs of an experiment, sorted.
    pub fn run_ids(&self, exp: &str) -> Vec<String> {
        read_dir_names(&self.root.join(exp))
            .into_iter()
            .filter(|n| self.run_dir(exp, n).join("meta.yaml").is_file())
            .collect()
    }

    /// Where an artifact of a run lives on disk.
    pub fn artifact_path(&self, exp: &str, run: &str, rel: &str) -> PathBuf {
        self.run_dir(exp, run).join("artifacts").join(rel)
    }

    /// Everything recorded about a run.
    pub fn read_run(&self, exp: &str, run: &str) -> Result<RunData> {
        let dir = self.run_dir(exp, run);
        let meta_path = dir.join("meta.yaml");
        let meta = match fs::read_to_string(&meta_path) {
            Ok(text) => yaml::read(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::RunNotFound {
                    run_id: run.to_string(),
                    location: format!("experiment {exp}"),
                });
            }
            Err(e) => return Err(e).at("reading", &meta_path),
        };
        let kv = |sub: &str| -> BTreeMap<String, String> {
            let mut files = Vec::new();
            walk(&dir.join(sub), "", &mut files);
            files
                .into_iter()
                .filter_map(|k| Some((k.clone(), fs::read_to_string(dir.join(sub).join(&k)).ok()?)))
                .collect()
        };
        let mut metric_files = Vec::new();
        walk(&dir.join("metrics"), "", &mut metric_files);
        let metrics = metric_files
            .into_iter()
            .map(|k| {
                let text = fs::read_to_string(dir.join("metrics").join(&k)).unwrap_or_default();
                let points = text
                    .lines()
                    .filter_map(|l| parse_metric_line(&k, l))
                    .collect();
                (k, points)
            })
            .collect();
        let inputs = read_dir_names(&dir.join("inputs"))
            .into_iter()
            .filter_map(|edge| {
                let e = yaml::read(
                    &fs::read_to_string(dir.join("inputs").join(&edge).join("meta.yaml")).ok()?,
                );
                let ds_id = e.get("source_id")?.as_str()?.to_string();
                let d = yaml::read(
                    &fs::read_to_string(
                        self.root
                            .join(exp)
                            .join("datasets")
                            .join(&ds_id)
                            .join("meta.yaml"),
                    )
                    .ok()?,
                );
                let s = |k: &str| {
                    d.get(k)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_string()
                };
                Some(DatasetInput {
                    name: s("name"),
                    digest: s("digest"),
                    source_type: s("source_type"),
                    source: s("source"),
                    profile: s("profile"),
                    context: e
                        .get("tags.mlflow.data.context")
                        .and_then(|v| v.as_str())
                        .unwrap_or("training")
                        .to_string(),
                })
            })
            .collect();
        let mut artifacts = Vec::new();
        walk(&dir.join("artifacts"), "", &mut artifacts);
        let get = |k: &str| meta.get(k).cloned().unwrap_or(Scalar::Null);
        Ok(RunData {
            run_id: run.to_string(),
            experiment_id: exp.to_string(),
            name: get("run_name").as_str().unwrap_or_default().to_string(),
            status: RunStatus::from_code(get("status").as_i64().unwrap_or(1)),
            start_time: get("start_time").as_i64().unwrap_or(0),
            end_time: get("end_time").as_i64(),
            params: kv("params"),
            tags: kv("tags"),
            metrics,
            inputs,
            artifacts,
        })
    }
}

/// Hex SHA-256 of a string (stable ids for datasets and input edges).
pub fn hex_digest(s: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(s.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(key: &str, value: f64, step: i64) -> Metric {
        Metric {
            key: key.into(),
            value,
            timestamp: 1_700_000_000_000 + step,
            step,
        }
    }

    fn kv(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn run_round_trips_params_metrics_tags_and_status() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&tmp.path().join("mlruns")).unwrap();
        let exp = store.get_or_create_experiment("round-trip").unwrap();
        assert_ne!(
            exp, "0",
            "the Default experiment is 0; a new one gets a new id"
        );
        assert_eq!(store.get_or_create_experiment("round-trip").unwrap(), exp);

        let run = "aaaabbbbccccddddeeeeffff00001111";
        store
            .create_run(&exp, run, "trial", 1_000, &kv(&[("team", "quant")]))
            .unwrap();
        assert_eq!(store.experiment_of(run).as_deref(), Some(exp.as_str()));
        let running = store.read_run(&exp, run).unwrap();
        assert_eq!(running.status, RunStatus::Running);
        assert_eq!(running.end_time, None);

        store
            .log_params(&exp, run, &kv(&[("lr", "0.1"), ("model/depth", "6")]))
            .unwrap();
        // The same value again is accepted (params are immutable, not write-once-only).
        store.log_params(&exp, run, &kv(&[("lr", "0.1")])).unwrap();
        store
            .log_metrics(
                &exp,
                run,
                &[
                    metric("loss", 0.5, 0),
                    metric("loss", 0.25, 1),
                    metric("val/auc", f64::NAN, 1),
                ],
            )
            .unwrap();
        // A second batch appends rather than replaces.
        store
            .log_metrics(&exp, run, &[metric("loss", 0.125, 2)])
            .unwrap();
        store
            .set_tags(&exp, run, &kv(&[("stage", "dev"), ("team", "research")]))
            .unwrap();
        store
            .log_artifact(&exp, run, "model/fitted.json", b"{}")
            .unwrap();
        store
            .end_run(&exp, run, RunStatus::Finished, 2_000)
            .unwrap();

        let d = store.read_run(&exp, run).unwrap();
        assert_eq!(d.run_id, run);
        assert_eq!(d.experiment_id, exp);
        assert_eq!(d.name, "trial");
        assert_eq!(d.status, RunStatus::Finished);
        assert_eq!(d.start_time, 1_000);
        assert_eq!(d.end_time, Some(2_000));
        assert_eq!(d.params, kv(&[("lr", "0.1"), ("model/depth", "6")]));
        assert_eq!(d.tags["stage"], "dev");
        assert_eq!(d.tags["team"], "research", "a later set_tags overwrites");
        assert_eq!(d.tags["mlflow.runName"], "trial");
        let loss: Vec<(i64, f64)> = d.metrics["loss"]
            .iter()
            .map(|m| (m.step, m.value))
            .collect();
        assert_eq!(loss, vec![(0, 0.5), (1, 0.25), (2, 0.125)]);
        assert_eq!(d.metrics["loss"][2], metric("loss", 0.125, 2));
        assert_eq!(d.metrics["val/auc"].len(), 1);
        assert!(d.metrics["val/auc"][0].value.is_nan());
        assert_eq!(d.artifacts, vec!["model/fitted.json".to_string()]);
        assert_eq!(d.parent(), None);
        assert_eq!(store.run_ids(&exp), vec![run.to_string()]);
        // Ending a run keeps what it recorded.
        assert_eq!(
            std::fs::read(store.artifact_path(&exp, run, "model/fitted.json")).unwrap(),
            b"{}"
        );
    }

    #[test]
    fn rejects_what_mlflow_would_refuse() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::open(tmp.path()).unwrap();
        let exp = store.get_or_create_experiment("rules").unwrap();
        let run = "0000111122223333444455556666777a";
        store
            .create_run(&exp, run, "r", 1, &BTreeMap::new())
            .unwrap();

        let e = store
            .log_metrics(&exp, run, &[metric("../escape", 1.0, 0)])
            .unwrap_err();
        assert!(
            matches!(e, Error::InvalidKey { kind: "metric", .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("invalid metric key `../escape`"));
        assert!(!tmp.path().join(&exp).join(run).join("escape").exists());

        store.log_params(&exp, run, &kv(&[("lr", "0.1")])).unwrap();
        let e = store
            .log_params(&exp, run, &kv(&[("lr", "0.2")]))
            .unwrap_err();
        assert!(matches!(e, Error::ParamChanged { .. }), "{e:?}");
        assert_eq!(store.read_run(&exp, run).unwrap().params["lr"], "0.1");

        let long = "x".repeat(crate::MAX_TAG_VALUE + 1);
        let e = store
            .set_tags(&exp, run, &kv(&[("note", long.as_str())]))
            .unwrap_err();
        assert!(
            matches!(e, Error::ValueTooLong { len, max, .. } if len == max + 1),
            "{e:?}"
        );

        for bad in ["../x", "/abs", "a//b", "a/./b", ""] {
            let e = store.log_artifact(&exp, run, bad, b"x").unwrap_err();
            assert!(
                matches!(e, Error::InvalidArtifactPath { .. }),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn a_new_experiment_never_takes_the_folder_of_one_with_a_corrupt_meta() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::open(tmp.path()).unwrap();
        let a = store.get_or_create_experiment("a").unwrap();
        std::fs::write(store.root().join(&a).join("meta.yaml"), "\u{0}garbage: [").unwrap();
        let b = store.get_or_create_experiment("b").unwrap();
        assert_ne!(a, b);
        assert!(b.parse::<u64>().unwrap() > a.parse::<u64>().unwrap());
    }

    #[test]
    fn a_missing_run_is_not_found() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::open(tmp.path()).unwrap();
        let e = store.read_run("0", "nope").unwrap_err();
        assert!(e.is_not_found(), "{e:?}");
        assert!(e.to_string().contains("not found in experiment 0"));
        assert!(store.end_run("0", "nope", RunStatus::Failed, 1).is_err());
        assert_eq!(store.experiment_of("nope"), None);
    }
}
