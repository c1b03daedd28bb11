//! The server's shared state: the model served (swapped as one `Arc`), what failed to load, the
//! metrics and the options.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use strider_core::bundle::Bundle;

use crate::ServeOptions;
use crate::metrics::Metrics;

/// A loaded, checked model and the registry version it is.
pub struct Loaded {
    pub bundle: Bundle,
    pub version: Option<u64>,
}

impl Loaded {
    /// The `X-Strider-Model-Version` header: the registry version, or the bundle's content hash
    /// for a bundle folder.
    pub fn version_header(&self) -> String {
        match self.version {
            Some(v) => v.to_string(),
            None => format!("sha256:{}", self.bundle.sha256),
        }
    }
}

pub struct State {
    pub opts: ServeOptions,
    /// This process in registry tags: `<host>-<port>-<pid>`.
    pub instance: String,
    current: RwLock<Option<Arc<Loaded>>>,
    /// The version whose load failed last, not retried until the reference moves.
    pub failed: Mutex<Option<Option<u64>>>,
    pub metrics: Metrics,
}

impl State {
    pub fn new(opts: ServeOptions, address: SocketAddr) -> Self {
        let host: String = address
            .ip()
            .to_string()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        Self {
            instance: format!("{host}-{}-{}", address.port(), std::process::id()),
            opts,
            current: RwLock::new(None),
            failed: Mutex::new(None),
            metrics: Metrics::new(),
        }
    }

    /// The model serving now (a request keeps it to the end even if a swap happens meanwhile).
    pub fn current(&self) -> Option<Arc<Loaded>> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Swaps in a new model; returns whether one was serving before.
    pub fn swap(&self, loaded: Loaded) -> bool {
        let version = loaded
            .version
            .map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
        let new = Arc::new(loaded);
        let had = {
            let mut guard = match self.current.write() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            guard.replace(new).is_some()
        };
        self.metrics.version.set(version);
        self.metrics.loaded.set(1);
        if had {
            self.metrics.swaps.inc();
        }
        had
    }
}
