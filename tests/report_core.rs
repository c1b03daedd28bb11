//! The report's engine against the pipeline it mirrors: with the run's own settings the what-if
//! must reproduce the run's metrics exactly, and retraining a model with unchanged parameters must
//! reproduce its predictions bit for bit (same features, splits and seeds). Edited parameters must
//! change them.

use std::collections::BTreeMap;

use strider_core::config::Config;
use strider_core::pipeline;
use strider_core::report::{self, FORMAT, ReportPayload};
use strider_core::whatif::WhatIfSettings;

const AAPL: &str = include_str!("../examples/data/AAPL.csv");
const MSFT: &str = include_str!("../examples/data/MSFT.csv");

const CONFIG: &str = r#"
name = "report-core"
seed = 7
[data]
files = ["data/AAPL.csv", "data/MSFT.csv"]
[[features]]
kind = "returns"
periods = [1, 5, 20]
[[features]]
kind = "rsi"
window = 14
[label]
kind = "forward_return"
horizon = 1
[split]
scheme = "walk-forward"
train_size = 504
test_size = 252
window = "expanding"
[[models]]
name = "ridge"
kind = "ridge"
alpha = 10.0
[[models]]
name = "trees"
kind = "gbdt"
num_iterations = 15
num_leaves = 5
min_data_in_leaf = 40
feature_fraction = 0.7
bagging_fraction = 0.8
bagging_freq = 1
[strategy]
cost_bps = 2.0
"#;

fn payload() -> (ReportPayload, pipeline::RunOutput) {
    let config = Config::from_toml(CONFIG).unwrap();
    let files = BTreeMap::from([
        ("data/AAPL.csv".to_string(), AAPL.to_string()),
        ("data/MSFT.csv".to_string(), MSFT.to_string()),
    ]);
    let instruments =
        strider_core::data::load(&config.data, &mut |p| Ok(files.get(p).cloned().unwrap()))
            .unwrap();
    let out = pipeline::run(&config, &instruments, 7, &mut |_| {}).unwrap();
    let names = out.summary.dataset.instruments.clone();
    let payload = ReportPayload {
        format: FORMAT.into(),
        config_toml: CONFIG.into(),
        files,
        instruments: names.clone(),
        summary: serde_json::to_value(&out.summary).unwrap(),
        manifest: serde_json::json!({}),
        lineage: serde_json::Value::Null,
        predictions: report::path_predictions(&out, &names).unwrap(),
        importance: BTreeMap::new(),
        learning_curves: serde_json::Value::Null,
        tuning: serde_json::Value::Null,
        selection: serde_json::Value::Null,
        ensembles: BTreeMap::new(),
        validation: serde_json::Value::Null,
    };
    // Through JSON, as the browser receives it.
    let text = serde_json::to_string(&payload).unwrap();
    (serde_json::from_str(&text).unwrap(), out)
}

#[test]
fn what_if_with_the_runs_settings_reproduces_the_run() {
    let (payload, out) = payload();
    let config = payload.config().unwrap();
    let view = payload
        .what_if()
        .unwrap()
        .evaluate(&WhatIfSettings {
            strategy: config.strategy.clone(),
            ensemble: BTreeMap::new(),
            rolling_window: 126,
            statistics: true,
        })
        .unwrap();
    assert_eq!(view.models.len(), out.summary.models.len());
    for (v, m) in view.models.iter().zip(&out.summary.models) {
        assert_eq!(v.name, m.name);
        // JSON compares NaN (null) equal to itself, which the structs' PartialEq does not.
        assert_eq!(
            serde_json::to_string(&v.evaluation).unwrap(),
            serde_json::to_string(&m.evaluation).unwrap(),
            "model {}",
            m.name
        );
    }
    let stats = serde_json::to_value(view.statistics.unwrap()).unwrap();
    // The same deflated Sharpe ratio as the run's, over the same trials.
    let dsr = stats["dsr"]["dsr"].as_f64().unwrap();
    assert!(
        (dsr - out.summary.deflated_sharpe.dsr).abs() < 1e-12,
        "{stats}"
    );
    assert!(stats["pbo"]["pbo"].as_f64().is_some(), "{stats}");
    assert!(stats["spa"]["benchmark"] == "buy & hold", "{stats}");
}

#[test]
fn retraining_reproduces_unchanged_models_and_moves_edited_ones() {
    let (payload, out) = payload();
    let trees = &payload.predictions["trees"];
    let same = report::retrain(&payload, "trees", &serde_json::Map::new(), &mut |_| {}).unwrap();
    assert_eq!(&same.predictions, trees);
    let folds: Vec<_> = out
        .summary
        .folds
        .iter()
        .filter(|f| f.model == "trees")
        .collect();
    assert_eq!(same.folds.len(), folds.len());
    assert_eq!(same.folds[0], *folds[0]);
    let imp = same.importance.expect("trees have importance");
    assert_eq!(imp.features.len(), out.summary.dataset.features.len());
    assert!(imp.gain.iter().sum::<f64>() > 0.0);

    let edits = serde_json::json!({"num_iterations": 40, "learning_rate": 0.2});
    let moved =
        report::retrain(&payload, "trees", edits.as_object().unwrap(), &mut |_| {}).unwrap();
    assert_eq!(moved.predictions.date, trees.date);
    assert_ne!(moved.predictions.prediction, trees.prediction);
    assert_eq!(moved.spec["num_iterations"], 40);

    let typo = serde_json::json!({"num_iteration": 40});
    let err = report::retrain(&payload, "trees", typo.as_object().unwrap(), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("num_iteration"), "{err}");
    assert!(report::retrain(&payload, "nope", &serde_json::Map::new(), &mut |_| {}).is_err());
}
