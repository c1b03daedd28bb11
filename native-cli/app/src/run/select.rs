//! Selection after a run, the holdout's one look, and `strider select` on a finished run.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;
use strider_core::bundle::Bundle;
use strider_core::config::Config;
use strider_core::data::Instrument;
use strider_core::pipeline::{RunOutput, evaluate_holdout};
use strider_core::selection::{Candidate, SelectionInput, SelectionReport, SelectionSpec, select};

use crate::bail;
use crate::error::{Context, Result};

/// How often, and for which models, a run read its holdout.
#[derive(Debug, Clone, Serialize)]
pub struct HoldoutRecord {
    pub start: NaiveDate,
    /// Models evaluated on the holdout in this run (one look each).
    pub evaluations: usize,
    pub models: Vec<String>,
    /// Why nothing was evaluated, when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Ranks the run's models; with a holdout, evaluates each model that passes selection (refit on
/// everything before the holdout: its bundle) once on the holdout, after the ranking is fixed.
pub fn select_run(
    output: &RunOutput,
    config: &Config,
    other_trials: usize,
    holdout: Option<(NaiveDate, &[Instrument])>,
) -> Result<(SelectionReport, Option<HoldoutRecord>)> {
    let mut report = select(
        &output.selection_input(config, other_trials),
        &config.selection,
    )
    .context("selecting a model")?;
    let Some((start, instruments)) = holdout else {
        return Ok((report, None));
    };
    let mut models = Vec::new();
    for r in report.ranking.iter_mut().filter(|r| r.passes) {
        let Some(fin) = output
            .models
            .iter()
            .find(|m| m.name == r.model)
            .and_then(|m| m.final_model.as_ref())
        else {
            continue;
        };
        let bundle = Bundle::load_checked(&fin.bundle)?;
        let eval = evaluate_holdout(&bundle, instruments, start, &config.metrics)
            .with_context(|| format!("evaluating `{}` on the holdout", r.model))?;
        r.metrics.holdout = Some(serde_json::to_value(&eval)?);
        models.push(r.model.clone());
    }
    let note = models
        .is_empty()
        .then(|| "no model passed selection, so the holdout was not read".to_string());
    Ok((
        report,
        Some(HoldoutRecord {
            start,
            evaluations: models.len(),
            models,
            note,
        }),
    ))
}

/// A finished run's models from its directory: `returns.csv`, `folds.csv` and each refit's
/// `models/<model>/split-<k>.json`; the trials behind it from `tuning.json` when there is one.
pub fn run_dir_input(dir: &Path, config: &Config) -> Result<SelectionInput> {
    let returns = read(dir, "returns.csv")?;
    let folds = read(dir, "folds.csv")?;
    let mut by_model: BTreeMap<String, Candidate> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let rows = csv_rows(
        &returns,
        "returns.csv",
        &["model", "date", "strategy", "benchmark"],
    )?;
    for (line, c) in rows {
        let date: NaiveDate = c[1]
            .parse()
            .with_context(|| format!("returns.csv line {line}: date `{}`", c[1]))?;
        let num = |i: usize, what: &str| -> Result<f64> {
            c[i].parse::<f64>()
                .with_context(|| format!("returns.csv line {line}: {what} `{}`", c[i]))
        };
        let (net, bench) = (num(2, "strategy")?, num(3, "benchmark")?);
        if !config.models.iter().any(|m| m.name == c[0]) {
            bail!(
                "returns.csv line {line}: `{}` is not a model of the run's config",
                c[0]
            );
        }
        let cand = by_model.entry(c[0].clone()).or_insert_with(|| {
            order.push(c[0].clone());
            candidate(&c[0], config)
        });
        if cand.dates.last().is_some_and(|d| *d >= date) {
            bail!(
                "returns.csv line {line}: dates of `{}` are not increasing",
                c[0]
            );
        }
        cand.dates.push(date);
        cand.net.push(net);
        cand.benchmark.push(bench);
    }
    for (line, c) in csv_rows(&folds, "folds.csv", &["model", "split", "strategy_sharpe"])? {
        let Some(cand) = by_model.get_mut(&c[0]) else {
            bail!("folds.csv line {line}: model `{}` has no returns", c[0]);
        };
        cand.fold_sharpes.push(c[2].parse().unwrap_or(f64::NAN));
        let fitted = dir.join(format!("models/{}/split-{}.json", c[0], c[1]));
        if let Ok(bytes) = std::fs::read(&fitted) {
            cand.fitted.push(
                serde_json::from_slice(&bytes).with_context(|| format!("{}", fitted.display()))?,
            );
        }
    }
    let other_trials = std::fs::read(dir.join("tuning.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["n_trials"].as_u64())
        .unwrap_or(0) as usize;
    Ok(SelectionInput {
        candidates: order.iter().filter_map(|n| by_model.remove(n)).collect(),
        other_trials,
        metrics: config.metrics.clone(),
        seed: config.seed_or_default(),
    })
}

fn candidate(name: &str, config: &Config) -> Candidate {
    Candidate {
        name: name.to_string(),
        kind: config
            .models
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.params.kind().to_string())
            .unwrap_or_default(),
        dates: Vec::new(),
        net: Vec::new(),
        benchmark: Vec::new(),
        fold_sharpes: Vec::new(),
        fitted: Vec::new(),
    }
}

fn read(dir: &Path, file: &str) -> Result<String> {
    std::fs::read_to_string(dir.join(file))
        .with_context(|| format!("{} (is this a run directory?)", dir.join(file).display()))
}

/// The named columns of a CSV file's data rows, with their 1-based line numbers.
fn csv_rows(text: &str, file: &str, want: &[&str]) -> Result<Vec<(usize, Vec<String>)>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let idx = want
        .iter()
        .map(|w| {
            header
                .iter()
                .position(|h| h == w)
                .with_context(|| format!("{file}: no column `{w}`"))
        })
        .collect::<Result<Vec<usize>>>()?;
    let mut out = Vec::new();
    for (i, l) in lines.enumerate() {
        let cells: Vec<&str> = l.split(',').collect();
        let row = idx
            .iter()
            .map(|&k| cells.get(k).map(|s| s.to_string()))
            .collect::<Option<Vec<String>>>()
            .with_context(|| format!("{file} line {}: too few columns", i + 2))?;
        out.push((i + 2, row));
    }
    Ok(out)
}

/// `strider select`: the run's models ranked under `spec`; holdout figures already in the run's
/// `selection.json` are carried over (re-selecting never reads the holdout again).
pub fn reselect(dir: &Path, spec: &SelectionSpec) -> Result<SelectionReport> {
    spec.validate()?;
    let config_text = read(dir, "config.toml")?;
    let config = Config::from_toml(&config_text)
        .with_context(|| format!("{}", dir.join("config.toml").display()))?;
    let input = run_dir_input(dir, &config)?;
    let mut report = select(&input, spec).context("selecting a model")?;
    if let Ok(bytes) = std::fs::read(dir.join("selection.json"))
        && let Ok(old) = serde_json::from_slice::<Value>(&bytes)
    {
        for r in &mut report.ranking {
            let seen = old["ranking"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|o| o["model"] == r.model.as_str())
                .map(|o| o["metrics"]["holdout"].clone())
                .filter(|h| !h.is_null());
            r.metrics.holdout = seen;
        }
    }
    Ok(report)
}
