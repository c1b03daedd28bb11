//! Monitoring the retraining service: `strider watch --listen` serving `/status`, `/metrics` and
//! `/events` over a real socket while bars arrive in the data files, a cycle's training progress
//! on the event stream, the same figures after `kill -9` and a restart; and `strider monitor`'s
//! page over the same log.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{ok_json, project, repo, strider};

const CUT: &str = "2008-06-30";

/// The watched project with every bar after `CUT` held back; returns the held-back lines.
fn held_back(dir: &Path) -> Vec<Vec<String>> {
    project(dir, |_| {
        std::fs::read_to_string(repo().join("examples/watch.toml")).unwrap()
    });
    ["AAPL", "MSFT", "IBM"]
        .iter()
        .map(|t| {
            let f = dir.join(format!("data/{t}.csv"));
            let text = std::fs::read_to_string(&f).unwrap();
            let keep: Vec<&str> = text
                .lines()
                .enumerate()
                .filter(|(i, l)| *i == 0 || &l[..10] <= CUT)
                .map(|(_, l)| l)
                .collect();
            let later: Vec<String> = text
                .lines()
                .skip(1)
                .filter(|l| &l[..10] > CUT)
                .map(str::to_string)
                .collect();
            std::fs::write(&f, format!("{}\n", keep.join("\n"))).unwrap();
            later
        })
        .collect()
}

/// Appends the next held-back bar to every file.
fn append_bar(dir: &Path, later: &[Vec<String>], i: usize) -> String {
    for (t, lines) in ["AAPL", "MSFT", "IBM"].iter().zip(later) {
        let f = dir.join(format!("data/{t}.csv"));
        let text = std::fs::read_to_string(&f).unwrap();
        std::fs::write(&f, format!("{text}{}\n", lines[i])).unwrap();
    }
    later[0][i][..10].to_string()
}

