//! `strider watch` on a PostgreSQL state shared by several processes: one leads under a lease,
//! the others stand by; the leader is killed with `kill -9` at random points and a standby takes
//! over, and the event log in PostgreSQL equals a fault-free replay's event for event (no step
//! lost, none committed twice). Needs STRIDER_POSTGRES_URL (a role that may create databases);
//! ignored by a plain `cargo test`, run by scripts/test.sh with `--ignored`.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{project, repo, strider};

const FROM: &str = "2008-01-02";
const TO: &str = "2009-06-30";

/// A fresh database on the server STRIDER_POSTGRES_URL names.
fn fresh_db(tag: &str) -> String {
    let admin = std::env::var("STRIDER_POSTGRES_URL")
        .expect("STRIDER_POSTGRES_URL: run these tests through scripts/test.sh");
    let name = format!("strider_{tag}_{}", std::process::id());
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        let o = Command::new("psql")
            .arg(&admin)
            .args(["-q", "-c", &sql])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

fn psql(url: &str, sql: &str) -> Vec<String> {
    let o = Command::new("psql")
        .arg(url)
        .args(["-At", "-c", sql])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Events committed so far (0 before the first process made the tables).
fn committed_count(url: &str) -> usize {
    Command::new("psql")
        .arg(url)
        .args(["-At", "-c", "SELECT count(*) FROM strider_watch_events"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(0)
}

/// A one-process replay from `from` to `to` on the state directory `state`; its events.
fn replay_events(dir: &Path, from: &str, to: &str, state: &str) -> Vec<Value> {
    let args = [
        "watch",
        "config.toml",
        "--replay",
        "--from",
        from,
        "--to",
        to,
    ];
    let out = strider(&[&args[..], &["--state", state]].concat(), dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(dir.join(state).join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn without_wall_time(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("wall_time");
    v
}

/// A watch process on the shared state; its role lines (stderr) go to `roles` as (pid, line).
fn spawn(dir: &Path, url: &str, work: &str, roles: &mpsc::Sender<(u32, Value)>) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strider"))
        .args([
            "watch",
            "config.toml",
            "--replay",
            "--from",
            FROM,
            "--to",
            TO,
        ])
        .args(["--state", url, "--work", work, "--lease-seconds", "1"])
        .args(["--tracking-uri", dir.join("mlruns").to_str().unwrap()])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let tx = roles.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                let _ = tx.send((pid, v));
            }
        }
    });
    child
}

#[test]
#[ignore]
fn processes_on_postgres_take_over_after_kill_9_and_the_log_equals_a_fault_free_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    project(dir, |_| {
        std::fs::read_to_string(repo().join("examples/watch.toml")).unwrap()
    });
    // The reference: one process, a state directory, no fault.
    let reference: Vec<Value> = replay_events(dir, FROM, TO, "reference")
        .into_iter()
        .map(without_wall_time)
        .collect();

    let url = fresh_db("watch");
    let (tx, rx) = mpsc::channel();
    let mut procs: Vec<Child> = (0..3)
        .map(|i| spawn(dir, &url, &format!("work-{i}"), &tx))
        .collect();
    let mut leader: Option<u32> = None;
    let (mut kills, mut takeovers) = (0, Vec::new());
    // Kill points by progress (events committed), so they land mid-replay however fast it runs.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let kill_at: Vec<usize> = [60, 160, 260, 350]
        .iter()
        .map(|base| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            base + (seed % 40) as usize
        })
        .collect();
    let start = Instant::now();
    loop {
        while let Ok((pid, v)) = rx.try_recv() {
            if v["role"] == "leading" {
                leader = Some(pid);
                takeovers.push((pid, v["epoch"].clone(), start.elapsed()));
            }
        }
        if procs.iter_mut().all(|p| p.try_wait().unwrap().is_some()) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "the replay never finished"
        );
        let committed = committed_count(&url);
        // Kill the leader, and start a fresh process in its place.
        if kills < kill_at.len()
            && committed >= kill_at[kills]
            && let Some(pid) = leader.take()
            && let Some(p) = procs.iter_mut().find(|p| p.id() == pid)
            && p.try_wait().unwrap().is_none()
        {
            p.kill().unwrap();
            p.wait().unwrap();
            kills += 1;
            procs.push(spawn(dir, &url, &format!("work-{}", procs.len()), &tx));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for p in &mut procs {
        p.wait().unwrap();
    }
    let events: Vec<Value> = psql(&url, "SELECT event FROM strider_watch_events ORDER BY seq")
        .iter()
        .map(|l| without_wall_time(serde_json::from_str(l).unwrap()))
        .collect();
    let seqs = psql(
        &url,
        "SELECT count(*), min(seq), max(seq) FROM strider_watch_events",
    );
    eprintln!(
        "{} events, {kills} leaders killed, takeovers: {takeovers:?}, sequence {}",
        events.len(),
        seqs[0]
    );
    assert!(kills >= 3, "only {kills} leaders were killed mid-replay");
    assert!(takeovers.len() > kills, "{takeovers:?}");
    assert_eq!(
        events.len(),
        reference.len(),
        "events lost or written twice"
    );
    for (i, (a, b)) in events.iter().zip(&reference).enumerate() {
        assert_eq!(a, b, "event {i}");
    }
    // The monitor page reads the same log from the database.
    let page = support::ok_json(&strider(
        &["monitor", &url, "--out", "page.html", "--json"],
        dir,
    ));
    let live = reference.iter().filter(|e| e["kind"] == "live").count();
    assert_eq!(page["status"]["bars"], live);
    assert_eq!(page["status"]["events"], reference.len());
    let epochs: Vec<i64> = psql(&url, "SELECT epoch FROM strider_watch_lease")
        .iter()
        .map(|e| e.parse().unwrap())
        .collect();
    assert!(epochs[0] as usize >= takeovers.len(), "{epochs:?}");
}

/// The soak: bars arriving live while the faults land.
const CUT: &str = "2008-01-02";
const BARS: usize = 300;
const EVERY: Duration = Duration::from_millis(150);
/// A bar counts as available when processed this long after it arrived at the latest.
const DEADLINE: Duration = Duration::from_secs(5);

/// The project's data cut at `CUT`; returns the later bars, per file.
fn hold_back(dir: &Path) -> Vec<Vec<String>> {
    ["AAPL", "MSFT", "IBM"]
        .iter()
        .map(|t| {
            let f = dir.join(format!("data/{t}.csv"));
            let text = std::fs::read_to_string(&f).unwrap();
            let mut lines = text.lines();
            let head = lines.next().unwrap().to_string();
            let (keep, later): (Vec<&str>, Vec<&str>) = lines.partition(|l| &l[..10] <= CUT);
            std::fs::write(&f, format!("{head}\n{}\n", keep.join("\n"))).unwrap();
            later.iter().map(|l| l.to_string()).collect()
        })
        .collect()
}

fn append(dir: &Path, ticker: &str, line: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(format!("data/{ticker}.csv")))
        .unwrap();
    writeln!(f, "{line}").unwrap();
}

