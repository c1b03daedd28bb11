//! `strider tune` against Optuna 5.0 itself: studies strider writes (SQLite and journal) are read,
//! continued and served by Optuna and optuna-dashboard; Optuna's workers and strider's share one
//! study; a killed worker loses no completed trial and its running trial is retried; failing and
//! pruned commands; two objectives; determinism; tuning a config.
//!
//! Needs Optuna (`scripts/test.sh` installs it and sets STRIDER_OPTUNA_PYTHON):
//! `cargo test -p strider-cli --test tune -- --ignored`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_strider");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn optuna_python() -> String {
    std::env::var("STRIDER_OPTUNA_PYTHON")
        .expect("STRIDER_OPTUNA_PYTHON: a Python with optuna 5.0 (scripts/test.sh sets it)")
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn optuna(args: &[&str]) -> Value {
    let out = ok(Command::new(optuna_python())
        .arg(repo().join("tests/tune/optuna_check.py"))
        .args(args)
        .output()
        .unwrap());
    serde_json::from_str(out.lines().last().unwrap()).unwrap()
}

/// `strider tune` on the mixed_4d command objective.
fn tune_cmd(dir: &Path, storage: &str, extra: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .args([
            "tune",
            "--json",
            "--storage",
            storage,
            "--study",
            "mixed",
            "--space",
        ])
        .arg(repo().join("tests/tune/mixed_space.toml"))
        .args(extra)
        .arg("--")
        .arg("python3")
        .arg(repo().join("tests/tune/mixed_objective.py"));
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn tune(dir: &Path, storage: &str, extra: &[&str], env: &[(&str, &str)]) -> Value {
    let out = ok(tune_cmd(dir, storage, extra, env).output().unwrap());
    serde_json::from_str(out.lines().last().unwrap()).unwrap()
}

/// A fresh PostgreSQL database when STRIDER_POSTGRES_URL (a role that may create databases,
/// e.g. `postgresql://strider:strider@127.0.0.1:5432/postgres`) is set.
fn postgres_db(tag: &str) -> Option<String> {
    let admin = std::env::var("STRIDER_POSTGRES_URL").ok()?;
    let name = format!("strider_{tag}_{}", std::process::id());
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        ok(Command::new("psql")
            .arg(&admin)
            .args(["-q", "-c", &sql])
            .output()
            .unwrap());
    }
    let (base, _) = admin.rsplit_once('/').unwrap();
    Some(format!("{base}/{name}"))
}

fn storages(dir: &Path, tag: &str) -> Vec<String> {
    let mut v = vec![
        format!("sqlite:///{}", dir.join("s.db").display()),
        format!("journal:{}", dir.join("s.log").display()),
    ];
    v.extend(postgres_db(tag));
    v
}

