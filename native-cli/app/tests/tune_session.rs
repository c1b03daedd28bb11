//! Tuning sessions through the library, on a small config (one instrument, two ridge models):
//! a model's parameters with feature selection, and the blend of its models, each on a journal
//! storage; the best configuration is written runnable and run, with the study in its report.

use std::path::{Path, PathBuf};

use strider_app::tune::config_space::Metric;
use strider_app::tune::{Target, TuneRequest, tune};
use strider_tune::{PrunerSpec, TrialState};

fn small_config(dir: &Path) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::copy(
        repo.join("examples/data/AAPL.csv"),
        dir.join("data/aapl.csv"),
    )
    .unwrap();
    let path = dir.join("small.toml");
    std::fs::write(
        &path,
        r#"name = "small"
[data]
files = ["data/aapl.csv"]
[[features]]
kind = "returns"
periods = [1, 5]
[[features]]
kind = "rsi"
window = 14
[split]
scheme = "walk-forward"
train_size = 500
test_size = 250
[[models]]
name = "ridge"
kind = "ridge"
[[models]]
name = "shrunk"
kind = "ridge"
alpha = 100.0
"#,
    )
    .unwrap();
    path
}

fn request(dir: &Path, target: Target, trials: usize) -> TuneRequest {
    TuneRequest {
        target,
        storage: format!("journal:{}", dir.join("study.log").display()),
        study: None,
        n_trials: trials,
        workers: 1,
        sampler: "tpe".into(),
        pruner: PrunerSpec::None,
        seed: Some(5),
        heartbeat: 5.0,
        trial_timeout: None,
        out: Some(dir.join("out")),
        tracking: None,
        live: None,
    }
}

#[test]
fn tuning_a_model_writes_a_runnable_best_config_and_runs_it() {
    let tmp = tempfile::tempdir().unwrap();
    let config = small_config(tmp.path());
    let target = Target::Config {
        config: Some(config),
        model: Some("shrunk".into()),
        objective: Metric::Sharpe,
        feature_selection: true,
        ensemble: false,
    };
    let r = tune(&request(tmp.path(), target, 4), &|_| {}).unwrap();
    assert_eq!(r.study, "small-shrunk-tune");
    assert_eq!(r.trials.len(), 4);
    assert!(r.count(TrialState::Complete) >= 1, "{:?}", r.trials);
    let best = r.best.as_ref().unwrap();
    assert!(
        best.external_params()
            .keys()
            .any(|k| k.starts_with("feature."))
    );
    let best_toml = tmp.path().join("out/best.toml");
    let text = std::fs::read_to_string(&best_toml).unwrap();
    assert!(
        text.starts_with("# Best of study `small-shrunk-tune`"),
        "{text}"
    );
    let run_dir = PathBuf::from(r.best_run["run_dir"].as_str().unwrap());
    assert!(run_dir.join("tuning.json").exists());
    assert!(run_dir.join("report.html").exists());
    assert!(tmp.path().join("out/tuning.json").exists());
    // The written config runs as it is (its data paths were made absolute).
    let again = strider_app::run::run_to_dir(
        &strider_app::run::RunRequest {
            config: Some(best_toml),
            out: Some(tmp.path().join("again")),
            ..Default::default()
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(again.output.summary.models.len(), 2);
}

#[test]
fn tuning_an_ensemble_walks_it_forward_and_writes_the_best_as_a_model() {
    let tmp = tempfile::tempdir().unwrap();
    let config = small_config(tmp.path());
    let target = Target::Config {
        config: Some(config),
        model: None,
        objective: Metric::Sharpe,
        feature_selection: false,
        ensemble: true,
    };
    let r = tune(&request(tmp.path(), target, 4), &|_| {}).unwrap();
    assert_eq!(r.study, "small-ensemble-tune");
    assert_eq!(r.count(TrialState::Complete), 4);
    // best.toml holds the ensemble over every model, and its run reproduces the best value:
    // the trial's number was the ensemble's own walk-forward result.
    let best = strider_core::config::Config::from_toml(
        &std::fs::read_to_string(tmp.path().join("out/best.toml")).unwrap(),
    )
    .unwrap();
    let tuned = best.models.last().unwrap();
    assert_eq!(tuned.name, "tuned-ensemble");
    let strider_core::model::ModelParams::Ensemble(p) = &tuned.params else {
        panic!("not an ensemble: {tuned:?}");
    };
    assert_eq!(p.members, ["ridge", "shrunk"]);
    let run_dir = std::path::PathBuf::from(r.best_run["run_dir"].as_str().unwrap());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("summary.json")).unwrap()).unwrap();
    let sharpe = summary["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "tuned-ensemble")
        .unwrap()["strategy"]["sharpe"]
        .as_f64()
        .unwrap();
    let value = r.best.as_ref().and_then(|b| b.value()).unwrap();
    assert!(
        (sharpe - value).abs() <= 1e-12 * value.abs().max(1.0),
        "{sharpe} vs {value}"
    );
}

#[test]
fn requests_that_cannot_work_are_refused_before_any_trial() {
    let tmp = tempfile::tempdir().unwrap();
    let config = small_config(tmp.path());
    let target = |model: Option<&str>| Target::Config {
        config: Some(config.clone()),
        model: model.map(String::from),
        objective: Metric::Sharpe,
        feature_selection: false,
        ensemble: false,
    };
    let e = tune(&request(tmp.path(), target(Some("nope")), 1), &|_| {}).unwrap_err();
    assert!(e.chain().contains("--model nope"), "{}", e.chain());
    let mut r = request(tmp.path(), target(None), 1);
    r.workers = 0;
    assert!(tune(&r, &|_| {}).unwrap_err().chain().contains("--workers"));
    let mut r = request(tmp.path(), target(None), 1);
    r.storage = "nosuch://x".into();
    assert!(
        tune(&r, &|_| {})
            .unwrap_err()
            .chain()
            .contains("expected sqlite")
    );
    assert!(!tmp.path().join("out").exists());
}
