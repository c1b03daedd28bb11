//! The objective "run a command": parameters go in as JSON in `STRIDER_TRIAL_PARAMS`, the last
//! stdout line is the objective, `strider:report STEP VALUE` lines are intermediate values (a
//! pruned trial's process is terminated), a non-zero exit or unparsable output fails the trial
//! with its stderr tail recorded.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use strider_tune::{Outcome, Study, Trial};

pub struct CommandObjective {
    pub argv: Vec<String>,
    pub heartbeat: Duration,
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

fn terminate(child: &mut Child) {
    #[cfg(unix)]
    {
        // SIGTERM first so the command can clean up; SIGKILL if it lingers.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(3) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
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
        let mut child = Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .env("STRIDER_TRIAL_PARAMS", Value::Object(params).to_string())
            .env("STRIDER_TRIAL_NUMBER", trial.number.to_string())
            .env("STRIDER_STUDY", &study.info.name)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| crate::Error::Input(format!("cannot start `{}`: {e}", self.argv[0])))?;
        let (tx, rx) = mpsc::channel::<Line>();
        let stdout = child.stdout.take().expect("piped");
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let msg = parse_report(&line).unwrap_or(Line::Out(line));
                if tx.send(msg).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().expect("piped");
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        });
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
        }
        let status = child.wait()?;
        let _ = reader.join();
        let err_text = err_reader.join().unwrap_or_default();
        if pruned {
            return Ok(Outcome::Pruned);
        }
        let err_tail = tail(&err_text, 2000);
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
