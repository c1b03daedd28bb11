//! `strider serve` as a real process over real sockets: it answers what `strider predict`
//! prints, follows a registry alias with zero failed requests while the alias moves (one broken
//! bundle included), reports it all in /metrics and the registry, and drains on SIGTERM.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{ok_json, project, strider};

const BIN: &str = env!("CARGO_BIN_EXE_strider");

/// The bundled example without its LSTM (faster), run untracked: three bundles.
fn bundles(dir: &Path) -> PathBuf {
    project(dir, |c| {
        c[..c.find("# An LSTM").unwrap()].to_string() + "[strategy]\nsignal = \"sign\"\n"
    });
    ok_json(&strider(
        &[
            "run",
            "config.toml",
            "--out",
            "run",
            "--no-track",
            "--no-report",
            "--json",
        ],
        dir,
    ));
    dir.join("run/bundles")
}

/// A request body with the last `n` bars of each bundled instrument.
fn body(dir: &Path, n: usize) -> Vec<u8> {
    let mut instruments = serde_json::Map::new();
    for t in ["AAPL", "MSFT", "IBM"] {
        let text = std::fs::read_to_string(dir.join(format!("data/{t}.csv"))).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let rows: Vec<&str> = lines.collect();
        let bars: Vec<Value> = rows[rows.len() - n..]
            .iter()
            .map(|l| {
                let mut bar = serde_json::Map::new();
                for (h, v) in header.iter().zip(l.split(',')) {
                    let v = if *h == "date" {
                        json!(v)
                    } else {
                        json!(v.parse::<f64>().unwrap())
                    };
                    bar.insert(h.to_string(), v);
                }
                Value::Object(bar)
            })
            .collect();
        instruments.insert(t.to_string(), Value::Array(bars));
    }
    serde_json::to_vec(&json!({"instruments": instruments})).unwrap()
}

/// A running `strider serve` and its log lines.
struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<Value>>>,
}

impl Server {
    fn start(args: &[&str], cwd: &Path) -> Self {
        let mut child = Command::new(BIN)
            .args(["serve", "--port", "0"])
            .args(args)
            .current_dir(cwd)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({"event": "text", "line": line}));
                if v["event"] == "listening" {
                    let _ = tx.send(v["address"].as_str().unwrap().to_string());
                }
                sink.lock().unwrap().push(v);
            }
        });
        let address = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server listens");
        Self {
            child,
            base: format!("http://{address}"),
            log,
        }
    }

    fn agent() -> ureq::Agent {
        ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build()
    }

    fn get(&self, path: &str) -> (u16, String) {
        match Self::agent().get(&format!("{}{path}", self.base)).call() {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
            Err(e) => panic!("GET {path}: {e}"),
        }
    }

    /// Waits until /health names `version` (a swap has completed).
    fn wait_for_version(&self, version: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (code, text) = self.get("/health");
            if code == 200 && serde_json::from_str::<Value>(&text).unwrap()["version"] == version {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "version {version} never served: {text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn events(&self, name: &str) -> Vec<Value> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|v| v["event"] == name)
            .cloned()
            .collect()
    }

    fn metric(&self, name: &str) -> f64 {
        let (_, text) = self.get("/metrics");
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        unsafe_kill(self.child.id(), "TERM");
        self.child.wait().unwrap()
    }
}

