//! `strider watch --listen`: the retraining service's monitoring endpoints, served beside the
//! watch loop on a small runtime of their own.
//!
//! - `GET /status`: JSON, the fold of the event log (`MonitorStatus`) plus process facts.
//! - `GET /metrics`: Prometheus text: bars, cycles, errors, triggers, promotions, rejections,
//!   rollbacks, the serving version, live Sharpe / hit rate / IC / drawdown against the
//!   backtest Sharpe, drift statistics, the last trigger and an A/B trial's progress.
//! - `GET /events`: server-sent events. Every committed event (`id:` its index in the log, so a
//!   client reconnecting with `Last-Event-ID` or `?since=N` misses nothing), and, during a
//!   cycle, the training's progress (`event: progress`, not in the log).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State as Shared};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream::{self, Stream};
use serde_json::{Value, json};
use strider_app::watch::monitor::MonitorStatus;
use tokio::sync::broadcast;

use crate::{Error, Result, log};

/// One message on the event stream.
#[derive(Clone, Debug)]
enum Message {
    /// A committed event and its index in the log.
    Committed(u64, Arc<str>),
    Progress(Arc<str>),
}

struct Inner {
    status: MonitorStatus,
    /// With a shared state: `leading` or `standby` (a standby's figures are the log as it was
    /// when it last led or started).
    role: Option<String>,
    /// Every committed event, serialised, for clients that resume.
    log: Vec<Arc<str>>,
}

struct MonitorState {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Message>,
    started: Instant,
}

/// The running endpoints; dropping it stops them.
pub struct MonitorServer {
    state: Arc<MonitorState>,
    address: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl MonitorServer {
    /// Binds `host:port` (0: a free port) and serves `events` (the log so far) and whatever is
    /// reported later.
    pub fn start(host: &str, port: u16, events: &[Value]) -> Result<Self> {
        let io = |context: String| move |source| Error::Io { context, source };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("strider-monitor")
            .enable_all()
            .build()
            .map_err(io("starting the monitor's runtime".into()))?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind((host, port)))
            .map_err(io(format!("binding {host}:{port}")))?;
        let address = listener
            .local_addr()
            .map_err(io("reading the bound address".into()))?;
        let (tx, _) = broadcast::channel(4096);
        let state = Arc::new(MonitorState {
            inner: Mutex::new(Inner {
                status: MonitorStatus::from_events(events),
                role: None,
                log: events.iter().map(|e| Arc::from(e.to_string())).collect(),
            }),
            tx,
            started: Instant::now(),
        });
        let app = router(state.clone());
        runtime.spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                log::event("monitor_stopped", json!({"error": e.to_string()}));
            }
        });
        log::event(
            "listening",
            json!({"address": address.to_string(), "service": "watch"}),
        );
        Ok(Self {
            state,
            address,
            _runtime: runtime,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A committed event: folded into the status and sent to every client.
    pub fn event(&self, event: &Value) {
        let line: Arc<str> = Arc::from(event.to_string());
        let id = {
            let mut inner = lock(&self.state.inner);
            inner.status.apply(event);
            inner.log.push(line.clone());
            inner.log.len() as u64 - 1
        };
        // No subscriber is not an error.
        let _ = self.state.tx.send(Message::Committed(id, line));
    }

    /// The whole committed log again (a process that takes the lead of a shared state catches
    /// up with what the others committed); ids stay the log's indices.
    pub fn reset(&self, events: &[Value]) {
        let mut inner = lock(&self.state.inner);
        inner.status = MonitorStatus::from_events(events);
        inner.log = events.iter().map(|e| Arc::from(e.to_string())).collect();
    }

    /// This process's role on a shared state.
    pub fn set_role(&self, role: &str) {
        lock(&self.state.inner).role = Some(role.to_string());
    }

    /// Training progress during a cycle (not in the log).
    pub fn progress(&self, progress: &Value) {
        lock(&self.state.inner).status.progress();
        let _ = self
            .state
            .tx
            .send(Message::Progress(Arc::from(progress.to_string())));
    }
}

/// The lock, even after a panic elsewhere poisoned it (the status is plain data).
fn lock(m: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn router(state: Arc<MonitorState>) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/events", get(events))
        .route(
            "/health",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .with_state(state)
}

async fn status(Shared(state): Shared<Arc<MonitorState>>) -> Response {
    let (mut v, role) = {
        let inner = lock(&state.inner);
        let v = serde_json::to_value(&inner.status).unwrap_or(Value::Null);
        (v, inner.role.clone())
    };
    if let Value::Object(m) = &mut v {
        m.insert("role".into(), role.map_or(Value::Null, Value::from));
        m.insert("pid".into(), std::process::id().into());
        m.insert(
            "uptime_seconds".into(),
            state.started.elapsed().as_secs_f64().into(),
        );
    }
    axum::Json(v).into_response()
}

async fn metrics(Shared(state): Shared<Arc<MonitorState>>) -> Response {
    let text = {
        let inner = lock(&state.inner);
        super::monitor_metrics::render(&inner.status, state.started.elapsed())
    };
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct Since {
    since: Option<u64>,
}

/// The stream: the log from `since` (or after `Last-Event-ID`), then everything new.
async fn events(
    Shared(state): Shared<Arc<MonitorState>>,
    Query(q): Query<Since>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = std::result::Result<Event, Infallible>>> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .and_then(|id| id.checked_add(1));
    // Subscribed before the backlog is copied, so nothing falls between the two.
    let rx = state.tx.subscribe();
    let (backlog, next) = {
        let inner = lock(&state.inner);
        let from = resume.or(q.since).unwrap_or(inner.log.len() as u64);
        let from = from.min(inner.log.len() as u64);
        let backlog: Vec<Message> = inner.log[from as usize..]
            .iter()
            .enumerate()
            .map(|(i, l)| Message::Committed(from + i as u64, l.clone()))
            .collect();
        (backlog, inner.log.len() as u64)
    };
    let backlog = stream::iter(backlog.into_iter().map(|m| Ok(sse(&m))));
    let live = stream::unfold((rx, next), |(mut rx, next)| async move {
        loop {
            match rx.recv().await {
                // Already sent from the backlog.
                Ok(Message::Committed(id, _)) if id < next => continue,
                Ok(m) => return Some((Ok(sse(&m)), (rx, next))),
                // A slow client: it reconnects with Last-Event-ID and resumes from the log.
                Err(broadcast::error::RecvError::Lagged(_)) => return None,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    use futures_util::StreamExt;
    Sse::new(backlog.chain(live)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn sse(m: &Message) -> Event {
    match m {
        Message::Committed(id, line) => Event::default()
            .id(id.to_string())
            .event("event")
            .data(line.as_ref()),
        Message::Progress(line) => Event::default().event("progress").data(line.as_ref()),
    }
}