struct Mlflow {
    dir: std::path::PathBuf,
    port: u16,
}

impl Mlflow {
    fn script(&self, args: &[&str]) {
        let o = Command::new(repo().join("scripts/mlflow-server.sh"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    fn up(&self) {
        self.script(&["start", self.dir.to_str().unwrap(), &self.port.to_string()]);
    }
    fn down(&self) {
        self.script(&["stop", self.dir.to_str().unwrap()]);
    }
}

impl Drop for Mlflow {
    fn drop(&mut self) {
        self.down();
    }
}

fn unix_ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
#[ignore]
fn soak_three_processes_on_postgres_with_kills_a_tracking_outage_a_corrupt_bar_and_a_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    project(dir, |_| {
        std::fs::read_to_string(repo().join("examples/watch.toml")).unwrap()
    });
    // The same bars replayed without a fault, for the decisions.
    let reference = fault_free(&dir.join("reference"));
    let later = hold_back(dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mlflow = Mlflow {
        dir: dir.join("mlflow"),
        port,
    };
    mlflow.up();
    let uri = format!("http://127.0.0.1:{port}");
    let url = fresh_db("soak");
    let (tx, rx) = mpsc::channel();
    let live = |i: usize, tx: &mpsc::Sender<(u32, Value)>| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_strider"))
            .args([
                "watch",
                "config.toml",
                "--state",
                &url,
                "--work",
                &format!("w{i}"),
            ])
            .args([
                "--tracking-uri",
                &uri,
                "--poll",
                "0.1",
                "--lease-seconds",
                "1",
            ])
            // The first champion's training fails once, on the first bar.
            .env("STRIDER_WATCH_FAIL_TRAINING", CUT)
            .env("STRIDER_MLFLOW_BUFFER", dir.join(format!("buffer{i}")))
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let tx = tx.clone();
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send((pid, v));
                }
            }
        });
        child
    };
    let mut procs: Vec<Child> = (0..3).map(|i| live(i, &tx)).collect();
    let mut leader = None;
    let mut takeovers: Vec<(String, Duration)> = Vec::new();
    let mut killed_at: Option<Instant> = None;
    let mut faults: Vec<String> = vec![format!("training failure injected on {CUT}")];
    let mut arrived: Vec<(String, i64)> = Vec::new();
    let mut drain = |leader: &mut Option<u32>, killed_at: &mut Option<Instant>| {
        while let Ok((pid, v)) = rx.try_recv() {
            if v["role"] == "leading" {
                *leader = Some(pid);
                if let Some(t) = killed_at.take() {
                    takeovers.push((format!("epoch {}", v["epoch"]), t.elapsed()));
                }
            }
        }
    };
    // Wait for the first leader to process the newest bar before feeding.
    std::thread::sleep(Duration::from_secs(3));
    for i in 0..BARS {
        drain(&mut leader, &mut killed_at);
        if [60, 140, 230].contains(&i)
            && let Some(pid) = leader.take()
            && let Some(p) = procs.iter_mut().find(|p| p.id() == pid)
        {
            p.kill().unwrap();
            p.wait().unwrap();
            killed_at = Some(Instant::now());
            faults.push(format!(
                "leader (pid {pid}) killed with kill -9 before bar {i}"
            ));
            procs.push(live(procs.len(), &tx));
        }
        if i == 90 {
            mlflow.down();
            faults.push("tracking server stopped before bar 90".into());
        }
        if i == 110 {
            mlflow.up();
            faults.push("tracking server back before bar 110".into());
        }
        if i == 180 {
            append(dir, "AAPL", "2008-13-45,oops,1,1,1,1,1");
            faults.push("corrupt bar appended before bar 180".into());
        }
        let date = later[0][i][..10].to_string();
        for (t, lines) in ["AAPL", "MSFT", "IBM"].iter().zip(&later) {
            append(dir, t, &lines[i]);
        }
        arrived.push((date, unix_ms(std::time::SystemTime::now())));
        std::thread::sleep(EVERY);
    }
    // The last bar processed, then every process stopped.
    let last = arrived.last().unwrap().0.clone();
    let start = Instant::now();
    loop {
        drain(&mut leader, &mut killed_at);
        let done = psql(
            &url,
            &format!(
                "SELECT count(*) FROM strider_watch_events WHERE event::json->>'kind' = 'live' \
                 AND event::json->>'date' = '{last}'"
            ),
        );
        if done[0] == "1" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "bar {last} never processed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for p in &mut procs {
        let _ = p.kill();
        let _ = p.wait();
    }
    let events: Vec<Value> = psql(&url, "SELECT event FROM strider_watch_events ORDER BY seq")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    report(&events, &arrived, &faults, &takeovers, &reference);
}

