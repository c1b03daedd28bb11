//! The service's state in PostgreSQL, shared by several `strider watch` processes on one or many
//! machines. One leads: it holds a lease (`strider_watch_lease`: holder, epoch, expiry on the
//! database's clock), renewed by a heartbeat thread; the others stand by and take the lease
//! once it has expired, with the next epoch. Every step commits its events and the state in one
//! transaction that first locks the lease row and checks holder, epoch and expiry, so a leader
//! that lost its lease (killed, paused, cut off) cannot commit: a step is committed exactly once,
//! and its events are neither lost nor written twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::{Client, NoTls};
use serde_json::Value;

use super::state::WatchState;
use crate::{Error, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS strider_watch_state (
    name TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS strider_watch_events (
    name TEXT NOT NULL, seq BIGINT NOT NULL, event TEXT NOT NULL, PRIMARY KEY (name, seq));
CREATE TABLE IF NOT EXISTS strider_watch_lease (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL);
CREATE TABLE IF NOT EXISTS strider_watch_requests (
    id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now());
";

fn db(e: postgres::Error) -> Error {
    Error::Input(format!("PostgreSQL: {e}"))
}

/// A connection with timeouts: connecting, each statement, a transaction left idle (a leader
/// frozen inside its commit holds the lease row no longer than that), and a peer that went
/// silent. `schema`: make the tables (the service does; `monitor` and `retrain` only read or
/// queue, and may use a role that cannot create).
pub fn connect(url: &str, schema: bool) -> Result<Client> {
    let mut config: postgres::Config = url
        .parse()
        .map_err(|e| Error::Input(format!("--state {}: {e}", redact(url))))?;
    config
        .connect_timeout(Duration::from_secs(5))
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(5))
        .keepalives_interval(Duration::from_secs(2))
        .keepalives_retries(3)
        .tcp_user_timeout(Duration::from_secs(15))
        .options(
            "-c statement_timeout=15000 -c lock_timeout=10000 \
             -c idle_in_transaction_session_timeout=10000",
        );
    let mut client = config
        .connect(NoTls)
        .map_err(|e| Error::Input(format!("connecting to {}: {e}", redact(url))))?;
    if !schema {
        return Ok(client);
    }
    // Concurrent first starts: the schema is made under a transaction-scoped advisory lock.
    let mut tx = client.transaction().map_err(db)?;
    tx.execute("SELECT pg_advisory_xact_lock(7373420021)", &[])
        .map_err(db)?;
    tx.batch_execute(SCHEMA).map_err(db)?;
    tx.commit().map_err(db)?;
    Ok(client)
}

/// The URL without its password (in the authority or as a `password=` parameter), for messages.
pub fn redact(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let base = match (base.find("://"), base.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &base[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &base[..s + 3], &base[at..])
        }
        _ => base.to_string(),
    };
    if query.is_empty() {
        return base;
    }
    let query: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

/// The one watch kept in the database at `url` (an error naming them when there are several).
pub fn only_watch(url: &str) -> Result<String> {
    let mut client = connect(url, false)?;
    let names: Vec<String> = client
        .query("SELECT name FROM strider_watch_state ORDER BY name", &[])
        .map_err(db)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    match names.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::Input(format!(
            "{}: no watch state here",
            redact(url)
        ))),
        many => Err(Error::Input(format!(
            "{}: several watches ({}); pick one with --name",
            redact(url),
            many.join(", ")
        ))),
    }
}

/// The lease as this process holds it.
#[derive(Debug, Clone)]
pub struct LeaseSpec {
    pub holder: String,
    /// How long a lease lasts unless renewed; a standby takes over at most this long after the
    /// leader's last renewal.
    pub ttl: Duration,
}

pub struct PgStore {
    url: String,
    name: String,
    client: Client,
    lease: LeaseSpec,
    epoch: Option<i64>,
    heartbeat: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
    /// Set by the heartbeat when a renewal found the lease gone.
    lost: Arc<AtomicBool>,
}

