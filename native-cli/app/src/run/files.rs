//! The files of a run directory, assembled from a finished run's output.

use std::path::Path;

use crate::error::Result;
use serde_json::Value;
use strider_core::config::Config;
use strider_core::pipeline::RunOutput;

use crate::manifest::Manifest;
use crate::rundir::RunDir;

fn csv_bytes(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(&r)?;
    }
    Ok(w.into_inner()?)
}

/// What a run writes, committed atomically into `dir` (which must not exist).
pub fn write_run(
    dir: &Path,
    config: &Config,
    manifest: &Manifest,
    out: &RunOutput,
    lineage: &Value,
    extra_files: &[(String, Vec<u8>)],
) -> Result<()> {
    let mut rd = RunDir::new();
    for (name, bytes) in extra_files {
        rd.add(name, bytes.clone());
    }
    if !lineage.is_null() {
        rd.add_json("tracking.json", lineage)?;
    }
    rd.add("config.toml", config.to_toml()?);
    rd.add_json("manifest.json", manifest)?;
    rd.add_json("summary.json", &out.summary)?;
    rd.add("folds.csv", folds_csv(out)?);
    rd.add("predictions.csv", predictions_csv(out)?);
    rd.add("returns.csv", returns_csv(out)?);
    for m in &out.models {
        for (k, f) in m.fitted.iter().enumerate() {
            rd.add_json(&format!("models/{}/split-{k}.json", m.name), f)?;
        }
        for (k, files) in m.artifacts.iter().enumerate() {
            for (file, bytes) in files {
                rd.add(format!("models/{}/split-{k}.{file}", m.name), bytes.clone());
            }
        }
    }
    let run_id = lineage["run_id"].as_str();
    let now = chrono::Utc::now();
    for m in &out.models {
        let Some(fin) = &m.final_model else { continue };
        let bundle = strider_core::bundle::Bundle::load_checked(&fin.bundle)?;
        let artifact_path = format!("run/bundles/{}", m.name);
        let files = crate::deploy::with_mlmodel(
            fin.bundle.clone(),
            &bundle.manifest,
            &artifact_path,
            run_id,
            now,
        );
        for (file, bytes) in files {
            rd.add(format!("bundles/{}/{file}", m.name), bytes);
        }
        let rows = fin.in_sample.iter().map(|p| {
            vec![
                p.date.to_string(),
                p.instrument.clone(),
                p.prediction.to_string(),
            ]
        });
        rd.add(
            format!("models/{}/final-in-sample.csv", m.name),
            csv_bytes(&["date", "instrument", "prediction"], rows)?,
        );
    }
    // {model: [[{step, name, value}, ...] per split]}, for the report's learning-curve charts.
    let curves: serde_json::Map<String, Value> = out
        .models
        .iter()
        .filter(|m| m.learning_curves.iter().any(|c| !c.is_empty()))
        .map(|m| Ok((m.name.clone(), serde_json::to_value(&m.learning_curves)?)))
        .collect::<Result<_>>()?;
    if !curves.is_empty() {
        rd.add_json("learning_curves.json", &curves)?;
    }
    rd.commit(dir)
}

fn folds_csv(out: &RunOutput) -> Result<Vec<u8>> {
    csv_bytes(
        &[
            "model",
            "split",
            "train_start",
            "train_end",
            "test_start",
            "test_end",
            "train_dates",
            "test_dates",
            "train_rows",
            "test_rows",
            "ic",
            "directional_accuracy",
            "rmse",
            "strategy_sharpe",
            "strategy_return",
            "ndcg",
        ],
        out.summary.folds.iter().map(|f| {
            let m = &f.metrics;
            vec![
                f.model.clone(),
                f.split.to_string(),
                f.train[0][0].to_string(),
                f.train[f.train.len() - 1][1].to_string(),
                f.test[0][0].to_string(),
                f.test[f.test.len() - 1][1].to_string(),
                f.train_dates.to_string(),
                f.test_dates.to_string(),
                f.train_rows.to_string(),
                f.test_rows.to_string(),
                m.ic.to_string(),
                m.directional_accuracy.to_string(),
                m.rmse.to_string(),
                m.strategy_sharpe.to_string(),
                m.strategy_return.to_string(),
                m.ndcg.to_string(),
            ]
        }),
    )
}

fn predictions_csv(out: &RunOutput) -> Result<Vec<u8>> {
    csv_bytes(
        &[
            "model",
            "path",
            "split",
            "date",
            "instrument",
            "prediction",
            "label",
            "forward_return",
        ],
        out.models.iter().flat_map(|m| {
            m.predictions.iter().map(|p| {
                vec![
                    m.name.clone(),
                    p.path.to_string(),
                    p.split.to_string(),
                    p.date.to_string(),
                    p.instrument.clone(),
                    p.prediction.to_string(),
                    p.label.to_string(),
                    p.forward_return.to_string(),
                ]
            })
        }),
    )
}

fn returns_csv(out: &RunOutput) -> Result<Vec<u8>> {
    csv_bytes(
        &[
            "model",
            "date",
            "strategy",
            "gross",
            "cost",
            "benchmark",
            "exposure",
            "turnover",
        ],
        out.models.iter().flat_map(|m| {
            m.backtest.portfolio.iter().map(|d| {
                vec![
                    m.name.clone(),
                    d.date.to_string(),
                    d.strategy.to_string(),
                    d.gross.to_string(),
                    d.cost.to_string(),
                    d.benchmark.to_string(),
                    d.exposure.to_string(),
                    d.turnover.to_string(),
                ]
            })
        }),
    )
}
