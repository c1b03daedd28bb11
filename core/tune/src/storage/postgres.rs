//! Optuna's RDB schema on PostgreSQL (`postgresql://USER:PASSWORD@HOST:PORT/DB`), for workers on
//! many machines. The schema is the one Optuna creates (native enum types included), so Optuna
//! workers and optuna-dashboard share our studies, whichever side created them. Trial numbers
//! are assigned under a row lock on the study, so concurrent workers never duplicate one. The
//! storage itself is `RdbStorage`; this file connects and runs its statements.

use postgres::types::{ToSql, Type};
use postgres::{Client, GenericClient, NoTls, Transaction};

use super::rdb::{Arg, Cell, Dialect, RdbStorage, Row, Sql, Syntax, render};
use crate::error::{Error, Result};

const SCHEMA: &str = include_str!("optuna_schema_pg.sql");

/// `$1`, `$2`…; casts to Optuna's enum types and `timestamp`.
const SYNTAX: Syntax = Syntax {
    placeholder: '$',
    casts: true,
};

/// A PostgreSQL connection, as the `Dialect` of [`PostgresStorage`].
pub struct Postgres(Client);

pub type PostgresStorage = RdbStorage<Postgres>;

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
        Ok(RdbStorage::new(Postgres(client)))
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

/// An [`Arg`] as the driver binds it: Optuna's integer columns are `integer` (int4).
enum Bound<'a> {
    Int(i32),
    Real(Option<f64>),
    Text(&'a str),
}

impl Bound<'_> {
    fn sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Bound::Int(v) => v,
            Bound::Real(v) => v,
            Bound::Text(s) => s,
        }
    }
}

fn cell(r: &postgres::Row, i: usize) -> Result<Cell> {
    let ty = r.columns()[i].type_();
    let cell = if *ty == Type::INT2 {
        r.try_get::<_, Option<i16>>(i)?.map(|v| Cell::Int(v.into()))
    } else if *ty == Type::INT4 {
        r.try_get::<_, Option<i32>>(i)?.map(|v| Cell::Int(v.into()))
    } else if *ty == Type::INT8 {
        r.try_get::<_, Option<i64>>(i)?.map(Cell::Int)
    } else if *ty == Type::FLOAT4 {
        r.try_get::<_, Option<f32>>(i)?
            .map(|v| Cell::Real(v.into()))
    } else if *ty == Type::FLOAT8 {
        r.try_get::<_, Option<f64>>(i)?.map(Cell::Real)
    } else if *ty == Type::BOOL {
        r.try_get::<_, Option<bool>>(i)?
            .map(|v| Cell::Int(v.into()))
    } else {
        r.try_get::<_, Option<String>>(i)?.map(Cell::Text)
    };
    Ok(cell.unwrap_or(Cell::Null))
}

fn bind<'a>(args: &[Arg<'a>]) -> Vec<Bound<'a>> {
    args.iter()
        .map(|a| match *a {
            Arg::Int(v) => Bound::Int(v as i32),
            Arg::Real(v) => Bound::Real(v),
            Arg::Text(s) => Bound::Text(s),
        })
        .collect()
}

fn query<C: GenericClient>(c: &mut C, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>> {
    let bound = bind(args);
    let params: Vec<_> = bound.iter().map(Bound::sql).collect();
    c.query(&render(sql, SYNTAX), &params)?
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| cell(r, i))
                .collect::<Result<_>>()
                .map(Row)
        })
        .collect()
}

fn execute<C: GenericClient>(c: &mut C, sql: &str, args: &[Arg<'_>]) -> Result<()> {
    let bound = bind(args);
    let params: Vec<_> = bound.iter().map(Bound::sql).collect();
    c.execute(&render(sql, SYNTAX), &params)?;
    Ok(())
}

fn insert<C: GenericClient>(c: &mut C, sql: &str, args: &[Arg<'_>], key: &str) -> Result<i64> {
    query(c, &format!("{sql} RETURNING {key}"), args)?
        .first()
        .ok_or_else(|| Error::storage(format!("no row returned by `{sql}`")))?
        .int(0)
}

impl Sql for Postgres {
    fn query(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>> {
        query(&mut self.0, sql, args)
    }
    fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<()> {
        execute(&mut self.0, sql, args)
    }
    fn insert(&mut self, sql: &str, args: &[Arg<'_>], key: &str) -> Result<i64> {
        insert(&mut self.0, sql, args, key)
    }
}

impl Sql for Transaction<'_> {
    fn query(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>> {
        query(self, sql, args)
    }
    fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<()> {
        execute(self, sql, args)
    }
    fn insert(&mut self, sql: &str, args: &[Arg<'_>], key: &str) -> Result<i64> {
        insert(self, sql, args, key)
    }
}

impl Dialect for Postgres {
    type Tx<'a> = Transaction<'a>;
    const ROW_LOCKS: bool = true;

    fn transaction(&mut self, _write: bool) -> Result<Transaction<'_>> {
        Ok(self.0.transaction()?)
    }

    fn commit(tx: Transaction<'_>) -> Result<()> {
        Ok(tx.commit()?)
    }

    fn lock_study_names(tx: &mut Transaction<'_>) -> Result<()> {
        tx.execute("SELECT pg_advisory_xact_lock(7216062)", &[])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_the_password() {
        assert_eq!(
            redact("postgresql://u:secret@h:5432/db"),
            "postgresql://u:***@h:5432/db"
        );
        assert_eq!(redact("postgresql://h/db"), "postgresql://h/db");
    }

    /// Needs a server: STRIDER_POSTGRES_URL, a role that may create databases (e.g.
    /// `postgresql://strider:strider@127.0.0.1:5432/postgres`); without it, nothing is checked.
    #[test]
    fn every_method_round_trips() {
        let Ok(admin) = std::env::var("STRIDER_POSTGRES_URL") else {
            eprintln!("skipped: STRIDER_POSTGRES_URL is not set");
            return;
        };
        let name = format!("strider_unit_{}", std::process::id());
        let mut server = Client::connect(&admin, NoTls).unwrap();
        server
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .unwrap();
        server
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let (base, _) = admin.rsplit_once('/').unwrap();
        let url = format!("{base}/{name}");
        {
            let mut s = PostgresStorage::open(&url).unwrap();
            super::super::rdb::tests::round_trip(&mut s, || PostgresStorage::open(&url).unwrap());
            // The rows as Optuna keeps them: non-finite values as NULL and their enum type.
            let mut c = Client::connect(&url, NoTls).unwrap();
            let rows: Vec<(i32, Option<f64>, String)> = c
                .query(
                    "SELECT objective, value, value_type::text FROM trial_values ORDER BY objective",
                    &[],
                )
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            assert_eq!(
                rows,
                [(0, Some(2.5), "FINITE".into()), (1, None, "INF_NEG".into())]
            );
            let r = c
                .query_one(
                    "SELECT state::text, datetime_complete IS NOT NULL FROM trials WHERE number=0",
                    &[],
                )
                .unwrap();
            assert_eq!(
                (r.get::<_, &str>(0), r.get::<_, bool>(1)),
                ("COMPLETE", true)
            );
        }
        server
            .batch_execute(&format!("DROP DATABASE {name}"))
            .unwrap();
    }
}