impl PgStore {
    /// The store of the watch `name`; `schema`: make the tables if they are missing.
    pub fn open(url: &str, name: &str, lease: LeaseSpec, schema: bool) -> Result<Self> {
        Ok(Self {
            url: url.to_string(),
            name: name.to_string(),
            client: connect(url, schema)?,
            lease,
            epoch: None,
            heartbeat: None,
            lost: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn describe(&self) -> String {
        format!("{} (watch `{}`)", redact(&self.url), self.name)
    }

    /// Takes the lease if it is free or expired (or already ours); the epoch when it is ours.
    pub fn try_acquire(&mut self) -> Result<Option<i64>> {
        let row = self
            .client
            .query_opt(
                "INSERT INTO strider_watch_lease (name, holder, epoch, expires_at)
                 VALUES ($1, $2, 1, now() + make_interval(secs => $3))
                 ON CONFLICT (name) DO UPDATE
                   SET holder = $2, epoch = strider_watch_lease.epoch + 1,
                       expires_at = now() + make_interval(secs => $3)
                   WHERE strider_watch_lease.expires_at < now()
                      OR strider_watch_lease.holder = $2
                 RETURNING epoch",
                &[
                    &self.name,
                    &self.lease.holder,
                    &self.lease.ttl.as_secs_f64(),
                ],
            )
            .map_err(db)?;
        self.epoch = row.map(|r| r.get(0));
        if let Some(epoch) = self.epoch {
            self.lost.store(false, Ordering::SeqCst);
            self.start_heartbeat(epoch)?;
        }
        Ok(self.epoch)
    }

    /// Renews the lease every third of its life on a connection of its own.
    fn start_heartbeat(&mut self, epoch: i64) -> Result<()> {
        self.stop_heartbeat();
        let url = self.url.clone();
        let mut client = connect(&url, false)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (name, lease, lost, halt) = (
            self.name.clone(),
            self.lease.clone(),
            self.lost.clone(),
            stop.clone(),
        );
        let thread = std::thread::spawn(move || {
            let tick = Duration::from_millis(100);
            let every = lease.ttl / 3;
            let mut renewed = std::time::Instant::now();
            let mut since = Duration::ZERO;
            while !halt.load(Ordering::SeqCst) {
                std::thread::sleep(tick);
                since += tick;
                if since < every {
                    continue;
                }
                since = Duration::ZERO;
                match renew(&mut client, &name, &lease, epoch) {
                    Ok(true) => renewed = std::time::Instant::now(),
                    Ok(false) => {
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    // Not renewed: once the lease has run out it is lost; until then a new
                    // connection is tried.
                    Err(_) if renewed.elapsed() >= lease.ttl => {
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    Err(_) => {
                        if let Ok(c) = connect(&url, false) {
                            client = c;
                        }
                    }
                }
            }
        });
        self.heartbeat = Some((stop, thread));
        Ok(())
    }

    fn stop_heartbeat(&mut self) {
        if let Some((stop, thread)) = self.heartbeat.take() {
            stop.store(true, Ordering::SeqCst);
            let _ = thread.join();
        }
    }

    /// Whether this process still holds the lease as far as the heartbeat knows.
    pub fn leading(&self) -> bool {
        self.epoch.is_some() && !self.lost.load(Ordering::SeqCst)
    }

    /// Hands the lease back (a clean stop), so a standby takes over at once.
    pub fn release(&mut self) {
        self.stop_heartbeat();
        if let Some(epoch) = self.epoch.take() {
            self.release_epoch(epoch);
        }
    }

    /// Hands back the lease of `epoch` if this holder still has it.
    pub fn release_epoch(&mut self, epoch: i64) {
        {
            // Expired rather than deleted: the next leader's epoch is still a new one.
            let _ = self.client.execute(
                "UPDATE strider_watch_lease SET expires_at = now() - interval '1 second'
                 WHERE name = $1 AND holder = $2 AND epoch = $3",
                &[&self.name, &self.lease.holder, &epoch],
            );
        }
    }

    pub fn load_or_new(&mut self, config_sha256: &str) -> Result<WatchState> {
        let mut fresh = WatchState::new(config_sha256.to_string());
        let seed = format!(
            "{}|{}|{:?}",
            self.name,
            self.lease.holder,
            std::time::SystemTime::now()
        );
        fresh.instance = strider_core::bundle::sha256_hex(seed.as_bytes())[..12].to_string();
        // The first process to get here makes the state; every later one reads it.
        self.client
            .execute(
                "INSERT INTO strider_watch_state (name, state) VALUES ($1, $2)
                 ON CONFLICT (name) DO NOTHING",
                &[&self.name, &serde_json::to_string(&fresh)?],
            )
            .map_err(db)?;
        let row = self
            .client
            .query_one(
                "SELECT state FROM strider_watch_state WHERE name = $1",
                &[&self.name],
            )
            .map_err(db)?;
        let text: String = row.get(0);
        let state: WatchState = serde_json::from_str(&text).map_err(|e| {
            Error::Input(format!(
                "{}: not a strider watch state: {e}",
                self.describe()
            ))
        })?;
        if state.config_sha256 != config_sha256 {
            return Err(Error::Input(format!(
                "{}: made with another config (sha256 {}); use another registered name or database",
                self.describe(),
                state.config_sha256
            )));
        }
        Ok(state)
    }

    /// The step, fenced by the lease: nothing is written unless this process still holds it.
    pub fn commit(&mut self, state: &mut WatchState, events: &[Value]) -> Result<()> {
        let Some(epoch) = self.epoch else {
            return Err(Error::LostLease("not leading".into()));
        };
        let mut tx = self.client.transaction().map_err(db)?;
        let row = tx
            .query_opt(
                "SELECT holder, epoch, expires_at > now() FROM strider_watch_lease
                 WHERE name = $1 FOR UPDATE",
                &[&self.name],
            )
            .map_err(db)?;
        let ours = row.is_some_and(|r| {
            r.get::<_, String>(0) == self.lease.holder && r.get::<_, i64>(1) == epoch && r.get(2)
        });
        if !ours {
            drop(tx);
            self.lost.store(true, Ordering::SeqCst);
            return Err(Error::LostLease(format!("epoch {epoch} is over")));
        }
        let first = state.events_len as i64;
        for (i, e) in events.iter().enumerate() {
            tx.execute(
                "INSERT INTO strider_watch_events (name, seq, event) VALUES ($1, $2, $3)",
                &[&self.name, &(first + i as i64), &e.to_string()],
            )
            .map_err(db)?;
        }
        let mut next = state.clone();
        next.events_len = (first + events.len() as i64) as u64;
        tx.execute(
            "UPDATE strider_watch_state SET state = $2 WHERE name = $1",
            &[&self.name, &serde_json::to_string(&next)?],
        )
        .map_err(db)?;
        tx.execute(
            "UPDATE strider_watch_lease SET expires_at = now() + make_interval(secs => $2)
             WHERE name = $1",
            &[&self.name, &self.lease.ttl.as_secs_f64()],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        state.events_len = next.events_len;
        Ok(())
    }

    /// Every committed event, in order.
    pub fn committed_events(&mut self) -> Result<Vec<Value>> {
        let rows = self
            .client
            .query(
                "SELECT event FROM strider_watch_events WHERE name = $1 ORDER BY seq",
                &[&self.name],
            )
            .map_err(db)?;
        Ok(rows
            .iter()
            .filter_map(|r| serde_json::from_str(&r.get::<_, String>(0)).ok())
            .collect())
    }

    /// Manual requests: (name, where, body), oldest first.
    pub fn requests(&mut self) -> Result<Vec<(String, String, String)>> {
        let rows = self
            .client
            .query(
                "SELECT id, body FROM strider_watch_requests WHERE name = $1 ORDER BY id",
                &[&self.name],
            )
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| {
                let id: i64 = r.get(0);
                (format!("pg-{id}"), format!("request {id}"), r.get(1))
            })
            .collect())
    }

    pub fn add_request(&mut self, body: &str) -> Result<i64> {
        let row = self
            .client
            .query_one(
                "INSERT INTO strider_watch_requests (name, body) VALUES ($1, $2) RETURNING id",
                &[&self.name, &body],
            )
            .map_err(db)?;
        Ok(row.get(0))
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.stop_heartbeat();
    }
}

fn renew(client: &mut Client, name: &str, lease: &LeaseSpec, epoch: i64) -> Result<bool> {
    let n = client
        .execute(
            "UPDATE strider_watch_lease SET expires_at = now() + make_interval(secs => $4)
             WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > now()",
            &[&name, &lease.holder, &epoch, &lease.ttl.as_secs_f64()],
        )
        .map_err(db)?;
    Ok(n == 1)
}
