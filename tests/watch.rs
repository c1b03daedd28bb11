//! `strider watch` and `strider drift` end to end through the binary: a replay of the bundled
//! data with triggers, gates, promotions and a rollback; `kill -9` at random points giving the
//! very same event log; injected faults recorded as errors while the service goes on; a planted
//! regime change firing the data-drift trigger soon after it; the drift command against scipy.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{ok_json, project, repo, strider};

/// The bundled data kept healthy as `examples/watch.toml` says (one ridge, every trigger).
fn watched(dir: &Path) -> PathBuf {
    project(dir, |_| {
        std::fs::read_to_string(repo().join("examples/watch.toml")).unwrap()
    })
}

fn replay(dir: &Path, state: &str, from: &str, to: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strider"));
    c.args([
        "watch",
        "config.toml",
        "--replay",
        "--from",
        from,
        "--to",
        to,
        "--state",
        state,
        "--json",
    ])
    .current_dir(dir);
    c
}

/// The event log without its wall-clock stamps.
fn events(state: &Path) -> Vec<Value> {
    std::fs::read_to_string(state.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("wall_time");
            v
        })
        .collect()
}

/// The MLflow runs the watch logged (one per cycle) in `STATE/mlruns`.
fn tracked_cycles(state: &Path) -> Vec<String> {
    let mut runs = Vec::new();
    for exp in std::fs::read_dir(state.join("mlruns")).unwrap().flatten() {
        let meta = std::fs::read_to_string(exp.path().join("meta.yaml")).unwrap_or_default();
        // Not `bokeh-3-ridge-watch-training`: its runs are trainings, not cycles.
        if !meta.lines().any(|l| l == "name: bokeh-3-ridge-watch") {
            continue;
        }
        for run in std::fs::read_dir(exp.path()).unwrap().flatten() {
            let name = run.path().join("tags/strider.cycle");
            if let Ok(cycle) = std::fs::read_to_string(name) {
                runs.push(cycle);
            }
        }
    }
    runs.sort();
    runs
}

fn kinds<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}

#[test]
fn a_replay_fires_triggers_gates_promotes_and_rolls_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    watched(dir);
    let out = replay(dir, "state", "2008-01-02", "2009-06-30")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = events(&dir.join("state"));
    for e in &ev {
        assert!(
            e["date"].is_string() && e["kind"].is_string() && e["model"] == "ridge",
            "{e}"
        );
    }
    let fired: Vec<&str> = kinds(&ev, "trigger")
        .iter()
        .map(|e| e["trigger"].as_str().unwrap())
        .collect();
    for t in ["manual", "performance", "data_drift", "model_drift"] {
        assert!(fired.contains(&t), "{t} never fired: {fired:?}");
    }
    let gates = kinds(&ev, "gate");
    let promoted = kinds(&ev, "promoted");
    let rejected = kinds(&ev, "rejected");
    assert!(
        promoted.len() >= 2 && !rejected.is_empty(),
        "{} promoted, {} rejected",
        promoted.len(),
        rejected.len()
    );
    // A promotion after the first passed the gate: significance, not just a higher number.
    for g in &gates {
        let passed = g["passed"].as_bool().unwrap();
        assert_eq!(
            passed,
            g["p_value"].as_f64().unwrap() < 0.2 && g["mean_difference"].as_f64().unwrap() > 0.0
        );
    }
    assert_eq!(
        gates.iter().filter(|g| g["passed"] == true).count(),
        promoted.len() - 1
    );
    let rolled = kinds(&ev, "rolled_back");
    assert!(!rolled.is_empty(), "no rollback");
    assert!(rolled[0]["value"].as_f64().unwrap() < -2.0);
    // Every cycle wrote its report; the registry's alias names the last champion.
    let cycles = std::fs::read_dir(dir.join("state/cycles")).unwrap().count();
    assert_eq!(cycles, promoted.len() + rejected.len());
    // ... and is one MLflow run, with its decision.
    let tracked = tracked_cycles(&dir.join("state"));
    assert_eq!(tracked.len(), cycles, "{tracked:?}");
    let mut logged: Vec<String> = promoted
        .iter()
        .chain(&rejected)
        .map(|e| e["cycle"].as_str().unwrap().to_string())
        .collect();
    logged.sort();
    assert_eq!(tracked, logged);
    let summary: Value = serde_json::from_slice(
        out.stdout
            .split(|b| *b == b'\n')
            .rfind(|l| !l.is_empty())
            .unwrap(),
    )
    .unwrap();
    let shown = ok_json(&strider(
        &[
            "models",
            "show",
            "bokeh-3-ridge",
            "--json",
            "--tracking-uri",
            "state/mlruns",
        ],
        dir,
    ));
    assert_eq!(shown["model"]["aliases"]["champion"], summary["champion"]);
    let report = std::fs::read_to_string(
        dir.join("state/cycles")
            .join(format!("{}.html", rejected[0]["cycle"].as_str().unwrap())),
    )
    .unwrap();
    assert!(report.contains("rejected") && report.contains("Diebold-Mariano"));
}

