//! `strider serve`: a deployment bundle behind HTTP (tokio + axum).
//!
//! - `POST /predict` scores the latest bar of each instrument in the request, as
//!   `strider predict` does, with the header `X-Strider-Model-Version`.
//! - `GET /health` is 200 once a model is loaded, 503 before.
//! - `GET /metrics` is Prometheus text: requests, errors, latency, the loaded version, swaps and
//!   failed loads.
//!
//! With a registry reference the server polls it; a new version is loaded and checked off the
//! request path, then swapped in by replacing one `Arc`, so requests in flight finish on the
//! model they started with and none fails. A bundle that fails to load or check leaves the old
//! model serving. SIGTERM (or Ctrl-C) stops accepting, finishes in-flight requests, exits 0.
//!
//! Architecture invariant: no clap and no terminal output but the JSON log lines on stderr;
//! scoring is `strider-core`'s `Bundle::score`, so the server answers exactly what
//! `strider predict` prints.

mod bars;
mod error;
mod log;
mod metrics;
mod monitor;
mod monitor_metrics;
mod poll;
mod routes;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use error::{Error, Result};
pub use monitor::MonitorServer;
use strider_app::deploy::ModelRef;

/// What to serve and where.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub model: ModelRef,
    /// Registry location for `models:/` references.
    pub tracking_uri: Option<String>,
    pub host: String,
    /// 0 picks a free port (the `listening` log line says which).
    pub port: u16,
    /// How often a registry reference is polled.
    pub poll: Duration,
    /// Threads answering requests (`None`: one per CPU).
    pub workers: Option<usize>,
}

/// Serves until SIGTERM or Ctrl-C, then finishes in-flight requests and returns.
pub fn serve_blocking(opts: ServeOptions) -> Result<()> {
    let io = |context: &str| {
        let context = context.to_string();
        move |source| Error::Io { context, source }
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = opts.workers {
        builder.worker_threads(n.max(1));
    }
    let runtime = builder
        .enable_all()
        .build()
        .map_err(io("starting the async runtime"))?;
    let served = runtime.block_on(async {
        // The signal handlers exist before the port is bound: a SIGTERM right after
        // `listening` is a clean stop, never the default kill.
        let shutdown = shutdown_signal().map_err(io("installing the SIGTERM handler"))?;
        serve(opts, shutdown).await
    });
    // A download or model load still running in the blocking pool does not hold up the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    served
}

/// Serves until `shutdown` completes.
pub async fn serve(
    opts: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind((opts.host.as_str(), opts.port))
        .await
        .map_err(|e| Error::Io {
            context: format!("binding {}:{}", opts.host, opts.port),
            source: e,
        })?;
    let address: SocketAddr = listener.local_addr().map_err(|e| Error::Io {
        context: "reading the bound address".into(),
        source: e,
    })?;
    let state = Arc::new(state::State::new(opts, address));
    log::event(
        "listening",
        serde_json::json!({"address": address.to_string()}),
    );
    let poller = tokio::spawn(poll::poll_loop(state.clone()));
    let app = routes::router(state.clone());
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    poller.abort();
    log::event(
        "stopped",
        serde_json::json!({"address": address.to_string()}),
    );
    served.map_err(|e| Error::Io {
        context: "serving".into(),
        source: e,
    })
}

/// SIGTERM or Ctrl-C (SIGINT), with the handlers installed now.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let (mut term, mut int) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        )
    };
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        log::event("shutdown", serde_json::json!({"reason": "signal"}));
    })
}
