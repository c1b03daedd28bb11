//! Tracking against a real MLflow (3.17): servers started on 127.0.0.1 by
//! scripts/mlflow-server.sh, every assertion read back through MLflow's own Python client
//! (tests/mlflow/inspect_mlflow.py), or, while a run is still going, through its REST API. Ignored by a plain `cargo test`; scripts/test.sh installs
//! MLflow and runs them with `--ignored`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_strider");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> String {
    std::env::var("STRIDER_MLFLOW_PYTHON")
        .expect("STRIDER_MLFLOW_PYTHON: run these tests through scripts/test.sh")
}

fn inspect(args: &[&str]) -> Value {
    let o = Command::new(python())
        .arg(repo().join("tests/mlflow/inspect_mlflow.py"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "inspect {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    dir: PathBuf,
    port: u16,
}

impl Server {
    fn start(dir: &Path) -> Self {
        let s = Server {
            dir: dir.to_path_buf(),
            port: free_port(),
        };
        s.up();
        s
    }

    fn up(&self) {
        let o = Command::new(repo().join("scripts/mlflow-server.sh"))
            .args(["start", self.dir.to_str().unwrap(), &self.port.to_string()])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "server start: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn down(&self) {
        Command::new(repo().join("scripts/mlflow-server.sh"))
            .args(["stop", self.dir.to_str().unwrap()])
            .output()
            .unwrap();
    }

    fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.down();
    }
}

fn strider(args: &[&str], cwd: &Path, buffer: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env("STRIDER_MLFLOW_BUFFER", buffer)
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap()
}

fn ok(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "strider failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
}

/// The bundled example with one model and a short walk-forward, to keep the suite quick.
fn small_config(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    for t in ["AAPL", "MSFT"] {
        std::fs::copy(
            repo().join(format!("examples/data/{t}.csv")),
            dir.join(format!("data/{t}.csv")),
        )
        .unwrap();
    }
    let cfg = std::fs::read_to_string(repo().join("examples/default.toml"))
        .unwrap()
        .replace("\"data/IBM.csv\"", "")
        .replace(", ]", "]")
        .replace("test_size = 63", "test_size = 504");
    let cfg = cfg.split("# A second").next().unwrap().to_string()
        + &cfg[cfg.find("[strategy]").unwrap()..];
    let path = dir.join("small.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

fn runs_json(uri: &str, exp: &str) -> Vec<Value> {
    inspect(&["runs", uri, exp]).as_array().unwrap().clone()
}

#[test]
#[ignore]
fn local_store_is_read_and_migrated_by_mlflow() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = small_config(tmp.path());
    let out = ok(&strider(
        &["run", cfg.to_str().unwrap(), "--json", "--out", "run"],
        tmp.path(),
        &tmp.path().join("unused"),
    ));
    let parent_id = out["tracking"]["run_id"].as_str().unwrap().to_string();
    let runs = runs_json(tmp.path().join("mlruns").to_str().unwrap(), "bokeh-3");
    let n_splits = out["summary"]["split"]["n_splits"].as_u64().unwrap() as usize;
    assert_eq!(
        runs.len(),
        1 + n_splits + 1,
        "a parent, one child per model x fold and one per model's final fit"
    );
    let last = runs
        .iter()
        .find(|r| r["tags"]["strider.final"] == "true")
        .unwrap();
    assert_eq!(last["tags"]["mlflow.runName"], "ridge/final");
    assert_eq!(last["status"], "FINISHED");
    assert_eq!(last["params"]["model_params.alpha"], "10.0", "{last}");
    let parent = runs
        .iter()
        .find(|r| r["run_id"] == parent_id.as_str())
        .unwrap();
    assert_eq!(parent["status"], "FINISHED");
    assert_eq!(parent["params"]["split.scheme"], "walk-forward");
    assert_eq!(parent["params"]["models.0.alpha"], "10.0");
    assert_eq!(parent["tags"]["strider.seed"], "42");
    assert_eq!(
        parent["tags"]["strider.data_fingerprint"],
        out["summary"]["data_fingerprint"]
    );
    assert_eq!(
        parent["inputs"].as_array().unwrap().len(),
        3,
        "two files and the combined data set"
    );
    let sharpe = parent["metrics"]["ridge.sharpe"].as_f64().unwrap();
    let want = out["summary"]["models"][0]["strategy"]["sharpe"]
        .as_f64()
        .unwrap();
    assert!((sharpe - want).abs() < 1e-12);
    let arts: Vec<&str> = parent["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        arts.contains(&"run/summary.json")
            && arts.contains(&"run/manifest.json")
            && arts.contains(&"run/bundles/ridge/MLmodel"),
        "{arts:?}"
    );
    let child = runs
        .iter()
        .find(|r| {
            r["tags"]["mlflow.parentRunId"] == parent_id.as_str()
                && r["tags"]["strider.split"] == "0"
        })
        .unwrap();
    assert!(child["history"]["ic"].as_array().unwrap().len() == 1);
    assert!(
        child["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "model/fitted.json")
    );
    // The registry on the local store, read by MLflow.
    let reg = ok(&strider(
        &[
            "models", "register", "--run", &parent_id, "--name", "bokeh", "--json",
        ],
        tmp.path(),
        tmp.path(),
    ));
    assert_eq!(reg["version"], 1);
    ok(&strider(
        &["models", "alias", "bokeh", "champion", "1", "--json"],
        tmp.path(),
        tmp.path(),
    ));
    let alias = inspect(&[
        "alias",
        tmp.path().join("mlruns").to_str().unwrap(),
        "bokeh",
        "champion",
    ]);
    assert_eq!(alias["version"], "1");
    assert_eq!(alias["run_id"], parent_id.as_str());
    assert_eq!(
        alias["tags"]["strider.data_fingerprint"],
        out["summary"]["data_fingerprint"]
    );
    // `mlflow migrate-filestore` converts the store losslessly into MLflow's SQLite.
    let migrated = inspect(&[
        "migrate",
        tmp.path().join("mlruns").to_str().unwrap(),
        tmp.path().join("m.db").to_str().unwrap(),
    ]);
    assert_eq!(migrated["runs"].as_u64().unwrap() as usize, runs.len());
}

#[test]
#[ignore]
fn server_runs_are_complete_sync_is_idempotent_and_the_registry_works() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("server"));
    let buffer = tmp.path().join("buffer");
    let cfg = small_config(tmp.path());
    let out = ok(&strider(
        &[
            "run",
            cfg.to_str().unwrap(),
            "--json",
            "--out",
            "run",
            "--tracking-uri",
            &server.uri(),
        ],
        tmp.path(),
        &buffer,
    ));
    assert_eq!(
        out["tracking"]["report"]["synced"], true,
        "{}",
        out["tracking"]
    );
    let cmp = inspect(&["compare", buffer.to_str().unwrap(), &server.uri()]);
    assert_eq!(cmp["ok"], true, "{cmp}");
    let before = runs_json(&server.uri(), "bokeh-3").len();
    // A local store synced twice: the second time creates nothing.
    ok(&strider(
        &[
            "run",
            cfg.to_str().unwrap(),
            "--json",
            "--out",
            "run2",
            "--seed",
            "3",
        ],
        tmp.path(),
        &buffer,
    ));
    let first = ok(&strider(
        &[
            "mlflow",
            "sync",
            "--from",
            "mlruns",
            "--to",
            &server.uri(),
            "--json",
        ],
        tmp.path(),
        &buffer,
    ));
    let second = ok(&strider(
        &[
            "mlflow",
            "sync",
            "--from",
            "mlruns",
            "--to",
            &server.uri(),
            "--json",
        ],
        tmp.path(),
        &buffer,
    ));
    assert!(first["report"]["runs_created"].as_u64().unwrap() > 0);
    assert_eq!(second["report"]["runs_created"], 0);
    let after = runs_json(&server.uri(), "bokeh-3");
    assert_eq!(
        after.len(),
        before + first["report"]["runs_created"].as_u64().unwrap() as usize
    );
    let cmp = inspect(&[
        "compare",
        tmp.path().join("mlruns").to_str().unwrap(),
        &server.uri(),
    ]);
    assert_eq!(cmp["ok"], true, "{cmp}");

    // Registry: register two versions, move the champion, roll it back.
    let run = out["tracking"]["server_run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let u = server.uri();
    let reg = |args: &[&str]| {
        ok(&strider(
            &[&["models"], args, &["--tracking-uri", &u, "--json"]].concat(),
            tmp.path(),
            &buffer,
        ))
    };
    assert_eq!(
        reg(&["register", "--run", &run, "--name", "bokeh"])["version"],
        1
    );
    assert_eq!(
        reg(&[
            "register",
            "--run",
            &run,
            "--name",
            "bokeh",
            "--parent",
            "bokeh:1",
            "--tag",
            "stage=review"
        ])["version"],
        2
    );
    reg(&["alias", "bokeh", "champion", "1", "--reason", "first"]);
    reg(&["alias", "bokeh", "champion", "2", "--reason", "higher DSR"]);
    assert_eq!(inspect(&["alias", &u, "bokeh", "champion"])["version"], "2");
    let rb = reg(&["rollback", "bokeh", "champion"]);
    assert_eq!(
        (rb["from"].as_u64(), rb["version"].as_u64()),
        (Some(2), Some(1))
    );
    let alias = inspect(&["alias", &u, "bokeh", "champion"]);
    assert_eq!(alias["version"], "1");
    let history: Vec<Value> = serde_json::from_str(
        alias["model_tags"]["strider.alias_history.champion"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[1]["reason"], "higher DSR");
    assert_eq!(history[2]["previous"], 2);
    let show = reg(&["show", "bokeh"]);
    let v2 = &show["model"]["versions"][1];
    assert_eq!(v2["tags"]["strider.parent_versions"], "bokeh:1");
    assert_eq!(v2["tags"]["stage"], "review");
    assert_eq!(
        v2["tags"]["strider.data_fingerprint"],
        out["summary"]["data_fingerprint"]
    );
    assert!(v2["tags"]["strider.git_revision"].as_str().is_some());
    assert_eq!(reg(&["list"]).as_array().unwrap().len(), 1);
    let bad = strider(
        &["models", "alias", "bokeh", "v3", "1", "--tracking-uri", &u],
        tmp.path(),
        &buffer,
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("reserved"));
}

#[test]
#[ignore]
fn a_tracked_run_s_bundle_registered_on_the_server_is_read_by_mlflow_and_predicts() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("server"));
    let buffer = tmp.path().join("buffer");
    let cfg = small_config(tmp.path());
    let u = server.uri();
    let out = ok(&strider(
        &[
            "run",
            cfg.to_str().unwrap(),
            "--json",
            "--out",
            "run",
            "--tracking-uri",
            &u,
        ],
        tmp.path(),
        &buffer,
    ));
    let run = out["tracking"]["server_run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let reg = ok(&strider(
        &[
            "models",
            "register",
            "--run",
            &run,
            "--model",
            "ridge",
            "--name",
            "deployed",
            "--tracking-uri",
            &u,
            "--json",
        ],
        tmp.path(),
        &buffer,
    ));
    assert_eq!(reg["version"], 1);
    assert!(
        reg["source"]
            .as_str()
            .unwrap()
            .ends_with("/run/bundles/ridge"),
        "{reg}"
    );
    ok(&strider(
        &[
            "models",
            "alias",
            "deployed",
            "champion",
            "1",
            "--tracking-uri",
            &u,
            "--json",
        ],
        tmp.path(),
        &buffer,
    ));
    // MLflow reads the version as a model: its files, the strider flavour and the signature.
    let m = inspect(&["model", &u, "deployed", "1"]);
    assert_eq!(m["flavors"], serde_json::json!(["strider"]), "{m}");
    assert!(
        m["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "ridge.json")
    );
    assert_eq!(m["strider"]["loader_version"], "strider-bundle/1");
    assert_eq!(m["inputs"][0], "date");
    assert_eq!(
        m["outputs"],
        serde_json::json!(["instrument", "date", "score", "position"])
    );
    assert_eq!(m["mlmodel_run_id"], out["tracking"]["run_id"]);
    // The registry version predicts what the bundle folder predicts.
    let data: Vec<String> = ["AAPL", "MSFT"]
        .iter()
        .flat_map(|t| ["--data".to_string(), format!("data/{t}.csv")])
        .collect();
    let predict = |model: &str| {
        let mut args = vec!["predict", "--model", model, "--json", "--tracking-uri", &u];
        args.extend(data.iter().map(String::as_str));
        ok(&strider(&args, tmp.path(), &buffer))
    };
    let served = predict("models:/deployed@champion");
    let local = predict("run/bundles/ridge");
    assert_eq!(served["version"], 1);
    assert_eq!(served["predictions"], local["predictions"]);
    assert_eq!(served["bundle_sha256"], local["bundle_sha256"]);
    // A bundle folder registered on the server becomes an MLflow LoggedModel (uploaded, READY)
    // and the version is made from it.
    let reg = ok(&strider(
        &[
            "models",
            "register",
            "--bundle",
            "run/bundles/ridge",
            "--name",
            "deployed",
            "--tracking-uri",
            &u,
            "--json",
        ],
        tmp.path(),
        &buffer,
    ));
    assert_eq!(reg["version"], 2);
    let model_id = reg["model_id"].as_str().unwrap().to_string();
    let m = inspect(&["model", &u, "deployed", "2"]);
    assert_eq!(m["model_id"], model_id.as_str(), "{m}");
    assert!(
        m["logged_model"]["status"]
            .as_str()
            .unwrap()
            .contains("READY"),
        "{m}"
    );
    assert_eq!(m["flavors"], serde_json::json!(["strider"]));
    assert_eq!(m["source"], format!("models:/{model_id}"), "{m}");
    // MLflow records on the logged model which version it became.
    let versions = m["logged_model"]["tags"]["mlflow.modelVersions"]
        .as_str()
        .unwrap_or("");
    assert!(versions.contains("deployed"), "{m}");
    let v2 = predict("models:/deployed/2");
    assert_eq!(v2["predictions"], local["predictions"]);
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
#[ignore]
fn a_server_killed_mid_run_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("server"));
    let buffer = tmp.path().join("buffer");
    // The full bundled example: long enough to kill the server while it runs.
    let mut child: Child = Command::new(BIN)
        .args([
            "run",
            "--json",
            "--out",
            "run",
            "--tracking-uri",
            &server.uri(),
            "--tracking-wait",
            "180",
        ])
        .current_dir(tmp.path())
        .env("STRIDER_MLFLOW_BUFFER", &buffer)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill as soon as the run shows up on the server, i.e. mid-run.
    wait_until(
        "the parent run on the server",
        Duration::from_secs(60),
        || {
            buffer.join("1").is_dir()
                && std::fs::read_dir(buffer.join("1"))
                    .map(|d| d.count() > 2)
                    .unwrap_or(false)
        },
    );
    server.down();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run should still be going when the server dies"
    );
    server.up();
    let out = child.wait_with_output().unwrap();
    let v = ok(&out);
    assert_eq!(v["tracking"]["report"]["synced"], true, "{}", v["tracking"]);
    let cmp = inspect(&["compare", buffer.to_str().unwrap(), &server.uri()]);
    assert_eq!(cmp["ok"], true, "{cmp}");
    assert!(cmp["metric_points"].as_u64().unwrap() > 500, "{cmp}");
}