#[test]
fn kill_9_at_random_points_leaves_the_same_event_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    watched(dir);
    let (from, to) = ("2007-06-01", "2009-12-31");
    let start = Instant::now();
    let whole = replay(dir, "whole", from, to).output().unwrap();
    assert!(
        whole.status.success(),
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );
    let took = start.elapsed();
    let reference = events(&dir.join("whole"));
    // Kill points spread over the run (fixed fractions: a reproducible "random" schedule).
    let mut kills = 0;
    // Each run resumes where the last was killed, so the fractions of a whole run add up (to
    // 0.72 here: every run is still going when it is killed, the last one finishes).
    for fraction in [0.08, 0.15, 0.11, 0.19, 0.06, 0.13] {
        let mut child = replay(dir, "killed", from, to)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(took.mul_f64(fraction).max(Duration::from_millis(20)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills >= 4, "only {kills} runs were still going when killed");
    let last = replay(dir, "killed", from, to).output().unwrap();
    assert!(
        last.status.success(),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );
    assert_eq!(events(&dir.join("killed")), reference);
    // Nothing was registered twice either.
    let versions = |state: &str| {
        std::fs::read_dir(dir.join(state).join("mlruns/models/bokeh-3-ridge"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("version-")
            })
            .count()
    };
    assert_eq!(versions("killed"), versions("whole"));
    assert_eq!(
        tracked_cycles(&dir.join("killed")),
        tracked_cycles(&dir.join("whole"))
    );
}

#[test]
fn a_training_failure_is_an_error_event_and_the_replay_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    watched(dir);
    let clean = replay(dir, "clean", "2008-01-02", "2008-12-31")
        .output()
        .unwrap();
    assert!(clean.status.success());
    let ev = events(&dir.join("clean"));
    // Fail the final fit of the second cycle that promotes or the first rejected one's gate fit.
    let cycle_date = kinds(&ev, "trigger")[1]["date"]
        .as_str()
        .unwrap()
        .to_string();
    let out = replay(dir, "faulty", "2008-01-02", "2008-12-31")
        .env("STRIDER_WATCH_FAIL_TRAINING", &cycle_date)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let faulty = events(&dir.join("faulty"));
    let errors = kinds(&faulty, "error");
    assert!(
        !errors.is_empty() && errors[0]["error"].as_str().unwrap().contains("injected"),
        "{errors:?}"
    );
    let last_date = |e: &[Value]| e.last().unwrap()["date"].as_str().unwrap().to_string();
    assert!(
        last_date(&faulty) > cycle_date,
        "the service went on after the failure"
    );
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("faulty/state.json")).unwrap())
            .unwrap();
    assert_eq!(state["last_bar"], "2008-12-31");
    assert!(state["errors"].as_u64().unwrap() >= 1);
}

