//! What a `strider run` records in the tracking store: a parent run per invocation with the
//! resolved config as params, reproducibility tags, dataset inputs and the run directory as
//! artifacts; a child run per model x fold with its parameters, fold metrics, fitted model and the
//! training metrics streamed while it trained.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::error::Result;
use strider_core::config::Config;
use strider_core::model::TrainEvent;
use strider_core::pipeline::{FoldRecord, RunOutput};

use crate::manifest::Manifest;
use strider_mlflow::tracker::Tracker;
use strider_mlflow::{DatasetInput, Metric, RunStatus, now_ms};

/// Flatten a TOML value into `a.b.0.c = value` params.
fn flatten(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, x) in t {
                flatten(
                    &if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    },
                    x,
                    out,
                );
            }
        }
        toml::Value::Array(a) if a.iter().any(|x| x.is_table()) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}.{i}"), x, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

pub struct RunTracking {
    pub tracker: Tracker,
    pub parent: String,
    children: HashMap<(String, usize), String>,
    /// The run's number of splits, once a fold has finished: split `n_splits` is a final fit.
    n_splits: Option<usize>,
}

impl RunTracking {
    pub fn start(
        mut tracker: Tracker,
        run_name: &str,
        config: &Config,
        manifest: &Manifest,
        extra_tags: &BTreeMap<String, String>,
    ) -> Result<Self> {
        let mut tags = BTreeMap::from([
            (
                "strider.version".to_string(),
                manifest.strider_version.to_string(),
            ),
            (
                "strider.git_revision".to_string(),
                manifest.git_revision.to_string(),
            ),
            (
                "strider.data_fingerprint".to_string(),
                manifest.data_fingerprint.clone(),
            ),
            ("strider.seed".to_string(), manifest.seed.to_string()),
            (
                "strider.config_source".to_string(),
                manifest.config_source.clone(),
            ),
            ("mlflow.source.name".to_string(), "strider run".to_string()),
        ]);
        if !manifest.git_revision.starts_with("unknown") {
            tags.insert(
                "mlflow.source.git.commit".into(),
                manifest.git_revision.trim_end_matches("-dirty").to_string(),
            );
        }
        tags.extend(extra_tags.clone());
        let parent = tracker.start_run(run_name, None, &tags)?;
        let mut params = BTreeMap::new();
        let value: toml::Value = toml::from_str(&config.to_toml()?)?;
        flatten("", &value, &mut params);
        tracker.log_params(&parent, &params)?;
        for input in &manifest.inputs {
            tracker.log_input(
                &parent,
                &DatasetInput {
                    name: input.path.clone(),
                    digest: input.sha256[..32].to_string(),
                    source_type: "local".into(),
                    source: serde_json::json!({"uri": input.path}).to_string(),
                    profile: serde_json::json!({"bytes": input.bytes, "sha256": input.sha256})
                        .to_string(),
                    context: "training".into(),
                },
            )?;
        }
        tracker.log_input(
            &parent,
            &DatasetInput {
                name: format!("{}-data", config.name),
                digest: manifest.data_fingerprint[..32].to_string(),
                source_type: "local".into(),
                source: serde_json::json!({"files": manifest.inputs.iter().map(|i| &i.path).collect::<Vec<_>>()}).to_string(),
                profile: serde_json::json!({"fingerprint": manifest.data_fingerprint}).to_string(),
                context: "training".into(),
            },
        )?;
        tracker.flush();
        Ok(Self {
            tracker,
            parent,
            children: HashMap::new(),
            n_splits: None,
        })
    }

    /// The child run of a model x split; the split after the last is the model's final fit
    /// (`<model>/final`, tagged `strider.final`).
    fn child(&mut self, model: &str, split: usize) -> Result<String> {
        if let Some(id) = self.children.get(&(model.to_string(), split)) {
            return Ok(id.clone());
        }
        let is_final = self.n_splits == Some(split);
        let mut tags = BTreeMap::from([("strider.model".to_string(), model.to_string())]);
        let name = if is_final {
            tags.insert("strider.final".into(), "true".into());
            format!("{model}/final")
        } else {
            tags.insert("strider.split".into(), split.to_string());
            format!("{model}/split-{split}")
        };
        let id = self
            .tracker
            .start_run(&name, Some(&self.parent.clone()), &tags)?;
        self.children.insert((model.to_string(), split), id.clone());
        Ok(id)
    }

