//! Hostile and absurd inputs against the `strider` binary (issue: hardening): each must end with
//! a one-line error (or a correct result), no panic, no hang, and nothing written outside the run
//! directory. Every case here failed before its fix.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use support::{project, repo};

const BIN: &str = env!("CARGO_BIN_EXE_strider");

/// Runs strider with a deadline: a hang fails the test instead of blocking it. The output is
/// read while it runs (a full pipe would stall the child).
fn strider(args: &[&str], cwd: &Path) -> Output {
    let child = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strider starts");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(300)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("strider {args:?} hung");
        }
    }
}

/// Exit code 1 with one `error:` line on stderr that contains `needle`; no panic.
fn refused(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(lines[0].contains(needle), "`{needle}` in {err}");
}

fn splits(args: &[&str]) -> Output {
    let mut all = vec!["splits", "--json"];
    all.extend_from_slice(args);
    strider(&all, &repo())
}

/// Every split's training indices come before its test indices' end and never overlap them.
fn assert_no_overlap(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ranges = |x: &serde_json::Value| -> Vec<(u64, u64)> {
        x.as_array()
            .unwrap()
            .iter()
            .map(|r| (r[0].as_u64().unwrap(), r[1].as_u64().unwrap()))
            .collect()
    };
    for s in v["splits"].as_array().unwrap() {
        let (train, test) = (ranges(&s["train"]), ranges(&s["test"]));
        for &(a, b) in &train {
            for &(c, d) in &test {
                assert!(b < c || d < a, "train [{a},{b}] overlaps test [{c},{d}]");
            }
        }
    }
}

#[test]
fn huge_split_parameters_are_errors_or_correct_never_wrapped() {
    let max = "18446744073709551615";
    refused(
        &splits(&["--scheme", "tss", "--n-samples", "100", "--n-splits", max]),
        "",
    );
    refused(
        &splits(&[
            "--scheme",
            "walk-forward",
            "--n-samples",
            "100",
            "--train-size",
            "10",
            "--test-size",
            "10",
            "--gap",
            "18446744073709551610",
        ]),
        "purged_size",
    );
    refused(
        &splits(&[
            "--scheme",
            "cpcv",
            "--n-samples",
            "100",
            "--n-folds",
            "5",
            "--n-test-folds",
            "2",
            "--purge",
            max,
        ]),
        "embargo_size",
    );
    refused(
        &splits(&["--scheme", "tss", "--n-samples", "1000000000000"]),
        "MAX_SAMPLES",
    );
    // A huge embargo after each test fold leaves only the left side for training.
    let o = splits(&[
        "--scheme",
        "purged-kfold",
        "--n-samples",
        "100",
        "--purge",
        "1",
        "--embargo",
        max,
    ]);
    assert_no_overlap(&o);
    let o = splits(&[
        "--scheme",
        "walk-forward",
        "--n-samples",
        "100",
        "--train-size",
        "10",
        "--test-size",
        "10",
        "--step",
        max,
    ]);
    assert_no_overlap(&o);
}

#[test]
fn model_names_cannot_escape_the_run_or_break_tracking_keys() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, needle) in [
        ("../../base/models/ridge", "models.name"),
        ("ridge+lags", "`+` is not allowed"),
    ] {
        let cfg = project(tmp.path(), |t| {
            t.replacen("name = \"ridge\"", &format!("name = \"{name}\""), 1)
        });
        let o = strider(
            &["run", cfg.to_str().unwrap(), "--out", "out", "--no-report"],
            tmp.path(),
        );
        refused(&o, needle);
        assert!(!tmp.path().join("out").exists(), "nothing written");
        assert!(!tmp.path().join("mlruns").exists(), "nothing tracked");
    }
    assert!(!tmp.path().parent().unwrap().join("base").exists());
}

