//! A client for MLflow's REST API (checked against MLflow 3.17): JSON bodies, retries with
//! exponential backoff on 408 / 429 / 5xx and on connection failures, Basic or Bearer auth from
//! `MLFLOW_TRACKING_USERNAME` / `_PASSWORD` / `_TOKEN`, and error bodies that may not be JSON.
//! Every request runs under [`REQUEST_TIMEOUT`] (connecting under [`CONNECT_TIMEOUT`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::{DatasetInput, Error, Metric, Result, RunStatus};

/// The deadline of one HTTP attempt: resolving aside, connecting, sending the body and reading
/// the whole response must finish within it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The cap on establishing the connection, within [`REQUEST_TIMEOUT`].
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How hard to try before giving up on a request: transient failures (no answer, 408, 429, 5xx)
/// are retried with exponential backoff.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Tries in all, the first included (5 by default).
    pub attempts: u32,
    /// The wait before the second try (200 ms by default); doubled after each try.
    pub first_delay: Duration,
    /// The longest wait between tries (5 s by default).
    pub max_delay: Duration,
    /// The most one call may take, every try and wait included (60 s by default): a server that
    /// accepts connections and never answers costs this much, not attempts x the request timeout.
    pub budget: Duration,
}

/// The process's default budget per call, in milliseconds (0: [`REQUEST_TIMEOUT`]).
static DEFAULT_BUDGET_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sets the budget of every call made with the default policy from now on: a service that must
/// go on (`strider watch`) gives up on a server that is down in seconds, records the failure and
/// tries again later, instead of waiting a minute per call.
pub fn set_default_budget(budget: Duration) {
    let ms = budget.as_millis().clamp(1, u64::MAX as u128) as u64;
    DEFAULT_BUDGET_MS.store(ms, std::sync::atomic::Ordering::Relaxed);
}

fn default_budget() -> Duration {
    match DEFAULT_BUDGET_MS.load(std::sync::atomic::Ordering::Relaxed) {
        0 => REQUEST_TIMEOUT,
        ms => Duration::from_millis(ms),
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            budget: default_budget(),
        }
    }
}

/// The most of a response body read (a hostile or broken server cannot exhaust memory).
pub const MAX_RESPONSE_BYTES: u64 = 256 << 20;

/// A failed call: the HTTP status and MLflow's `error_code`, if the server answered.
#[derive(Debug)]
pub struct RestError {
    pub status: Option<u16>,
    pub error_code: Option<String>,
    pub message: String,
}

