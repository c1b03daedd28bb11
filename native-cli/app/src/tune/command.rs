//! The objective "run a command": parameters go in as JSON in `STRIDER_TRIAL_PARAMS`, the last
//! stdout line is the objective, `strider:report STEP VALUE` lines are intermediate values (a
//! pruned trial's process is terminated), a non-zero exit or unparsable output fails the trial
//! with its stderr tail recorded.

#![deny(clippy::indexing_slicing)] // parses untrusted text: no index may panic

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use strider_tune::{Outcome, Study, Trial};

pub struct CommandObjective {
    pub argv: Vec<String>,
    pub heartbeat: Duration,
    /// A trial still running after this long is terminated and failed.
    pub timeout: Option<Duration>,
}

/// The most of a command's stderr kept (its tail) and the longest stdout line read: a chatty or
/// hostile command cannot exhaust memory.
const STDERR_TAIL_BYTES: usize = 64 << 10;
const MAX_LINE_BYTES: u64 = 1 << 20;

/// Stdout lines, each cut at [`MAX_LINE_BYTES`] (the rest of an overlong line is skipped).
fn read_lines(stdout: impl Read, tx: mpsc::Sender<Line>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut buf = Vec::new();
        match (&mut reader)
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut buf)
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if !buf.ends_with(b"\n") && buf.len() as u64 == MAX_LINE_BYTES {
            // Skip to the end of the overlong line.
            let mut rest = Vec::new();
            loop {
                rest.clear();
                match (&mut reader)
                    .take(MAX_LINE_BYTES)
                    .read_until(b'\n', &mut rest)
                {
                    Ok(0) | Err(_) => break,
                    Ok(_) if rest.ends_with(b"\n") => break,
                    Ok(_) => {}
                }
            }
        }
        let line = String::from_utf8_lossy(&buf)
            .trim_end_matches(['\n', '\r'])
            .to_string();
        let msg = parse_report(&line).unwrap_or(Line::Out(line));
        if tx.send(msg).is_err() {
            break;
        }
    }
}

/// The last [`STDERR_TAIL_BYTES`] of a stream.
fn read_tail(mut stream: impl Read) -> String {
    let mut kept: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if kept.len() > 2 * STDERR_TAIL_BYTES {
            kept.drain(..kept.len() - STDERR_TAIL_BYTES);
        }
    }
    let start = kept.len().saturating_sub(STDERR_TAIL_BYTES);
    String::from_utf8_lossy(kept.get(start..).unwrap_or_default()).into_owned()
}

enum Line {
    Report(i64, f64),
    Out(String),
    Bad(String),
}

fn parse_report(line: &str) -> Option<Line> {
    let rest = line.trim().strip_prefix("strider:report")?;
    let mut it = rest.split_whitespace();
    let (Some(step), Some(value), None) = (it.next(), it.next(), it.next()) else {
        return Some(Line::Bad(line.to_string()));
    };
    match (step.parse::<i64>(), value.parse::<f64>()) {
        (Ok(s), Ok(v)) => Some(Line::Report(s, v)),
        _ => Some(Line::Bad(line.to_string())),
    }
}

/// The objective values on the last stdout line (one per objective; space or comma separated).
pub fn parse_values(line: &str, n: usize) -> Option<Vec<f64>> {
    let vals: Vec<f64> = line
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<f64>().ok())
        .collect::<Option<_>>()?;
    (vals.len() == n).then_some(vals)
}