    /// A training event, streamed to the fold's child run.
    pub fn train_event(&mut self, model: &str, split: usize, e: &TrainEvent) -> Result<()> {
        let run = self.child(model, split)?;
        self.tracker.log_metrics(
            &run,
            &[Metric {
                key: format!("train/{}", e.name),
                value: e.value,
                timestamp: now_ms(),
                step: e.step as i64,
            }],
        )?;
        // The tracker streams it to a server within a second (batched on its own thread).
        Ok(())
    }

    pub fn fold_done(&mut self, model: &str, split: usize, n_splits: usize) -> Result<()> {
        self.n_splits = Some(n_splits);
        self.child(model, split)?;
        self.tracker.flush();
        Ok(())
    }

    /// One model x fold's child run: its params, fold metrics and fitted model, then FINISHED.
    fn log_fold(&mut self, config: &Config, out: &RunOutput, f: &FoldRecord, t: i64) -> Result<()> {
        let run = self.child(&f.model, f.split)?;
        let mut params = BTreeMap::from([
            ("model".to_string(), f.model.clone()),
            ("split".to_string(), f.split.to_string()),
            ("train_start".to_string(), f.train[0][0].to_string()),
            (
                "train_end".to_string(),
                f.train[f.train.len() - 1][1].to_string(),
            ),
            ("test_start".to_string(), f.test[0][0].to_string()),
            (
                "test_end".to_string(),
                f.test[f.test.len() - 1][1].to_string(),
            ),
        ]);
        model_params(config, &f.model, &mut params)?;
        self.tracker.log_params(&run, &params)?;
        let m = &f.metrics;
        let metrics: Vec<Metric> = [
            ("ic", m.ic),
            ("directional_accuracy", m.directional_accuracy),
            ("rmse", m.rmse),
            ("strategy_sharpe", m.strategy_sharpe),
            ("strategy_return", m.strategy_return),
            ("ndcg", m.ndcg),
            ("train_rows", f.train_rows as f64),
            ("test_rows", f.test_rows as f64),
        ]
        .into_iter()
        .map(|(k, v)| Metric {
            key: k.into(),
            value: v,
            timestamp: t,
            step: f.split as i64,
        })
        .collect();
        self.tracker.log_metrics(&run, &metrics)?;
        if let Some(model) = out.models.iter().find(|x| x.name == f.model) {
            if let Some(fitted) = model.fitted.get(f.split) {
                self.tracker.log_artifact(
                    &run,
                    "model/fitted.json",
                    serde_json::to_string_pretty(fitted)?.as_bytes(),
                )?;
            }
            for (file, bytes) in model.artifacts.get(f.split).into_iter().flatten() {
                self.tracker
                    .log_artifact(&run, &format!("model/{file}"), bytes)?;
            }
        }
        self.tracker.end_run(&run, RunStatus::Finished)?;
        Ok(())
    }

    /// Mark every run of this invocation FAILED, with the reason as a tag.
    pub fn fail(&mut self, reason: &str) {
        let runs: Vec<String> = self
            .children
            .values()
            .cloned()
            .chain([self.parent.clone()])
            .collect();
        for run in runs {
            let reason: String = reason.chars().take(strider_mlflow::MAX_TAG_VALUE).collect();
            let _ = self.tracker.set_tags(
                &run,
                &BTreeMap::from([("strider.error".to_string(), reason)]),
            );
            let _ = self.tracker.end_run(&run, RunStatus::Failed);
        }
    }