fn assert_numbers_unique(s: &Value) {
    let numbers: Vec<u64> = s["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let expect: Vec<u64> = (0..numbers.len() as u64).collect();
    assert_eq!(
        numbers, expect,
        "trial numbers are 0..n with no gap or duplicate"
    );
}

#[test]
#[ignore]
fn optuna_reads_continues_and_serves_our_studies() {
    let tmp = tempfile::tempdir().unwrap();
    for (k, url) in storages(tmp.path(), "serve").iter().enumerate() {
        let ours = tune(
            tmp.path(),
            url,
            &["--trials", "12", "--workers", "2", "--seed", "3"],
            &[],
        );
        assert_eq!(ours["n_trials"], 12);
        let s = optuna(&["summary", url, "mixed"]);
        assert_eq!(s["n"], 12);
        assert!(
            s["states"]
                .as_array()
                .unwrap()
                .iter()
                .all(|x| x == "COMPLETE"),
            "{s}"
        );
        assert_eq!(s["best_value"], ours["best_value"], "{url}");
        // Optuna decodes our parameters to the same external values.
        let best = ours["best_trial"].as_u64().unwrap() as usize;
        assert_eq!(s["params"][best], ours["best_params"]);
        assert_numbers_unique(&s);

        // Optuna continues the study, then strider again: one study, no duplicate numbers.
        assert_eq!(optuna(&["continue", url, "mixed", "4"])["n"], 16);
        let again = tune(tmp.path(), url, &["--trials", "3"], &[]);
        assert_eq!(again["n_trials"], 19);
        let s = optuna(&["summary", url, "mixed"]);
        assert_eq!(s["n"], 19);
        assert_numbers_unique(&s);

        let d = optuna(&["dashboard", url, "mixed", &format!("{}", 18750 + k)]);
        assert!(
            d["studies"]
                .as_array()
                .unwrap()
                .contains(&Value::from("mixed")),
            "{d}"
        );
        assert_eq!(d["n_trials"], 19);
    }
}

#[test]
#[ignore]
fn python_and_strider_workers_share_one_study() {
    let tmp = tempfile::tempdir().unwrap();
    for url in storages(tmp.path(), "shared") {
        // Create the study first so both sides agree on it.
        tune(tmp.path(), &url, &["--trials", "1"], &[]);
        let mut python = Command::new(optuna_python())
            .arg(repo().join("tests/tune/optuna_check.py"))
            .args(["continue", &url, "mixed", "15"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let ours = tune(tmp.path(), &url, &["--trials", "15", "--workers", "2"], &[]);
        assert!(python.wait().unwrap().success());
        assert!(ours["n_trials"].as_u64().unwrap() >= 16);
        let s = optuna(&["summary", &url, "mixed"]);
        assert_eq!(s["n"], 31, "{url}: 1 + 15 strider + 15 Optuna trials");
        assert!(
            s["states"]
                .as_array()
                .unwrap()
                .iter()
                .all(|x| x == "COMPLETE"),
            "{s}"
        );
        assert_numbers_unique(&s);
        let mut ids: Vec<u64> = s["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 31);
    }
}

#[test]
#[ignore]
fn a_killed_worker_loses_no_completed_trial_and_its_running_trial_is_retried() {
    let tmp = tempfile::tempdir().unwrap();
    for url in storages(tmp.path(), "kill") {
        let env = [("MODE", "slow"), ("SLEEP", "0.4")];
        let marker = tmp.path().join("hung");
        let _ = std::fs::remove_file(&marker);
        let marker_s = marker.display().to_string();
        let hang = [
            ("MODE", "slow"),
            ("SLEEP", "0.4"),
            ("HANG_FROM", "3"),
            ("MARKER", marker_s.as_str()),
        ];
        let mut child = tune_cmd(
            tmp.path(),
            &url,
            &["--trials", "100", "--heartbeat", "0.2"],
            &hang,
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        // Trials 0..3 complete; trial 3 hangs (it says so in the marker); then kill -9 mid-trial.
        let start = Instant::now();
        while !marker.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "trial 3 never started"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let before = optuna(&["summary", &url, "mixed"]);
        let states: Vec<&str> = before["states"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        let complete_before = states.iter().filter(|x| **x == "COMPLETE").count();
        let running: Vec<usize> = states
            .iter()
            .enumerate()
            .filter(|(_, x)| **x == "RUNNING")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(complete_before, 3, "{before}");
        assert_eq!(
            running.len(),
            1,
            "the killed worker's trial is left RUNNING: {before}"
        );
        let lost = running[0];

        // After the grace period (2 heartbeats), a rerun fails it and retries its parameters.
        std::thread::sleep(Duration::from_millis(600));
        tune(
            tmp.path(),
            &url,
            &["--trials", "2", "--heartbeat", "0.2"],
            &env,
        );
        let after = optuna(&["summary", &url, "mixed"]);
        let states = after["states"].as_array().unwrap();
        assert_eq!(states[lost], "FAIL", "{after}");
        let complete_after = states.iter().filter(|x| *x == "COMPLETE").count();
        assert_eq!(complete_after, complete_before + 2, "{after}");
        // No completed trial changed.
        for (i, s) in before["states"].as_array().unwrap().iter().enumerate() {
            if s == "COMPLETE" {
                assert_eq!(after["values"][i], before["values"][i]);
            }
        }
        let retry = after["user_attrs"]
            .as_array()
            .unwrap()
            .iter()
            .position(|a| a["strider:retry_of"] == lost)
            .expect("a retry of the lost trial");
        // Retried with the parameters it had (all of them, unless it was killed mid-sampling).
        for (k, v) in before["params"][lost].as_object().unwrap() {
            assert_eq!(&after["params"][retry][k], v, "retried with the same `{k}`");
        }
        assert_eq!(states[retry], "COMPLETE");
        assert_numbers_unique(&after);
    }
}

#[test]
#[ignore]
fn failing_commands_fail_their_trial_and_pruned_commands_are_terminated() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("journal:{}", tmp.path().join("f.log").display());
    let out = tune(
        tmp.path(),
        &url,
        &["--trials", "10", "--sampler", "random"],
        &[("MODE", "fail_positive_x")],
    );
    let s = optuna(&["summary", &url, "mixed"]);
    let mut failed = 0;
    for i in 0..10 {
        let x = s["params"][i]["x"].as_f64().unwrap();
        if x > 0.0 {
            failed += 1;
            assert_eq!(s["states"][i], "FAIL");
            let tail = s["user_attrs"][i]["strider:stderr_tail"].as_str().unwrap();
            assert!(tail.contains("boom: x is positive"), "{tail}");
            assert!(
                s["user_attrs"][i]["strider:fail_reason"]
                    .as_str()
                    .unwrap()
                    .contains("exited")
            );
        } else {
            assert_eq!(s["states"][i], "COMPLETE");
        }
    }
    assert!(
        failed > 0 && failed < 10,
        "random x in [-5, 5]: {failed} of 10 failed"
    );
    assert_eq!(out["n_complete"].as_u64().unwrap(), 10 - failed);

    let url = format!("sqlite:///{}", tmp.path().join("p.db").display());
    let marker = tmp.path().join("marker");
    let m = marker.display().to_string();
    tune(
        tmp.path(),
        &url,
        &["--trials", "8", "--pruner", "median"],
        &[("MODE", "prune_late"), ("MARKER", &m)],
    );
    let s = optuna(&["summary", &url, "mixed"]);
    for i in 6..8 {
        assert_eq!(s["states"][i], "PRUNED", "{s}");
        assert_eq!(s["intermediate"][i]["0"], 100.0);
    }
    assert!(
        !marker.exists(),
        "a pruned trial's process is terminated before it finishes"
    );
}

#[test]
#[ignore]
fn two_objectives_give_optunas_pareto_front() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("journal:{}", tmp.path().join("mo.log").display());
    let out = tune(
        tmp.path(),
        &url,
        &["--trials", "25", "--direction", "minimize", "maximize"],
        &[("MODE", "pareto")],
    );
    let s = optuna(&["summary", &url, "mixed"]);
    assert_eq!(s["directions"], serde_json::json!(["MINIMIZE", "MAXIMIZE"]));
    let mut ours: Vec<u64> = out["pareto_front"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    ours.sort();
    assert!(!ours.is_empty());
    assert_eq!(serde_json::json!(ours), s["best_trials"]);
}

#[test]
#[ignore]
fn the_same_seed_gives_the_same_trials() {
    let tmp = tempfile::tempdir().unwrap();
    for sampler in ["tpe", "cmaes", "qmc", "random"] {
        let runs: Vec<Value> = ["a", "b"]
            .iter()
            .map(|n| {
                let url = format!(
                    "journal:{}",
                    tmp.path().join(format!("{sampler}-{n}.log")).display()
                );
                tune(
                    tmp.path(),
                    &url,
                    &["--trials", "14", "--seed", "5", "--sampler", sampler],
                    &[],
                );
                optuna(&["summary", &url, "mixed"])
            })
            .collect();
        assert_eq!(runs[0]["params"], runs[1]["params"], "{sampler}");
        assert_eq!(runs[0]["values"], runs[1]["values"], "{sampler}");
    }
}

#[test]
#[ignore]
fn tuning_a_config_writes_a_runnable_best_config_and_its_report() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("small.toml"),
        format!(
            r#"name = "small"
[data]
panels = ["{}"]
[[features]]
kind = "returns"
periods = [1, 5]
[[features]]
kind = "rolling_std"
window = 10
[split]
scheme = "walk-forward"
train_size = 120
test_size = 40
[[models]]
kind = "ridge"
[[models]]
name = "momentum"
kind = "ridge"
alpha = 1e6
"#,
            repo().join("tests/data/panel_3assets.csv").display()
        ),
    )
    .unwrap();
    let url = format!("sqlite:///{}", tmp.path().join("c.db").display());
    let out = ok(Command::new(BIN)
        .current_dir(tmp.path())
        .args([
            "tune",
            "small.toml",
            "--json",
            "--trials",
            "6",
            "--feature-selection",
            "--pruner",
            "median",
            "--storage",
            &url,
        ])
        .output()
        .unwrap());
    let v: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(v["n_trials"], 6);
    let best_params = v["best_params"].as_object().unwrap();
    assert!(best_params.contains_key("model.alpha") && best_params.contains_key("feature.1"));
    let s = optuna(&["summary", &url, "small-ridge-tune"]);
    assert_eq!(s["best_value"], v["best_value"]);
    // Fold-by-fold intermediate values were reported.
    assert!(s["intermediate"][0].as_object().unwrap().len() >= 3, "{s}");
    let best = PathBuf::from(v["best"]["config"].as_str().unwrap());
    let run = ok(Command::new(BIN)
        .current_dir(tmp.path())
        .args([
            "run",
            best.to_str().unwrap(),
            "--json",
            "--no-track",
            "--out",
            "again",
        ])
        .output()
        .unwrap());
    let run: Value = serde_json::from_str(&run).unwrap();
    let sharpe = run["summary"]["models"][0]["strategy"]["sharpe"]
        .as_f64()
        .unwrap();
    assert!(
        (sharpe - v["best_value"].as_f64().unwrap()).abs() < 1e-12,
        "the best config reproduces its value"
    );
    let tuning: Value = serde_json::from_str(
        &std::fs::read_to_string(
            tmp.path()
                .join(v["best"]["run_dir"].as_str().unwrap())
                .join("tuning.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(tuning["trials"].as_array().unwrap().len(), 6);
    assert!(
        tmp.path()
            .join(v["best"]["report"].as_str().unwrap())
            .is_file()
    );
}
