//! Optuna's RDB schema on PostgreSQL (`postgresql://USER:PASSWORD@HOST:PORT/DB`), for workers on
//! many machines. The schema is the one Optuna creates (native enum types included), so Optuna
//! workers and optuna-dashboard share our studies, whichever side created them. Trial numbers
//! are assigned under a row lock on the study, so concurrent workers never duplicate one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::{
    Direction, Distribution, FrozenTrial, Storage, StudyInfo, TrialState, check_directions,
};
use postgres::{Client, NoTls, Transaction};
use serde_json::Value;

use super::rdb::{decode, encode, now_local};

const SCHEMA: &str = include_str!("optuna_schema_pg.sql");

pub struct PostgresStorage {
    client: Client,
    finished: HashMap<i64, Arc<FrozenTrial>>,
}

fn e(x: postgres::Error) -> Error {
    Error::from(x)
}

impl PostgresStorage {
    pub fn open(url: &str) -> Result<Self> {
        let mut client = Client::connect(url, NoTls)
            .map_err(|err| Error::storage_from(format!("connecting to {}", redact(url)), err))?;
        let mut tx = client.transaction()?;
        // One creator at a time (a transaction-scoped advisory lock), then create if absent.
        tx.execute("SELECT pg_advisory_xact_lock(7216061)", &[])?;
        let exists: bool = tx
            .query_one("SELECT to_regclass('public.studies') IS NOT NULL", &[])?
            .get(0);
        if !exists {
            tx.batch_execute(SCHEMA)?;
        }
        tx.commit()?;
        let version: Option<String> = client
            .query_opt("SELECT version_num FROM alembic_version", &[])?
            .map(|r| r.get(0));
        if version.as_deref() != Some("v3.2.0.a") {
            return Err(Error::storage(format!(
                "{}: an Optuna database at schema {version:?}; strider reads v3.2.0.a (run `optuna storage upgrade`)",
                redact(url)
            )));
        }
        Ok(Self {
            client,
            finished: HashMap::new(),
        })
    }

    fn tx<T>(
        &mut self,
        f: impl FnOnce(&mut Transaction) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        let mut tx = self.client.transaction().map_err(e)?;
        let out = f(&mut tx).map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(out)
    }

