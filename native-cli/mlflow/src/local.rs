//! MLflow's FileStore layout (`mlruns/`), written natively. Metadata files are written to a
//! temporary name and renamed into place; metric points are appended, one `write` per batch, so
//! a crash never leaves a torn line and readers never see partial files.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::yaml::{self, Scalar};
use super::{DatasetInput, Metric, RunData, RunStatus, check_key, check_value, now_ms};

pub struct LocalStore {
    root: PathBuf,
}

/// Write via a temporary file and rename (atomic on POSIX).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("path has a parent")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().unwrap().to_string_lossy(),
        std::process::id()
    ));
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
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
        fs::create_dir_all(root.join(".trash"))
            .with_context(|| format!("creating {}", root.display()))?;
        let root = fs::canonicalize(root)?;
        let store = Self { root };
        let default = store.root.join("0/meta.yaml");
        if !default.exists() {
            store.write_experiment_meta("0", "Default", now_ms())?;
        }
        Ok(store)
    }

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

    pub fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        if let Some((id, _)) = self.experiments().into_iter().find(|(_, n)| n == name) {
            return Ok(id);
        }
        let next = self
            .experiments()
            .iter()
            .filter_map(|(id, _)| id.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
            + 1;
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
                ("tags", Scalar::Str("[]".into())),
                (
                    "user_id",
                    Scalar::Str(std::env::var("USER").unwrap_or_else(|_| "strider".into())),
                ),
            ])
            .replace("tags: '[]'", "tags: []")
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
        fs::create_dir_all(self.run_dir(exp, run_id).join("artifacts"))?;
        Ok(())
    }

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
            fs::create_dir_all(path.parent().unwrap())?;
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            f.write_all(lines.as_bytes())?;
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
            check_value("param", k, v, super::MAX_PARAM_VALUE)?;
            let path = self.run_dir(exp, run).join("params").join(k);
            if let Ok(old) = fs::read_to_string(&path) {
                if &old != v {
                    bail!(
                        "param `{k}` is already `{old}`; MLflow does not allow changing it to `{v}`"
                    );
                }
                continue;
            }
            write_atomic(&path, v.as_bytes())?;
        }
        Ok(())
    }

    pub fn set_tags(&self, exp: &str, run: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        for (k, v) in tags {
            check_key("tag", k)?;
            check_value("tag", k, v, super::MAX_TAG_VALUE)?;
            write_atomic(&self.run_dir(exp, run).join("tags").join(k), v.as_bytes())?;
        }
        Ok(())
    }

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

    pub fn log_artifact(&self, exp: &str, run: &str, rel: &str, bytes: &[u8]) -> Result<()> {
        if rel.split('/').any(|p| p == ".." || p.is_empty()) {
            bail!("artifact path `{rel}` must be relative and normalised");
        }
        write_atomic(&self.run_dir(exp, run).join("artifacts").join(rel), bytes)
    }

    pub fn end_run(&self, exp: &str, run: &str, status: RunStatus, end: i64) -> Result<()> {
        let d = self.read_run(exp, run)?;
        self.write_run_meta(exp, run, &d.name, status, d.start_time, Some(end))
    }

    pub fn run_ids(&self, exp: &str) -> Vec<String> {
        read_dir_names(&self.root.join(exp))
            .into_iter()
            .filter(|n| self.run_dir(exp, n).join("meta.yaml").is_file())
            .collect()
    }

    pub fn artifact_path(&self, exp: &str, run: &str, rel: &str) -> PathBuf {
        self.run_dir(exp, run).join("artifacts").join(rel)
    }

    pub fn read_run(&self, exp: &str, run: &str) -> Result<RunData> {
        let dir = self.run_dir(exp, run);
        let meta = yaml::read(
            &fs::read_to_string(dir.join("meta.yaml"))
                .with_context(|| format!("run {run} not found in experiment {exp}"))?,
        );
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
