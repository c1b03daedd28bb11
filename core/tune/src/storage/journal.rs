//! Optuna's journal file (`JournalFileBackend`): one JSON operation per line, appended under
//! Optuna's symlink lock and replayed by every reader. Optuna and optuna-dashboard read what we
//! write, and our workers and Optuna's can append to the same file.
//!
//! Ids are implicit, as in Optuna: study ids count CREATE_STUDY records, trial ids count
//! CREATE_TRIAL records; a writer learns its new trial's id by replaying up to its own line
//! while it still holds the lock.

#![deny(clippy::indexing_slicing)] // parses untrusted text: no index may panic

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
use serde_json::{Map, Value, json};

use super::{fnum, now_iso, storage_err};

// Optuna's `JournalOperation` codes.
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

/// One line of the journal, decoded. Ids are the implicit ones (see the module's notes); ops on
/// an unknown study or trial are ignored when replayed, as Optuna ignores other workers' ones.
#[derive(Debug)]
enum JournalOp {
    CreateStudy {
        name: String,
        directions: Vec<Direction>,
    },
    DeleteStudy {
        study: i64,
    },
    /// Study user attributes are Optuna's business; nothing here reads them.
    SetStudyUserAttr,
    SetStudySystemAttr(Attrs),
    /// A trial as created (a template: its id and number come from the replay).
    CreateTrial {
        study: i64,
        trial: Box<FrozenTrial>,
    },
    SetTrialParam {
        trial: i64,
        name: String,
        internal: f64,
        /// `None`: a distribution strider cannot read (or an invalid one); the parameter is
        /// skipped, as in CREATE_TRIAL.
        distribution: Option<Distribution>,
    },
    SetTrialStateValues {
        trial: i64,
        /// `None`: a state code strider does not know; the operation is skipped.
        state: Option<TrialState>,
        values: Option<Vec<f64>>,
        datetime_start: Option<String>,
        datetime_complete: Option<String>,
    },
    SetTrialIntermediateValue {
        trial: i64,
        step: i64,
        value: f64,
    },
    SetTrialUserAttr(Attrs),
    SetTrialSystemAttr(Attrs),
}

/// The attributes an operation sets on the study or trial `id`.
#[derive(Debug)]
struct Attrs {
    id: i64,
    attrs: Vec<(String, Value)>,
}

/// One operation's JSON object, read field by field; errors name the operation and the field.
struct Fields<'a> {
    op: &'static str,
    v: &'a Value,
}

impl<'a> Fields<'a> {
    fn get<T>(
        &self,
        key: &str,
        kind: &str,
        read: impl Fn(&'a Value) -> Option<T>,
    ) -> Result<T, String> {
        let v = &self.v[key];
        read(v).ok_or_else(|| {
            let found = match v {
                Value::Null if self.v.get(key).is_none() => {
                    return format!("{}: no `{key}`", self.op);
                }
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::String(s) if s.starts_with('\u{1}') => "a number",
                Value::String(_) => "a string",
                Value::Array(_) => "an array",
                Value::Object(_) => "an object",
            };
            format!("{}: `{key}` is {found}, not {kind}", self.op)
        })
    }

    fn int(&self, key: &str) -> Result<i64, String> {
        self.get(key, "an integer", Value::as_i64)
    }

    fn text(&self, key: &str) -> Result<&'a str, String> {
        self.get(key, "a string", Value::as_str)
    }

    fn number(&self, key: &str) -> Result<f64, String> {
        self.get(key, "a number", num)
    }

    fn attrs(&self, id: &str, key: &str) -> Result<Attrs, String> {
        let attrs = self.get(key, "an object", Value::as_object)?;
        Ok(Attrs {
            id: self.int(id)?,
            attrs: attrs.iter().map(|(k, v)| (k.clone(), clean(v))).collect(),
        })
    }

    /// A string field that may be absent (or null).
    fn opt_text(&self, key: &str) -> Option<String> {
        self.v[key].as_str().map(String::from)
    }
}