#[test]
fn a_corrupt_appended_bar_is_recorded_and_the_next_good_bar_is_processed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    watched(dir);
    let live = |dir: &Path| {
        let args = ["watch", "config.toml", "--state", "live", "--poll", "0.05"];
        let out = strider(&[&args[..], &["--idle-polls", "3", "--json"]].concat(), dir);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let state: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("live/state.json")).unwrap())
                .unwrap();
        (events(&dir.join("live")), state)
    };
    let (ev, _) = live(dir);
    assert_eq!(
        kinds(&ev, "promoted").len(),
        1,
        "the newest bar gets a champion"
    );
    let append = |t: &str, line: &str| {
        let f = dir.join(format!("data/{t}.csv"));
        let text = std::fs::read_to_string(&f).unwrap();
        std::fs::write(&f, format!("{text}{line}\n")).unwrap();
    };
    append("AAPL", "2013-03-04,oops,1,1,1,1,1");
    let (ev, state) = live(dir);
    let errors = kinds(&ev, "error");
    assert_eq!(errors.len(), 1, "{ev:?}");
    let message = errors[0]["error"].as_str().unwrap();
    assert!(
        message.contains("AAPL.csv") && message.contains("line 3272"),
        "{message}"
    );
    assert_eq!(state["last_bar"], "2013-03-01", "no new bar yet");
    // The next bar arrives after the corrupt line, which stays in the file: it is processed.
    for t in ["AAPL", "MSFT", "IBM"] {
        let text = std::fs::read_to_string(dir.join(format!("data/{t}.csv"))).unwrap();
        let last = text
            .lines()
            .rfind(|l| l.starts_with("2013-03-01"))
            .unwrap()
            .to_string();
        append(t, &last.replacen("2013-03-01", "2013-03-04", 1));
    }
    let (ev, state) = live(dir);
    assert_eq!(state["last_bar"], "2013-03-04");
    assert_eq!(
        kinds(&ev, "error").len(),
        1,
        "the skipped line is recorded once"
    );
    // History rewritten badly is an error, and the data read before stays in use.
    let f = dir.join("data/MSFT.csv");
    let text =
        std::fs::read_to_string(&f)
            .unwrap()
            .replacen("\n2000-03-02,", "\n2000-03-02,bad", 1);
    std::fs::write(&f, text).unwrap();
    let (ev, state) = live(dir);
    let errors = kinds(&ev, "error");
    assert_eq!(errors.len(), 2, "{ev:?}");
    assert!(errors[1]["error"].as_str().unwrap().contains("MSFT.csv"));
    assert_eq!(state["last_bar"], "2013-03-04");
}

/// Two instruments of independent returns whose volatility triples from bar `change` on.
/// (Features of overlapping windows, such as 5-bar returns, are autocorrelated: KS p-values,
/// which assume independent draws, then fire without any change, and this test would measure
/// that instead of the detector.)
fn regime_data(dir: &Path, change: usize) -> Vec<String> {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let mut state = 7u64;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / 2f64.powi(53)
    };
    let mut dates = Vec::new();
    for name in ["aaa", "bbb"] {
        let mut text = String::from("date,open,high,low,close,volume\n");
        let mut close = 100.0;
        let mut date = chrono::NaiveDate::from_ymd_opt(2010, 1, 4).unwrap();
        dates.clear();
        for t in 0..1200 {
            let z = (0..4).map(|_| uniform()).sum::<f64>() - 2.0;
            let vol = if t < change { 0.01 } else { 0.03 };
            close *= 1.0 + vol * z * 1.7;
            text += &format!("{date},{close},{close},{close},{close},1000\n");
            dates.push(date.to_string());
            date = date.succ_opt().unwrap();
        }
        std::fs::write(dir.join(format!("data/{name}.csv")), text).unwrap();
    }
    dates
}

#[test]
fn a_planted_regime_change_fires_data_drift_soon_after() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let change = 900;
    let dates = regime_data(dir, change);
    std::fs::write(
        dir.join("config.toml"),
        "name = \"regime\"\n[data]\nfiles = [\"data/aaa.csv\", \"data/bbb.csv\"]\n\
         [[features]]\nkind = \"returns\"\nperiods = [1]\n[[features]]\nkind = \"lagged_returns\"\nlags = [1, 2]\n\
         [split]\nscheme = \"walk-forward\"\ntrain_size = 250\ntest_size = 125\n\
         [[models]]\nname = \"ridge\"\nkind = \"ridge\"\n\
         [retrain]\nmin_spacing = 20\n[retrain.data_drift]\nwindow = 60\nevery = 1\n",
    )
    .unwrap();
    let out = replay(dir, "state", &dates[700], &dates[1100])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = events(&dir.join("state"));
    let drift: Vec<&str> = kinds(&ev, "trigger")
        .into_iter()
        .filter(|e| e["trigger"] == "data_drift")
        .map(|e| e["date"].as_str().unwrap())
        .collect();
    let first = *drift.first().expect("data drift fired");
    assert!(
        first >= dates[change].as_str(),
        "fired before the change: {first}"
    );
    assert!(
        first <= dates[change + 15].as_str(),
        "fired late: {first} (change on {})",
        dates[change]
    );
}

