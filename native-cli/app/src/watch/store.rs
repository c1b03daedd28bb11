//! Where the service commits: a state directory (`state.json` + `events.jsonl`, one process) or
//! PostgreSQL (several processes, one leading under a lease; see [`super::pg`]). Either way a
//! step's events and the state that counts them are committed together or not at all.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::pg::PgStore;
use super::state::{FileLog, WatchState};
use crate::{Context, Result};

/// A `postgresql://` or `postgres://` URL, as `--state` may give.
pub fn is_postgres(location: &str) -> bool {
    location.starts_with("postgresql://") || location.starts_with("postgres://")
}

pub enum Store {
    Files { dir: PathBuf, log: Option<FileLog> },
    Postgres(Box<PgStore>),
}

impl Store {
    pub fn files(dir: &Path) -> Self {
        Store::Files {
            dir: dir.to_path_buf(),
            log: None,
        }
    }

    /// The committed state, or a new one (committed at once, so its instance id stays).
    pub fn load_or_new(&mut self, config_sha256: &str) -> Result<WatchState> {
        match self {
            Store::Files { dir, log } => {
                let state = WatchState::load_or_new(dir, config_sha256)?;
                *log = Some(FileLog::open(dir, state.events_len)?);
                Ok(state)
            }
            Store::Postgres(pg) => pg.load_or_new(config_sha256),
        }
    }

    /// Commits `events` after the committed ones and `state` (its `events_len` updated),
    /// atomically.
    pub fn commit(&mut self, state: &mut WatchState, events: &[Value]) -> Result<()> {
        match self {
            Store::Files { dir, log } => {
                let Some(log) = log else {
                    return Err(crate::Error::Input("the state was not loaded".into()));
                };
                state.events_len = log.append_synced(events)?;
                state.commit(dir)
            }
            Store::Postgres(pg) => pg.commit(state, events),
        }
    }

    /// Manual retrain requests: (name, where, body), oldest first.
    pub fn requests(&mut self) -> Result<Vec<(String, String, String)>> {
        match self {
            Store::Files { dir, .. } => {
                let dir = dir.join("requests");
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    return Ok(Vec::new());
                };
                let mut names: Vec<String> = entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".json"))
                    .collect();
                names.sort();
                Ok(names
                    .into_iter()
                    .map(|n| {
                        let body = std::fs::read_to_string(dir.join(&n)).unwrap_or_default();
                        let at = dir.join(&n).display().to_string();
                        (n, at, body)
                    })
                    .collect())
            }
            Store::Postgres(pg) => pg.requests(),
        }
    }

    /// Every committed event, in order.
    pub fn committed_events(&mut self) -> Result<Vec<Value>> {
        match self {
            Store::Files { dir, .. } => super::committed_events(dir),
            Store::Postgres(pg) => pg.committed_events(),
        }
    }

    /// Whether this process may commit (always, for a directory).
    pub fn leading(&self) -> bool {
        match self {
            Store::Files { .. } => true,
            Store::Postgres(pg) => pg.leading(),
        }
    }

    /// Where the events are, for people.
    pub fn events_location(&self) -> String {
        match self {
            Store::Files { dir, .. } => dir.join("events.jsonl").display().to_string(),
            Store::Postgres(pg) => pg.describe(),
        }
    }
}

/// Writes a request file atomically in `dir/requests`.
pub fn write_request_file(dir: &Path, stamp: &str, body: &[u8]) -> Result<PathBuf> {
    let dir = dir.join("requests");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{stamp}.json"));
    let tmp = dir.join(format!(".{stamp}.tmp"));
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