    /// Fold results, model summaries and the run directory, then close every run.
    pub fn complete(&mut self, config: &Config, out: &RunOutput, run_dir: &Path) -> Result<()> {
        let t = now_ms();
        let s = &out.summary;
        for f in &s.folds {
            self.log_fold(config, out, f, t)?;
        }
        // The final fits (their training events already streamed to a child run of their own).
        self.n_splits = Some(s.split.n_splits);
        for m in out.models.iter().filter(|m| m.final_model.is_some()) {
            let run = self.child(&m.name, s.split.n_splits)?;
            let mut params = BTreeMap::from([("model".to_string(), m.name.clone())]);
            model_params(config, &m.name, &mut params)?;
            self.tracker.log_params(&run, &params)?;
            self.tracker.end_run(&run, RunStatus::Finished)?;
        }
        let mut metrics = Vec::new();
        for m in &s.models {
            for (k, v) in m.evaluation.strategy.fields() {
                metrics.push(Metric {
                    key: format!("{}.{k}", m.name),
                    value: v,
                    timestamp: t,
                    step: 0,
                });
            }
            for (k, v) in m.evaluation.benchmark.fields() {
                metrics.push(Metric {
                    key: format!("{}.benchmark.{k}", m.name),
                    value: v,
                    timestamp: t,
                    step: 0,
                });
            }
            metrics.push(Metric {
                key: format!("{}.gross.sharpe", m.name),
                value: m.evaluation.gross.sharpe,
                timestamp: t,
                step: 0,
            });
        }
        metrics.push(Metric {
            key: "deflated_sharpe".into(),
            value: s.deflated_sharpe.dsr,
            timestamp: t,
            step: 0,
        });
        self.tracker.log_metrics(&self.parent.clone(), &metrics)?;
        let parent = self.parent.clone();
        let mut files = Vec::new();
        collect(run_dir, "", &mut files);
        for rel in files {
            let bytes = std::fs::read(run_dir.join(&rel))?;
            self.tracker
                .log_artifact(&parent, &format!("run/{rel}"), &bytes)?;
        }
        let mut tags = BTreeMap::from([(
            "strider.run_dir".to_string(),
            std::fs::canonicalize(run_dir)?.display().to_string(),
        )]);
        selection_tags(run_dir, &mut tags);
        self.tracker.set_tags(&parent, &tags)?;
        self.tracker.end_run(&parent, RunStatus::Finished)?;
        self.tracker.flush();
        Ok(())
    }
}

/// The recommendation and the holdout's looks, from the run directory's `selection.json` and
/// `manifest.json`: `strider.recommended` (a model or `none`), `strider.holdout.start` and
/// `strider.holdout.evaluations` (how many models read the holdout in this run).
fn selection_tags(run_dir: &Path, tags: &mut BTreeMap<String, String>) {
    let read = |f: &str| -> Option<serde_json::Value> {
        serde_json::from_slice(&std::fs::read(run_dir.join(f)).ok()?).ok()
    };
    if let Some(sel) = read("selection.json") {
        let rec = sel["recommended"].as_str().unwrap_or("none").to_string();
        tags.insert("strider.recommended".into(), rec);
    }
    if let Some(h) = read("manifest.json").map(|m| m["holdout"].clone())
        && !h.is_null()
    {
        tags.insert(
            "strider.holdout.start".into(),
            h["start"].as_str().unwrap_or("").into(),
        );
        tags.insert(
            "strider.holdout.evaluations".into(),
            h["evaluations"].to_string(),
        );
    }
}

/// The `[[models]]` entry named `model`, flattened into `model_params.*` params.
fn model_params(config: &Config, model: &str, params: &mut BTreeMap<String, String>) -> Result<()> {
    if let Some(spec) = config.models.iter().find(|m| m.name == model) {
        let v: toml::Value = toml::Value::try_from(serde_json::to_value(spec)?)?;
        flatten("model_params", &v, params);
    }
    Ok(())
}

fn collect(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().collect())
        .unwrap_or_default();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if e.path().is_dir() {
            collect(&e.path(), &rel, out);
        } else {
            out.push(rel);
        }
    }
}