#[test]
fn drift_on_files_equals_the_scipy_goldens() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let text = std::fs::read_to_string(repo().join("examples/data/AAPL.csv")).unwrap();
    let close: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(4).unwrap().parse().unwrap())
        .collect();
    let r: Vec<f64> = close.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
    let csv = |v: &[f64]| {
        let mut s = String::from("date,ret\n");
        for (i, x) in v.iter().enumerate() {
            s += &format!("d{i},{x}\n");
        }
        s
    };
    std::fs::write(dir.join("ref.csv"), csv(&r[..400])).unwrap();
    std::fs::write(dir.join("cur.csv"), csv(&r[400..800])).unwrap();
    let out = ok_json(&strider(
        &[
            "drift",
            "--reference",
            "ref.csv",
            "--current",
            "cur.csv",
            "--json",
        ],
        dir,
    ));
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/golden/drift/drift.json")).unwrap(),
    )
    .unwrap();
    let case = |kind: &str| {
        golden[kind]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "returns, two halves")
            .unwrap()
            .clone()
    };
    let col = &out["columns"]["ret"];
    assert!(
        (col["ks_statistic"].as_f64().unwrap() - case("ks")["statistic"].as_f64().unwrap()).abs()
            < 1e-12
    );
    assert!(
        (col["ks_pvalue"].as_f64().unwrap() / case("ks")["pvalue"].as_f64().unwrap() - 1.0).abs()
            < 1e-9
    );
    assert!((col["psi"].as_f64().unwrap() - case("psi")["psi"].as_f64().unwrap()).abs() < 1e-12);
    assert_eq!(out["drift"], col["drifted"]);
    // A stream: one 0-based index per detection.
    std::fs::write(
        dir.join("s.csv"),
        (0..400)
            .map(|i| if i < 200 { "0\n" } else { "10\n" })
            .collect::<String>(),
    )
    .unwrap();
    let s = ok_json(&strider(
        &[
            "drift",
            "--stream",
            "s.csv",
            "--detector",
            "page-hinkley",
            "--json",
        ],
        dir,
    ));
    let at = s["detections"][0].as_u64().unwrap();
    assert!((200..240).contains(&at), "{s}");
    let bad = strider(
        &[
            "drift",
            "--stream",
            "s.csv",
            "--detector",
            "adwin",
            "--param",
            "delta=2",
        ],
        dir,
    );
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("delta"));
}

#[test]
fn a_registry_server_that_is_down_is_an_error_event_not_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    watched(dir);
    // Port 9 (discard) refuses connections: every registry call fails after its retries.
    let out = replay(dir, "down", "2008-01-02", "2008-01-03")
        .args(["--tracking-uri", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = events(&dir.join("down"));
    let errors = kinds(&ev, "error");
    assert_eq!(errors.len(), 2, "{ev:?}");
    assert!(errors[0]["error"].as_str().unwrap().contains("127.0.0.1:9"));
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("down/state.json")).unwrap())
            .unwrap();
    assert_eq!(state["last_bar"], "2008-01-03");
    assert_eq!(
        state["reigns"],
        serde_json::json!([]),
        "no champion was made"
    );
}

#[test]
fn a_tuning_budget_chooses_the_parameters_the_same_way_every_time() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = watched(dir);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "train_bars = 1000\n",
            "train_bars = 1000\ntune_trials = 3\n",
        ),
    )
    .unwrap();
    let run = |state: &str| {
        let out = replay(dir, state, "2008-01-02", "2008-03-31")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        events(&dir.join(state))
    };
    let first = run("a");
    let tuned: Vec<&Value> = kinds(&first, "retrain")
        .into_iter()
        .filter(|e| e["stage"] == "tune" || e["tuned"].is_object())
        .collect();
    assert!(tuned.len() >= 2, "{first:?}");
    let alpha = |e: &Value| {
        let p = if e["stage"] == "tune" {
            &e["params"]
        } else {
            &e["tuned"]
        };
        p["model.alpha"].as_f64().unwrap()
    };
    assert!(tuned.iter().all(|e| alpha(e) > 0.0));
    assert_eq!(run("b"), first, "same seed, same events");
}

