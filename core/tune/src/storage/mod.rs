//! Optuna's own storages, each behind its cargo feature (all off by default, so the default
//! build has no database driver and no file I/O): the journal file (`journal`), the RDB schema on
//! SQLite (`sqlite`) and on PostgreSQL (`postgres`). Optuna and optuna-dashboard read and continue
//! what these write.

#[cfg(feature = "journal")]
pub mod journal;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod rdb;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::{Storage, TrialState};

pub(crate) fn storage_err(m: impl Into<String>) -> Error {
    Error::storage(m)
}

#[cfg(feature = "journal")]
/// A float as Python's json writes it (bare NaN / Infinity tokens), round-trip exact.
pub(crate) fn fnum(x: f64) -> String {
    if x.is_finite() {
        let s = serde_json::to_string(&x).unwrap_or_else(|_| "null".into());
        if s.contains(['.', 'e', 'E']) {
            s
        } else {
            format!("{s}.0")
        }
    } else if x.is_nan() {
        "NaN".into()
    } else if x > 0.0 {
        "Infinity".into()
    } else {
        "-Infinity".into()
    }
}

#[cfg(feature = "journal")]
/// ISO-8601 with microseconds and `+00:00`, as Python's `datetime.isoformat()`.
pub(crate) fn now_iso() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

/// Storages that can hold a WAITING trial with fixed parameters (Optuna's `enqueue_trial`).
pub trait Enqueue {
    fn enqueue(&mut self, study: i64, system_attrs: &Value, user_attrs: &Value) -> Result<()>;
}

/// Fail the stale RUNNING trials `stale` (skipping any another worker finished meanwhile) and
/// retry each: a WAITING copy with its parameters fixed, as Optuna's `RetryFailedTrialCallback`
/// does, so no point of the search is lost. Returns the trials failed.
pub fn fail_and_retry<S: Storage + Enqueue + ?Sized>(
    s: &mut S,
    study: i64,
    stale: &[i64],
) -> Result<Vec<i64>> {
    if stale.is_empty() {
        return Ok(Vec::new());
    }
    let trials = s.trials(study)?;
    let mut failed = Vec::new();
    for &id in stale {
        let t = trials
            .iter()
            .find(|t| t.id == id)
            .ok_or_else(|| storage_err("a stale trial vanished"))?;
        if s.set_state(id, TrialState::Fail, None)? {
            let fixed: serde_json::Map<String, Value> = t.external_params().into_iter().collect();
            let root = t
                .system_attrs
                .get("failed_trial")
                .cloned()
                .unwrap_or(Value::from(t.number));
            s.enqueue(
                study,
                &json!({"fixed_params": fixed, "failed_trial": root}),
                &json!({"strider:retry_of": t.number}),
            )?;
            failed.push(id);
        }
    }
    Ok(failed)
}

/// An Optuna storage URL: `sqlite:///PATH`, `postgresql://USER:PW@HOST:PORT/DB`, `journal:PATH`
/// (or a `.log` / `.jsonl` path).
pub enum StorageUrl {
    Postgres(String),
    Sqlite(std::path::PathBuf),
    Journal(std::path::PathBuf),
}

impl StorageUrl {
    pub fn parse(url: &str) -> Result<Self> {
        if let Some(p) = url.strip_prefix("sqlite:///") {
            return Ok(StorageUrl::Sqlite(p.into()));
        }
        if let Some(p) = url.strip_prefix("journal:") {
            return Ok(StorageUrl::Journal(p.into()));
        }
        if url.starts_with("postgres") && url.contains("://") {
            // SQLAlchemy-style driver suffixes (postgresql+psycopg://) name Python drivers.
            let plain = match url.split_once("://") {
                Some((scheme, rest)) if scheme.starts_with("postgresql+") => {
                    format!("postgresql://{rest}")
                }
                _ => url.to_string(),
            };
            return Ok(StorageUrl::Postgres(plain));
        }
        if url.ends_with(".log") || url.ends_with(".jsonl") {
            return Ok(StorageUrl::Journal(url.into()));
        }
        Err(Error::storage(format!(
            "{url}: expected sqlite:///PATH, postgresql://... or journal:PATH"
        )))
    }

    /// Opens the storage; a kind whose feature is off is an error that names the feature.
    pub fn open(&self) -> Result<Box<dyn Storage + Send>> {
        match self {
            #[cfg(feature = "postgres")]
            StorageUrl::Postgres(u) => Ok(Box::new(postgres::PostgresStorage::open(u)?)),
            #[cfg(feature = "sqlite")]
            StorageUrl::Sqlite(p) => Ok(Box::new(sqlite::SqliteStorage::open(p)?)),
            #[cfg(feature = "journal")]
            StorageUrl::Journal(p) => Ok(Box::new(journal::JournalStorage::open(p)?)),
            #[cfg(not(all(feature = "postgres", feature = "sqlite", feature = "journal")))]
            other => Err(Error::storage(format!(
                "this build has no `{}` storage (cargo feature of strider-tune)",
                other.feature()
            ))),
        }
    }

    /// The cargo feature that provides this kind of storage.
    pub fn feature(&self) -> &'static str {
        match self {
            StorageUrl::Postgres(_) => "postgres",
            StorageUrl::Sqlite(_) => "sqlite",
            StorageUrl::Journal(_) => "journal",
        }
    }
}