#[test]
fn absurd_model_and_strategy_sizes_are_refused_before_allocating() {
    let tmp = tempfile::tempdir().unwrap();
    for (from, to, needle) in [
        ("hidden = 8\n", "hidden = 1000000\n", "MAX_HIDDEN"),
        ("window = 10\n", "window = 100000000\n", "MAX_WINDOW"),
    ] {
        let cfg = project(tmp.path(), |t| {
            assert!(t.contains(from), "{from}");
            t.replacen(from, to, 1)
        });
        refused(
            &strider(
                &["run", cfg.to_str().unwrap(), "--no-track", "--no-report"],
                tmp.path(),
            ),
            needle,
        );
    }
    let cfg = project(tmp.path(), |t| {
        t.replacen("execution_lag = 1\n", "execution_lag = 100000\n", 1)
    });
    refused(
        &strider(
            &["run", cfg.to_str().unwrap(), "--no-track", "--no-report"],
            tmp.path(),
        ),
        "MAX_EXECUTION_LAG",
    );
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let returns = repo().join("tests/golden/metrics_input_stocks.csv");
    let mut child = Command::new(BIN)
        .args(["metrics", returns.to_str().unwrap(), "--reps", "10"])
        .current_dir(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader went away (`| head -0`)
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101), "a panic's exit code: {err}");
}

#[test]
fn a_negative_risk_free_rate_needs_no_equals_sign() {
    let returns = repo().join("tests/golden/metrics_input_stocks.csv");
    let o = strider(
        &[
            "metrics",
            returns.to_str().unwrap(),
            "--rf",
            "-0.01",
            "--reps",
            "10",
            "--json",
        ],
        &repo(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_config_syntax_error_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = project(tmp.path(), |t| t.replacen("[data]\n", "[data\n", 1));
    let o = strider(&["run", cfg.to_str().unwrap(), "--no-track"], tmp.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.matches("TOML parse error").count(), 1, "{err}");
    assert!(!tmp.path().join("runs").exists());
}

#[test]
fn a_wrong_type_names_the_key_and_its_line_not_the_table() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = project(tmp.path(), |t| {
        t.replacen("hidden = 8\n", "hidden = \"eight\"\n", 1)
    });
    let text = std::fs::read_to_string(&cfg).unwrap();
    let line = 1 + text
        .lines()
        .position(|l| l == "hidden = \"eight\"")
        .unwrap();
    let o = strider(&["run", cfg.to_str().unwrap(), "--no-track"], tmp.path());
    refused(
        &o,
        "].hidden: invalid type: string \"eight\", expected usize",
    );
    refused(&o, &format!("(line {line}, column 1)"));
    assert!(!tmp.path().join("runs").exists());
}

/// A valid model whose one tree is a chain of `n` splits (each split's left child a leaf).
fn chain_model(n: usize) -> String {
    use strider_gbdt::{GbdtParams, TrainData, train};
    let x: Vec<f64> = (0..40).map(f64::from).collect();
    let y: Vec<f64> = x.iter().map(|v| v * 2.0).collect();
    let data = TrainData {
        groups: &[],
        x: &x,
        n_features: 1,
        y: &y,
        feature_names: vec!["x".into()],
    };
    let params = GbdtParams {
        num_iterations: 1,
        min_data_in_leaf: 1,
        ..Default::default()
    };
    let mut model = train(&params, &data, None, &mut |_, _, _| {}).unwrap();
    let t = &mut model.trees[0];
    let leaves = n + 1;
    t.num_leaves = leaves;
    t.num_cat = 0;
    t.split_feature = vec![0; n];
    t.split_gain = vec![1.0; n];
    t.threshold = (0..n).map(|i| i as f64).collect();
    t.decision_type = vec![2; n];
    t.left_child = (0..n).map(|i| !(i as i32)).collect();
    t.right_child = (0..n)
        .map(|i| if i + 1 < n { i as i32 + 1 } else { !(n as i32) })
        .collect();
    t.leaf_value = (0..leaves).map(|i| i as f64).collect();
    t.leaf_weight = vec![1.0; leaves];
    t.leaf_count = vec![1.0; leaves];
    t.internal_value = vec![0.0; n];
    t.internal_weight = (0..n).map(|i| (leaves - i) as f64).collect();
    t.internal_count = (0..n).map(|i| (leaves - i) as f64).collect();
    t.cat_boundaries = vec![0];
    t.cat_threshold = Vec::new();
    model.write()
}

#[test]
fn treeshap_on_a_50000_split_chain_is_an_error_and_leaves_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("chain.txt"), chain_model(50_000)).unwrap();
    std::fs::write(tmp.path().join("x.csv"), "x\n1.5\n49999.5\n").unwrap();
    let args = |contrib: bool| {
        let mut a = vec![
            "gbdt",
            "predict",
            "--model",
            "chain.txt",
            "--data",
            "x.csv",
            "--out",
            "p.csv",
        ];
        if contrib {
            a.push("--contrib");
        }
        a
    };
    // Plain prediction walks the chain without recursion.
    let o = strider(&args(false), tmp.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p = std::fs::read_to_string(tmp.path().join("p.csv")).unwrap();
    assert_eq!(p.lines().count(), 3, "{p}");
    std::fs::remove_file(tmp.path().join("p.csv")).unwrap();
    refused(&strider(&args(true), tmp.path()), "MAX_SHAP_DEPTH");
    assert!(!tmp.path().join("p.csv").exists(), "no partial output");
    assert!(!tmp.path().join("p.partial").exists());
}