/// Stops a trial's command and everything it started (its process group): SIGTERM first so it
/// can clean up, SIGKILL if it lingers. Killing the group matters: a grandchild that kept the
/// output pipes open would otherwise keep the trial waiting.
fn terminate(child: &mut Child) {
    #[cfg(unix)]
    {
        let group = format!("-{}", child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(3) {
            if let Ok(Some(_)) = child.try_wait() {
                kill_group(child);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    kill_group(child);
}

/// SIGKILL to what is left of the command's process group (a finished trial's leftovers).
fn kill_group(child: &Child) {
    #[cfg(unix)]
    {
        let group = format!("-{}", child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
    }
    #[cfg(not(unix))]
    let _ = child;
}

fn tail(text: &str, max: usize) -> String {
    let start = text.len().saturating_sub(max);
    let mut s = start;
    while !text.is_char_boundary(s) {
        s += 1;
    }
    text[s..].to_string()
}

impl CommandObjective {
    pub fn evaluate(&self, study: &mut Study, trial: &mut Trial) -> crate::Result<Outcome> {
        let params: serde_json::Map<String, Value> = trial.params().into_iter().collect();
        let Some((program, args)) = self.argv.split_first() else {
            return Err(crate::Error::Input("the objective command is empty".into()));
        };
        let mut child = Command::new(program)
            .args(args)
            .env("STRIDER_TRIAL_PARAMS", Value::Object(params).to_string())
            .env("STRIDER_TRIAL_NUMBER", trial.number.to_string())
            .env("STRIDER_STUDY", &study.info.name)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| crate::Error::Input(format!("cannot start `{program}`: {e}")))?;
        let (tx, rx) = mpsc::channel::<Line>();
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            terminate(&mut child);
            return Err(crate::Error::Input(
                "the command's output pipes are missing".into(),
            ));
        };
        let reader = std::thread::spawn(move || read_lines(stdout, tx));
        let err_reader = std::thread::spawn(move || read_tail(stderr));
        let started = Instant::now();
        let mut timed_out = false;
        let mut last = String::new();
        let mut bad_report: Option<String> = None;
        let mut last_beat = Instant::now();
        study.storage().heartbeat(trial.id)?;
        let mut pruned = false;
        loop {
            match rx.recv_timeout(self.heartbeat.min(Duration::from_millis(500))) {
                Ok(Line::Report(step, value)) => {
                    study.report(trial, step, value)?;
                    if study.should_prune(trial)? {
                        pruned = true;
                        terminate(&mut child);
                        break;
                    }
                }
                Ok(Line::Out(line)) => {
                    if !line.trim().is_empty() {
                        last = line;
                    }
                }
                Ok(Line::Bad(line)) => {
                    bad_report.get_or_insert(line);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if last_beat.elapsed() >= self.heartbeat {
                study.storage().heartbeat(trial.id)?;
                last_beat = Instant::now();
            }
            if self.timeout.is_some_and(|t| started.elapsed() >= t) {
                timed_out = true;
                terminate(&mut child);
                break;
            }
        }
        let status = child.wait()?;
        kill_group(&child);
        let _ = reader.join();
        let err_text = err_reader.join().unwrap_or_default();
        if pruned {
            return Ok(Outcome::Pruned);
        }
        let err_tail = tail(&err_text, 2000);
        if timed_out {
            study.set_user_attr(trial, "strider:stderr_tail", Value::from(err_tail))?;
            return Ok(Outcome::Fail(format!(
                "timed out after {:.1} s (--trial-timeout)",
                self.timeout.unwrap_or_default().as_secs_f64()
            )));
        }
        if !status.success() {
            study.set_user_attr(trial, "strider:stderr_tail", Value::from(err_tail.clone()))?;
            return Ok(Outcome::Fail(format!(
                "the command exited with {status}; stderr: {}",
                tail(&err_tail, 300)
            )));
        }
        if let Some(line) = bad_report {
            study.set_user_attr(trial, "strider:stderr_tail", Value::from(err_tail))?;
            return Ok(Outcome::Fail(format!(
                "unreadable report line `{line}` (expected `strider:report STEP VALUE`)"
            )));
        }
        let n = study.info.directions.len();
        match parse_values(&last, n) {
            Some(v) => Ok(Outcome::Complete(v)),
            None => {
                study.set_user_attr(trial, "strider:stderr_tail", Value::from(err_tail))?;
                Ok(Outcome::Fail(format!(
                    "the last stdout line `{}` is not {n} number(s)",
                    tail(&last, 200)
                )))
            }
        }
    }
}

impl strider_tune::Objective for CommandObjective {
    fn run(&self, study: &mut Study, trial: &mut Trial) -> Result<Outcome, String> {
        self.evaluate(study, trial).map_err(|e| e.chain())
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn reads_reports_and_values() {
        assert!(
            matches!(parse_report("strider:report 3 0.5"), Some(Line::Report(3, v)) if v == 0.5)
        );
        assert!(matches!(
            parse_report("strider:report x"),
            Some(Line::Bad(_))
        ));
        assert!(parse_report("hello").is_none());
        assert_eq!(parse_values(" 1.5 ", 1), Some(vec![1.5]));
        assert_eq!(parse_values("1.5, -2", 2), Some(vec![1.5, -2.0]));
        assert_eq!(parse_values("loss=1", 1), None);
    }
}