/// A replay of the soak's bars on a state directory, without a fault.
fn fault_free(dir: &Path) -> Vec<Value> {
    project(dir, |_| {
        std::fs::read_to_string(repo().join("examples/watch.toml")).unwrap()
    });
    let text = std::fs::read_to_string(dir.join("data/AAPL.csv")).unwrap();
    let after: Vec<&str> = text.lines().skip(1).filter(|l| &l[..10] > CUT).collect();
    let to = &after[BARS - 1][..10];
    replay_events(dir, CUT, to, "fault-free")
}

/// The soak's figures, printed, and its assertions.
fn report(
    events: &[Value],
    arrived: &[(String, i64)],
    faults: &[String],
    takeovers: &[(String, Duration)],
    reference: &[Value],
) {
    use std::collections::HashMap;
    let mut processed: HashMap<&str, Vec<i64>> = HashMap::new();
    for e in events.iter().filter(|e| e["kind"] == "live") {
        let t = chrono::DateTime::parse_from_rfc3339(e["wall_time"].as_str().unwrap()).unwrap();
        processed
            .entry(e["date"].as_str().unwrap())
            .or_default()
            .push(t.timestamp_millis());
    }
    let duplicates = processed.values().filter(|v| v.len() > 1).count();
    let lost = arrived
        .iter()
        .filter(|(d, _)| !processed.contains_key(d.as_str()))
        .count();
    let in_time = arrived
        .iter()
        .filter(|(d, t)| {
            processed
                .get(d.as_str())
                .is_some_and(|p| p[0] - t <= DEADLINE.as_millis() as i64)
        })
        .count();
    let mut decided: HashMap<String, usize> = HashMap::new();
    for e in events
        .iter()
        .filter(|e| ["promoted", "rejected"].contains(&e["kind"].as_str().unwrap_or("")))
    {
        *decided
            .entry(e["cycle"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    let duplicate_cycles = decided.values().filter(|n| **n > 1).count();
    let errors = events.iter().filter(|e| e["kind"] == "error").count();
    let availability = in_time as f64 / arrived.len() as f64;
    let late: Vec<(usize, i64)> = arrived
        .iter()
        .enumerate()
        .filter_map(|(i, (d, t))| {
            let p = processed.get(d.as_str())?[0] - t;
            (p > DEADLINE.as_millis() as i64).then_some((i, p))
        })
        .collect();
    let decisions = |ev: &[Value]| -> Vec<String> {
        ev.iter()
            .filter(|e| {
                ["promoted", "rejected", "rolled_back"].contains(&e["kind"].as_str().unwrap_or(""))
            })
            .map(|e| format!("{} {}", e["date"], e["kind"]))
            .collect()
    };
    let (ours, theirs) = (decisions(events), decisions(reference));
    let same = ours.iter().filter(|d| theirs.contains(d)).count();
    println!(
        "soak: {} bars fed every {:?}, 3 processes on PostgreSQL",
        arrived.len(),
        EVERY
    );
    for f in faults {
        println!("  fault: {f}");
    }
    for (epoch, after) in takeovers {
        println!(
            "  takeover: {epoch} {:.2} s after the kill",
            after.as_secs_f64()
        );
    }
    println!(
        "  bars processed {} · duplicate bars {duplicates} · duplicate cycles {duplicate_cycles} · lost bars {lost} · error events {errors}",
        processed.len()
    );
    println!(
        "  availability {:.2}% ({in_time} of {} bars processed within {:?} of arriving)",
        availability * 100.0,
        arrived.len(),
        DEADLINE
    );
    println!("  late bars (index, ms): {late:?}");
    println!(
        "  decisions: {} here, {} in a fault-free replay, {same} on the same bar with the same outcome",
        ours.len(),
        theirs.len()
    );
    assert_eq!(duplicates, 0);
    assert_eq!(duplicate_cycles, 0);
    assert_eq!(lost, 0);
    assert!(takeovers.len() >= 3, "{takeovers:?}");
    assert!(availability >= 0.999, "availability {availability}");
}
