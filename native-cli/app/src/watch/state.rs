//! The service's committed state and event log. One bar is one step: its events are appended,
//! the log is synced, then `state.json` (which records the log's committed length) is replaced
//! atomically. After `kill -9` at any point the next start truncates the log to the committed
//! length and redoes the interrupted step, so nothing is lost and nothing is written twice.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use strider_drift::StreamDetector;

use crate::{Context, Result, bail};

const FORMAT: u32 = 1;

/// One champion's time in office: it scores the bars after `after`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reign {
    pub version: u64,
    pub after: NaiveDate,
    /// The last bar its training data reached.
    pub trained_through: NaiveDate,
    /// The version it replaced, while it is on probation (rollback possible).
    pub probation_from: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchState {
    pub format: u32,
    /// The config the state was made with (a different config is refused).
    pub config_sha256: String,
    /// The last bar processed.
    pub last_bar: Option<NaiveDate>,
    /// Bars processed so far.
    pub bars: u64,
    /// Bytes of `events.jsonl` committed with this state.
    pub events_len: u64,
    pub reigns: Vec<Reign>,
    /// The bar of the last retrain, and bars since.
    pub last_retrain: Option<NaiveDate>,
    pub bars_since_retrain: Option<usize>,
    /// The stream detector on the champion's per-bar loss, and the last day it was fed.
    pub detector: Option<StreamDetector>,
    pub detector_fed_through: Option<NaiveDate>,
    pub cycles: u64,
    pub errors: u64,
    /// Manual requests already acted on (their file names).
    pub manual_done: Vec<String>,
    /// This state's own id, made once: registry versions and tracking runs carry it, so two
    /// state directories sharing a registry never mistake each other's cycles.
    #[serde(default)]
    pub instance: String,
    /// The last data-reading error recorded (not repeated while it persists).
    #[serde(default)]
    pub last_error: Option<String>,
    /// Each data file's line count at the last good read: a bad line past it is a corrupt new
    /// bar, skipped with an error; a bad line before it is history rewritten, an error.
    #[serde(default)]
    pub known_lines: std::collections::BTreeMap<String, usize>,
    /// Corrupt new lines left out of the data files.
    #[serde(default)]
    pub skipped: Vec<super::data::SkippedLine>,
    /// A challenger on an A/B trial (`gate = "ab"`).
    #[serde(default)]
    pub shadow: Option<super::shadow::Shadow>,
}

impl WatchState {
    pub fn new(config_sha256: String) -> Self {
        Self {
            format: FORMAT,
            config_sha256,
            last_bar: None,
            bars: 0,
            events_len: 0,
            reigns: Vec::new(),
            last_retrain: None,
            bars_since_retrain: None,
            detector: None,
            detector_fed_through: None,
            cycles: 0,
            errors: 0,
            manual_done: Vec::new(),
            instance: String::new(),
            last_error: None,
            known_lines: Default::default(),
            skipped: Vec::new(),
            shadow: None,
        }
    }

    pub fn champion(&self) -> Option<&Reign> {
        self.reigns.last()
    }

    /// The committed state in `dir`, or a new one.
    pub fn load_or_new(dir: &Path, config_sha256: &str) -> Result<Self> {
        let path = dir.join("state.json");
        if !path.exists() {
            let mut state = Self::new(config_sha256.to_string());
            let seed = format!(
                "{}|{}|{:?}",
                std::fs::canonicalize(dir)?.display(),
                std::process::id(),
                std::time::SystemTime::now()
            );
            state.instance = strider_core::bundle::sha256_hex(seed.as_bytes())[..12].to_string();
            // Committed before any step, so a restart keeps the same instance.
            state.commit(dir)?;
            return Ok(state);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let state: Self = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a strider watch state", path.display()))?;
        if state.format != FORMAT {
            bail!(
                "{}: state format {} (this strider writes {FORMAT})",
                path.display(),
                state.format
            );
        }
        if state.config_sha256 != config_sha256 {
            bail!(
                "{}: made with another config (sha256 {}); use a new --state directory",
                path.display(),
                state.config_sha256
            );
        }
        Ok(state)
    }

    /// Replaces `state.json` atomically (write, sync, rename, sync the directory).
    pub fn commit(&self, dir: &Path) -> Result<()> {
        let tmp = dir.join("state.json.tmp");
        let mut f = File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(&serde_json::to_vec_pretty(self)?)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join("state.json"))?;
        File::open(dir)?.sync_all()?;
        Ok(())
    }
}

/// The events of the step being made, committed with the state by a [`super::store::Store`]. A
/// failed step's events are committed too, followed by its `error` (what was tried is on record;
/// the state is the one before the step); a step put off is dropped whole.
pub struct EventLog {
    pending: Vec<Value>,
    /// Wall-clock stamps (off for reproducible files).
    wall_time: bool,
}

impl EventLog {
    pub fn new(wall_time: bool) -> Self {
        Self {
            pending: Vec::new(),
            wall_time,
        }
    }

    /// Appends `{"date", "kind", "model", ...fields}` (plus `wall_time` outside the event's
    /// reproducible content).
    pub fn append(
        &mut self,
        date: NaiveDate,
        kind: &str,
        model: &str,
        fields: Map<String, Value>,
    ) -> Result<Value> {
        let mut event = Map::new();
        event.insert("date".into(), Value::from(date.to_string()));
        event.insert("kind".into(), Value::from(kind));
        event.insert("model".into(), Value::from(model));
        event.extend(fields);
        if self.wall_time {
            event.insert(
                "wall_time".into(),
                Value::from(chrono::Utc::now().to_rfc3339()),
            );
        }
        let event = Value::Object(event);
        self.pending.push(event.clone());
        Ok(event)
    }

    /// The step's events, leaving the buffer empty.
    pub fn take(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.pending)
    }
}

/// `events.jsonl` (one JSON object per line) and `state.json` in a directory.
pub struct FileLog {
    path: PathBuf,
    file: File,
    len: u64,
}

impl FileLog {
    /// Opens the log, dropping whatever an interrupted step wrote past `committed`.
    pub fn open(dir: &Path, committed: u64) -> Result<Self> {
        let path = dir.join("events.jsonl");
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let on_disk = file.metadata()?.len();
        if on_disk < committed {
            bail!(
                "{}: {on_disk} bytes but the state committed {committed}; the log was cut by hand",
                path.display()
            );
        }
        file.set_len(committed)?;
        let mut log = Self {
            path,
            file,
            len: committed,
        };
        log.file.seek(SeekFrom::Start(committed))?;
        Ok(log)
    }

    /// Appends `events` and syncs them; returns the log's length to commit.
    pub fn append_synced(&mut self, events: &[Value]) -> Result<u64> {
        for event in events {
            let mut line = serde_json::to_vec(event)?;
            line.push(b'\n');
            self.file
                .write_all(&line)
                .with_context(|| format!("appending to {}", self.path.display()))?;
            self.len += line.len() as u64;
        }
        self.file.sync_data()?;
        Ok(self.len)
    }
}