fn unsafe_kill(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[test]
fn serve_answers_what_predict_prints_and_reports_health_and_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let b = bundles(dir);
    let trees = b.join("trees");
    let server = Server::start(&["--model", trees.to_str().unwrap()], dir);
    server.wait_for_health();
    let body = body(dir, 300);
    let r = Server::agent()
        .post(&format!("{}/predict", server.base))
        .set("content-type", "application/json")
        .send_bytes(&body)
        .unwrap();
    let header = r.header("x-strider-model-version").unwrap().to_string();
    let served: Value = r.into_json().unwrap();
    // The same bars as files, through `strider predict`.
    let files = dir.join("recent");
    std::fs::create_dir_all(&files).unwrap();
    let request: Value = serde_json::from_slice(&body).unwrap();
    let mut args = vec![
        "predict".to_string(),
        "--model".into(),
        trees.display().to_string(),
        "--json".into(),
    ];
    for (name, bars) in request["instruments"].as_object().unwrap() {
        let bars = bars.as_array().unwrap();
        let cols: Vec<&String> = bars[0].as_object().unwrap().keys().collect();
        let mut text = cols
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(",")
            + "\n";
        for bar in bars {
            let cells: Vec<String> = cols
                .iter()
                .map(|c| match &bar[c.as_str()] {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect();
            text += &(cells.join(",") + "\n");
        }
        let path = files.join(format!("{name}.csv"));
        std::fs::write(&path, text).unwrap();
        args.extend(["--data".into(), path.display().to_string()]);
    }
    let printed = ok_json(&strider(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        dir,
    ));
    assert_eq!(served, printed);
    assert_eq!(
        header,
        format!("sha256:{}", printed["bundle_sha256"].as_str().unwrap())
    );
    assert_eq!(served["predictions"].as_array().unwrap().len(), 3);
    // A bad request is a 400 with a one-line reason, and the server keeps serving.
    let bad = Server::agent()
        .post(&format!("{}/predict", server.base))
        .send_string(r#"{"instruments": {"x": [{"date": "2020-01-01", "close": "abc"}]}}"#);
    match bad {
        Err(ureq::Error::Status(400, r)) => {
            let v: Value = r.into_json().unwrap();
            assert!(
                v["error"].as_str().unwrap().contains("instruments.x"),
                "{v}"
            );
        }
        other => panic!("expected a 400, got {other:?}"),
    }
    assert_eq!(server.get("/health").0, 200);
    assert_eq!(server.metric("strider_model_loaded"), 1.0);
    assert_eq!(server.metric("strider_model_version"), -1.0);
    assert!(server.metric("strider_request_errors_total") >= 1.0);
    let (_, metrics) = server.get("/metrics");
    assert!(
        metrics.contains("strider_requests_total{route=\"/predict\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("strider_request_duration_seconds_bucket"));
    assert!(server.terminate().success());
}

impl Server {
    fn wait_for_health(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.get("/health").0 != 200 {
            assert!(Instant::now() < deadline, "never healthy");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One client request: when it started and ended, its status and the version that answered.
struct Sample {
    start: Instant,
    latency: Duration,
    status: u16,
    version: String,
}

#[test]
fn the_alias_moves_under_load_with_zero_failed_requests_and_a_broken_bundle_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let b = bundles(dir);
    // A broken bundle: the trees' files with a weight file truncated.
    let broken = dir.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    for e in std::fs::read_dir(b.join("trees")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, broken.join(p.file_name().unwrap())).unwrap();
    }
    let model_txt = std::fs::read(broken.join("model.txt")).unwrap();
    std::fs::write(broken.join("model.txt"), &model_txt[..model_txt.len() / 2]).unwrap();
    let uri = dir.join("mlruns").display().to_string();
    let register = |path: &Path| -> u64 {
        // The broken bundle cannot pass `register`'s check, so it goes in as a copy of a good
        // one that breaks afterwards (as a disk fault would).
        let v = ok_json(&strider(
            &[
                "models",
                "register",
                "--bundle",
                path.to_str().unwrap(),
                "--name",
                "live",
                "--tracking-uri",
                &uri,
                "--json",
            ],
            dir,
        ));
        v["version"].as_u64().unwrap()
    };
    let v1 = register(&b.join("ridge"));
    let v2 = register(&b.join("trees"));
    let v3 = register(&b.join("ridge-shrunk"));
    // Version 4 points at a folder that is fine when registered and broken when promoted.
    let staged = dir.join("staged");
    std::fs::create_dir_all(&staged).unwrap();
    for e in std::fs::read_dir(b.join("trees")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, staged.join(p.file_name().unwrap())).unwrap();
    }
    let v4 = register(&staged);
    let alias = |v: u64, why: &str| {
        ok_json(&strider(
            &[
                "models",
                "alias",
                "live",
                "champion",
                &v.to_string(),
                "--reason",
                why,
                "--tracking-uri",
                &uri,
                "--json",
            ],
            dir,
        ));
    };
    alias(v1, "first deploy");
    let server = Server::start(
        &[
            "--model",
            "models:/live@champion",
            "--tracking-uri",
            &uri,
            "--poll",
            "0.1",
        ],
        dir,
    );
    server.wait_for_version(v1);

    let body = Arc::new(body(dir, 300));
    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let clients: Vec<_> = (0..6)
        .map(|_| {
            let (body, stop, samples, url) = (
                body.clone(),
                stop.clone(),
                samples.clone(),
                format!("{}/predict", server.base),
            );
            std::thread::spawn(move || {
                let agent = Server::agent();
                while !stop.load(Ordering::Relaxed) {
                    let start = Instant::now();
                    let (status, version) = match agent
                        .post(&url)
                        .set("content-type", "application/json")
                        .send_bytes(&body)
                    {
                        Ok(r) => {
                            let v = r
                                .header("x-strider-model-version")
                                .unwrap_or("")
                                .to_string();
                            let _ = r.into_string();
                            (200, v)
                        }
                        Err(ureq::Error::Status(code, _)) => (code, String::new()),
                        Err(e) => (0, e.to_string()),
                    };
                    samples.lock().unwrap().push(Sample {
                        start,
                        latency: start.elapsed(),
                        status,
                        version,
                    });
                }
            })
        })
        .collect();
    // Epochs: (version, when its swap was seen complete, when the next good move began). The
    // broken promotion is no boundary: version 3 must keep answering across it.
    let t0 = Instant::now();
    let mut swaps: Vec<(u64, Instant)> = vec![(v1, t0)];
    let mut moves: Vec<Instant> = Vec::new();
    std::thread::sleep(Duration::from_millis(800));
    for (v, why) in [(v2, "trees"), (v3, "shrunk ridge")] {
        moves.push(Instant::now());
        alias(v, why);
        server.wait_for_version(v);
        swaps.push((v, Instant::now()));
        std::thread::sleep(Duration::from_millis(800));
    }
    // Break version 4's files, then promote it: the server keeps serving version 3.
    std::fs::write(staged.join("model.txt"), &model_txt[..model_txt.len() / 2]).unwrap();
    alias(v4, "broken on purpose");
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.events("load_failed").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the broken bundle was never tried"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(800));
    moves.push(Instant::now());
    alias(v1, "back to ridge");
    server.wait_for_version(v1);
    swaps.push((v1, Instant::now()));
    std::thread::sleep(Duration::from_millis(800));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let elapsed = t0.elapsed();
    let samples = samples.lock().unwrap();
    let failed: Vec<_> = samples
        .iter()
        .filter(|s| s.status != 200)
        .map(|s| (s.status, &s.version))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}",
        failed.len(),
        samples.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(samples.len() >= 50, "only {} requests", samples.len());
    // Every request that started after a completed swap and ended before the next alias move
    // carries that swap's version; the broken version never answers.
    let mut checked = 0;
    for (k, (version, from)) in swaps.iter().enumerate() {
        let until = moves.get(k).copied();
        for s in samples
            .iter()
            .filter(|s| s.start >= *from && until.is_none_or(|u| s.start + s.latency < u))
        {
            assert_eq!(s.version, version.to_string(), "epoch {k}");
            checked += 1;
        }
    }
    assert!(samples.iter().all(|s| s.version != v4.to_string()));
    assert!(
        checked * 10 >= samples.len() * 8,
        "{checked} of {}",
        samples.len()
    );
    assert_eq!(server.metric("strider_model_load_failures_total"), 1.0);
    assert_eq!(server.metric("strider_model_swaps_total"), 3.0);
    assert_eq!(server.metric("strider_model_version"), v1 as f64);
    // The registry knows which versions this process served.
    let shown = ok_json(&strider(
        &["models", "show", "live", "--tracking-uri", &uri, "--json"],
        dir,
    ));
    for v in [v1, v2, v3] {
        let tags = &shown["model"]["versions"][(v - 1) as usize]["tags"];
        assert!(
            tags.as_object()
                .unwrap()
                .keys()
                .any(|k| k.starts_with("strider.served_by.")),
            "version {v}: {tags}"
        );
    }
    let tags = &shown["model"]["versions"][(v4 - 1) as usize]["tags"];
    assert!(
        !tags
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("strider.served_by."))
    );
    let history = shown["alias_history"]["champion"].as_array().unwrap();
    assert_eq!(history.len(), 5);
    assert!(
        history
            .iter()
            .all(|h| h["by"].as_str().unwrap().contains('@'))
    );
    let mut lat: Vec<f64> = samples
        .iter()
        .map(|s| s.latency.as_secs_f64() * 1e3)
        .collect();
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    println!(
        "availability: {} requests, 0 failed, {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, 4 alias moves (1 broken bundle)",
        lat.len(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        q(0.5),
        q(0.99)
    );
    assert!(server.terminate().success());
}

/// Writes a request by hand so the test controls when its body arrives: SIGTERM lands while the
/// request is in flight (headers read, body half sent), and the request must still be answered.
#[test]
fn sigterm_finishes_the_request_in_flight_then_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let b = bundles(dir);
    let server = Server::start(&["--model", b.join("ridge").to_str().unwrap()], dir);
    server.wait_for_health();
    let body = body(dir, 300);
    let address = server.base.strip_prefix("http://").unwrap().to_string();
    let mut stream = TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /predict HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    let half = body.len() / 2;
    stream.write_all(&body[..half]).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    unsafe_kill(server.child.id(), "TERM");
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(&body[half..]).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"predictions\""));
    let mut server = server;
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!server.events("shutdown").is_empty());
    // Nothing listens any more.
    assert!(TcpStream::connect(&address).is_err());
}