impl std::fmt::Display for RestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.status, &self.error_code) {
            (Some(s), Some(c)) => write!(f, "HTTP {s} {c}: {}", self.message),
            (Some(s), None) => write!(f, "HTTP {s}: {}", self.message),
            _ => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for RestError {}

impl RestError {
    /// The server could not be reached, or answered with a transient error.
    pub fn is_unavailable(&self) -> bool {
        matches!(self.status, None | Some(408 | 429 | 500..=599))
    }
}

/// A client for one MLflow server (`http(s)://host:port`).
pub struct RestClient {
    base: String,
    agent: ureq::Agent,
    auth: Option<String>,
    pub retry: RetryPolicy,
}

/// JSON for a metric value: NaN and infinities travel as strings.
fn metric_value(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v.is_infinite() {
        json!(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(v)
    }
}

fn kv_list(m: &BTreeMap<String, String>) -> Vec<Value> {
    m.iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect()
}

impl RestClient {
    pub fn new(base: &str) -> Self {
        let auth = if let Ok(token) = std::env::var("MLFLOW_TRACKING_TOKEN") {
            Some(format!("Bearer {token}"))
        } else if let (Ok(u), Ok(p)) = (
            std::env::var("MLFLOW_TRACKING_USERNAME"),
            std::env::var("MLFLOW_TRACKING_PASSWORD"),
        ) {
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            ))
        } else {
            None
        };
        Self {
            base: base.trim_end_matches('/').to_string(),
            agent: ureq::AgentBuilder::new()
                .timeout(REQUEST_TIMEOUT)
                .timeout_connect(CONNECT_TIMEOUT)
                .build(),
            auth,
            retry: RetryPolicy::default(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The same client, giving each call at most `budget` (tries and waits included).
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.retry.budget = budget;
        self
    }

    fn once(
        &self,
        method: &str,
        url: &str,
        body: Option<&[u8]>,
        json_body: bool,
        timeout: Duration,
    ) -> Result<Vec<u8>, RestError> {
        let mut req = self.agent.request(method, url).timeout(timeout);
        if let Some(a) = &self.auth {
            req = req.set("Authorization", a);
        }
        if json_body {
            req = req.set("Content-Type", "application/json");
        }
        let res = match body {
            Some(b) => req.send_bytes(b),
            None => req.call(),
        };
        let read = |r: ureq::Response| -> Vec<u8> {
            let mut buf = Vec::new();
            let _ = std::io::Read::read_to_end(
                &mut std::io::Read::take(r.into_reader(), MAX_RESPONSE_BYTES),
                &mut buf,
            );
            buf
        };
        match res {
            Ok(r) => Ok(read(r)),
            Err(ureq::Error::Status(code, r)) => {
                let bytes = read(r);
                let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
                Err(RestError {
                    status: Some(code),
                    error_code: parsed
                        .as_ref()
                        .and_then(|v| v["error_code"].as_str())
                        .map(String::from),
                    message: parsed
                        .as_ref()
                        .and_then(|v| v["message"].as_str())
                        .map(String::from)
                        .unwrap_or_else(|| {
                            String::from_utf8_lossy(&bytes).chars().take(300).collect()
                        }),
                })
            }
            Err(e) => Err(RestError {
                status: None,
                error_code: None,
                message: format!("{url}: {e}"),
            }),
        }
    }

    /// One request with retries on transient failures.
    pub(crate) fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        json_body: bool,
    ) -> Result<Vec<u8>, RestError> {
        let url = format!("{}{path}", self.base);
        let deadline = Instant::now() + self.retry.budget;
        let mut delay = self.retry.first_delay;
        let mut attempt = 1;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let timeout = left.min(REQUEST_TIMEOUT).max(Duration::from_millis(1));
            match self.once(method, &url, body, json_body, timeout) {
                Err(e)
                    if e.is_unavailable()
                        && attempt < self.retry.attempts
                        && Instant::now() + delay < deadline =>
                {
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(self.retry.max_delay);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Call `/api/2.0/mlflow/{endpoint}` with an optional JSON body; an empty answer is `{}`.
    pub fn call(
        &self,
        method: &str,
        endpoint: &str,
        body: Option<Value>,
    ) -> Result<Value, RestError> {
        let path = format!("/api/2.0/mlflow/{endpoint}");
        let bytes = body.map(|b| b.to_string().into_bytes());
        let out = self.raw(method, &path, bytes.as_deref(), bytes.is_some())?;
        if out.is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_slice(&out).map_err(|e| RestError {
            status: None,
            error_code: None,
            message: format!("bad JSON from {endpoint}: {e}"),
        })
    }

    pub fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> Result<Value, RestError> {
        let q: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect();
        self.call("GET", &format!("{endpoint}?{}", q.join("&")), None)
    }

    pub fn post(&self, endpoint: &str, body: Value) -> Result<Value, RestError> {
        self.call("POST", endpoint, Some(body))
    }

    /// Whether `/health` answers with success (one try, no retries).
    pub fn health(&self) -> bool {
        self.check_health().is_ok()
    }

    /// `GET /health` once (within the call budget), with why it failed: unreachable, or the
    /// server's status and message.
    pub fn check_health(&self) -> Result<(), RestError> {
        let timeout = self.retry.budget.min(REQUEST_TIMEOUT);
        self.once(
            "GET",
            &format!("{}/health", self.base),
            None,
            false,
            timeout,
        )
        .map(|_| ())
    }

    /// The id of the experiment called `name`, created if it does not exist.
    pub fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        let by_name = |v: &Value| {
            field_str(
                &v["experiment"]["experiment_id"],
                "experiments/get-by-name",
                "experiment.experiment_id",
            )
        };
        match self.get("experiments/get-by-name", &[("experiment_name", name)]) {
            Ok(v) => return by_name(&v),
            Err(e) if e.status == Some(404) => {}
            Err(e) => return Err(e.into()),
        }
        match self.post("experiments/create", json!({"name": name})) {
            Ok(v) => field_str(&v["experiment_id"], "experiments/create", "experiment_id"),
            // Another client created it meanwhile.
            Err(e) if e.error_code.as_deref() == Some("RESOURCE_ALREADY_EXISTS") => {
                by_name(&self.get("experiments/get-by-name", &[("experiment_name", name)])?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Create a run; returns MLflow's `run` object (`info.run_id`, `info.artifact_uri`, ...).
    pub fn create_run(
        &self,
        exp: &str,
        name: &str,
        start: i64,
        tags: &BTreeMap<String, String>,
    ) -> Result<Value> {
        let v = self.post(
            "runs/create",
            json!({"experiment_id": exp, "run_name": name, "start_time": start, "tags": kv_list(tags),
                   "user_id": std::env::var("USER").unwrap_or_else(|_| "strider".into())}),
        )?;
        Ok(v["run"].clone())
    }

    /// Runs of an experiment carrying tag `key = value`.
    pub fn search_runs_by_tag(&self, exp: &str, key: &str, value: &str) -> Result<Vec<Value>> {
        let v = self.post(
            "runs/search",
            json!({"experiment_ids": [exp], "filter": format!("tags.`{key}` = '{}'", value.replace('\'', "\\'")),
                   "run_view_type": "ALL", "max_results": 10}),
        )?;
        Ok(v["runs"].as_array().cloned().unwrap_or_default())
    }

    /// Log in batches within MLflow's limits: <= 1000 entities, <= 100 params, <= 100 tags.
    pub fn log_batch(
        &self,
        run: &str,
        metrics: &[Metric],
        params: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<()> {
        let params: Vec<Value> = kv_list(params);
        let tags: Vec<Value> = kv_list(tags);
        for chunk in params.chunks(100) {
            self.post("runs/log-batch", json!({"run_id": run, "params": chunk}))?;
        }
        for chunk in tags.chunks(100) {
            self.post("runs/log-batch", json!({"run_id": run, "tags": chunk}))?;
        }
        for chunk in metrics.chunks(1000) {
            let m: Vec<Value> = chunk
                .iter()
                .map(|m| json!({"key": m.key, "value": metric_value(m.value), "timestamp": m.timestamp, "step": m.step}))
                .collect();
            self.post("runs/log-batch", json!({"run_id": run, "metrics": m}))?;
        }
        Ok(())
    }

    /// Log dataset inputs (nothing is sent for an empty list).
    pub fn log_inputs(&self, run: &str, inputs: &[DatasetInput]) -> Result<()> {
        if inputs.is_empty() {
            return Ok(());
        }
        let datasets: Vec<Value> = inputs
            .iter()
            .map(|d| json!({"tags": [{"key": "mlflow.data.context", "value": d.context}],
                            "dataset": {"name": d.name, "digest": d.digest, "source_type": d.source_type,
                                        "source": d.source, "profile": d.profile}}))
            .collect();
        self.post(
            "runs/log-inputs",
            json!({"run_id": run, "datasets": datasets}),
        )?;
        Ok(())
    }

    /// Set a run's status and, if given, its end time.
    pub fn update_run(&self, run: &str, status: RunStatus, end: Option<i64>) -> Result<()> {
        let mut body = json!({"run_id": run, "status": status.name()});
        if let Some(e) = end {
            body["end_time"] = json!(e);
        }
        self.post("runs/update", body)?;
        Ok(())
    }

    /// Upload one artifact through the server's artifact proxy. `artifact_uri` is the run's.
    pub fn upload_artifact(&self, artifact_uri: &str, rel: &str, bytes: &[u8]) -> Result<()> {
        let Some(root) = artifact_uri.strip_prefix("mlflow-artifacts:/") else {
            return Err(Error::ArtifactsNotServed {
                artifact_uri: artifact_uri.to_string(),
            });
        };
        let path = format!(
            "/api/2.0/mlflow-artifacts/artifacts/{}/{}",
            root.trim_start_matches('/'),
            rel
        );
        let path: String = path
            .split('/')
            .map(urlencode_segment)
            .collect::<Vec<_>>()
            .join("/");
        self.raw("PUT", &path, Some(bytes), false)
            .map_err(|source| Error::ArtifactUpload {
                path: rel.to_string(),
                source,
            })?;
        Ok(())
    }
}

/// The most one artifact folder download may bring (a model bundle is far smaller).
pub const MAX_ARTIFACT_DIR_BYTES: usize = 1 << 30;

impl RestClient {
    /// Where a model version's files are (`model-versions/get-download-uri`): a version made
    /// from a logged model has the source `models:/<model_id>`, which only the server resolves.
    pub fn model_version_download_uri(&self, name: &str, version: u64) -> Result<String> {
        let v = self.get(
            "model-versions/get-download-uri",
            &[("name", name), ("version", &version.to_string())],
        )?;
        field_str(
            &v["artifact_uri"],
            "model-versions/get-download-uri",
            "artifact_uri",
        )
    }

    /// Download the files directly under an artifact folder through the server's artifact proxy
    /// (`mlflow-artifacts:/...`), as (file name, bytes); sub-folders are skipped.
    pub fn download_artifact_dir(&self, artifact_uri: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let Some(root) = artifact_uri.strip_prefix("mlflow-artifacts:/") else {
            return Err(Error::ArtifactsNotServed {
                artifact_uri: artifact_uri.to_string(),
            });
        };
        let root = root.trim_matches('/');
        let encoded = |p: &str| -> String {
            p.split('/')
                .map(urlencode_segment)
                .collect::<Vec<_>>()
                .join("/")
        };
        let unexpected = Error::UnexpectedResponse {
            endpoint: "mlflow-artifacts/artifacts",
            field: "files",
        };
        let listing = self
            .raw(
                "GET",
                &format!("/api/2.0/mlflow-artifacts/artifacts?path={}", encoded(root)),
                None,
                false,
            )
            .map_err(|source| Error::ArtifactDownload {
                path: root.to_string(),
                source,
            })?;
        let listing: Value = serde_json::from_slice(&listing).map_err(|_| unexpected)?;
        let (mut out, mut total) = (Vec::new(), 0usize);
        for f in listing["files"].as_array().into_iter().flatten() {
            let (Some(path), false) = (f["path"].as_str(), f["is_dir"].as_bool().unwrap_or(false))
            else {
                continue;
            };
            let name = path.rsplit('/').next().unwrap_or(path).to_string();
            let bytes = self
                .raw(
                    "GET",
                    &format!(
                        "/api/2.0/mlflow-artifacts/artifacts/{}",
                        encoded(&format!("{root}/{name}"))
                    ),
                    None,
                    false,
                )
                .map_err(|source| Error::ArtifactDownload {
                    path: format!("{root}/{name}"),
                    source,
                })?;
            total += bytes.len();
            if total > MAX_ARTIFACT_DIR_BYTES {
                return Err(Error::UnexpectedResponse {
                    endpoint: "mlflow-artifacts/artifacts",
                    field: "files (over 1 GiB in one folder)",
                });
            }
            out.push((name, bytes));
        }
        Ok(out)
    }
}

/// A string field MLflow always sends, or [`Error::UnexpectedResponse`].
pub(crate) fn field_str(v: &Value, endpoint: &'static str, field: &'static str) -> Result<String> {
    v.as_str()
        .map(str::to_string)
        .ok_or(Error::UnexpectedResponse { endpoint, field })
}

fn urlencode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) fn urlencode(s: &str) -> String {
    urlencode_segment(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_metric_values_travel_as_strings() {
        assert_eq!(metric_value(0.5), json!(0.5));
        assert_eq!(metric_value(f64::NAN), json!("NaN"));
        assert_eq!(metric_value(f64::INFINITY), json!("Infinity"));
        assert_eq!(metric_value(f64::NEG_INFINITY), json!("-Infinity"));
        assert_eq!(urlencode("a b/c~"), "a%20b%2Fc~");
    }

    #[test]
    fn an_unreachable_server_is_a_rest_error_after_the_retries() {
        // Nothing listens on port 1 of the loopback: the connection is refused at once.
        let mut rest = RestClient::new("http://127.0.0.1:1/");
        assert_eq!(rest.base(), "http://127.0.0.1:1");
        rest.retry = RetryPolicy {
            attempts: 2,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        assert!(!rest.health());
        let e = rest.get_or_create_experiment("x").unwrap_err();
        let r = e.rest().expect("a server error");
        assert_eq!(r.status, None);
        assert!(r.is_unavailable());
        assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
    }

    #[test]
    fn artifacts_need_the_servers_artifact_proxy() {
        // Refused before any request is made.
        let rest = RestClient::new("http://127.0.0.1:1");
        let e = rest
            .upload_artifact("s3://bucket/1/abc/artifacts", "model.json", b"{}")
            .unwrap_err();
        assert!(matches!(e, Error::ArtifactsNotServed { .. }), "{e:?}");
        assert!(e.to_string().contains("s3://bucket/1/abc/artifacts"));
    }
}