impl JournalOp {
    /// The operation on a line of the journal; `None` for a blank line, and for a line without a
    /// known integer `op_code` (Optuna's later operations, such as DISCARD_TRIALS, are skipped).
    fn parse(line: &str) -> Result<Option<JournalOp>, String> {
        if line.trim().is_empty() {
            return Ok(None);
        }
        let v: Value = serde_json::from_str(&lenient(line)).map_err(|e| e.to_string())?;
        JournalOp::decode(&v)
    }

    fn decode(v: &Value) -> Result<Option<JournalOp>, String> {
        let f = |op| Fields { op, v };
        let Some(code) = v["op_code"].as_i64() else {
            return Ok(None);
        };
        Ok(Some(match code {
            CREATE_STUDY => {
                let f = f("CREATE_STUDY");
                let directions = f.get("directions", "an array", Value::as_array)?;
                JournalOp::CreateStudy {
                    name: f.text("study_name")?.to_string(),
                    directions: directions
                        .iter()
                        .map(|d| match d.as_i64() {
                            Some(2) => Direction::Maximize,
                            _ => Direction::Minimize,
                        })
                        .collect(),
                }
            }
            DELETE_STUDY => JournalOp::DeleteStudy {
                study: f("DELETE_STUDY").int("study_id")?,
            },
            SET_STUDY_USER_ATTR => JournalOp::SetStudyUserAttr,
            SET_STUDY_SYSTEM_ATTR => JournalOp::SetStudySystemAttr(
                f("SET_STUDY_SYSTEM_ATTR").attrs("study_id", "system_attr")?,
            ),
            CREATE_TRIAL => decode_create_trial(&f("CREATE_TRIAL"))?,
            SET_TRIAL_PARAM => {
                let f = f("SET_TRIAL_PARAM");
                JournalOp::SetTrialParam {
                    trial: f.int("trial_id")?,
                    name: f.text("param_name")?.to_string(),
                    internal: f.number("param_value_internal")?,
                    distribution: distribution(f.text("distribution")?),
                }
            }
            SET_TRIAL_STATE_VALUES => {
                let f = f("SET_TRIAL_STATE_VALUES");
                JournalOp::SetTrialStateValues {
                    trial: f.int("trial_id")?,
                    state: TrialState::from_code(f.int("state")?),
                    values: v["values"]
                        .as_array()
                        .map(|a| a.iter().filter_map(num).collect()),
                    datetime_start: f.opt_text("datetime_start"),
                    datetime_complete: f.opt_text("datetime_complete"),
                }
            }
            SET_TRIAL_INTERMEDIATE_VALUE => {
                let f = f("SET_TRIAL_INTERMEDIATE_VALUE");
                JournalOp::SetTrialIntermediateValue {
                    trial: f.int("trial_id")?,
                    step: f.int("step")?,
                    value: f.number("intermediate_value")?,
                }
            }
            SET_TRIAL_USER_ATTR => JournalOp::SetTrialUserAttr(
                f("SET_TRIAL_USER_ATTR").attrs("trial_id", "user_attr")?,
            ),
            SET_TRIAL_SYSTEM_ATTR => JournalOp::SetTrialSystemAttr(
                f("SET_TRIAL_SYSTEM_ATTR").attrs("trial_id", "system_attr")?,
            ),
            _ => return Ok(None),
        }))
    }
}