#[test]
fn a_reference_that_does_not_resolve_leaves_the_server_up_and_unhealthy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // An empty registry: the model is not (yet) there.
    std::fs::create_dir(dir.join("mlruns")).unwrap();
    let uri = dir.join("mlruns").display().to_string();
    let server = Server::start(
        &[
            "--model",
            "models:/nothing@champion",
            "--tracking-uri",
            &uri,
            "--poll",
            "0.1",
        ],
        dir,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.events("poll_failed").len() < 2 {
        assert!(Instant::now() < deadline, "no poll failure logged");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, text) = server.get("/health");
    assert_eq!(code, 503, "{text}");
    let failure = &server.events("poll_failed")[0];
    assert!(
        failure["error"].as_str().unwrap().contains("nothing"),
        "{failure}"
    );
    match Server::agent()
        .post(&format!("{}/predict", server.base))
        .send_string("{}")
    {
        Err(ureq::Error::Status(503, _)) => {}
        other => panic!("expected 503, got {other:?}"),
    }
    assert_eq!(server.metric("strider_model_loaded"), 0.0);
    assert!(server.terminate().success());
}

#[test]
fn a_large_body_is_scored_off_the_async_workers_and_a_taken_port_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let b = bundles(dir);
    let trees = b.join("trees");
    let server = Server::start(&["--model", trees.to_str().unwrap()], dir);
    server.wait_for_health();
    // Every bar of the three instruments: over 1 MiB of JSON.
    let n = std::fs::read_to_string(dir.join("data/AAPL.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    let big = body(dir, n);
    assert!(big.len() > 1 << 20, "{}", big.len());
    let served: Value = Server::agent()
        .post(&format!("{}/predict", server.base))
        .send_bytes(&big)
        .unwrap()
        .into_json()
        .unwrap();
    let mut args = vec!["predict", "--model", trees.to_str().unwrap(), "--json"];
    let files: Vec<String> = ["AAPL", "MSFT", "IBM"]
        .iter()
        .map(|t| dir.join(format!("data/{t}.csv")).display().to_string())
        .collect();
    for f in &files {
        args.extend(["--data", f.as_str()]);
    }
    let printed = ok_json(&strider(&args, dir));
    assert_eq!(served["predictions"], printed["predictions"]);
    // A second server on the same port fails to start, with a one-line error naming it.
    let port = server.base.rsplit(':').next().unwrap().to_string();
    let o = strider(
        &["serve", "--model", trees.to_str().unwrap(), "--port", &port],
        dir,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("binding 127.0.0.1:{port}")), "{err}");
    assert!(server.terminate().success());
}
