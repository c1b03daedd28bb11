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
    /// This process in registry tags: `<hostname>-<port>-<pid>` (replicas in containers share
    /// ports and pids, not hostnames).
    pub instance: String,
    current: RwLock<Option<Arc<Loaded>>>,
    /// The version (and content hash) whose load failed last: not tried again until the
    /// reference names another version or the content changes.
    failed: Mutex<Option<(Option<u64>, String)>>,
    pub metrics: Metrics,
}

impl State {
    pub fn new(opts: ServeOptions, address: SocketAddr) -> Self {
        let host: String = hostname()
            .unwrap_or_else(|| address.ip().to_string())
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(64)
            .collect();
        Self {
            instance: format!("{host}-{}-{}", address.port(), std::process::id()),
            opts,
            current: RwLock::new(None),
            failed: Mutex::new(None),
            metrics: Metrics::new(),
        }
    }

    pub fn failed(&self) -> Option<(Option<u64>, String)> {
        match self.failed.lock() {
            Ok(f) => f.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set_failed(&self, failed: Option<(Option<u64>, String)>) {
        match self.failed.lock() {
            Ok(mut f) => *f = failed,
            Err(poisoned) => *poisoned.into_inner() = failed,
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

/// The machine's name: `$HOSTNAME`, else the kernel's (Linux), else `/etc/hostname`.
fn hostname() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}