/// CREATE_TRIAL: only `study_id` is required; Optuna writes the rest for a template trial
/// (enqueued, retried, copied) and leaves it out for a fresh one. Parameters whose distribution
/// strider cannot read are skipped.
fn decode_create_trial(f: &Fields) -> Result<JournalOp, String> {
    let study = f.int("study_id")?;
    let v = f.v;
    let mut t = FrozenTrial::new(0, 0);
    t.datetime_start = f.opt_text("datetime_start");
    if let Some(state) = v["state"].as_i64().and_then(TrialState::from_code) {
        t.state = state;
    }
    if let Some(vs) = v["values"].as_array() {
        t.values = vs.iter().map(num).collect();
    } else if let Some(x) = num(&v["value"]) {
        t.values = Some(vec![x]);
    }
    t.datetime_complete = f.opt_text("datetime_complete");
    if let (Some(dists), Some(params)) = (v["distributions"].as_object(), v["params"].as_object()) {
        for (k, d) in dists {
            if let (Some(text), Some(x)) = (d.as_str(), params.get(k).and_then(num))
                && let Some(dist) = distribution(text)
            {
                t.params.insert(k.clone(), (dist, x));
            }
        }
    }
    for (k, x) in object(&v["user_attrs"]) {
        t.user_attrs.insert(k.clone(), clean(x));
    }
    for (k, x) in object(&v["system_attrs"]) {
        t.system_attrs.insert(k.clone(), clean(x));
    }
    for (k, x) in object(&v["intermediate_values"]) {
        if let (Ok(step), Some(x)) = (k.parse::<i64>(), num(x)) {
            t.intermediate.insert(step, x);
        }
    }
    Ok(JournalOp::CreateTrial {
        study,
        trial: Box::new(t),
    })
}

/// A parameter's distribution (Optuna's JSON), if strider can read it and it is valid: Optuna
/// never writes an invalid one, and a damaged file must not hand the samplers a zero step or
/// reversed bounds.
fn distribution(text: &str) -> Option<Distribution> {
    Distribution::from_optuna_json(text)
        .ok()
        .filter(|d| d.validate("").is_ok())
}

/// The entries of `v` if it is an object, else none.
fn object(v: &Value) -> impl Iterator<Item = (&String, &Value)> {
    v.as_object().into_iter().flat_map(Map::iter)
}

/// A study as replayed.
struct StudyEntry {
    info: StudyInfo,
    deleted: bool,
    system_attrs: BTreeMap<String, Value>,
}

/// A trial as replayed, with its study's id.
struct TrialEntry {
    study: i64,
    trial: Arc<FrozenTrial>,
}

