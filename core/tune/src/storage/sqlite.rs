//! Optuna's RDB schema (alembic `v3.2.0.a`, schema version 12) on SQLite, so `optuna.load_study`
//! and optuna-dashboard read our studies and Optuna workers can join them. Every write is one
//! short IMMEDIATE transaction; finished trials are cached (they never change).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::{
    Direction, Distribution, FrozenTrial, Storage, StudyInfo, TrialState, check_directions,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;

use super::rdb::{decode, encode, now_local};

/// trial_id, number, state, datetime_start, datetime_complete.
type TrialRow = (i64, i64, String, Option<String>, Option<String>);

const SCHEMA: &str = include_str!("optuna_schema.sql");

pub struct SqliteStorage {
    conn: Connection,
    /// Finished trials by id (immutable once finished).
    finished: HashMap<i64, Arc<FrozenTrial>>,
}

fn e(x: rusqlite::Error) -> Error {
    Error::from(x)
}

impl SqliteStorage {
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(60))?;
        let has_schema: bool = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='studies'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)?;
        if !has_schema {
            conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;"))
                .or_else(|err| {
                    // Another worker created it first.
                    let _ = conn.execute_batch("ROLLBACK");
                    let n: i64 = conn.query_row(
                        "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='studies'",
                        [],
                        |r| r.get(0),
                    )?;
                    if n > 0 { Ok(()) } else { Err(err) }
                })?;
        }
        let version: Option<String> = conn
            .query_row("SELECT version_num FROM alembic_version", [], |r| r.get(0))
            .optional()?;
        if version.as_deref() != Some("v3.2.0.a") {
            return Err(Error::storage(format!(
                "{}: an Optuna database at schema {:?}; strider reads v3.2.0.a (run `optuna storage upgrade`)",
                path.display(),
                version
            )));
        }
        Ok(Self {
            conn,
            finished: HashMap::new(),
        })
    }

    fn tx<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let out = f(&tx).map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(out)
    }

    fn load_trial(
        conn: &Connection,
        id: i64,
        number: i64,
        state: &str,
        start: Option<String>,
        end: Option<String>,
    ) -> rusqlite::Result<FrozenTrial> {
        let mut t = FrozenTrial::new(id, number as usize);
        t.state = TrialState::from_name(state).unwrap_or(TrialState::Fail);
        t.datetime_start = start;
        t.datetime_complete = end;
        let mut q = conn.prepare_cached(
            "SELECT objective, value, value_type FROM trial_values WHERE trial_id=?1 ORDER BY objective",
        )?;
        let values: Vec<f64> = q
            .query_map([id], |r| Ok(decode(r.get(1)?, &r.get::<_, String>(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if !values.is_empty() {
            t.values = Some(values);
        }
        let mut q = conn.prepare_cached(
            "SELECT param_name, param_value, distribution_json FROM trial_params WHERE trial_id=?1",
        )?;
        for row in q.query_map([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, f64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })? {
            let (name, x, dist) = row?;
            if let Ok(d) = Distribution::from_optuna_json(&dist) {
                t.params.insert(name, (d, x));
            }
        }
        let mut q = conn.prepare_cached(
            "SELECT step, intermediate_value, intermediate_value_type FROM trial_intermediate_values WHERE trial_id=?1",
        )?;
        for row in q.query_map([id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                decode(r.get(1)?, &r.get::<_, String>(2)?),
            ))
        })? {
            let (s, v) = row?;
            t.intermediate.insert(s, v);
        }
        for (table, user) in [
            ("trial_user_attributes", true),
            ("trial_system_attributes", false),
        ] {
            let mut q = conn.prepare_cached(&format!(
                "SELECT key, value_json FROM {table} WHERE trial_id=?1"
            ))?;
            for row in q.query_map([id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })? {
                let (k, v) = row?;
                let v: Value = serde_json::from_str(&v).unwrap_or(Value::Null);
                if user {
                    t.user_attrs.insert(k, v);
                } else {
                    t.system_attrs.insert(k, v);
                }
            }
        }
        Ok(t)
    }

    fn set_attr(
        &mut self,
        table: &str,
        owner: &str,
        id: i64,
        key: &str,
        value: &Value,
    ) -> Result<()> {
        let sql = format!(
            "INSERT INTO {table} ({owner}, key, value_json) VALUES (?1, ?2, ?3) \
             ON CONFLICT({owner}, key) DO UPDATE SET value_json=excluded.value_json"
        );
        let text = value.to_string();
        self.tx(|tx| tx.execute(&sql, params![id, key, text]).map(|_| ()))
    }
}

impl Storage for SqliteStorage {
    fn get_or_create_study(&mut self, name: &str, directions: &[Direction]) -> Result<StudyInfo> {
        let dirs: Vec<String> = directions.iter().map(|d| d.name().to_string()).collect();
        let info = self.tx(|tx| {
            let id: Option<i64> = tx
                .query_row("SELECT study_id FROM studies WHERE study_name=?1", [name], |r| r.get(0))
                .optional()?;
            let id = match id {
                Some(id) => id,
                None => {
                    tx.execute("INSERT INTO studies (study_name) VALUES (?1)", [name])?;
                    let id = tx.last_insert_rowid();
                    for (k, d) in dirs.iter().enumerate() {
                        tx.execute(
                            "INSERT INTO study_directions (direction, study_id, objective) VALUES (?1, ?2, ?3)",
                            params![d, id, k as i64],
                        )?;
                    }
                    id
                }
            };
            let mut q = tx.prepare("SELECT direction FROM study_directions WHERE study_id=?1 ORDER BY objective")?;
            let directions = q
                .query_map([id], |r| r.get::<_, String>(0))?
                .map(|d| {
                    d.map(|d| if d == "MAXIMIZE" { Direction::Maximize } else { Direction::Minimize })
                })
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(StudyInfo { id, name: name.to_string(), directions })
        })?;
        check_directions(&info, directions)?;
        Ok(info)
    }

    fn create_trial(&mut self, study: i64) -> Result<(i64, usize)> {
        let now = now_local();
        self.tx(|tx| {
            let waiting: Option<(i64, i64)> = tx
                .query_row(
                    "SELECT trial_id, number FROM trials WHERE study_id=?1 AND state='WAITING' ORDER BY trial_id LIMIT 1",
                    [study],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((id, number)) = waiting {
                tx.execute(
                    "UPDATE trials SET state='RUNNING', datetime_start=?2 WHERE trial_id=?1",
                    params![id, now],
                )?;
                return Ok((id, number as usize));
            }
            let number: i64 =
                tx.query_row("SELECT count(*) FROM trials WHERE study_id=?1", [study], |r| r.get(0))?;
            tx.execute(
                "INSERT INTO trials (number, study_id, state, datetime_start) VALUES (?1, ?2, 'RUNNING', ?3)",
                params![number, study, now],
            )?;
            Ok((tx.last_insert_rowid(), number as usize))
        })
    }

    fn set_param(&mut self, trial: i64, name: &str, d: &Distribution, x: f64) -> Result<()> {
        let dist = d.to_optuna_json();
        self.tx(|tx| {
            tx.execute(
                "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES (?1, ?2, ?3, ?4)",
                params![trial, name, x, dist],
            )
            .map(|_| ())
        })
    }

    fn set_intermediate(&mut self, trial: i64, step: i64, value: f64) -> Result<()> {
        let (v, kind) = encode(value);
        self.tx(|tx| {
            tx.execute(
                "INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT(trial_id, step) DO UPDATE SET \
                 intermediate_value=excluded.intermediate_value, intermediate_value_type=excluded.intermediate_value_type",
                params![trial, step, v, kind],
            )
            .map(|_| ())
        })
    }

    fn set_state(&mut self, trial: i64, state: TrialState, values: Option<&[f64]>) -> Result<bool> {
        let now = now_local();
        self.tx(|tx| {
            let current: String =
                tx.query_row("SELECT state FROM trials WHERE trial_id=?1", [trial], |r| r.get(0))?;
            if TrialState::from_name(&current).is_some_and(TrialState::is_finished) {
                return Ok(false);
            }
            if state.is_finished() {
                tx.execute(
                    "UPDATE trials SET state=?2, datetime_complete=?3 WHERE trial_id=?1",
                    params![trial, state.name(), now],
                )?;
            } else {
                tx.execute(
                    "UPDATE trials SET state=?2, datetime_start=?3 WHERE trial_id=?1",
                    params![trial, state.name(), now],
                )?;
            }
            for (k, v) in values.unwrap_or(&[]).iter().enumerate() {
                let (x, kind) = encode(*v);
                tx.execute(
                    "INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (?1, ?2, ?3, ?4)",
                    params![trial, k as i64, x, kind],
                )?;
            }
            Ok(true)
        })
    }

    fn set_trial_system_attr(&mut self, trial: i64, key: &str, value: &Value) -> Result<()> {
        self.set_attr("trial_system_attributes", "trial_id", trial, key, value)
    }

    fn set_trial_user_attr(&mut self, trial: i64, key: &str, value: &Value) -> Result<()> {
        self.set_attr("trial_user_attributes", "trial_id", trial, key, value)
    }

    fn set_study_system_attr(&mut self, study: i64, key: &str, value: &Value) -> Result<()> {
        self.set_attr("study_system_attributes", "study_id", study, key, value)
    }

    fn study_system_attrs(&mut self, study: i64) -> Result<BTreeMap<String, Value>> {
        let mut q = self
            .conn
            .prepare_cached("SELECT key, value_json FROM study_system_attributes WHERE study_id=?1")
            .map_err(e)?;
        let rows = q
            .query_map([study], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(e)?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (k, v) = row.map_err(e)?;
            out.insert(k, serde_json::from_str(&v).unwrap_or(Value::Null));
        }
        Ok(out)
    }

    fn trials(&mut self, study: i64) -> Result<Vec<Arc<FrozenTrial>>> {
        let tx = self.conn.transaction().map_err(e)?;
        let rows: Vec<TrialRow> = {
            let mut q = tx
                .prepare_cached(
                    "SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials \
                     WHERE study_id=?1 ORDER BY number",
                )
                .map_err(e)?;
            q.query_map([study], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .map_err(e)?
            .collect::<rusqlite::Result<_>>()
            .map_err(e)?
        };
        let mut out = Vec::with_capacity(rows.len());
        for (id, number, state, start, end) in rows {
            if let Some(t) = self.finished.get(&id) {
                out.push(Arc::clone(t));
                continue;
            }
            let t = Self::load_trial(&tx, id, number, &state, start, end).map_err(e)?;
            let t = Arc::new(t);
            if t.state.is_finished() {
                self.finished.insert(id, Arc::clone(&t));
            }
            out.push(t);
        }
        tx.commit().map_err(e)?;
        Ok(out)
    }

    fn heartbeat(&mut self, trial: i64) -> Result<()> {
        let now = now_local();
        self.tx(|tx| {
            tx.execute(
                "INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES (?1, ?2) \
                 ON CONFLICT(trial_id) DO UPDATE SET heartbeat=excluded.heartbeat",
                params![trial, now],
            )
            .map(|_| ())
        })
    }

    fn fail_stale_trials(&mut self, study: i64, grace_seconds: f64) -> Result<Vec<i64>> {
        let cutoff = (chrono::Local::now()
            - chrono::Duration::milliseconds((grace_seconds * 1e3) as i64))
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string();
        let stale: Vec<i64> = {
            let mut q = self
                .conn
                .prepare(
                    "SELECT t.trial_id FROM trials t JOIN trial_heartbeats h ON h.trial_id=t.trial_id \
                     WHERE t.study_id=?1 AND t.state='RUNNING' AND h.heartbeat < ?2",
                )
                .map_err(e)?;
            q.query_map(params![study, cutoff], |r| r.get(0))
                .map_err(e)?
                .collect::<rusqlite::Result<_>>()
                .map_err(e)?
        };
        super::fail_and_retry(self, study, &stale)
    }
}

impl super::Enqueue for SqliteStorage {
    fn enqueue(&mut self, study: i64, system_attrs: &Value, user_attrs: &Value) -> Result<()> {
        let sys: Vec<(String, String)> = system_attrs
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        let user: Vec<(String, String)> = user_attrs
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        self.tx(|tx| {
            let number: i64 =
                tx.query_row("SELECT count(*) FROM trials WHERE study_id=?1", [study], |r| r.get(0))?;
            tx.execute(
                "INSERT INTO trials (number, study_id, state) VALUES (?1, ?2, 'WAITING')",
                params![number, study],
            )?;
            let id = tx.last_insert_rowid();
            for (k, v) in &sys {
                tx.execute(
                    "INSERT INTO trial_system_attributes (trial_id, key, value_json) VALUES (?1, ?2, ?3)",
                    params![id, k, v],
                )?;
            }
            for (k, v) in &user {
                tx.execute(
                    "INSERT INTO trial_user_attributes (trial_id, key, value_json) VALUES (?1, ?2, ?3)",
                    params![id, k, v],
                )?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_database_optuna_wrote() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("o.db");
        std::fs::copy(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/tune/optuna_sample.db"
            ),
            &p,
        )
        .unwrap();
        let mut s = SqliteStorage::open(&p).unwrap();
        let info = s
            .get_or_create_study("journal-demo", &[Direction::Minimize])
            .unwrap();
        let trials = s.trials(info.id).unwrap();
        assert_eq!(trials.len(), 6);
        assert_eq!(trials[3].state, TrialState::Pruned);
        assert_eq!(trials[4].state, TrialState::Fail);
        assert!(trials[0].params.contains_key("x"));
    }
}
