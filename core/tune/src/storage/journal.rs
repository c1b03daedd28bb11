//! Optuna's journal file (`JournalFileBackend`): one JSON operation per line, appended under
//! Optuna's symlink lock and replayed by every reader. Optuna and optuna-dashboard read what we
//! write, and our workers and Optuna's can append to the same file.
//!
//! Ids are implicit, as in Optuna: study ids count CREATE_STUDY records, trial ids count
//! CREATE_TRIAL records; a writer learns its new trial's id by replaying up to its own line
//! while it still holds the lock.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::error::Result;
use crate::{
    Direction, Distribution, FrozenTrial, Storage, StudyInfo, TrialState, check_directions,
};
use serde_json::{Value, json};

use super::{fnum, now_iso, storage_err};

const CREATE_STUDY: i64 = 0;
const DELETE_STUDY: i64 = 1;
const SET_STUDY_USER_ATTR: i64 = 2;
const SET_STUDY_SYSTEM_ATTR: i64 = 3;
const CREATE_TRIAL: i64 = 4;
const SET_TRIAL_PARAM: i64 = 5;
const SET_TRIAL_STATE_VALUES: i64 = 6;
const SET_TRIAL_INTERMEDIATE_VALUE: i64 = 7;
const SET_TRIAL_USER_ATTR: i64 = 8;
const SET_TRIAL_SYSTEM_ATTR: i64 = 9;

/// Seconds after which another process's lock is considered abandoned (Optuna's grace period).
const STALE_LOCK_SECONDS: u64 = 30;
pub const HEARTBEAT_ATTR: &str = "strider:heartbeat";

#[derive(Default)]
struct Replay {
    /// (info, deleted, system attrs) by study id.
    studies: Vec<(StudyInfo, bool, BTreeMap<String, Value>)>,
    /// (study id, trial) by trial id.
    trials: Vec<(i64, Arc<FrozenTrial>)>,
    offset: u64,
}

pub struct JournalStorage {
    path: PathBuf,
    worker_id: String,
    state: Replay,
}

/// Bare `NaN` / `Infinity` / `-Infinity` tokens (Python's json) become marker strings serde_json
/// can read; [`num`] turns them back into floats.
fn lenient(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    let mut in_str = false;
    let mut escaped = false;
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        if c == '"' {
            in_str = true;
        }
        let rest = &line[i..];
        if let Some(tok) = ["-Infinity", "Infinity", "NaN"]
            .iter()
            .find(|t| rest.starts_with(**t))
        {
            out.push_str(&format!("\"\\u0001{tok}\""));
            i += tok.len();
            continue;
        }
        // Multi-byte UTF-8 outside strings cannot occur in valid JSON; copy bytes as chars.
        out.push(c);
        i += 1;
    }
    out
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "\u{1}NaN" => Some(f64::NAN),
            "\u{1}Infinity" => Some(f64::INFINITY),
            "\u{1}-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// Values inside attributes keep their markers as JSON null (they are rare there).
fn clean(v: &Value) -> Value {
    match v {
        Value::String(s) if s.starts_with('\u{1}') => Value::Null,
        Value::Array(a) => Value::Array(a.iter().map(clean).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), clean(v))).collect()),
        other => other.clone(),
    }
}

impl Replay {
    fn trial_mut(&mut self, id: i64) -> Option<&mut FrozenTrial> {
        self.trials
            .get_mut(usize::try_from(id).ok()?)
            .map(|(_, t)| Arc::make_mut(t))
    }

