//! `strider tune`: studies on Optuna-compatible storages, objectives that run a config's
//! walk-forward validation or any command, parallel workers, and the summary the report draws.

pub mod command;
pub mod config_space;
pub mod ensemble_space;
pub mod journal;
pub mod postgres;
mod rdb;
pub mod sqlite;

use serde_json::{Value, json};
use strider_core::Error;
use strider_core::tune::{Storage, TrialState};

pub fn storage_err(m: impl Into<String>) -> Error {
    Error::Config(format!("storage: {}", m.into()))
}

/// A float as Python's json writes it (bare NaN / Infinity tokens), round-trip exact.
pub fn fnum(x: f64) -> String {
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

/// ISO-8601 with microseconds and `+00:00`, as Python's `datetime.isoformat()`.
pub fn now_iso() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

/// Storages that can hold a WAITING trial with fixed parameters (Optuna's `enqueue_trial`).
pub trait Enqueue {
    fn enqueue(
        &mut self,
        study: i64,
        system_attrs: &Value,
        user_attrs: &Value,
    ) -> strider_core::Result<()>;
}

/// Fail the stale RUNNING trials `stale` (skipping any another worker finished meanwhile) and
/// retry each: a WAITING copy with its parameters fixed, as Optuna's `RetryFailedTrialCallback`
/// does, so no point of the search is lost. Returns the trials failed.
pub fn fail_and_retry<S: Storage + Enqueue + ?Sized>(
    s: &mut S,
    study: i64,
    stale: &[i64],
) -> strider_core::Result<Vec<i64>> {
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
    pub fn parse(url: &str) -> anyhow::Result<Self> {
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
        anyhow::bail!("--storage {url}: expected sqlite:///PATH, postgresql://... or journal:PATH")
    }

    pub fn open(&self) -> anyhow::Result<Box<dyn Storage + Send>> {
        Ok(match self {
            StorageUrl::Postgres(u) => Box::new(postgres::PostgresStorage::open(u)?),
            StorageUrl::Sqlite(p) => Box::new(sqlite::SqliteStorage::open(p)?),
            StorageUrl::Journal(p) => Box::new(journal::JournalStorage::open(p)?),
        })
    }
}