#[test]
#[ignore]
fn an_unreachable_server_buffers_and_sync_replays() {
    let tmp = tempfile::tempdir().unwrap();
    let buffer = tmp.path().join("buffer");
    let cfg = small_config(tmp.path());
    let port = free_port();
    let uri = format!("http://127.0.0.1:{port}");
    let o = strider(
        &[
            "run",
            cfg.to_str().unwrap(),
            "--out",
            "run",
            "--tracking-uri",
            &uri,
            "--tracking-wait",
            "1",
        ],
        tmp.path(),
        &buffer,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("buffered") && err.contains("strider mlflow sync"),
        "{err}"
    );
    let server = Server {
        dir: tmp.path().join("server"),
        port,
    };
    server.up();
    ok(&strider(
        &[
            "mlflow",
            "sync",
            "--from",
            buffer.to_str().unwrap(),
            "--to",
            &uri,
        ],
        tmp.path(),
        &buffer,
    ));
    let cmp = inspect(&["compare", buffer.to_str().unwrap(), &uri]);
    assert_eq!(cmp["ok"], true, "{cmp}");
}

#[test]
#[ignore]
fn a_watch_replay_on_a_server_registers_promotes_and_logs_every_cycle() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(&dir.join("server"));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    for t in ["AAPL", "MSFT", "IBM"] {
        std::fs::copy(
            repo().join(format!("examples/data/{t}.csv")),
            dir.join(format!("data/{t}.csv")),
        )
        .unwrap();
    }
    std::fs::copy(repo().join("examples/watch.toml"), dir.join("watch.toml")).unwrap();
    let uri = server.uri();
    let args = [
        "watch",
        "watch.toml",
        "--replay",
        "--from",
        "2008-01-02",
        "--to",
        "2008-11-30",
    ];
    let out = strider(
        &[
            &args[..],
            &["--state", "s", "--tracking-uri", &uri, "--json"],
        ]
        .concat(),
        dir,
        &dir.join("buffer"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = lines.last().unwrap();
    let events = &lines[..lines.len() - 1];
    let count = |kind: &str| events.iter().filter(|e| e["kind"] == kind).count();
    assert_eq!(count("error"), 0, "{events:?}");
    assert!(count("promoted") >= 2 && count("rejected") >= 1);
    // MLflow's own client: the alias names the last champion, every cycle is a run.
    let alias = inspect(&["alias", &uri, "bokeh-3-ridge", "champion"]);
    assert_eq!(
        alias["version"].as_str().unwrap(),
        summary["champion"].to_string(),
        "{alias}"
    );
    let runs = runs_json(&uri, "bokeh-3-ridge-watch");
    assert_eq!(runs.len(), count("promoted") + count("rejected"));
    for r in &runs {
        assert!(["promoted", "rejected"].contains(&r["params"]["decision"].as_str().unwrap()));
        assert!(
            r["artifacts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "cycle.html"),
            "{r}"
        );
    }
    // Each cycle's trainings (the gate's challenger, the final refit) as runs of their own.
    let trainings = runs_json(&uri, "bokeh-3-ridge-watch-training");
    for r in &runs {
        let cycle = &r["tags"]["strider.cycle"];
        let stages: Vec<&str> = trainings
            .iter()
            .filter(|t| t["tags"]["strider.cycle"] == *cycle)
            .inspect(|t| assert_eq!(t["status"], "FINISHED", "{t}"))
            .map(|t| t["tags"]["strider.stage"].as_str().unwrap())
            .collect();
        let decision = r["params"]["decision"].as_str().unwrap();
        if decision == "rejected" {
            assert_eq!(stages, ["gate"], "{cycle}");
        }
        assert_eq!(
            stages.contains(&"final"),
            decision == "promoted",
            "{cycle}: {stages:?}"
        );
    }
}

/// POSTs `body` to the server's REST API (read back live, while a run is going).
fn rest(uri: &str, path: &str, body: Value) -> Value {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build()
        .post(&format!("{uri}/api/2.0/mlflow/{path}"))
        .send_json(body)
        .unwrap()
        .into_json()
        .unwrap()
}

/// Every run's `train/train_loss` points on the server now: run id -> (status, timestamps).
fn training_points(uri: &str) -> Vec<(String, String, Vec<i64>)> {
    let exps = rest(
        uri,
        "experiments/search",
        serde_json::json!({"max_results": 100}),
    );
    let ids: Vec<Value> = exps["experiments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["experiment_id"].clone())
        .collect();
    let runs = rest(
        uri,
        "runs/search",
        serde_json::json!({"experiment_ids": ids, "max_results": 1000}),
    );
    let mut out = Vec::new();
    for r in runs["runs"].as_array().into_iter().flatten() {
        let has = r["data"]["metrics"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["key"] == "train/train_loss"));
        if !has {
            continue;
        }
        let id = r["info"]["run_id"].as_str().unwrap().to_string();
        let history: Value = ureq::get(&format!("{uri}/api/2.0/mlflow/metrics/get-history"))
            .query("run_id", &id)
            .query("metric_key", "train/train_loss")
            .query("max_results", "100000")
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        let stamps = history["metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| m["timestamp"].as_i64().unwrap())
            .collect();
        let status = r["info"]["status"].as_str().unwrap_or("").to_string();
        out.push((id, status, stamps));
    }
    out
}

#[test]
#[ignore]
fn training_metrics_reach_the_server_while_a_fold_trains() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(&dir.join("server"));
    let small = std::fs::read_to_string(small_config(dir)).unwrap();
    // One tree model of many iterations: each fold streams them, then spends seconds on its
    // SHAP values and predictions, when points held back would show as late.
    let trees = "[[models]]\nname = \"trees\"\nkind = \"gbdt\"\nnum_iterations = 1500\n\
                 learning_rate = 0.005\nnum_leaves = 15\nmin_data_in_leaf = 20\n\n";
    let at = small.find("[[models]]").unwrap();
    let end = small.find("[strategy]").unwrap();
    let cfg = format!("{}{trees}{}", &small[..at], &small[end..]);
    std::fs::write(dir.join("trees.toml"), cfg).unwrap();
    let mut child = Command::new(BIN)
        .args(["run", "trees.toml", "--json", "--out", "run"])
        .args(["--tracking-uri", &server.uri()])
        .current_dir(dir)
        .env("STRIDER_MLFLOW_BUFFER", dir.join("buffer"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Polled while the run goes: every point shows up within a second or so of being measured
    // (a fold's points held back to its end would be seconds late).
    let mut live_points = 0;
    let mut worst_ms = 0i64;
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    while child.try_wait().unwrap().is_none() {
        let now = strider_now_ms();
        for (id, _, stamps) in training_points(&server.uri()) {
            let before = seen.insert(id, stamps.len()).unwrap_or(0);
            for t in &stamps[before.min(stamps.len())..] {
                worst_ms = worst_ms.max(now - t);
                live_points += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let out = child.wait_with_output().unwrap();
    let v = ok(&out);
    assert_eq!(v["tracking"]["report"]["synced"], true, "{}", v["tracking"]);
    assert!(
        live_points >= 3000,
        "only {live_points} points reached the server while the run went"
    );
    eprintln!(
        "{live_points} training points seen live, the latest {worst_ms} ms after measurement"
    );
    // A second of batching, a poll's interval and length, and a loaded machine's slack.
    assert!(
        worst_ms < 3_000,
        "a point reached the server {worst_ms} ms late"
    );
    // And all of them in the end.
    let finished = training_points(&server.uri());
    assert!(!finished.is_empty());
    for (id, status, stamps) in finished {
        assert_eq!(status, "FINISHED", "{id}");
        assert_eq!(stamps.len(), 1500, "{id}");
    }
}

fn strider_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Optuna's view of a study (tests/tune/optuna_check.py, run by Optuna 5.0 itself).
fn optuna_summary(storage: &str, study: &str) -> Value {
    let python = std::env::var("STRIDER_OPTUNA_PYTHON")
        .expect("STRIDER_OPTUNA_PYTHON: run these tests through scripts/test.sh");
    let o = Command::new(python)
        .arg(repo().join("tests/tune/optuna_check.py"))
        .args(["summary", storage, study])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

/// Runs on the server now in `experiment` that carry the trial tag `number`: (number, status,
/// whether any `train/...` metric is there yet).
fn trial_runs_now(uri: &str, experiment: &str) -> Vec<(String, String, bool)> {
    let exp = ureq::get(&format!("{uri}/api/2.0/mlflow/experiments/get-by-name"))
        .query("experiment_name", experiment)
        .call();
    let Ok(exp) = exp else { return Vec::new() };
    let exp: Value = exp.into_json().unwrap();
    let runs = rest(
        uri,
        "runs/search",
        serde_json::json!({"experiment_ids": [exp["experiment"]["experiment_id"]], "max_results": 1000}),
    );
    let mut out = Vec::new();
    for r in runs["runs"].as_array().into_iter().flatten() {
        let tags = r["data"]["tags"].as_array().cloned().unwrap_or_default();
        let Some(number) = tags.iter().find(|t| t["key"] == "number") else {
            continue;
        };
        let training = r["data"]["metrics"].as_array().is_some_and(|m| {
            m.iter()
                .any(|m| m["key"].as_str().unwrap().starts_with("train/"))
        });
        out.push((
            number["value"].as_str().unwrap().to_string(),
            r["info"]["status"].as_str().unwrap().to_string(),
            training,
        ));
    }
    out
}

#[test]
#[ignore]
fn a_tuning_session_is_tracked_as_optunas_mlflow_callback_tracks_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(&dir.join("server"));
    // Tune a tree model on the small data with short test windows: every trial walks many folds,
    // streaming each fold's iterations.
    let small = std::fs::read_to_string(small_config(dir))
        .unwrap()
        .replace("test_size = 504", "test_size = 63");
    let trees = "[[models]]\nname = \"trees\"\nkind = \"gbdt\"\nnum_iterations = 100\n\n";
    let at = small.find("[[models]]").unwrap();
    let end = small.find("[strategy]").unwrap();
    std::fs::write(
        dir.join("trees.toml"),
        format!("{}{trees}{}", &small[..at], &small[end..]),
    )
    .unwrap();
    let storage = format!("sqlite:///{}", dir.join("study.db").display());
    let mut child = Command::new(BIN)
        .args([
            "tune",
            "trees.toml",
            "--json",
            "--trials",
            "5",
            "--workers",
            "2",
        ])
        .args([
            "--pruner",
            "sha",
            "--study",
            "trees-study",
            "--storage",
            &storage,
        ])
        .args(["--tracking-uri", &server.uri()])
        .current_dir(dir)
        .env("STRIDER_MLFLOW_BUFFER", dir.join("buffer"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // While the session goes: a trial's training metrics are on the server before it ends.
    let mut live = std::collections::BTreeSet::new();
    while child.try_wait().unwrap().is_none() {
        for (number, status, training) in trial_runs_now(&server.uri(), "trees-study") {
            if status == "RUNNING" && training {
                live.insert(number);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let v = ok(&child.wait_with_output().unwrap());
    assert_eq!(v["tracking"]["report"]["synced"], true, "{}", v["tracking"]);
    assert!(
        !live.is_empty(),
        "no trial's training metrics reached the server while it ran"
    );
    eprintln!("trials seen training live on the server: {live:?}");

    // Every trial as Optuna reads it from the storage is a nested run with the same figures.
    let study = optuna_summary(&storage, "trees-study");
    let runs = runs_json(&server.uri(), "trees-study");
    let parent = runs
        .iter()
        .find(|r| r["tags"]["mlflow.source.name"] == "strider tune")
        .expect("the session's parent run");
    let n = study["n"].as_u64().unwrap() as usize;
    assert_eq!(n, 5);
    for i in 0..n {
        let number = study["numbers"][i].to_string();
        let run = runs
            .iter()
            .find(|r| r["tags"]["number"] == number.as_str())
            .unwrap_or_else(|| panic!("no run for trial {number}"));
        assert_eq!(run["name"], number.as_str());
        assert_eq!(run["tags"]["mlflow.parentRunId"], parent["run_id"]);
        assert_eq!(run["tags"]["state"], study["states"][i], "trial {number}");
        assert_eq!(run["tags"]["direction"], "MAXIMIZE");
        let expected_status = if study["states"][i] == "FAIL" {
            "FAILED"
        } else {
            "FINISHED"
        };
        assert_eq!(run["status"], expected_status, "trial {number}");
        let params = study["params"][i].as_object().unwrap();
        assert_eq!(run["params"].as_object().unwrap().len(), params.len());
        for (k, want) in params {
            let got: f64 = run["params"][k].as_str().unwrap().parse().unwrap();
            assert_eq!(got, want.as_f64().unwrap(), "trial {number} param {k}");
            assert!(run["tags"][format!("{k}_distribution")].is_string());
        }
        // Optuna keeps a pruned trial's last intermediate value as its value; so does the run.
        match study["values"][i].as_array() {
            Some(values) => assert_eq!(run["metrics"]["value"], values[0], "trial {number}"),
            None => assert!(run["metrics"].get("value").is_none(), "trial {number}"),
        }
        // Intermediate values: step and value, each once.
        let steps: Vec<(i64, f64)> = run["history"]["intermediate_value"]
            .as_array()
            .map(|h| {
                h.iter()
                    .map(|p| {
                        (
                            p[1].as_i64().unwrap(),
                            p[2].as_str().unwrap().parse().unwrap(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut steps = steps;
        steps.sort_by_key(|s| s.0);
        let want: Vec<(i64, f64)> = study["intermediate"][i]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.as_f64().unwrap()))
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .collect();
        assert_eq!(steps, want, "trial {number}");
        for (k, want) in study["user_attrs"][i].as_object().unwrap() {
            let got = &run["tags"][k];
            match want {
                Value::String(s) => assert_eq!(got, s.as_str()),
                other => assert_eq!(got.as_str().unwrap(), other.to_string()),
            }
        }
        // Each fold's iterations, streamed: a full history per trained fold.
        let trained = run["history"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with("train/trees/split-"))
            .count();
        assert!(
            trained > 0 || study["states"][i] != "COMPLETE",
            "trial {number}"
        );
    }
    assert_eq!(parent["metrics"]["n_trials"], 5.0);
    assert_eq!(parent["metrics"]["best_value"], study["best_value"]);
    assert_eq!(parent["status"], "FINISHED");
    assert!(
        parent["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "tuning.json")
    );

    // The best configuration's run is tracked beside it and registers as it stands.
    let best_run = parent["tags"]["strider.tune.best_run"].as_str().unwrap();
    let best = runs.iter().find(|r| r["run_id"] == best_run).unwrap();
    assert_eq!(best["tags"]["strider.tune.study"], "trees-study");
    assert_eq!(
        best["tags"]["strider.tune.trial"],
        parent["tags"]["strider.tune.best_trial"]
    );
    let reg = ok(&strider(
        &[
            "models",
            "register",
            "--run",
            best_run,
            "--model",
            "trees",
            "--name",
            "tuned",
            "--tracking-uri",
            &server.uri(),
            "--json",
        ],
        dir,
        &dir.join("buffer"),
    ));
    assert_eq!(reg["version"], 1);
}