#[test]
fn a_tracking_server_that_never_answers_delays_a_run_by_its_wait_only() {
    // Accepts every connection and never writes a byte.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let cfg = small_project(tmp.path());
    let uri = format!("http://127.0.0.1:{port}");
    let start = std::time::Instant::now();
    let o = strider(
        &[
            "run",
            cfg.to_str().unwrap(),
            "--out",
            "out",
            "--no-report",
            "--tracking-uri",
            &uri,
            "--tracking-wait",
            "2",
        ],
        tmp.path(),
    );
    let took = start.elapsed();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("did not answer") && err.contains("buffered"),
        "{err}"
    );
    assert!(tmp.path().join("out/summary.json").exists());
    // The ridge run takes about a second; the silent server adds a few budgets of 2 s (it used to
    // add five request timeouts of 60 s, then more at the end).
    assert!(took < Duration::from_secs(60), "took {took:?}: {err}");
}

/// One ridge model on one instrument: a run of about a second.
fn small_project(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::copy(
        repo().join("examples/data/AAPL.csv"),
        dir.join("data/aapl.csv"),
    )
    .unwrap();
    let path = dir.join("small.toml");
    std::fs::write(
        &path,
        "name = \"small\"\n[data]\nfiles = [\"data/aapl.csv\"]\n[[features]]\nkind = \"returns\"\n\
         periods = [1, 5]\n[split]\nscheme = \"walk-forward\"\ntrain_size = 500\ntest_size = 250\n\
         [[models]]\nkind = \"ridge\"\n",
    )
    .unwrap();
    path
}

/// `strider tune` on a journal with a one-parameter space, running `sh -c SCRIPT` per trial.
fn tune_command(dir: &Path, extra: &[&str], script: &str) -> Output {
    std::fs::write(
        dir.join("space.toml"),
        "[params.x]\ntype = \"float\"\nlow = -1.0\nhigh = 1.0\n",
    )
    .unwrap();
    let mut args = vec![
        "tune",
        "--storage",
        "journal:j.log",
        "--space",
        "space.toml",
        "--sampler",
        "random",
        "--out",
        "out",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    strider(&args, dir)
}

#[test]
fn a_study_where_every_trial_fails_is_an_error_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let o = tune_command(tmp.path(), &["--trials", "3"], "echo broken >&2; exit 3");
    refused(&o, "none of the 3 trials");
    assert!(String::from_utf8_lossy(&o.stderr).contains("exited"));
}