#[test]
fn a_manual_request_fires_once_with_its_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    watched(dir);
    let q = ok_json(&strider(
        &[
            "retrain",
            "config.toml",
            "--model",
            "ridge",
            "--reason",
            "new data vendor",
            "--state",
            "m",
            "--json",
        ],
        dir,
    ));
    assert!(q["request"].as_str().unwrap().ends_with(".json"));
    let bad = strider(
        &[
            "retrain",
            "config.toml",
            "--model",
            "nope",
            "--reason",
            "x",
            "--state",
            "m",
        ],
        dir,
    );
    assert!(
        !bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("no model `nope`")
    );
    std::fs::write(dir.join("m/requests/zz-broken.json"), "{").unwrap();
    let out = replay(dir, "m", "2008-01-02", "2008-02-15")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = events(&dir.join("m"));
    let manual: Vec<&Value> = kinds(&ev, "trigger")
        .into_iter()
        .filter(|e| e["trigger"] == "manual" && e["evidence"]["reason"] == "new data vendor")
        .collect();
    assert_eq!(manual.len(), 1, "acted on once: {ev:?}");
    let errors = kinds(&ev, "error");
    assert_eq!(
        errors.len(),
        1,
        "the broken request is an error: {errors:?}"
    );
    assert!(
        errors[0]["error"]
            .as_str()
            .unwrap()
            .contains("not a retrain request")
    );
}

#[test]
fn ab_test_decides_for_the_better_series_and_waits_on_equal_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let text = std::fs::read_to_string(repo().join("examples/data/IBM.csv")).unwrap();
    let close: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(4).unwrap().parse().unwrap())
        .collect();
    let r: Vec<f64> = close.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
    let write = |name: &str, v: &[f64]| {
        let body: String = v
            .iter()
            .enumerate()
            .map(|(i, x)| format!("d{i},{x}\n"))
            .collect();
        std::fs::write(dir.join(name), format!("date,ret\n{body}")).unwrap();
    };
    // B earns A's return plus 0.4 standard deviations of it a day, with its own noise.
    let sd = (r.iter().map(|x| x * x).sum::<f64>() / r.len() as f64).sqrt();
    let b: Vec<f64> = r
        .iter()
        .enumerate()
        .map(|(i, x)| x + 0.4 * sd + 0.5 * sd * ((i * 7919 % 13) as f64 / 6.0 - 1.0))
        .collect();
    write("a.csv", &r[..1000]);
    write("b.csv", &b[..1000]);
    let better = ok_json(&strider(
        &["ab", "test", "--a", "a.csv", "--b", "b.csv", "--json"],
        dir,
    ));
    assert_eq!(better["decision"], "b", "{}", better["p_value"]);
    let at = better["at"].as_u64().unwrap() as usize;
    assert!(better["p_value"].as_f64().unwrap() <= 0.05);
    assert_eq!(better["path"].as_array().unwrap().len(), at + 1);
    let swapped = ok_json(&strider(
        &["ab", "test", "--a", "b.csv", "--b", "a.csv", "--json"],
        dir,
    ));
    assert_eq!(swapped["decision"], "a");
    let same = ok_json(&strider(
        &["ab", "test", "--a", "a.csv", "--b", "a.csv", "--json"],
        dir,
    ));
    assert_eq!(
        (same["decision"].as_str(), same["at"].is_null()),
        (Some("continue"), true)
    );
    write("short.csv", &r[..10]);
    let bad = strider(&["ab", "test", "--a", "a.csv", "--b", "short.csv"], dir);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("pairs them"));
}

/// Two instruments whose `sig` column predicts the next return with sign +1 before bar `flip`
/// and -1 after it.
fn flipping_signal(dir: &Path, flip: usize) -> Vec<String> {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let mut state = 11u64;
    let mut normal = || {
        let mut s = 0.0;
        for _ in 0..12 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s += (state >> 11) as f64 / 2f64.powi(53);
        }
        s - 6.0
    };
    let mut dates = Vec::new();
    for name in ["aaa", "bbb"] {
        let r: Vec<f64> = (0..=800).map(|_| 0.01 * normal()).collect();
        let mut text = String::from("date,open,high,low,close,volume,sig\n");
        let (mut close, mut date) = (100.0, chrono::NaiveDate::from_ymd_opt(2015, 1, 5).unwrap());
        dates.clear();
        for t in 0..800 {
            close *= 1.0 + r[t];
            let sign = if t < flip { 1.0 } else { -1.0 };
            let sig = sign * r[t + 1] + 0.01 * normal();
            text += &format!("{date},{close},{close},{close},{close},1000,{sig}\n");
            dates.push(date.to_string());
            date = date.succ_opt().unwrap();
        }
        std::fs::write(dir.join(format!("data/{name}.csv")), text).unwrap();
    }
    dates
}