#[derive(Default)]
struct Replay {
    /// By study id.
    studies: Vec<StudyEntry>,
    /// By trial id.
    trials: Vec<TrialEntry>,
    /// Bytes of the file replayed so far.
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
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
        } else if let Some(tok) = ["-Infinity", "Infinity", "NaN"]
            .iter()
            .find(|t| rest.starts_with(**t))
        {
            out.push_str(&format!("\"\\u0001{tok}\""));
            rest = &rest[tok.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
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
    fn apply(&mut self, op: JournalOp) {
        match op {
            JournalOp::CreateStudy { name, directions } => self.create_study(name, directions),
            JournalOp::DeleteStudy { study } => self.delete_study(study),
            JournalOp::SetStudyUserAttr => {}
            JournalOp::SetStudySystemAttr(a) => self.set_study_system_attr(a),
            JournalOp::CreateTrial { study, trial } => self.create_trial(study, *trial),
            JournalOp::SetTrialParam {
                trial,
                name,
                internal,
                distribution,
            } => self.set_param(trial, name, internal, distribution),
            JournalOp::SetTrialStateValues {
                trial,
                state,
                values,
                datetime_start,
                datetime_complete,
            } => self.set_state(trial, state, values, datetime_start, datetime_complete),
            JournalOp::SetTrialIntermediateValue { trial, step, value } => {
                self.set_intermediate(trial, step, value)
            }
            JournalOp::SetTrialUserAttr(a) => self.set_trial_attrs(a, true),
            JournalOp::SetTrialSystemAttr(a) => self.set_trial_attrs(a, false),
        }
    }

    fn study_mut(&mut self, id: i64) -> Option<&mut StudyEntry> {
        self.studies.get_mut(usize::try_from(id).ok()?)
    }

    /// The trial `id` to change, unless it is unknown or (without `finished_too`) finished.
    fn trial_mut(&mut self, id: i64, finished_too: bool) -> Option<&mut FrozenTrial> {
        let entry = self.trials.get_mut(usize::try_from(id).ok()?)?;
        if !finished_too && entry.trial.state.is_finished() {
            return None;
        }
        Some(Arc::make_mut(&mut entry.trial))
    }

    /// The unfinished trial `id` to change.
    fn updatable(&mut self, id: i64) -> Option<&mut FrozenTrial> {
        self.trial_mut(id, false)
    }

    /// A second study of a name in use (not deleted) is ignored.
    fn create_study(&mut self, name: String, directions: Vec<Direction>) {
        if self
            .studies
            .iter()
            .any(|s| s.info.name == name && !s.deleted)
        {
            return;
        }
        let id = self.studies.len() as i64;
        self.studies.push(StudyEntry {
            info: StudyInfo {
                id,
                name,
                directions,
            },
            deleted: false,
            system_attrs: BTreeMap::new(),
        });
    }

    /// A trial of an unknown or deleted study is ignored (it takes no id).
    fn create_trial(&mut self, study: i64, mut trial: FrozenTrial) {
        let study_entry = usize::try_from(study)
            .ok()
            .and_then(|i| self.studies.get(i));
        if study_entry.is_none_or(|s| s.deleted) {
            return;
        }
        trial.id = self.trials.len() as i64;
        trial.number = self.trials.iter().filter(|t| t.study == study).count();
        self.trials.push(TrialEntry {
            study,
            trial: Arc::new(trial),
        });
    }

    fn delete_study(&mut self, study: i64) {
        if let Some(s) = self.study_mut(study) {
            s.deleted = true;
        }
    }

    fn set_study_system_attr(&mut self, a: Attrs) {
        if let Some(s) = self.study_mut(a.id) {
            s.system_attrs.extend(a.attrs);
        }
    }

    fn set_param(&mut self, trial: i64, name: String, x: f64, d: Option<Distribution>) {
        if let Some(d) = d
            && let Some(t) = self.updatable(trial)
        {
            t.params.insert(name, (d, x));
        }
    }

    fn set_intermediate(&mut self, trial: i64, step: i64, value: f64) {
        if let Some(t) = self.updatable(trial) {
            t.intermediate.insert(step, value);
        }
    }

    /// Attributes are set on finished trials too.
    fn set_trial_attrs(&mut self, a: Attrs, user: bool) {
        if let Some(t) = self.trial_mut(a.id, true) {
            let attrs = if user {
                &mut t.user_attrs
            } else {
                &mut t.system_attrs
            };
            attrs.extend(a.attrs);
        }
    }

    /// An unknown state code (`None`) changes nothing.
    fn set_state(
        &mut self,
        trial: i64,
        state: Option<TrialState>,
        values: Option<Vec<f64>>,
        datetime_start: Option<String>,
        datetime_complete: Option<String>,
    ) {
        let Some(state) = state else {
            return;
        };
        let Some(current) = self.trial(trial).map(|t| t.state) else {
            return;
        };
        if current.is_finished() || (state == TrialState::Running && current == TrialState::Running)
        {
            // A finished trial stays so; a second claim of a running one is ignored (the first
            // worker owns it).
            return;
        }
        let Some(t) = self.updatable(trial) else {
            return;
        };
        t.state = state;
        t.values = values;
        if state == TrialState::Running {
            t.datetime_start = datetime_start;
        } else {
            t.datetime_complete = datetime_complete;
        }
    }

    fn trial(&self, id: i64) -> Option<&FrozenTrial> {
        self.trials
            .get(usize::try_from(id).ok()?)
            .map(|t| &*t.trial)
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

    /// Replay the lines appended since the last read (a partial last line waits). A line that
    /// is not an operation stops the replay there, with an error that names its byte offset.
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
        for line in buf.get(..end).unwrap_or_default().split(|b| *b == b'\n') {
            let op = JournalOp::parse(&String::from_utf8_lossy(line)).map_err(|e| {
                storage_err(format!(
                    "{}: unreadable operation at byte {}: {e}",
                    self.path.display(),
                    self.state.offset,
                ))
            })?;
            if let Some(op) = op {
                self.state.apply(op);
            }
            self.state.offset += line.len() as u64 + 1;
        }
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
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|e| storage_err(format!("{}: {e}", self.path.display())))?;
        // A writer killed mid-line left a torn record: it never happened, and gluing the next
        // record onto it would make every later read fail, so it is cut off (under the lock).
        let end = complete_length(&mut f)
            .map_err(|e| storage_err(format!("{}: {e}", self.path.display())))?;
        f.set_len(end)
            .and_then(|_| f.seek(SeekFrom::Start(end)))
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
            .trial(id)
            .ok_or_else(|| storage_err(format!("no trial {id} in {}", self.path.display())))
    }
}