#[test]
fn a_hanging_trial_is_stopped_by_its_timeout_and_the_study_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    // Trials with x > 0 hang; the others answer at once.
    let script = r#"case "$STRIDER_TRIAL_PARAMS" in *'"x":-'*) echo 1;; *) sleep 600;; esac"#;
    let o = tune_command(
        tmp.path(),
        &["--trials", "6", "--trial-timeout", "1", "--json"],
        script,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let complete = v["n_complete"].as_u64().unwrap();
    assert!(complete > 0 && complete < 6, "{v}");
}

#[test]
fn a_zero_heartbeat_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    refused(
        &tune_command(tmp.path(), &["--trials", "1", "--heartbeat", "0"], "echo 1"),
        "--heartbeat",
    );
}

#[test]
fn a_killed_runs_hidden_staging_folder_is_cleaned_up_by_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    // What a run killed with kill -9 leaves: its staging folder, named after its (dead) pid.
    let dead = tmp.path().join(".out.partial-4194303");
    std::fs::create_dir_all(dead.join("models")).unwrap();
    std::fs::write(dead.join("summary.json"), "{}").unwrap();
    let cfg = small_project(tmp.path());
    let o = strider(
        &[
            "run",
            cfg.to_str().unwrap(),
            "--out",
            "out",
            "--no-report",
            "--no-track",
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!dead.exists(), "the abandoned staging folder is gone");
    let mut left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["data", "out", "small.toml"], "{left:?}");
}

#[test]
fn zero_bootstrap_repetitions_are_refused() {
    let returns = repo().join("tests/golden/metrics_input_stocks.csv");
    refused(
        &strider(
            &["metrics", returns.to_str().unwrap(), "--reps", "0"],
            &repo(),
        ),
        "at least 1 repetition",
    );
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn the_hostile_corpus_gives_one_line_errors_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = repo().join("tests/hostile");
    for e in std::fs::read_dir(&corpus).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, tmp.path().join(p.file_name().unwrap())).unwrap();
    }
    std::fs::create_dir(tmp.path().join("data")).unwrap();
    std::fs::copy(
        repo().join("examples/data/AAPL.csv"),
        tmp.path().join("data/aapl.csv"),
    )
    .unwrap();
    let cases = std::fs::read_to_string(corpus.join("cases.txt")).unwrap();
    let (mut n, mut failed) = (0, Vec::new());
    for line in cases
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let [exit, text, args] = line.splitn(3, '|').collect::<Vec<_>>()[..] else {
            panic!("cases.txt: `{line}` is not EXIT | TEXT | ARGUMENTS");
        };
        let args: Vec<&str> = args.split_whitespace().collect();
        let before = snapshot(tmp.path());
        let o = strider(&args, tmp.path());
        let err = String::from_utf8_lossy(&o.stderr);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        let ok = match exit.trim() {
            "0" => o.status.success(),
            _ => {
                o.status.code() == Some(1)
                    && lines.len() == 1
                    && lines[0].starts_with("error: ")
                    && lines[0].contains(text.trim())
                    && !err.contains("panicked")
                    && before == snapshot(tmp.path())
            }
        };
        if !ok {
            failed.push(format!("{line}\n  exit {:?}: {err}", o.status.code()));
        }
        n += 1;
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert!(n >= 30, "{n} cases");
}

#[test]
fn gbdt_predict_takes_named_features_by_name_in_any_order() {
    let tmp = tempfile::tempdir().unwrap();
    let model = repo().join("tests/hostile/named.txt"); // features `a b`
    let predict = |csv: &str| {
        std::fs::write(tmp.path().join("x.csv"), csv).unwrap();
        let o = strider(
            &[
                "gbdt",
                "predict",
                "--model",
                model.to_str().unwrap(),
                "--data",
                "x.csv",
                "--out",
                "p.csv",
            ],
            tmp.path(),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(tmp.path().join("p.csv")).unwrap()
    };
    let in_order = predict("a,b\n0.1,0.9\n0.9,0.1\n");
    assert_eq!(predict("b,a\n0.9,0.1\n0.1,0.9\n"), in_order);
    // Taken by position instead, the rows would swap: the model tells them apart.
    assert_ne!(predict("a,b\n0.9,0.1\n0.1,0.9\n"), in_order);
}