#[test]
fn an_ab_gate_promotes_a_challenger_that_wins_in_shadow_and_records_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let dates = flipping_signal(dir, 500);
    std::fs::write(
        dir.join("config.toml"),
        "name = \"flip\"\nseed = 3\n[data]\nfiles = [\"data/aaa.csv\", \"data/bbb.csv\"]\n\
         [[features]]\nkind = \"column\"\nname = \"sig\"\n\
         [split]\nscheme = \"walk-forward\"\ntrain_size = 80\ntest_size = 30\nreduce_test = true\n\
         [strategy]\nexecution_lag = 0\n\
         [[models]]\nname = \"ridge\"\nkind = \"ridge\"\nalpha = 0.001\n\
         [retrain]\nmin_spacing = 10\ntrain_bars = 150\n\
         [retrain.performance]\nwindow = 20\nbelow = 0.0\n\
         [retrain.gate]\nkind = \"ab\"\nalpha = 0.05\nmax_bars = 100\nburn_in = 10\n",
    )
    .unwrap();
    let out = replay(dir, "state", &dates[400], &dates[700])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = events(&dir.join("state"));
    let started: Vec<&Value> = kinds(&ev, "gate")
        .into_iter()
        .filter(|g| g["stage"] == "started")
        .collect();
    let decided: Vec<&Value> = kinds(&ev, "gate")
        .into_iter()
        .filter(|g| g["stage"] == "decided")
        .collect();
    let summary: Vec<String> = ev
        .iter()
        .map(|e| format!("{} {} {}", e["date"], e["kind"], e["reason"]))
        .collect();
    assert!(!started.is_empty(), "{summary:?}");
    let won = decided
        .iter()
        .find(|g| g["decision"] == "b")
        .expect("a challenger won its A/B test");
    assert!(won["p_value"].as_f64().unwrap() <= 0.05);
    assert!(
        won["date"].as_str().unwrap() > dates[500].as_str(),
        "after the flip"
    );
    let promoted = kinds(&ev, "promoted");
    let version = won["version"].as_u64().unwrap();
    assert!(
        promoted
            .iter()
            .any(|p| p["version"] == version && p["date"] == won["date"])
    );
    // The result is on the registry version.
    let shown = ok_json(&strider(
        &[
            "models",
            "show",
            "flip-ridge",
            "--json",
            "--tracking-uri",
            "state/mlruns",
        ],
        dir,
    ));
    let v = shown["model"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == version)
        .unwrap();
    assert_eq!(v["tags"]["strider.ab.decision"], "b", "{v}");
    assert_eq!(v["tags"]["strider.gate"], "ab");
}

#[test]
fn a_bad_cron_pattern_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = watched(dir);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "every_bars = 126\n",
            "every_bars = 126\ncron = \"61 * * * *\"\n",
        ),
    )
    .unwrap();
    let out = replay(dir, "c", "2008-01-02", "2008-01-10")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("retrain.schedule.cron") && err.lines().count() == 1,
        "{err}"
    );
    // A good one fires on the first bar at or after its time (here the only trigger).
    let base = &text[..text.find("[retrain]").unwrap()];
    let only_cron =
        format!("{base}[retrain]\nmin_spacing = 5\n[retrain.schedule]\ncron = \"0 0 1 * *\"\n");
    std::fs::write(&config, only_cron).unwrap();
    let out = replay(dir, "ok", "2008-01-02", "2008-04-30")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = events(&dir.join("ok"));
    let dates: Vec<&str> = kinds(&ev, "trigger")
        .into_iter()
        .filter(|e| e["trigger"] == "schedule")
        .map(|e| e["date"].as_str().unwrap())
        .collect();
    // 2008: Feb 1 is a Friday, Mar 1 a Saturday (so Monday the 3rd), Apr 1 a Tuesday.
    assert_eq!(dates, ["2008-02-01", "2008-03-03", "2008-04-01"]);
}