impl Storage for JournalStorage {
    fn get_or_create_study(&mut self, name: &str, directions: &[Direction]) -> Result<StudyInfo> {
        self.sync()?;
        let find = |s: &Replay| {
            s.studies
                .iter()
                .find(|s| s.info.name == name && !s.deleted)
                .map(|s| s.info.clone())
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
            .find(|t| t.study == study && t.trial.state == TrialState::Waiting)
            .map(|t| (t.trial.id, t.trial.number));
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
                let t = self
                    .state
                    .trials
                    .iter()
                    .rev()
                    .find(|t| t.study == study)
                    .ok_or_else(|| storage_err("the trial was not created"))?;
                (t.trial.id, t.trial.number)
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
            .map(|s| s.system_attrs.clone())
            .unwrap_or_default())
    }

    fn trials(&mut self, study: i64) -> Result<Vec<Arc<FrozenTrial>>> {
        self.sync()?;
        Ok(self
            .state
            .trials
            .iter()
            .filter(|t| t.study == study)
            .map(|t| Arc::clone(&t.trial))
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
            .filter(|t| t.study == study)
            .map(|t| &t.trial)
            .filter(|t| {
                t.state == TrialState::Running
                    && t.system_attrs
                        .get(HEARTBEAT_ATTR)
                        .and_then(Value::as_f64)
                        .is_some_and(|hb| now - hb > grace_seconds)
            })
            .map(|t| t.id)
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

/// The length of the file up to and including its last newline: where whole records end.
fn complete_length(f: &mut File) -> std::io::Result<u64> {
    let len = f.metadata()?.len();
    let mut end = len;
    let mut buf = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let Some(chunk) = buf.get_mut(..(end - start) as usize) else {
            break; // start >= end - buf.len(), so the slice always fits
        };
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
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
    fn lenient_keeps_non_ascii_text() {
        let v: Value = serde_json::from_str(&lenient(r#"{"s":"café NaN ü","n":NaN}"#)).unwrap();
        assert_eq!(v["s"], "café NaN ü");
        assert!(num(&v["n"]).unwrap().is_nan());
    }

    fn journal(lines: &str) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("j.log");
        std::fs::write(&p, lines).unwrap();
        (tmp, p)
    }

    #[test]
    fn a_torn_last_record_is_cut_off_not_glued_to_the_next() {
        let (_tmp, p) = journal("");
        let mut a = JournalStorage::open(&p).unwrap();
        let info = a.get_or_create_study("s", &[Direction::Minimize]).unwrap();
        // A writer killed mid-line.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(br#"{"op_code":4,"worker_id":"dead","study_id":0,"datetime_st"#)
            .unwrap();
        drop(f);
        let (t, n) = a.create_trial(info.id).unwrap();
        assert_eq!(n, 0);
        a.set_state(t, TrialState::Complete, Some(&[1.0])).unwrap();
        // Every reader, new or old, reads the file whole.
        let mut b = JournalStorage::open(&p).unwrap();
        let trials = b.trials(info.id).unwrap();
        assert_eq!(trials.len(), 1);
        assert_eq!(trials[0].value(), Some(1.0));
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(!text.contains("dead"), "{text}");
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn a_non_ascii_study_name_round_trips() {
        let (_tmp, p) = journal("");
        let mut a = JournalStorage::open(&p).unwrap();
        let id = a
            .get_or_create_study("café", &[Direction::Minimize])
            .unwrap()
            .id;
        // The same name finds the same study, in this reader and in a fresh one: no second
        // create-study line.
        assert_eq!(
            a.get_or_create_study("café", &[Direction::Minimize])
                .unwrap()
                .id,
            id
        );
        let mut b = JournalStorage::open(&p).unwrap();
        assert_eq!(
            b.get_or_create_study("café", &[Direction::Minimize])
                .unwrap()
                .id,
            id
        );
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
    }

    #[test]
    fn our_writes_replay_in_a_second_reader() {
        let (_tmp, p) = journal("");
        let mut a = JournalStorage::open(&p).unwrap();
        let info = a
            .get_or_create_study("café", &[Direction::Maximize, Direction::Minimize])
            .unwrap();
        a.set_study_system_attr(info.id, "k", &json!([1, "ü"]))
            .unwrap();
        let (t0, _) = a.create_trial(info.id).unwrap();
        let d = Distribution::from_optuna_json(
            r#"{"name": "FloatDistribution", "attributes": {"step": null, "low": -5.0, "high": 5.0, "log": false}}"#,
        )
        .unwrap();
        a.set_param(t0, "x", &d, 1.25).unwrap();
        a.set_intermediate(t0, 3, f64::NAN).unwrap();
        a.set_intermediate(t0, 4, f64::NEG_INFINITY).unwrap();
        a.set_trial_user_attr(t0, "u", &json!({"a": 1})).unwrap();
        assert!(
            a.set_state(t0, TrialState::Complete, Some(&[1.5, f64::INFINITY]))
                .unwrap()
        );
        assert!(!a.set_state(t0, TrialState::Fail, None).unwrap());
        super::super::Enqueue::enqueue(
            &mut a,
            info.id,
            &json!({"fixed_params": {"x": 2.0}}),
            &json!({}),
        )
        .unwrap();
        let (t1, n1) = a.create_trial(info.id).unwrap();
        assert_eq!(n1, 1);

        let mut b = JournalStorage::open(&p).unwrap();
        assert_eq!(
            b.get_or_create_study("café", &[Direction::Maximize, Direction::Minimize])
                .unwrap()
                .id,
            info.id
        );
        assert_eq!(b.study_system_attrs(info.id).unwrap()["k"], json!([1, "ü"]));
        let trials = b.trials(info.id).unwrap();
        assert_eq!(trials.len(), 2);
        let t = &trials[0];
        assert_eq!((t.id, t.number, t.state), (t0, 0, TrialState::Complete));
        assert_eq!(t.values, Some(vec![1.5, f64::INFINITY]));
        assert_eq!(t.params["x"].1, 1.25);
        assert!(t.intermediate[&3].is_nan());
        assert_eq!(t.intermediate[&4], f64::NEG_INFINITY);
        assert_eq!(t.user_attrs["u"], json!({"a": 1}));
        assert!(t.datetime_start.is_some() && t.datetime_complete.is_some());
        let t = &trials[1];
        assert_eq!((t.id, t.state), (t1, TrialState::Running));
        assert_eq!(t.system_attrs["fixed_params"], json!({"x": 2.0}));
        assert_eq!(
            format!("{:?}", a.trials(info.id).unwrap()),
            format!("{trials:?}")
        );
    }

    #[test]
    fn unknown_op_codes_and_non_operations_are_skipped() {
        let (_tmp, p) = journal(concat!(
            r#"{"op_code":0,"worker_id":"w","study_name":"s","directions":[1]}"#,
            "\n",
            r#"{"op_code":10,"worker_id":"w","study_id":0}"#,
            "\n\n",
            r#"{"worker_id":"w"}"#,
            "\n",
            r#"[1,2]"#,
            "\n",
            r#"{"op_code":"4","study_id":0}"#,
            "\n",
            r#"{"op_code":4,"worker_id":"w","study_id":0,"datetime_start":"t"}"#,
            "\n",
        ));
        let mut s = JournalStorage::open(&p).unwrap();
        let info = s.get_or_create_study("s", &[Direction::Minimize]).unwrap();
        let trials = s.trials(info.id).unwrap();
        assert_eq!(trials.len(), 1);
        assert_eq!(trials[0].datetime_start.as_deref(), Some("t"));
    }

    #[test]
    fn invalid_distributions_are_skipped_like_unreadable_ones() {
        // Found by fuzz/fuzz_targets/journal.rs: a zero step reached the samplers, which divide
        // by it.
        let zero_step = r#"{\"name\": \"IntDistribution\", \"attributes\": {\"log\": false, \"step\": 0, \"low\": 0, \"high\": 9}}"#;
        let ok = r#"{\"name\": \"IntDistribution\", \"attributes\": {\"log\": false, \"step\": 1, \"low\": 0, \"high\": 9}}"#;
        let (_tmp, p) = journal(&format!(
            "{}\n{}\n{}\n{}\n",
            r#"{"op_code":0,"worker_id":"w","study_name":"s","directions":[1]}"#,
            format_args!(
                r#"{{"op_code":4,"worker_id":"w","study_id":0,"state":1,"values":[1.0],"distributions":{{"a":"{zero_step}","b":"{ok}"}},"params":{{"a":1,"b":2}}}}"#
            ),
            r#"{"op_code":4,"worker_id":"w","study_id":0}"#,
            format_args!(
                r#"{{"op_code":5,"worker_id":"w","trial_id":1,"param_name":"a","param_value_internal":1.0,"distribution":"{zero_step}"}}"#
            ),
        ));
        let mut s = JournalStorage::open(&p).unwrap();
        let info = s.get_or_create_study("s", &[Direction::Minimize]).unwrap();
        let trials = s.trials(info.id).unwrap();
        assert_eq!(trials[0].params.keys().collect::<Vec<_>>(), ["b"]);
        assert!(trials[1].params.is_empty());
    }

    #[test]
    fn a_malformed_operation_is_a_clear_error_at_its_line() {
        let first = r#"{"op_code":0,"worker_id":"w","study_name":"s","directions":[1]}"#;
        let (_tmp, p) = journal(&format!(
            "{first}\n{}\n",
            r#"{"op_code":5,"worker_id":"w","trial_id":0,"param_value_internal":1.0,"distribution":"{}"}"#
        ));
        let err = JournalStorage::open(&p).err().unwrap().to_string();
        assert!(
            err.contains(&format!("unreadable operation at byte {}", first.len() + 1))
                && err.contains("SET_TRIAL_PARAM: no `param_name`"),
            "{err}"
        );
        for (line, message) in [
            (
                r#"{"op_code":7,"trial_id":0,"step":"1","intermediate_value":1}"#,
                "SET_TRIAL_INTERMEDIATE_VALUE: `step` is a string, not an integer",
            ),
            (
                r#"{"op_code":0,"study_name":"s"}"#,
                "CREATE_STUDY: no `directions`",
            ),
            (
                r#"{"op_code":6,"trial_id":0,"state":null}"#,
                "SET_TRIAL_STATE_VALUES: `state` is null, not an integer",
            ),
            (
                r#"{"op_code":9,"trial_id":0,"system_attr":[]}"#,
                "SET_TRIAL_SYSTEM_ATTR: `system_attr` is an array, not an object",
            ),
            (r#"{"op_code":1"#, "EOF while parsing"),
        ] {
            let err = JournalOp::parse(line).err().unwrap();
            assert!(err.contains(message), "{line}: {err}");
        }
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
