//! Optuna's RDB schema (alembic `v3.2.0.a`, schema version 12) on SQLite, so `optuna.load_study`
//! and optuna-dashboard read our studies and Optuna workers can join them. Every write is one
//! short IMMEDIATE transaction; finished trials are cached (they never change). The storage
//! itself is `RdbStorage`; this file opens the database and runs its statements.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql, Transaction, TransactionBehavior};

use super::rdb::{Arg, Cell, Dialect, RdbStorage, Row, Sql, Syntax, render};
use super::storage_err;
use crate::error::{Error, Result};

const SCHEMA: &str = include_str!("optuna_schema.sql");

/// `?1`, `?2`…; no casts (the enums and times are text columns).
const SYNTAX: Syntax = Syntax {
    placeholder: '?',
    casts: false,
};

/// A SQLite connection, as the `Dialect` of [`SqliteStorage`].
pub struct Sqlite(Connection);

pub type SqliteStorage = RdbStorage<Sqlite>;

impl SqliteStorage {
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(60))?;
        if !has_schema(&conn)? {
            conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;"))
                .or_else(|err| {
                    // Another worker created it first.
                    let _ = conn.execute_batch("ROLLBACK");
                    if has_schema(&conn)? { Ok(()) } else { Err(err) }
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
        Ok(RdbStorage::new(Sqlite(conn)))
    }
}

fn has_schema(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='studies'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

impl ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Arg::Int(v) => v.to_sql(),
            Arg::Real(v) => v.to_sql(),
            Arg::Text(s) => s.to_sql(),
        }
    }
}

fn cell(v: ValueRef<'_>) -> Result<Cell> {
    Ok(match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Real(x) => Cell::Real(x),
        ValueRef::Text(t) => Cell::Text(
            std::str::from_utf8(t)
                .map_err(|e| storage_err(format!("sqlite: text that is not UTF-8: {e}")))?
                .to_string(),
        ),
        ValueRef::Blob(_) => {
            return Err(storage_err(
                "sqlite: a BLOB where text or a number was expected",
            ));
        }
    })
}

fn query(conn: &Connection, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>> {
    let mut stmt = conn.prepare_cached(&render(sql, SYNTAX))?;
    let n = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(Row((0..n)
            .map(|i| cell(r.get_ref(i)?))
            .collect::<Result<_>>()?));
    }
    Ok(out)
}

fn execute(conn: &Connection, sql: &str, args: &[Arg<'_>]) -> Result<()> {
    conn.prepare_cached(&render(sql, SYNTAX))?
        .execute(rusqlite::params_from_iter(args))?;
    Ok(())
}

fn insert(conn: &Connection, sql: &str, args: &[Arg<'_>]) -> Result<i64> {
    execute(conn, sql, args)?;
    Ok(conn.last_insert_rowid())
}

impl Sql for Sqlite {
    fn query(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>> {
        query(&self.0, sql, args)
    }
    fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<()> {
        execute(&self.0, sql, args)
    }
    fn insert(&mut self, sql: &str, args: &[Arg<'_>], _key: &str) -> Result<i64> {
        insert(&self.0, sql, args)
    }
}

impl Sql for Transaction<'_> {
    fn query(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>> {
        query(self, sql, args)
    }
    fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<()> {
        execute(self, sql, args)
    }
    fn insert(&mut self, sql: &str, args: &[Arg<'_>], _key: &str) -> Result<i64> {
        insert(self, sql, args)
    }
}

impl Dialect for Sqlite {
    type Tx<'a> = Transaction<'a>;
    const ROW_LOCKS: bool = false;

    fn transaction(&mut self, write: bool) -> Result<Transaction<'_>> {
        let behavior = if write {
            TransactionBehavior::Immediate
        } else {
            TransactionBehavior::Deferred
        };
        Ok(self.0.transaction_with_behavior(behavior)?)
    }

    fn commit(tx: Transaction<'_>) -> Result<()> {
        Ok(tx.commit()?)
    }

    fn lock_study_names(_tx: &mut Transaction<'_>) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Direction, Storage, TrialState};

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

    #[test]
    fn every_method_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("sub/s.db");
        let mut s = SqliteStorage::open(&p).unwrap();
        super::super::rdb::tests::round_trip(&mut s, || SqliteStorage::open(&p).unwrap());
        // The rows as Optuna keeps them: non-finite values as NULL and their type.
        let conn = Connection::open(&p).unwrap();
        let rows: Vec<(i64, Option<f64>, String)> = conn
            .prepare("SELECT objective, value, value_type FROM trial_values ORDER BY objective")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            rows,
            [(0, Some(2.5), "FINITE".into()), (1, None, "INF_NEG".into())]
        );
        let (start, end): (String, String) = conn
            .query_row(
                "SELECT datetime_start, datetime_complete FROM trials WHERE number=0",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        for t in [start, end] {
            assert!(
                chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S%.6f").is_ok(),
                "{t}"
            );
            assert_eq!(t.len(), 26, "{t}");
        }
    }
}
