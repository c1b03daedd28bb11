//! The HTTP routes.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State as Shared};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use strider_core::bundle::{PredictOutput, Selection};

use crate::bars::{instruments, parse};
use crate::metrics::RequestLabels;
use crate::state::{Loaded, State};

/// Bodies carry each instrument's history; 64 MiB is decades of daily bars for hundreds of them.
const MAX_BODY_BYTES: usize = 64 << 20;
/// Bodies up to this size are scored on the async worker itself.
const INLINE_BODY_BYTES: usize = 1 << 20;

pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/predict", post(predict))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

fn count(state: &State, route: &str, status: StatusCode) {
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            route: route.into(),
            status: status.as_u16(),
        })
        .inc();
    if !status.is_success() {
        state.metrics.errors.inc();
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": message.into()}))).into_response()
}

async fn predict(Shared(state): Shared<Arc<State>>, body: Bytes) -> Response {
    let start = Instant::now();
    let response = match state.current() {
        None => error(StatusCode::SERVICE_UNAVAILABLE, "no model is loaded yet"),
        // A usual request (days of bars for a few instruments) is well under a millisecond of
        // CPU and is scored on the async worker; a large body goes to the blocking pool so it
        // cannot hold up the others.
        Some(model) if body.len() <= INLINE_BODY_BYTES => respond(Ok(score(&model, &body))),
        Some(model) => {
            let scored = tokio::task::spawn_blocking(move || score(&model, &body)).await;
            respond(scored.map_err(|e| e.to_string()))
        }
    };
    state.metrics.latency.observe(start.elapsed().as_secs_f64());
    count(&state, "/predict", response.status());
    response
}

/// The response to a scoring result (the outer `Err`: the scoring task itself failed).
fn respond(scored: Result<Result<(PredictOutput, String), String>, String>) -> Response {
    match scored {
        Ok(Ok((out, version))) => {
            let mut r = axum::Json(out).into_response();
            if let Ok(v) = HeaderValue::from_str(&version) {
                r.headers_mut().insert("x-strider-model-version", v);
            }
            r
        }
        Ok(Err(message)) => error(StatusCode::BAD_REQUEST, message),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("scoring failed: {e}"),
        ),
    }
}

/// The answer for one request, on the model the request started with. A panic while scoring
/// (a bug, or a bundle that passed every check and still misbehaves) answers this request with
/// an error instead of dropping the connection.
fn score(model: &Loaded, body: &[u8]) -> Result<(PredictOutput, String), String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        score_unguarded(model, body)
    }))
    .unwrap_or_else(|_| Err("internal error while scoring (see the server log)".into()))
}

fn score_unguarded(model: &Loaded, body: &[u8]) -> Result<(PredictOutput, String), String> {
    let instruments = instruments(&parse(body)?)?;
    let out = model
        .bundle
        .predict(&instruments, Selection::Latest, model.version)
        .map_err(|e| e.to_string())?;
    Ok((out, model.version_header()))
}

async fn health(Shared(state): Shared<Arc<State>>) -> Response {
    let response = match state.current() {
        Some(m) => axum::Json(json!({
            "status": "ok",
            "model": m.bundle.name(),
            "version": m.version,
            "bundle_sha256": m.bundle.sha256,
        }))
        .into_response(),
        None => error(StatusCode::SERVICE_UNAVAILABLE, "no model is loaded yet"),
    };
    count(&state, "/health", response.status());
    response
}

async fn metrics(Shared(state): Shared<Arc<State>>) -> Response {
    count(&state, "/metrics", StatusCode::OK);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
