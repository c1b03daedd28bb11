//! Optuna's RDB storage, written once for every SQL database: [`RdbStorage`] holds the
//! statements and the finished-trial cache; a [`Dialect`] (SQLite, PostgreSQL) supplies its
//! driver, transactions and locks, and runs the statements in its own syntax (see [`render`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::storage_err;
use crate::error::Result;
use crate::{
    Direction, Distribution, FrozenTrial, Storage, StudyInfo, TrialState, check_directions,
};

/// Optuna stores naive local times.
pub fn now_local() -> String {
    local_time(chrono::Local::now())
}

fn local_time(t: chrono::DateTime<chrono::Local>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// (value, type) as Optuna's `trial_values` / `trial_intermediate_values` keep non-finite floats.
pub fn encode(v: f64) -> (Option<f64>, &'static str) {
    if v.is_nan() {
        (None, "NAN")
    } else if v == f64::INFINITY {
        (None, "INF_POS")
    } else if v == f64::NEG_INFINITY {
        (None, "INF_NEG")
    } else {
        (Some(v), "FINITE")
    }
}

pub fn decode(v: Option<f64>, kind: &str) -> f64 {
    match kind {
        "INF_POS" => f64::INFINITY,
        "INF_NEG" => f64::NEG_INFINITY,
        "NAN" => f64::NAN,
        _ => v.unwrap_or(f64::NAN),
    }
}

/// How a driver writes the statements of this file (see [`render`]).
#[derive(Clone, Copy, Debug)]
pub struct Syntax {
    /// Before each parameter's number: `?` (SQLite's `?1`) or `$` (PostgreSQL's `$1`).
    pub placeholder: char,
    /// Whether casts stay (PostgreSQL) or go (SQLite, whose columns hold those values as text).
    pub casts: bool,
}

/// A statement in the form this file writes it (PostgreSQL's, with `?` for each parameter), for
/// a driver: `?` becomes `?1`, `?2`… (SQLite) or `$1`, `$2`… (PostgreSQL); a cast of a parameter,
/// `?::TYPE`, becomes `$n::text::TYPE` on PostgreSQL (text goes in as text, then to its enum or
/// timestamp) and a cast of a column, `COLUMN::text`, stays; SQLite drops every cast. No
/// statement has `?` or `::` inside a literal.
pub fn render(sql: &str, syntax: Syntax) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut rest = sql;
    while let Some(i) = rest.find(['?', ':']) {
        out.push_str(&rest[..i]);
        let param = rest[i..].starts_with('?');
        if param {
            n += 1;
            out.push(syntax.placeholder);
            out.push_str(&n.to_string());
            rest = &rest[i + 1..];
        } else {
            rest = &rest[i..];
        }
        let Some(after) = rest.strip_prefix("::") else {
            if !param {
                out.push(':');
                rest = &rest[1..];
            }
            continue;
        };
        let len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if syntax.casts {
            out.push_str(if param { "::text::" } else { "::" });
            out.push_str(&after[..len]);
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// A value bound to a statement's parameter.
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a> {
    /// An `integer` column (ids, numbers, objectives, steps).
    Int(i64),
    /// A `float` column; `None` is NULL.
    Real(Option<f64>),
    Text(&'a str),
}

/// One column of a row read back.
#[derive(Debug)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// A row read back, its columns in the statement's order.
#[derive(Debug)]
pub struct Row(pub Vec<Cell>);

impl Row {
    fn cell(&self, i: usize) -> Result<&Cell> {
        self.0
            .get(i)
            .ok_or_else(|| storage_err(format!("a row without column {i}")))
    }

    fn wrong(&self, i: usize, expected: &str) -> crate::error::Error {
        storage_err(format!(
            "column {i}: expected {expected}, found {:?}",
            self.0[i]
        ))
    }

    pub fn int(&self, i: usize) -> Result<i64> {
        match self.cell(i)? {
            Cell::Int(v) => Ok(*v),
            _ => Err(self.wrong(i, "an integer")),
        }
    }

    /// A float or NULL (integers read as floats, as the drivers do).
    fn real(&self, i: usize) -> Result<Option<f64>> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            Cell::Real(v) => Ok(Some(*v)),
            Cell::Int(v) => Ok(Some(*v as f64)),
            Cell::Text(_) => Err(self.wrong(i, "a float")),
        }
    }

    fn text(&self, i: usize) -> Result<&str> {
        match self.cell(i)? {
            Cell::Text(s) => Ok(s),
            _ => Err(self.wrong(i, "text")),
        }
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            _ => self.text(i).map(|s| Some(s.to_string())),
        }
    }

    /// A `value_json` column (unreadable JSON reads as null).
    fn json(&self, i: usize) -> Result<Value> {
        Ok(serde_json::from_str(self.text(i)?).unwrap_or(Value::Null))
    }
}

/// A connection or a transaction: runs statements written as [`render`] describes.
pub trait Sql {
    fn query(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>>;
    fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<()>;
    /// Runs an INSERT and returns the new row's `key` column (PostgreSQL: `RETURNING key`;
    /// SQLite: `last_insert_rowid()`, the same integer primary key).
    fn insert(&mut self, sql: &str, args: &[Arg<'_>], key: &str) -> Result<i64>;

    /// The first row, if any.
    fn query_opt(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>> {
        Ok(self.query(sql, args)?.into_iter().next())
    }

    fn query_one(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Row> {
        self.query_opt(sql, args)?
            .ok_or_else(|| storage_err(format!("no row for `{sql}`")))
    }
}

/// What differs between the databases beyond the statements' syntax: the connection (which runs
/// statements outside a transaction), its transactions and its locks.
pub trait Dialect: Sql {
    type Tx<'a>: Sql
    where
        Self: 'a;
    /// Whether `SELECT … FOR UPDATE` row locks exist (PostgreSQL). SQLite has none and needs
    /// none: a write transaction (`BEGIN IMMEDIATE`) already excludes every other writer.
    const ROW_LOCKS: bool;
    /// Begins a transaction; a `write` one takes the write lock up front (SQLite's `BEGIN
    /// IMMEDIATE`, so it never fails to upgrade a read lock midway). Dropped uncommitted, it
    /// rolls back.
    fn transaction(&mut self, write: bool) -> Result<Self::Tx<'_>>;
    fn commit(tx: Self::Tx<'_>) -> Result<()>;
    /// Serialises get-or-create of studies by name (PostgreSQL: a transaction-scoped advisory
    /// lock; SQLite: nothing, the write transaction does).
    fn lock_study_names(tx: &mut Self::Tx<'_>) -> Result<()>;
}

/// Optuna's RDB storage (alembic `v3.2.0.a`) on the database `C`. Every write is one short
/// write transaction; finished trials are cached (they never change).
pub struct RdbStorage<C: Dialect> {
    conn: C,
    /// Finished trials by id.
    finished: HashMap<i64, Arc<FrozenTrial>>,
}

const ATTRS: [(&str, bool); 2] = [
    ("trial_user_attributes", true),
    ("trial_system_attributes", false),
];

impl<C: Dialect> RdbStorage<C> {
    pub(super) fn new(conn: C) -> Self {
        Self {
            conn,
            finished: HashMap::new(),
        }
    }

    /// Runs `f` in a write transaction and commits.
    fn write<'s, T>(&'s mut self, f: impl FnOnce(&mut C::Tx<'s>) -> Result<T>) -> Result<T> {
        let mut tx = self.conn.transaction(true)?;
        let out = f(&mut tx)?;
        C::commit(tx)?;
        Ok(out)
    }

    /// Serialises trial numbering in `study` (a row lock where there are row locks).
    fn lock_study(tx: &mut C::Tx<'_>, study: i64) -> Result<()> {
        if C::ROW_LOCKS {
            tx.execute(
                "SELECT study_id FROM studies WHERE study_id=? FOR UPDATE",
                &[Arg::Int(study)],
            )?;
        }
        Ok(())
    }

    /// The next trial number of `study` (under [`Self::lock_study`]).
    fn next_number(tx: &mut C::Tx<'_>, study: i64) -> Result<i64> {
        tx.query_one(
            "SELECT count(*) FROM trials WHERE study_id=?",
            &[Arg::Int(study)],
        )?
        .int(0)
    }

    fn load_trial(tx: &mut C::Tx<'_>, row: &Row) -> Result<FrozenTrial> {
        let id = row.int(0)?;
        let arg = [Arg::Int(id)];
        let mut t = FrozenTrial::new(id, row.int(1)? as usize);
        t.state = TrialState::from_name(row.text(2)?).unwrap_or(TrialState::Fail);
        t.datetime_start = row.opt_text(3)?;
        t.datetime_complete = row.opt_text(4)?;
        let values = tx
            .query(
                "SELECT value, value_type::text FROM trial_values WHERE trial_id=? ORDER BY objective",
                &arg,
            )?
            .iter()
            .map(|r| Ok(decode(r.real(0)?, r.text(1)?)))
            .collect::<Result<Vec<f64>>>()?;
        if !values.is_empty() {
            t.values = Some(values);
        }
        for r in tx.query(
            "SELECT param_name, param_value, distribution_json FROM trial_params WHERE trial_id=?",
            &arg,
        )? {
            let x = r.real(1)?.ok_or_else(|| r.wrong(1, "a float"))?;
            if let Ok(d) = Distribution::from_optuna_json(r.text(2)?) {
                t.params.insert(r.text(0)?.to_string(), (d, x));
            }
        }
        for r in tx.query(
            "SELECT step, intermediate_value, intermediate_value_type::text \
             FROM trial_intermediate_values WHERE trial_id=?",
            &arg,
        )? {
            t.intermediate
                .insert(r.int(0)?, decode(r.real(1)?, r.text(2)?));
        }
        for (table, user) in ATTRS {
            let sql = format!("SELECT key, value_json FROM {table} WHERE trial_id=?");
            for r in tx.query(&sql, &arg)? {
                let attrs = if user {
                    &mut t.user_attrs
                } else {
                    &mut t.system_attrs
                };
                attrs.insert(r.text(0)?.to_string(), r.json(1)?);
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
            "INSERT INTO {table} ({owner}, key, value_json) VALUES (?, ?, ?) \
             ON CONFLICT ({owner}, key) DO UPDATE SET value_json=excluded.value_json"
        );
        let text = value.to_string();
        self.write(|tx| tx.execute(&sql, &[Arg::Int(id), Arg::Text(key), Arg::Text(&text)]))
    }
}

impl<C: Dialect> Storage for RdbStorage<C> {
    fn get_or_create_study(&mut self, name: &str, directions: &[Direction]) -> Result<StudyInfo> {
        let info = self.write(|tx| {
            C::lock_study_names(tx)?;
            let found = tx.query_opt(
                "SELECT study_id FROM studies WHERE study_name=?",
                &[Arg::Text(name)],
            )?;
            let id = match found {
                Some(r) => r.int(0)?,
                None => {
                    let id = tx.insert(
                        "INSERT INTO studies (study_name) VALUES (?)",
                        &[Arg::Text(name)],
                        "study_id",
                    )?;
                    for (k, d) in directions.iter().enumerate() {
                        tx.execute(
                            "INSERT INTO study_directions (direction, study_id, objective) \
                             VALUES (?::studydirection, ?, ?)",
                            &[Arg::Text(d.name()), Arg::Int(id), Arg::Int(k as i64)],
                        )?;
                    }
                    id
                }
            };
            let directions = tx
                .query(
                    "SELECT direction::text FROM study_directions WHERE study_id=? ORDER BY objective",
                    &[Arg::Int(id)],
                )?
                .iter()
                .map(|r| match r.text(0)? {
                    "MAXIMIZE" => Ok(Direction::Maximize),
                    _ => Ok(Direction::Minimize),
                })
                .collect::<Result<_>>()?;
            Ok(StudyInfo {
                id,
                name: name.to_string(),
                directions,
            })
        })?;
        check_directions(&info, directions)?;
        Ok(info)
    }

    fn create_trial(&mut self, study: i64) -> Result<(i64, usize)> {
        let now = now_local();
        self.write(|tx| {
            Self::lock_study(tx, study)?;
            // A WAITING trial (enqueued, or a retry of a failed one) is claimed first.
            if let Some(r) = tx.query_opt(
                "SELECT trial_id, number FROM trials WHERE study_id=? AND state='WAITING' \
                 ORDER BY trial_id LIMIT 1",
                &[Arg::Int(study)],
            )? {
                let (id, number) = (r.int(0)?, r.int(1)?);
                tx.execute(
                    "UPDATE trials SET state='RUNNING', datetime_start=?::timestamp WHERE trial_id=?",
                    &[Arg::Text(&now), Arg::Int(id)],
                )?;
                return Ok((id, number as usize));
            }
            let number = Self::next_number(tx, study)?;
            let id = tx.insert(
                "INSERT INTO trials (number, study_id, state, datetime_start) \
                 VALUES (?, ?, 'RUNNING', ?::timestamp)",
                &[Arg::Int(number), Arg::Int(study), Arg::Text(&now)],
                "trial_id",
            )?;
            Ok((id, number as usize))
        })
    }

    fn set_param(&mut self, trial: i64, name: &str, d: &Distribution, x: f64) -> Result<()> {
        let dist = d.to_optuna_json();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) \
                 VALUES (?, ?, ?, ?)",
                &[
                    Arg::Int(trial),
                    Arg::Text(name),
                    Arg::Real(Some(x)),
                    Arg::Text(&dist),
                ],
            )
        })
    }

    fn set_intermediate(&mut self, trial: i64, step: i64, value: f64) -> Result<()> {
        let (v, kind) = encode(value);
        self.write(|tx| {
            tx.execute(
                "INSERT INTO trial_intermediate_values \
                 (trial_id, step, intermediate_value, intermediate_value_type) \
                 VALUES (?, ?, ?, ?::trialintermediatevaluetype) ON CONFLICT (trial_id, step) \
                 DO UPDATE SET intermediate_value=excluded.intermediate_value, \
                 intermediate_value_type=excluded.intermediate_value_type",
                &[
                    Arg::Int(trial),
                    Arg::Int(step),
                    Arg::Real(v),
                    Arg::Text(kind),
                ],
            )
        })
    }

    fn set_state(&mut self, trial: i64, state: TrialState, values: Option<&[f64]>) -> Result<bool> {
        let now = now_local();
        let lock = if C::ROW_LOCKS { " FOR UPDATE" } else { "" };
        let select = format!("SELECT state::text FROM trials WHERE trial_id=?{lock}");
        self.write(|tx| {
            let current = tx.query_one(&select, &[Arg::Int(trial)])?;
            if TrialState::from_name(current.text(0)?).is_some_and(TrialState::is_finished) {
                return Ok(false);
            }
            let column = if state.is_finished() {
                "datetime_complete"
            } else {
                "datetime_start"
            };
            tx.execute(
                &format!(
                    "UPDATE trials SET state=?::trialstate, {column}=?::timestamp WHERE trial_id=?"
                ),
                &[Arg::Text(state.name()), Arg::Text(&now), Arg::Int(trial)],
            )?;
            for (k, v) in values.unwrap_or(&[]).iter().enumerate() {
                let (x, kind) = encode(*v);
                tx.execute(
                    "INSERT INTO trial_values (trial_id, objective, value, value_type) \
                     VALUES (?, ?, ?, ?::trialvaluetype)",
                    &[
                        Arg::Int(trial),
                        Arg::Int(k as i64),
                        Arg::Real(x),
                        Arg::Text(kind),
                    ],
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
        self.conn
            .query(
                "SELECT key, value_json FROM study_system_attributes WHERE study_id=?",
                &[Arg::Int(study)],
            )?
            .iter()
            .map(|r| Ok((r.text(0)?.to_string(), r.json(1)?)))
            .collect()
    }

    fn trials(&mut self, study: i64) -> Result<Vec<Arc<FrozenTrial>>> {
        let mut tx = self.conn.transaction(false)?;
        let rows = tx.query(
            "SELECT trial_id, number, state::text, datetime_start::text, datetime_complete::text \
             FROM trials WHERE study_id=? ORDER BY number",
            &[Arg::Int(study)],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id = r.int(0)?;
            if let Some(t) = self.finished.get(&id) {
                out.push(Arc::clone(t));
                continue;
            }
            let t = Arc::new(Self::load_trial(&mut tx, r)?);
            if t.state.is_finished() {
                self.finished.insert(id, Arc::clone(&t));
            }
            out.push(t);
        }
        C::commit(tx)?;
        Ok(out)
    }

    fn heartbeat(&mut self, trial: i64) -> Result<()> {
        let now = now_local();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES (?, ?::timestamp) \
                 ON CONFLICT (trial_id) DO UPDATE SET heartbeat=excluded.heartbeat",
                &[Arg::Int(trial), Arg::Text(&now)],
            )
        })
    }

    fn fail_stale_trials(&mut self, study: i64, grace_seconds: f64) -> Result<Vec<i64>> {
        let cutoff = local_time(
            chrono::Local::now() - chrono::Duration::milliseconds((grace_seconds * 1e3) as i64),
        );
        let stale = self
            .conn
            .query(
                "SELECT t.trial_id FROM trials t JOIN trial_heartbeats h ON h.trial_id=t.trial_id \
                 WHERE t.study_id=? AND t.state='RUNNING' AND h.heartbeat < ?::timestamp",
                &[Arg::Int(study), Arg::Text(&cutoff)],
            )?
            .iter()
            .map(|r| r.int(0))
            .collect::<Result<Vec<i64>>>()?;
        super::fail_and_retry(self, study, &stale)
    }
}

impl<C: Dialect> super::Enqueue for RdbStorage<C> {
    fn enqueue(&mut self, study: i64, system_attrs: &Value, user_attrs: &Value) -> Result<()> {
        let attrs = |v: &Value| -> Vec<(String, String)> {
            v.as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect()
        };
        let (sys, user) = (attrs(system_attrs), attrs(user_attrs));
        self.write(|tx| {
            Self::lock_study(tx, study)?;
            let number = Self::next_number(tx, study)?;
            let id = tx.insert(
                "INSERT INTO trials (number, study_id, state) VALUES (?, ?, 'WAITING')",
                &[Arg::Int(number), Arg::Int(study)],
                "trial_id",
            )?;
            for (table, rows) in [
                ("trial_system_attributes", &sys),
                ("trial_user_attributes", &user),
            ] {
                let sql =
                    format!("INSERT INTO {table} (trial_id, key, value_json) VALUES (?, ?, ?)");
                for (k, v) in rows {
                    tx.execute(&sql, &[Arg::Int(id), Arg::Text(k), Arg::Text(v)])?;
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::storage::Enqueue;
    use serde_json::json;

    #[test]
    fn renders_parameters_and_casts_per_driver() {
        let sql = "UPDATE trials SET state=?::trialstate, x=? WHERE t=? AND s::text='A:B'";
        let sqlite = Syntax {
            placeholder: '?',
            casts: false,
        };
        let postgres = Syntax {
            placeholder: '$',
            casts: true,
        };
        assert_eq!(
            render(sql, sqlite),
            "UPDATE trials SET state=?1, x=?2 WHERE t=?3 AND s='A:B'"
        );
        assert_eq!(
            render(sql, postgres),
            "UPDATE trials SET state=$1::text::trialstate, x=$2 WHERE t=$3 AND s::text='A:B'"
        );
    }

    #[test]
    fn non_finite_values_round_trip() {
        for v in [1.5, f64::INFINITY, f64::NEG_INFINITY] {
            let (x, kind) = encode(v);
            assert_eq!(decode(x, kind), v);
        }
        let (x, kind) = encode(f64::NAN);
        assert!(decode(x, kind).is_nan());
    }

    /// Every method of the storage on a fresh database `s`; `reopen` opens it again.
    pub(in crate::storage) fn round_trip<C: Dialect>(
        s: &mut RdbStorage<C>,
        reopen: impl FnOnce() -> RdbStorage<C>,
    ) {
        let dirs = [Direction::Maximize, Direction::Minimize];
        let info = s.get_or_create_study("st", &dirs).unwrap();
        assert_eq!(info.directions, dirs);
        assert_eq!(s.get_or_create_study("st", &dirs).unwrap().id, info.id);
        assert!(s.get_or_create_study("st", &dirs[..1]).is_err());
        let other = s.get_or_create_study("other", &dirs[1..]).unwrap();
        assert_ne!(other.id, info.id);

        s.set_study_system_attr(info.id, "k", &json!(1)).unwrap();
        s.set_study_system_attr(info.id, "k", &json!({"a": [1, "ü"]}))
            .unwrap();
        assert_eq!(
            s.study_system_attrs(info.id).unwrap()["k"],
            json!({"a": [1, "ü"]})
        );

        let (t0, n0) = s.create_trial(info.id).unwrap();
        assert_eq!(n0, 0);
        let d = Distribution::from_optuna_json(
            r#"{"name": "IntDistribution", "attributes": {"log": false, "step": 1, "low": 1, "high": 9}}"#,
        )
        .unwrap();
        s.set_param(t0, "n", &d, 3.0).unwrap();
        s.set_intermediate(t0, 1, 0.5).unwrap();
        s.set_intermediate(t0, 1, f64::NAN).unwrap();
        s.set_intermediate(t0, 2, f64::INFINITY).unwrap();
        s.set_trial_user_attr(t0, "u", &json!("x")).unwrap();
        s.set_trial_system_attr(t0, "v", &json!([true])).unwrap();
        s.heartbeat(t0).unwrap();
        s.heartbeat(t0).unwrap();
        let running = s.trials(info.id).unwrap();
        assert_eq!(running[0].state, TrialState::Running);
        assert!(
            s.set_state(t0, TrialState::Complete, Some(&[2.5, f64::NEG_INFINITY]))
                .unwrap()
        );
        assert!(!s.set_state(t0, TrialState::Fail, None).unwrap());

        s.enqueue(
            info.id,
            &json!({"fixed_params": {"n": 4}}),
            &json!({"w": 1}),
        )
        .unwrap();
        let (t1, n1) = s.create_trial(info.id).unwrap();
        assert_eq!(n1, 1);
        let (t2, n2) = s.create_trial(info.id).unwrap();
        assert_eq!(n2, 2);
        s.heartbeat(t2).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        // t1 has no heartbeat: only t2 is stale; its retry is the WAITING trial 3.
        assert_eq!(s.fail_stale_trials(info.id, 0.0).unwrap(), vec![t2]);

        let trials = s.trials(info.id).unwrap();
        let again = s.trials(info.id).unwrap();
        assert!(
            Arc::ptr_eq(&trials[0], &again[0]),
            "finished trials are cached"
        );
        assert_eq!(trials.len(), 4);
        let t = &trials[0];
        assert_eq!((t.id, t.number, t.state), (t0, 0, TrialState::Complete));
        assert_eq!(t.values, Some(vec![2.5, f64::NEG_INFINITY]));
        assert_eq!(t.params["n"], (d.clone(), 3.0));
        assert!(t.intermediate[&1].is_nan());
        assert_eq!(t.intermediate[&2], f64::INFINITY);
        assert_eq!(t.user_attrs["u"], json!("x"));
        assert_eq!(t.system_attrs["v"], json!([true]));
        assert!(t.datetime_start.is_some() && t.datetime_complete.is_some());
        let t = &trials[1];
        assert_eq!((t.id, t.number, t.state), (t1, 1, TrialState::Running));
        assert_eq!(t.system_attrs["fixed_params"], json!({"n": 4}));
        assert_eq!(t.user_attrs["w"], json!(1));
        assert_eq!((trials[2].id, trials[2].state), (t2, TrialState::Fail));
        let t = &trials[3];
        assert_eq!((t.number, t.state), (3, TrialState::Waiting));
        assert_eq!(t.system_attrs["failed_trial"], json!(2));
        assert_eq!(t.user_attrs["strider:retry_of"], json!(2));
        assert!(s.trials(other.id).unwrap().is_empty());

        let mut s = reopen();
        assert_eq!(
            format!("{:?}", s.trials(info.id).unwrap()),
            format!("{trials:?}")
        );
    }
}
