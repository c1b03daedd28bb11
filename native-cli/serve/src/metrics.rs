//! Prometheus metrics (prometheus-client's text encoding).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub errors: Counter,
    pub latency: Histogram,
    /// The registry version served; -1 for a bundle folder, absent model: `loaded` is 0.
    pub version: Gauge,
    pub loaded: Gauge,
    pub swaps: Counter,
    pub failed_loads: Counter,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("strider");
        let requests = Family::<RequestLabels, Counter>::default();
        let errors = Counter::default();
        // 100 µs .. about 3 s.
        let latency = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        let version = Gauge::default();
        let loaded = Gauge::default();
        let swaps = Counter::default();
        let failed_loads = Counter::default();
        registry.register(
            "requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "request_errors",
            "Requests answered with an error status",
            errors.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer POST /predict",
            latency.clone(),
        );
        registry.register(
            "model_version",
            "Registry version of the model served (-1: a bundle folder)",
            version.clone(),
        );
        registry.register("model_loaded", "1 once a model is loaded", loaded.clone());
        registry.register(
            "model_swaps",
            "Models swapped in after the first",
            swaps.clone(),
        );
        registry.register(
            "model_load_failures",
            "Bundles that failed to load or check (the old model kept serving)",
            failed_loads.clone(),
        );
        Self {
            registry,
            requests,
            errors,
            latency,
            version,
            loaded,
            swaps,
            failed_loads,
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