    fn load_trial(
        tx: &mut Transaction,
        id: i64,
        number: i64,
        state: &str,
        start: Option<String>,
        end: Option<String>,
    ) -> std::result::Result<FrozenTrial, postgres::Error> {
        let mut t = FrozenTrial::new(id, number as usize);
        t.state = TrialState::from_name(state).unwrap_or(TrialState::Fail);
        t.datetime_start = start;
        t.datetime_complete = end;
        let id32 = id as i32;
        let values: Vec<f64> = tx
            .query(
                "SELECT value, value_type::text FROM trial_values WHERE trial_id=$1 ORDER BY objective",
                &[&id32],
            )?
            .iter()
            .map(|r| decode(r.get(0), r.get::<_, &str>(1)))
            .collect();
        if !values.is_empty() {
            t.values = Some(values);
        }
        for r in tx.query(
            "SELECT param_name, param_value, distribution_json FROM trial_params WHERE trial_id=$1",
            &[&id32],
        )? {
            if let Ok(d) = Distribution::from_optuna_json(r.get(2)) {
                t.params.insert(r.get::<_, String>(0), (d, r.get(1)));
            }
        }
        for r in tx.query(
            "SELECT step, intermediate_value, intermediate_value_type::text FROM trial_intermediate_values WHERE trial_id=$1",
            &[&id32],
        )? {
            t.intermediate.insert(r.get::<_, i32>(0) as i64, decode(r.get(1), r.get::<_, &str>(2)));
        }
        for (table, user) in [
            ("trial_user_attributes", true),
            ("trial_system_attributes", false),
        ] {
            for r in tx.query(
                &format!("SELECT key, value_json FROM {table} WHERE trial_id=$1"),
                &[&id32],
            )? {
                let v: Value = serde_json::from_str(r.get(1)).unwrap_or(Value::Null);
                if user {
                    t.user_attrs.insert(r.get(0), v);
                } else {
                    t.system_attrs.insert(r.get(0), v);
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
            "INSERT INTO {table} ({owner}, key, value_json) VALUES ($1, $2, $3) \
             ON CONFLICT ({owner}, key) DO UPDATE SET value_json=excluded.value_json"
        );
        let (id, text) = (id as i32, value.to_string());
        self.tx(|tx| tx.execute(&sql, &[&id, &key, &text]).map(|_| ()))
    }
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

impl Storage for PostgresStorage {
    fn get_or_create_study(&mut self, name: &str, directions: &[Direction]) -> Result<StudyInfo> {
        let dirs: Vec<&'static str> = directions.iter().map(|d| d.name()).collect();
        let info = self.tx(|tx| {
            tx.execute("SELECT pg_advisory_xact_lock(7216062)", &[])?;
            let id: i32 = match tx.query_opt("SELECT study_id FROM studies WHERE study_name=$1", &[&name])? {
                Some(r) => r.get(0),
                None => {
                    let id: i32 = tx
                        .query_one("INSERT INTO studies (study_name) VALUES ($1) RETURNING study_id", &[&name])?
                        .get(0);
                    for (k, d) in dirs.iter().enumerate() {
                        tx.execute(
                            "INSERT INTO study_directions (direction, study_id, objective) VALUES ($1::text::studydirection, $2, $3)",
                            &[d, &id, &(k as i32)],
                        )?;
                    }
                    id
                }
            };
            let directions = tx
                .query("SELECT direction::text FROM study_directions WHERE study_id=$1 ORDER BY objective", &[&id])?
                .iter()
                .map(|r| if r.get::<_, &str>(0) == "MAXIMIZE" { Direction::Maximize } else { Direction::Minimize })
                .collect();
            Ok(StudyInfo { id: id as i64, name: name.to_string(), directions })
        })?;
        check_directions(&info, directions)?;
        Ok(info)
    }

    fn create_trial(&mut self, study: i64) -> Result<(i64, usize)> {
        let (study, now) = (study as i32, now_local());
        self.tx(|tx| {
            // Serialise trial creation per study: numbers stay unique with many workers.
            tx.execute("SELECT study_id FROM studies WHERE study_id=$1 FOR UPDATE", &[&study])?;
            if let Some(r) = tx.query_opt(
                "SELECT trial_id, number FROM trials WHERE study_id=$1 AND state='WAITING' ORDER BY trial_id LIMIT 1",
                &[&study],
            )? {
                let (id, number): (i32, i32) = (r.get(0), r.get(1));
                tx.execute(
                    "UPDATE trials SET state='RUNNING', datetime_start=$2::text::timestamp WHERE trial_id=$1",
                    &[&id, &now],
                )?;
                return Ok((id as i64, number as usize));
            }
            let number: i64 = tx.query_one("SELECT count(*) FROM trials WHERE study_id=$1", &[&study])?.get(0);
            let id: i32 = tx
                .query_one(
                    "INSERT INTO trials (number, study_id, state, datetime_start) VALUES ($1, $2, 'RUNNING', $3::text::timestamp) RETURNING trial_id",
                    &[&(number as i32), &study, &now],
                )?
                .get(0);
            Ok((id as i64, number as usize))
        })
    }

    fn set_param(&mut self, trial: i64, name: &str, d: &Distribution, x: f64) -> Result<()> {
        let (trial, dist) = (trial as i32, d.to_optuna_json());
        self.tx(|tx| {
            tx.execute(
                "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES ($1, $2, $3, $4)",
                &[&trial, &name, &x, &dist],
            )
            .map(|_| ())
        })
    }

    fn set_intermediate(&mut self, trial: i64, step: i64, value: f64) -> Result<()> {
        let (v, kind) = encode(value);
        let (trial, step) = (trial as i32, step as i32);
        self.tx(|tx| {
            tx.execute(
                "INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type) \
                 VALUES ($1, $2, $3, $4::text::trialintermediatevaluetype) ON CONFLICT (trial_id, step) DO UPDATE SET \
                 intermediate_value=excluded.intermediate_value, intermediate_value_type=excluded.intermediate_value_type",
                &[&trial, &step, &v, &kind],
            )
            .map(|_| ())
        })
    }

    fn set_state(&mut self, trial: i64, state: TrialState, values: Option<&[f64]>) -> Result<bool> {
        let (trial, now, name) = (trial as i32, now_local(), state.name());
        let values: Vec<f64> = values.map(<[f64]>::to_vec).unwrap_or_default();
        self.tx(|tx| {
            let current: String = tx
                .query_one("SELECT state::text FROM trials WHERE trial_id=$1 FOR UPDATE", &[&trial])?
                .get(0);
            if TrialState::from_name(&current).is_some_and(TrialState::is_finished) {
                return Ok(false);
            }
            let column = if state.is_finished() { "datetime_complete" } else { "datetime_start" };
            tx.execute(
                &format!("UPDATE trials SET state=$2::text::trialstate, {column}=$3::text::timestamp WHERE trial_id=$1"),
                &[&trial, &name, &now],
            )?;
            for (k, v) in values.iter().enumerate() {
                let (x, kind) = encode(*v);
                tx.execute(
                    "INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES ($1, $2, $3, $4::text::trialvaluetype)",
                    &[&trial, &(k as i32), &x, &kind],
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
        let rows = self
            .client
            .query(
                "SELECT key, value_json FROM study_system_attributes WHERE study_id=$1",
                &[&(study as i32)],
            )
            .map_err(e)?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    serde_json::from_str(r.get(1)).unwrap_or(Value::Null),
                )
            })
            .collect())
    }

    fn trials(&mut self, study: i64) -> Result<Vec<Arc<FrozenTrial>>> {
        let mut tx = self.client.transaction().map_err(e)?;
        let rows = tx
            .query(
                "SELECT trial_id, number, state::text, datetime_start::text, datetime_complete::text FROM trials \
                 WHERE study_id=$1 ORDER BY number",
                &[&(study as i32)],
            )
            .map_err(e)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id = r.get::<_, i32>(0) as i64;
            if let Some(t) = self.finished.get(&id) {
                out.push(Arc::clone(t));
                continue;
            }
            let t = Self::load_trial(
                &mut tx,
                id,
                r.get::<_, i32>(1) as i64,
                r.get(2),
                r.get(3),
                r.get(4),
            )
            .map_err(e)?;
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
        let (trial, now) = (trial as i32, now_local());
        self.tx(|tx| {
            tx.execute(
                "INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES ($1, $2::text::timestamp) \
                 ON CONFLICT (trial_id) DO UPDATE SET heartbeat=excluded.heartbeat",
                &[&trial, &now],
            )
            .map(|_| ())
        })
    }

    fn fail_stale_trials(&mut self, study: i64, grace_seconds: f64) -> Result<Vec<i64>> {
        let cutoff = (chrono::Local::now()
            - chrono::Duration::milliseconds((grace_seconds * 1e3) as i64))
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string();
        let stale: Vec<i64> = self
            .client
            .query(
                "SELECT t.trial_id FROM trials t JOIN trial_heartbeats h ON h.trial_id=t.trial_id \
                 WHERE t.study_id=$1 AND t.state='RUNNING' AND h.heartbeat < $2::text::timestamp",
                &[&(study as i32), &cutoff],
            )
            .map_err(e)?
            .iter()
            .map(|r| r.get::<_, i32>(0) as i64)
            .collect();
        super::fail_and_retry(self, study, &stale)
    }
}

impl super::Enqueue for PostgresStorage {
    fn enqueue(&mut self, study: i64, system_attrs: &Value, user_attrs: &Value) -> Result<()> {
        let attrs = |v: &Value| -> Vec<(String, String)> {
            v.as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect()
        };
        let (sys, user, study) = (attrs(system_attrs), attrs(user_attrs), study as i32);
        self.tx(|tx| {
            tx.execute("SELECT study_id FROM studies WHERE study_id=$1 FOR UPDATE", &[&study])?;
            let number: i64 = tx.query_one("SELECT count(*) FROM trials WHERE study_id=$1", &[&study])?.get(0);
            let id: i32 = tx
                .query_one(
                    "INSERT INTO trials (number, study_id, state) VALUES ($1, $2, 'WAITING') RETURNING trial_id",
                    &[&(number as i32), &study],
                )?
                .get(0);
            for (table, rows) in [("trial_system_attributes", &sys), ("trial_user_attributes", &user)] {
                for (k, v) in rows {
                    tx.execute(
                        &format!("INSERT INTO {table} (trial_id, key, value_json) VALUES ($1, $2, $3)"),
                        &[&id, k, v],
                    )?;
                }
            }
            Ok(())
        })
    }
}