/// The service following the files, with its monitor on a free port: (child, base URL).
fn start(dir: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strider"))
        .args(["watch", "config.toml", "--state", "s", "--poll", "0.1"])
        .args(["--listen", "127.0.0.1:0", "--json"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = loop {
        let line = lines.next().expect("a listening line").unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if v["event"] == "listening" {
            break v["address"].as_str().unwrap().to_string();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, format!("http://{address}"))
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        .timeout_read(Duration::from_secs(60))
        .build()
}

fn get_json(base: &str, path: &str) -> Value {
    agent()
        .get(&format!("{base}{path}"))
        .call()
        .unwrap()
        .into_json()
        .unwrap()
}

fn metrics(base: &str) -> Vec<(String, f64)> {
    let text = agent()
        .get(&format!("{base}/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

fn metric(m: &[(String, f64)], name: &str) -> Option<f64> {
    m.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

fn log(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("s/events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits until `/status` says the service processed `date`.
fn wait_for_bar(base: &str, date: &str) -> Value {
    let start = Instant::now();
    loop {
        let s = get_json(base, "/status");
        if s["last_bar"] == date && s["phase"] == "idle" {
            return s;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "stuck at {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Server-sent events from `path`, as (event, id, data) per message, sent on `tx` as they come.
fn subscribe(base: &str, path: &str) -> mpsc::Receiver<(String, Option<u64>, Value)> {
    let (tx, rx) = mpsc::channel();
    let reader = agent()
        .get(&format!("{base}{path}"))
        .call()
        .unwrap()
        .into_reader();
    std::thread::spawn(move || {
        let (mut event, mut id, mut data) = (String::new(), None, String::new());
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { return };
            if let Some(v) = line.strip_prefix("event: ") {
                event = v.to_string();
            } else if let Some(v) = line.strip_prefix("id: ") {
                id = v.parse().ok();
            } else if let Some(v) = line.strip_prefix("data: ") {
                data.push_str(v);
            } else if line.is_empty() && !data.is_empty() {
                let v = serde_json::from_str(&data).unwrap();
                if tx.send((std::mem::take(&mut event), id.take(), v)).is_err() {
                    return;
                }
                data.clear();
            }
        }
    });
    rx
}

#[test]
fn watch_serves_status_metrics_and_events_as_bars_arrive_and_after_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let later = held_back(dir);
    let out = strider(
        &[
            "watch",
            "config.toml",
            "--replay",
            "--from",
            "2008-01-02",
            "--state",
            "s",
        ],
        dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (child, base) = start(dir);
    let before = log(dir);

    // The status is the log's: counts, champion, the last live figures.
    let s = wait_for_bar(&base, CUT);
    let count = |kind: &str| before.iter().filter(|e| e["kind"] == kind).count() as u64;
    let last_live = before.iter().rfind(|e| e["kind"] == "live").unwrap();
    assert_eq!(s["events"], before.len() as u64);
    assert_eq!(s["bars"], count("live"));
    assert_eq!(s["bars"], last_live["bars"]);
    assert_eq!(s["promotions"], count("promoted"));
    assert_eq!(s["rejections"], count("rejected"));
    assert_eq!(s["champion"], last_live["champion"]);
    assert_eq!(s["live"]["sharpe"], last_live["sharpe"]);
    assert!(count("trigger") > 0 && count("promoted") > 0);

    // Prometheus text with the same figures.
    let m = metrics(&base);
    assert_eq!(metric(&m, "strider_watch_bars_total"), s["bars"].as_f64());
    assert_eq!(
        metric(&m, "strider_watch_events_total"),
        Some(before.len() as f64)
    );
    assert_eq!(
        metric(&m, "strider_watch_serving_version"),
        s["champion"].as_f64()
    );
    let sharpe = metric(&m, "strider_watch_live_sharpe").unwrap();
    let expected = last_live["sharpe"].as_f64().unwrap();
    assert!((sharpe - expected).abs() <= 1e-12 * expected.abs().max(1.0));
    for (trigger, n) in s["triggers"].as_object().unwrap() {
        let key = format!("strider_watch_triggers_total{{trigger=\"{trigger}\"}}");
        assert_eq!(metric(&m, &key), n.as_f64(), "{key}");
    }
    assert_eq!(metric(&m, "strider_watch_up"), Some(1.0));

    // The whole log from the start, ids in order, each message the log's line.
    let all = subscribe(&base, "/events?since=0");
    for (i, e) in before.iter().enumerate() {
        let (kind, id, data) = all.recv_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!((kind.as_str(), id), ("event", Some(i as u64)));
        assert_eq!(&data, e);
    }

    // A manual request, then a new bar: the cycle's training streams progress, then its
    // decision arrives, and the status moves on.
    let live = subscribe(&base, "/events");
    let q = ok_json(&strider(
        &[
            "retrain",
            "config.toml",
            "--model",
            "ridge",
            "--reason",
            "test",
            "--state",
            "s",
            "--json",
        ],
        dir,
    ));
    assert!(q["request"].is_string());
    let date = append_bar(dir, &later, 0);
    let s = wait_for_bar(&base, &date);
    let after = log(dir);
    let mut progress = 0;
    let mut committed = Vec::new();
    while committed.len() < after.len() - before.len() {
        let (kind, id, data) = live.recv_timeout(Duration::from_secs(60)).unwrap();
        match kind.as_str() {
            "progress" => progress += 1,
            _ => committed.push((id.unwrap(), data)),
        }
    }
    assert!(progress > 0, "no training progress on the stream");
    for (id, data) in &committed {
        assert_eq!(data, &after[*id as usize], "event {id}");
    }
    assert_eq!(committed[0].0, before.len() as u64);
    let new: Vec<&str> = after[before.len()..]
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        new.contains(&"trigger") && new.contains(&"retrain"),
        "{new:?}"
    );
    assert_eq!(new.last(), Some(&"live"));
    assert_eq!(s["events"], after.len() as u64);

    // SIGTERM: the service stops after the bar in hand and exits 0.
    terminate(child);
    // kill -9 of a running service, and a restart: the same status, from the committed log.
    let (mut killed, _) = start(dir);
    killed.kill().unwrap();
    killed.wait().unwrap();
    let (child, base) = start(dir);
    let again = get_json(&base, "/status");
    for k in [
        "events",
        "bars",
        "cycles",
        "champion",
        "promotions",
        "rejections",
        "live",
        "triggers",
    ] {
        assert_eq!(again[k], s[k], "{k}");
    }
    let m = metrics(&base);
    assert_eq!(
        metric(&m, "strider_watch_events_total"),
        s["events"].as_f64()
    );
    terminate(child);
}

/// Stops a service with SIGTERM and checks it exits normally.
fn terminate(mut child: Child) {
    let o = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .output()
        .unwrap();
    assert!(o.status.success());
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_monitor_page_shows_the_log_its_figures_and_each_ab_trial_to_its_decision() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    project(dir, |_| {
        std::fs::read_to_string(repo().join("examples/watch.toml"))
            .unwrap()
            .replace(
                "[retrain.gate]\nwindow = 120\nalpha = 0.2",
                "[retrain.gate]\nkind = \"ab\"\nalpha = 0.2\nmax_bars = 40\nburn_in = 5",
            )
    });
    let args = ["watch", "config.toml", "--replay", "--from", "2008-01-02"];
    let out = strider(
        &[&args[..], &["--to", "2008-12-31", "--state", "s"]].concat(),
        dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = log(dir);
    let page = ok_json(&strider(
        &["monitor", "s", "--out", "page.html", "--json"],
        dir,
    ));
    let html = std::fs::read_to_string(dir.join("page.html")).unwrap();
    let status = &page["status"];

    // The figures, counted from the log here.
    let count = |kind: &str| ev.iter().filter(|e| e["kind"] == kind).count();
    let live: Vec<&Value> = ev.iter().filter(|e| e["kind"] == "live").collect();
    assert_eq!(status["bars"], live.len());
    assert_eq!(status["promotions"], count("promoted"));
    assert_eq!(status["rejections"], count("rejected"));
    assert_eq!(status["live"]["sharpe"], live.last().unwrap()["sharpe"]);
    let card = |key: &str| {
        let needle = format!("data-key=\"{key}\" data-value=\"");
        let rest = &html[html.find(&needle).unwrap() + needle.len()..];
        rest[..rest.find('"').unwrap()].to_string()
    };
    assert_eq!(card("bars"), live.len().to_string());
    let sharpe: f64 = card("live_sharpe").parse().unwrap();
    assert_eq!(Some(sharpe), status["live"]["sharpe"].as_f64());
    assert_eq!(
        html.matches("<tr data-kind=").count(),
        ev.len() - live.len(),
        "one timeline row per event but the per-bar ones"
    );
    assert!(html.contains(&format!(
        r#"data-series="equity" data-points="{}""#,
        live.len()
    )));

    // Every A/B trial, with its decision and the p-value after each bar it compared.
    let started: Vec<&Value> = ev
        .iter()
        .filter(|e| e["kind"] == "gate" && e["stage"] == "started")
        .collect();
    assert!(started.len() >= 2, "{started:?}");
    for s in started {
        let v = s["version"].as_u64().unwrap();
        let decided = ev
            .iter()
            .find(|e| e["kind"] == "gate" && e["stage"] == "decided" && e["cycle"] == s["cycle"]);
        let decision = decided.map_or("continue", |d| d["decision"].as_str().unwrap());
        let at = html
            .find(&format!(
                r#"<div class="ab" data-version="{v}" data-decision="{decision}">"#
            ))
            .unwrap_or_else(|| panic!("no A/B trial {v} ({decision})"));
        let in_shadow = live
            .iter()
            .filter(|e| e["ab"]["version"].as_u64() == Some(v))
            .count();
        let points = in_shadow + usize::from(decided.is_some());
        let div = &html[at..];
        let div = &div[..div.find("</div>").unwrap()];
        assert!(
            div.contains(&format!(r#"data-series="p_value" data-points="{points}""#)),
            "trial {v}: {points} points expected"
        );
    }

    // Not a state directory: one line, nothing written.
    let bad = strider(&["monitor", "data", "--out", "bad.html"], dir);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("not a strider watch state") && err.lines().count() == 1,
        "{err}"
    );
    assert!(!dir.join("bad.html").exists());
}
