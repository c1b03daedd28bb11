//! Leading or standing by on a PostgreSQL state: try the lease; holding it, open the service
//! on the committed state and run it; having lost it (or the database), stand by again. Role
//! changes go to the request's progress sink as `{"role": "leading" | "standby", ...}`.

use std::time::Duration;

use serde_json::{Value, json};

use super::pg::PgStore;
use super::store::Store;
use super::{PgOptions, WatchRequest, WatchSummary, Watcher, registered_name};
use crate::Result;
use crate::run::ConfigSource;

fn role(req: &WatchRequest, event: &str, mut fields: Value) {
    if let Value::Object(m) = &mut fields {
        m.insert("role".into(), event.into());
        m.insert("time".into(), chrono::Utc::now().to_rfc3339().into());
        m.insert("pid".into(), std::process::id().into());
    }
    req.progress.emit(&fields);
}

/// Runs as leader whenever this process holds the lease, until the replay is done (or, live,
/// until `idle_polls` idle polls while leading).
pub(super) fn lead_or_stand_by(
    req: &WatchRequest,
    pg: &PgOptions,
    on_event: &mut dyn FnMut(&Value),
) -> Result<WatchSummary> {
    let source = ConfigSource::load(Some(&req.config))?;
    let name = registered_name(&source.config()?)?;
    // A config the shared state was not made with is refused at once, not retried.
    let sha = strider_core::bundle::sha256_hex(source.text.as_bytes());
    PgStore::open(&pg.url, &name, pg.lease.clone(), true)?.load_or_new(&sha)?;
    // A standby looks often: a takeover waits for the lease to expire, not for the poll.
    let pause = req.poll.min(Duration::from_millis(500));
    let mut backoff = pause;
    let mut store: Option<PgStore> = None;
    let mut standing_by = false;
    loop {
        if super::stopping(req) {
            return Ok(WatchSummary {
                events: super::pg::redact(&pg.url),
                ..Default::default()
            });
        }
        let mut pg_store = match store.take() {
            Some(s) => s,
            None => match PgStore::open(&pg.url, &name, pg.lease.clone(), true) {
                Ok(s) => s,
                Err(e) => {
                    role(req, "standby", json!({"error": e.chain()}));
                    std::thread::sleep(pause);
                    continue;
                }
            },
        };
        match pg_store.try_acquire() {
            Ok(Some(epoch)) => {
                role(
                    req,
                    "leading",
                    json!({"epoch": epoch, "holder": pg.lease.holder}),
                );
                standing_by = false;
                match lead(req, pg_store, on_event) {
                    Ok(summary) => return Ok(summary),
                    // The lease or the database went away mid-run (or the state could not be
                    // read): nothing uncommitted counts; whoever leads next redoes the step.
                    Err(e) => {
                        if let Ok(mut s) = PgStore::open(&pg.url, &name, pg.lease.clone(), false) {
                            s.release_epoch(epoch);
                        }
                        role(req, "standby", json!({"epoch": epoch, "reason": e.chain()}));
                        // A failure that repeats is not retried in a tight loop.
                        super::sleep_unless_stopped(req, backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                        continue;
                    }
                }
            }
            Ok(None) => {
                if !standing_by {
                    role(req, "standby", json!({"holder": pg.lease.holder}));
                    standing_by = true;
                }
                store = Some(pg_store);
            }
            // The connection may be gone: a new one next time.
            Err(e) => role(req, "standby", json!({"error": e.chain()})),
        }
        super::sleep_unless_stopped(req, pause);
    }
}

/// Runs the service while leading; the summary once the replay is done (lease handed back).
fn lead(
    req: &WatchRequest,
    store: PgStore,
    on_event: &mut dyn FnMut(&Value),
) -> Result<WatchSummary> {
    let mut w = Watcher::open(req, Store::Postgres(Box::new(store)))?;
    w.run(req, on_event)?;
    let summary = w.summary();
    if let Store::Postgres(mut back) = w.into_store() {
        back.release();
    }
    Ok(summary)
}