    fn apply(&mut self, op: &Value) {
        let code = op["op_code"].as_i64().unwrap_or(-1);
        let trial_id = op["trial_id"].as_i64().unwrap_or(-1);
        match code {
            CREATE_STUDY => {
                let name = op["study_name"].as_str().unwrap_or_default().to_string();
                if self
                    .studies
                    .iter()
                    .any(|(s, deleted, _)| s.name == name && !deleted)
                {
                    return;
                }
                let directions = op["directions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| {
                        if d.as_i64() == Some(2) {
                            Direction::Maximize
                        } else {
                            Direction::Minimize
                        }
                    })
                    .collect();
                let id = self.studies.len() as i64;
                self.studies.push((
                    StudyInfo {
                        id,
                        name,
                        directions,
                    },
                    false,
                    BTreeMap::new(),
                ));
            }
            DELETE_STUDY => {
                if let Some(s) = self
                    .studies
                    .get_mut(op["study_id"].as_i64().unwrap_or(-1) as usize)
                {
                    s.1 = true;
                }
            }
            SET_STUDY_SYSTEM_ATTR => {
                if let (Some(s), Some(attr)) = (
                    self.studies
                        .get_mut(op["study_id"].as_i64().unwrap_or(-1) as usize),
                    op["system_attr"].as_object(),
                ) {
                    for (k, v) in attr {
                        s.2.insert(k.clone(), clean(v));
                    }
                }
            }
            // Study user attributes are Optuna's business; nothing here reads them.
            SET_STUDY_USER_ATTR => {}
            CREATE_TRIAL => {
                let study = op["study_id"].as_i64().unwrap_or(-1);
                if self.studies.get(study as usize).is_none_or(|s| s.1) {
                    return;
                }
                let id = self.trials.len() as i64;
                let number = self.trials.iter().filter(|(s, _)| *s == study).count();
                let mut t = FrozenTrial::new(id, number);
                t.datetime_start = op["datetime_start"].as_str().map(String::from);
                if let Some(state) = op["state"].as_i64().and_then(TrialState::from_code) {
                    t.state = state;
                }
                if let Some(vs) = op["values"].as_array() {
                    t.values = vs.iter().map(num).collect();
                } else if let Some(v) = num(&op["value"]) {
                    t.values = Some(vec![v]);
                }
                t.datetime_complete = op["datetime_complete"].as_str().map(String::from);
                if let (Some(dists), Some(params)) =
                    (op["distributions"].as_object(), op["params"].as_object())
                {
                    for (k, d) in dists {
                        if let (Some(text), Some(x)) = (d.as_str(), params.get(k).and_then(num))
                            && let Ok(dist) = Distribution::from_optuna_json(text)
                        {
                            t.params.insert(k.clone(), (dist, x));
                        }
                    }
                }
                for (field, target) in [("user_attrs", 0), ("system_attrs", 1)] {
                    for (k, v) in op[field].as_object().into_iter().flatten() {
                        if target == 0 {
                            t.user_attrs.insert(k.clone(), clean(v));
                        } else {
                            t.system_attrs.insert(k.clone(), clean(v));
                        }
                    }
                }
                for (k, v) in op["intermediate_values"].as_object().into_iter().flatten() {
                    if let (Ok(step), Some(x)) = (k.parse::<i64>(), num(v)) {
                        t.intermediate.insert(step, x);
                    }
                }
                self.trials.push((study, Arc::new(t)));
            }
            SET_TRIAL_PARAM => {
                let dist = op["distribution"]
                    .as_str()
                    .and_then(|d| Distribution::from_optuna_json(d).ok());
                let (name, x) = (op["param_name"].as_str(), num(&op["param_value_internal"]));
                if let (Some(t), Some(d), Some(name), Some(x)) =
                    (self.trial_mut(trial_id), dist, name, x)
                    && !t.state.is_finished()
                {
                    t.params.insert(name.to_string(), (d, x));
                }
            }
            SET_TRIAL_STATE_VALUES => {
                let Some(t) = self.trial_mut(trial_id) else {
                    return;
                };
                let Some(state) = op["state"].as_i64().and_then(TrialState::from_code) else {
                    return;
                };
                if t.state.is_finished() {
                    return;
                }
                if state == TrialState::Running && t.state == TrialState::Running {
                    // A second claim of the same trial: ignored, the first worker owns it.
                    return;
                }
                t.state = state;
                t.values = op["values"]
                    .as_array()
                    .map(|a| a.iter().filter_map(num).collect());
                if state == TrialState::Running {
                    t.datetime_start = op["datetime_start"].as_str().map(String::from);
                } else {
                    t.datetime_complete = op["datetime_complete"].as_str().map(String::from);
                }
            }
            SET_TRIAL_INTERMEDIATE_VALUE => {
                if let (Some(t), Some(step), Some(v)) = (
                    self.trial_mut(trial_id),
                    op["step"].as_i64(),
                    num(&op["intermediate_value"]),
                ) && !t.state.is_finished()
                {
                    t.intermediate.insert(step, v);
                }
            }
            SET_TRIAL_USER_ATTR | SET_TRIAL_SYSTEM_ATTR => {
                let field = if code == SET_TRIAL_USER_ATTR {
                    "user_attr"
                } else {
                    "system_attr"
                };
                let attrs = op[field].as_object().cloned().unwrap_or_default();
                if let Some(t) = self.trial_mut(trial_id) {
                    for (k, v) in attrs {
                        if code == SET_TRIAL_USER_ATTR {
                            t.user_attrs.insert(k, clean(&v));
                        } else {
                            t.system_attrs.insert(k, clean(&v));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// Optuna's `JournalFileSymlinkLock`: the lock is a symlink `FILE.lock` -> FILE; release renames
/// it away first so a racing breaker cannot remove a fresh lock.
struct Lock {
    path: PathBuf,
}

impl Lock {
    fn acquire(file: &Path) -> Result<Lock> {
        let lock = PathBuf::from(format!("{}.lock", file.display()));
        let start = Instant::now();
        loop {
            #[cfg(unix)]
            let made = std::os::unix::fs::symlink(file, &lock);
            #[cfg(not(unix))]
            let made = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
                .map(|_| ());
            match made {
                Ok(()) => return Ok(Lock { path: lock }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = std::fs::symlink_metadata(&lock)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok());
                    if age.is_some_and(|a| a > Duration::from_secs(STALE_LOCK_SECONDS)) {
                        let _ = std::fs::remove_file(&lock);
                        continue;
                    }
                    if start.elapsed() > Duration::from_secs(120) {
                        return Err(storage_err(format!(
                            "{}: could not take the journal lock for 120 s",
                            lock.display()
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(storage_err(format!("{}: {e}", lock.display()))),
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let renamed = PathBuf::from(format!(
            "{}{}.rename",
            self.path.display(),
            uuid::Uuid::new_v4()
        ));
        if std::fs::rename(&self.path, &renamed).is_ok() {
            let _ = std::fs::remove_file(renamed);
        }
    }
}

impl JournalStorage {
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| storage_err(format!("{}: {e}", dir.display())))?;
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| storage_err(format!("{}: {e}", path.display())))?;
        let thread = format!("{:?}", std::thread::current().id());
        let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
        let mut s = Self {
            path: path.to_path_buf(),
            worker_id: format!("{}-{thread}", uuid::Uuid::new_v4()),
            state: Replay::default(),
        };
        s.sync()?;
        Ok(s)
    }

    /// Replay the lines appended since the last read (a partial last line waits).
    fn sync(&mut self) -> Result<()> {
        let mut f = File::open(&self.path)
            .map_err(|e| storage_err(format!("{}: {e}", self.path.display())))?;
        f.seek(SeekFrom::Start(self.state.offset))
            .map_err(|e| storage_err(e.to_string()))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .map_err(|e| storage_err(e.to_string()))?;
        let Some(end) = buf.iter().rposition(|b| *b == b'\n') else {
            return Ok(());
        };
        let text = String::from_utf8_lossy(&buf[..=end]).into_owned();
        for (k, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let op: Value = serde_json::from_str(&lenient(line)).map_err(|e| {
                storage_err(format!(
                    "{}: unreadable operation at byte {} (line {} of this read): {e}",
                    self.path.display(),
                    self.state.offset,
                    k + 1
                ))
            })?;
            self.state.apply(&op);
        }
        self.state.offset += end as u64 + 1;
        Ok(())
    }

    /// Append operations as whole lines in one write, then fsync.
    fn append(&mut self, ops: &[String]) -> Result<()> {
        let _lock = Lock::acquire(&self.path)?;
        self.append_locked(ops)?;
        self.sync()
    }

    fn append_locked(&mut self, ops: &[String]) -> Result<()> {
        let mut f = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| storage_err(format!("{}: {e}", self.path.display())))?;
        let mut text = String::new();
        for op in ops {
            text.push_str(op);
            text.push('\n');
        }
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_data())
            .map_err(|e| storage_err(format!("{}: {e}", self.path.display())))
    }

    fn op(&self, code: i64, fields: String) -> String {
        format!(
            "{{\"op_code\":{code},\"worker_id\":{}{}{fields}}}",
            Value::from(self.worker_id.clone()),
            if fields.is_empty() { "" } else { "," }
        )
    }

    fn trial(&self, id: i64) -> Result<&FrozenTrial> {
        self.state
            .trials
            .get(id as usize)
            .map(|(_, t)| &**t)
            .ok_or_else(|| storage_err(format!("no trial {id} in {}", self.path.display())))
    }
}

impl Storage for JournalStorage {
    fn get_or_create_study(&mut self, name: &str, directions: &[Direction]) -> Result<StudyInfo> {
        self.sync()?;
        let find = |s: &Replay| {
            s.studies
                .iter()
                .find(|(i, deleted, _)| i.name == name && !deleted)
                .map(|(i, _, _)| i.clone())
        };
        if let Some(info) = find(&self.state) {
            check_directions(&info, directions)?;
            return Ok(info);
        }
        let codes: Vec<i64> = directions.iter().map(|d| d.code()).collect();
        let op = self.op(
            CREATE_STUDY,
            format!(
                "\"study_name\":{},\"directions\":{}",
                Value::from(name),
                json!(codes)
            ),
        );
        self.append(&[op])?;
        let info = find(&self.state).ok_or_else(|| storage_err("the study was not created"))?;
        check_directions(&info, directions)?;
        Ok(info)
    }

    fn create_trial(&mut self, study: i64) -> Result<(i64, usize)> {
        let lock = Lock::acquire(&self.path)?;
        self.sync()?;
        // A WAITING trial (enqueued, or a retry of a failed one) is claimed first.
        let waiting = self
            .state
            .trials
            .iter()
            .find(|(s, t)| *s == study && t.state == TrialState::Waiting)
            .map(|(_, t)| (t.id, t.number));
        let ops = match waiting {
            Some((id, _)) => vec![self.op(
                SET_TRIAL_STATE_VALUES,
                format!(
                    "\"trial_id\":{id},\"state\":0,\"values\":null,\"datetime_start\":\"{}\"",
                    now_iso()
                ),
            )],
            None => vec![self.op(
                CREATE_TRIAL,
                format!("\"study_id\":{study},\"datetime_start\":\"{}\"", now_iso()),
            )],
        };
        self.append_locked(&ops)?;
        self.sync()?;
        drop(lock);
        Ok(match waiting {
            Some(w) => w,
            None => {
                let (_, t) = self
                    .state
                    .trials
                    .iter()
                    .rev()
                    .find(|(s, _)| *s == study)
                    .ok_or_else(|| storage_err("the trial was not created"))?;
                (t.id, t.number)
            }
        })
    }

    fn set_param(&mut self, trial: i64, name: &str, d: &Distribution, x: f64) -> Result<()> {
        let op = self.op(
            SET_TRIAL_PARAM,
            format!(
                "\"trial_id\":{trial},\"param_name\":{},\"param_value_internal\":{},\"distribution\":{}",
                Value::from(name),
                fnum(x),
                Value::from(d.to_optuna_json())
            ),
        );
        self.append(&[op])
    }

    fn set_intermediate(&mut self, trial: i64, step: i64, value: f64) -> Result<()> {
        let op = self.op(
            SET_TRIAL_INTERMEDIATE_VALUE,
            format!(
                "\"trial_id\":{trial},\"step\":{step},\"intermediate_value\":{}",
                fnum(value)
            ),
        );
        self.append(&[op])
    }

    fn set_state(&mut self, trial: i64, state: TrialState, values: Option<&[f64]>) -> Result<bool> {
        let lock = Lock::acquire(&self.path)?;
        self.sync()?;
        if self.trial(trial)?.state.is_finished() {
            return Ok(false);
        }
        let values = match values {
            Some(v) => format!(
                "[{}]",
                v.iter().map(|x| fnum(*x)).collect::<Vec<_>>().join(",")
            ),
            None => "null".into(),
        };
        let time_key = if state == TrialState::Running {
            "datetime_start"
        } else {
            "datetime_complete"
        };
        let op = self.op(
            SET_TRIAL_STATE_VALUES,
            format!(
                "\"trial_id\":{trial},\"state\":{},\"values\":{values},\"{time_key}\":\"{}\"",
                state.code(),
                now_iso()
            ),
        );
        self.append_locked(&[op])?;
        self.sync()?;
        drop(lock);
        Ok(self.trial(trial)?.state == state)
    }

    fn set_trial_system_attr(&mut self, trial: i64, key: &str, value: &Value) -> Result<()> {
        let op = self.op(
            SET_TRIAL_SYSTEM_ATTR,
            format!(
                "\"trial_id\":{trial},\"system_attr\":{}",
                json!({ key: value })
            ),
        );
        self.append(&[op])
    }

    fn set_trial_user_attr(&mut self, trial: i64, key: &str, value: &Value) -> Result<()> {
        let op = self.op(
            SET_TRIAL_USER_ATTR,
            format!(
                "\"trial_id\":{trial},\"user_attr\":{}",
                json!({ key: value })
            ),
        );
        self.append(&[op])
    }

    fn set_study_system_attr(&mut self, study: i64, key: &str, value: &Value) -> Result<()> {
        let op = self.op(
            SET_STUDY_SYSTEM_ATTR,
            format!(
                "\"study_id\":{study},\"system_attr\":{}",
                json!({ key: value })
            ),
        );
        self.append(&[op])
    }

    fn study_system_attrs(&mut self, study: i64) -> Result<BTreeMap<String, Value>> {
        self.sync()?;
        Ok(self
            .state
            .studies
            .get(study as usize)
            .map(|s| s.2.clone())
            .unwrap_or_default())
    }

    fn trials(&mut self, study: i64) -> Result<Vec<Arc<FrozenTrial>>> {
        self.sync()?;
        Ok(self
            .state
            .trials
            .iter()
            .filter(|(s, _)| *s == study)
            .map(|(_, t)| t.clone())
            .collect())
    }

    fn heartbeat(&mut self, trial: i64) -> Result<()> {
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1e3;
        self.set_trial_system_attr(trial, HEARTBEAT_ATTR, &Value::from(now))
    }

    fn fail_stale_trials(&mut self, study: i64, grace_seconds: f64) -> Result<Vec<i64>> {
        self.sync()?;
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1e3;
        let stale: Vec<i64> = self
            .state
            .trials
            .iter()
            .filter(|(s, t)| {
                *s == study
                    && t.state == TrialState::Running
                    && t.system_attrs
                        .get(HEARTBEAT_ATTR)
                        .and_then(Value::as_f64)
                        .is_some_and(|hb| now - hb > grace_seconds)
            })
            .map(|(_, t)| t.id)
            .collect();
        super::fail_and_retry(self, study, &stale)
    }
}

impl super::Enqueue for JournalStorage {
    fn enqueue(&mut self, study: i64, system_attrs: &Value, user_attrs: &Value) -> Result<()> {
        let op = self.op(
            CREATE_TRIAL,
            format!(
                "\"study_id\":{study},\"datetime_start\":null,\"state\":4,\"value\":null,\"values\":null,\
                 \"distributions\":{{}},\"params\":{{}},\"user_attrs\":{user_attrs},\"system_attrs\":{system_attrs},\
                 \"intermediate_values\":{{}}"
            ),
        );
        self.append(&[op])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_optunas_own_journal() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("j.log");
        std::fs::write(
            &p,
            include_str!("../../../../tests/tune/optuna_journal.log"),
        )
        .unwrap();
        let mut s = JournalStorage::open(&p).unwrap();
        let info = s
            .get_or_create_study("journal-demo", &[Direction::Minimize])
            .unwrap();
        let trials = s.trials(info.id).unwrap();
        assert!(trials.len() >= 5);
        assert_eq!(trials[0].state, TrialState::Complete);
        assert_eq!(trials[0].values, Some(vec![0.03]));
        assert_eq!(trials[0].external_params()["c"], Value::from("b"));
        assert_eq!(trials[0].intermediate.len(), 3);
        assert!(trials.iter().any(|t| t.state == TrialState::Pruned));
        assert!(trials.iter().any(|t| t.state == TrialState::Fail));
    }

    #[test]
    fn lenient_reads_python_non_finite_tokens() {
        let v: Value = serde_json::from_str(&lenient(
            r#"{"a":NaN,"b":[Infinity,-Infinity],"s":"NaN in a string"}"#,
        ))
        .unwrap();
        assert!(num(&v["a"]).unwrap().is_nan());
        assert_eq!(num(&v["b"][1]), Some(f64::NEG_INFINITY));
        assert_eq!(v["s"], "NaN in a string");
    }
}
