//! `strider watch`: the service that keeps a deployed model healthy. It notices new bars (or,
//! in replay, feeds the existing data one bar at a time as if live), paper-trades the champion,
//! evaluates the `[retrain]` triggers, runs retrain → gate → promote cycles, rolls a promotion
//! back when it breaches its bound, and writes every step to `STATE/events.jsonl`.
//!
//! Exactly once: each bar is one committed step (see [`state`]); registry moves are safe to
//! repeat. Never dead: a failing step (bad data, a training error, the tracking server down) is
//! recorded as an `error` event and the next bar is processed.

mod checks;
mod cycle;
mod data;
mod describe;
mod leader;
mod live;
pub mod monitor;
mod page;
mod paper;
pub mod pg;
mod registry;
mod report;
mod schedule;
mod shadow;
pub mod state;
pub mod store;
mod svg;
mod tracking;
mod train;
mod training_run;
mod tuning;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use serde_json::{Map, Value};
use strider_core::bundle::Bundle;
use strider_core::config::Config;
use strider_core::data::Instrument;
use strider_core::dataset::Dataset;
use strider_core::retrain::RetrainSpec;

use crate::deploy::{ModelRef, resolve};
use crate::run::ConfigSource;
use crate::{Context, Result, bail};
pub use describe::describe;
pub use page::write_monitor;
use paper::VersionScores;
use state::{EventLog, WatchState};
use store::Store;

/// What `strider watch` was asked to do.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    pub config: PathBuf,
    pub state: PathBuf,
    /// The registry and tracking store (default: `STATE/mlruns`).
    pub tracking_uri: Option<String>,
    /// Replay the data from this date (inclusive) to `to` instead of waiting for new bars.
    pub replay: Option<(NaiveDate, Option<NaiveDate>)>,
    /// Live mode: how often the data files are read again.
    pub poll: Duration,
    /// Live mode: stop after this many polls that brought no new bar (`None`: run until killed).
    pub idle_polls: Option<u64>,
    /// Stamp events with the wall-clock time (`wall_time`, outside their reproducible content).
    pub wall_time: bool,
    /// Where a cycle's training reports as it runs, and role changes (not written to the log).
    pub progress: Progress,
    /// After a registry or tracking failure, cycles are put off this long (bars are processed
    /// meanwhile), so a server that is down costs one failed call, not one per bar.
    pub registry_cooldown: Duration,
    /// Set (by a signal handler, say) to stop after the bar in hand: the step is committed and
    /// `watch` returns normally.
    pub stop: Option<&'static std::sync::atomic::AtomicBool>,
    /// The state in PostgreSQL, shared with other processes (`state` is then this process's
    /// local directory: cycle reports, bundles, the tracking buffer).
    pub postgres: Option<PgOptions>,
}

/// A state shared in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgOptions {
    pub url: String,
    pub lease: pg::LeaseSpec,
}

/// A sink for training progress during a cycle: the pipeline's events as JSON, as they happen.
#[derive(Clone, Default)]
pub struct Progress(Option<std::sync::Arc<ProgressSink>>);

type ProgressSink = dyn Fn(&Value) + Send + Sync;

impl Progress {
    pub fn new(sink: impl Fn(&Value) + Send + Sync + 'static) -> Self {
        Self(Some(std::sync::Arc::new(sink)))
    }

    pub fn emit(&self, event: &impl serde::Serialize) {
        if let (Some(sink), Ok(v)) = (&self.0, serde_json::to_value(event)) {
            sink(&v);
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(sink)"
        } else {
            "Progress(none)"
        })
    }
}

/// What the service did, for the caller to print.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WatchSummary {
    pub bars: u64,
    pub cycles: u64,
    pub errors: u64,
    pub champion: Option<u64>,
    pub events: String,
}

pub struct Watcher {
    dir: PathBuf,
    source: ConfigSource,
    config: Config,
    spec: RetrainSpec,
    model_index: usize,
    model_name: String,
    registered: String,
    tracking_uri: Option<String>,
    instruments: Vec<Instrument>,
    calendar: Vec<NaiveDate>,
    /// The model's features on all the data (for data drift), built on first use.
    features: Option<Dataset>,
    scores: HashMap<u64, VersionScores>,
    /// Every version's bundle once loaded (rescoring after new bars needs no registry).
    bundles: HashMap<u64, Bundle>,
    state: WatchState,
    /// The step's events, committed with the state by `store`.
    log: EventLog,
    store: Store,
    /// Committed events not yet reported to the caller.
    outbox: Vec<Value>,
    /// Drift statistics measured on the bar being processed.
    gauges: live::Gauges,
    /// No cycle before this instant (the registry failed recently).
    registry_cooling_until: Option<std::time::Instant>,
    registry_cooldown: Duration,
    stop: Option<&'static std::sync::atomic::AtomicBool>,
    progress: Progress,
}

/// Runs the service until the replay ends, or (live) until `idle_polls` polls bring nothing.
/// With a PostgreSQL state it leads while it holds the lease and stands by otherwise.
pub fn watch(req: &WatchRequest, on_event: &mut dyn FnMut(&Value)) -> Result<WatchSummary> {
    match &req.postgres {
        None => {
            let mut w = Watcher::open(req, Store::files(&req.state))?;
            w.run(req, on_event)?;
            Ok(w.summary())
        }
        Some(pg) => leader::lead_or_stand_by(req, pg, on_event),
    }
}

/// Whether the request's stop flag is set.
fn stopping(req: &WatchRequest) -> bool {
    req.stop
        .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
}

impl Watcher {
    /// Processes the replay's bars, or follows the files.
    fn run(&mut self, req: &WatchRequest, on_event: &mut dyn FnMut(&Value)) -> Result<()> {
        self.report(on_event);
        match req.replay {
            Some((from, to)) => {
                let last = self
                    .calendar
                    .partition_point(|d| to.is_none_or(|t| *d <= t));
                let first = self.calendar.partition_point(|d| *d < from);
                self.process(first..last, on_event)
            }
            None => self.follow(req, on_event),
        }
    }

    fn open(req: &WatchRequest, mut store: Store) -> Result<Self> {
        std::fs::create_dir_all(&req.state)
            .with_context(|| format!("creating {}", req.state.display()))?;
        let source = ConfigSource::load(Some(&req.config))?;
        let config = source.config()?;
        let Some(spec) = config.retrain.clone() else {
            bail!(
                "{}: no [retrain] table: nothing to watch",
                req.config.display()
            );
        };
        if let Some(cron) = spec.schedule.as_ref().and_then(|s| s.cron.as_deref()) {
            schedule::parse_cron(cron).map_err(|e| {
                crate::Error::Input(format!(
                    "{}: config: retrain.schedule.cron: {e}",
                    req.config.display()
                ))
            })?;
        }
        let (model_index, registered) = watched_model(&config)?;
        let model_name = config.models[model_index].name().to_string();
        let sha = strider_core::bundle::sha256_hex(source.text.as_bytes());
        let state = store.load_or_new(&sha)?;
        let log = EventLog::new(req.wall_time);
        let tracking_uri = Some(
            req.tracking_uri
                .clone()
                .unwrap_or_else(|| req.state.join("mlruns").display().to_string()),
        );
        let mut w = Self {
            dir: req.state.clone(),
            source,
            config,
            spec,
            model_index,
            model_name,
            registered,
            tracking_uri,
            instruments: Vec::new(),
            calendar: Vec::new(),
            features: None,
            scores: HashMap::new(),
            bundles: HashMap::new(),
            state,
            log,
            store,
            outbox: Vec::new(),
            gauges: Default::default(),
            registry_cooling_until: None,
            registry_cooldown: req.registry_cooldown,
            stop: req.stop,
            progress: req.progress.clone(),
        };
        match w.reload() {
            Ok(_) => {}
            // A live service starts even on a bad file: it records why and reads it again.
            Err(e) if req.replay.is_none() => w.record_error(None, &e)?,
            Err(e) => return Err(e),
        }
        Ok(w)
    }

    /// Records an error outside any bar's step (reading the data), once per distinct message,
    /// so a file that stays broken does not flood the log.
    fn record_error(&mut self, date: Option<NaiveDate>, e: &crate::Error) -> Result<()> {
        let message = e.chain();
        if self.state.last_error.as_deref() == Some(message.as_str()) {
            return Ok(());
        }
        self.state.last_error = Some(message.clone());
        self.state.errors += 1;
        let date = date.or(self.state.last_bar).unwrap_or_default();
        let mut f = Map::new();
        f.insert("error".into(), Value::from(message));
        self.log
            .append(date, "error", &self.model_name.clone(), f)?;
        self.commit()
    }

    fn into_store(self) -> Store {
        self.store
    }

    /// A failed step: the state as it was, an `error` event, and a cool-down after a registry
    /// failure.
    fn record_step_error(
        &mut self,
        now: NaiveDate,
        snapshot: WatchState,
        e: &crate::Error,
    ) -> Result<()> {
        self.state = snapshot;
        self.state.errors += 1;
        if e.is_tracking() {
            self.registry_cooling_until = Some(std::time::Instant::now() + self.registry_cooldown);
        }
        let mut f = Map::new();
        f.insert("error".into(), Value::from(e.chain()));
        self.log.append(now, "error", &self.model_name.clone(), f)?;
        Ok(())
    }

    /// Whether cycles are put off (the registry failed less than a cool-down ago).
    fn registry_cooling(&self) -> bool {
        self.registry_cooling_until
            .is_some_and(|t| std::time::Instant::now() < t)
    }

    /// Commits the step's events with the state.
    fn commit(&mut self) -> Result<()> {
        let events = self.log.take();
        self.store.commit(&mut self.state, &events)?;
        self.outbox.extend(events);
        Ok(())
    }

    /// Hands the committed events to the caller.
    fn report(&mut self, on_event: &mut dyn FnMut(&Value)) {
        for event in std::mem::take(&mut self.outbox) {
            on_event(&event);
        }
    }

    /// Reads the data files again; true when they changed.
    fn reload(&mut self) -> Result<bool> {
        let instruments = self.read_data()?;
        self.state.last_error = None;
        if instruments == self.instruments {
            return Ok(false);
        }
        self.instruments = instruments;
        let mut calendar: Vec<NaiveDate> = self
            .instruments
            .iter()
            .flat_map(|i| i.dates.iter().copied())
            .collect();
        calendar.sort_unstable();
        calendar.dedup();
        self.calendar = calendar;
        // Earlier bars may have been rewritten: scores and features are recomputed.
        self.scores.clear();
        self.features = None;
        Ok(true)
    }

    fn summary(&self) -> WatchSummary {
        WatchSummary {
            bars: self.state.bars,
            cycles: self.state.cycles,
            errors: self.state.errors,
            champion: self.state.champion().map(|r| r.version),
            events: self.store.events_location(),
        }
    }

    /// Processes the calendar's bars in `range` that come after the last committed one.
    fn process(
        &mut self,
        range: std::ops::Range<usize>,
        on_event: &mut dyn FnMut(&Value),
    ) -> Result<()> {
        for k in range {
            let now = self.calendar[k];
            if self.state.last_bar.is_some_and(|d| now <= d) {
                continue;
            }
            if self
                .stop
                .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
            {
                return Ok(());
            }
            if !self.store.leading() {
                return Err(crate::Error::LostLease(
                    "the heartbeat found it gone".into(),
                ));
            }
            // A failed step leaves the state as it found it (manual requests, spacing, the
            // detector), so what it was about is tried again on the next bar.
            let snapshot = self.state.clone();
            self.gauges = Default::default();
            match self.step(k) {
                Ok(()) => {}
                // Put off: as if the step had not begun; the next bar evaluates again.
                Err(crate::Error::Deferred) => {
                    self.state = snapshot;
                    self.log.take();
                }
                Err(e) => self.record_step_error(now, snapshot, &e)?,
            }
            self.state.last_bar = Some(now);
            self.state.bars += 1;
            // The live figures even when the step was put off (from the bundles at hand).
            let _ = self.score_versions(true);
            let live = self.live_fields(now);
            self.log
                .append(now, "live", &self.model_name.clone(), live)?;
            self.commit()?;
            self.report(on_event);
        }
        Ok(())
    }

    /// Live mode: poll the data files; process new bars as they appear.
    fn follow(&mut self, req: &WatchRequest, on_event: &mut dyn FnMut(&Value)) -> Result<()> {
        let mut idle = 0;
        loop {
            if stopping(req) {
                return Ok(());
            }
            if !self.store.leading() {
                return Err(crate::Error::LostLease(
                    "the heartbeat found it gone".into(),
                ));
            }
            let start = match self.state.last_bar {
                Some(d) => self.calendar.partition_point(|x| *x <= d),
                // A new service starts on the newest bar: history is for replays.
                None => self.calendar.len().saturating_sub(1),
            };
            if start < self.calendar.len() {
                idle = 0;
                self.process(start..self.calendar.len(), on_event)?;
            } else {
                idle += 1;
                if req.idle_polls.is_some_and(|n| idle >= n) {
                    return Ok(());
                }
            }
            sleep_unless_stopped(req, req.poll);
            if let Err(e) = self.reload() {
                // A file rewritten badly: recorded, and read again at the next poll.
                self.record_error(None, &e)?;
                self.report(on_event);
            }
        }
    }

    /// One bar: paper-trade, maybe roll back, evaluate triggers, maybe run a cycle.
    fn step(&mut self, k: usize) -> Result<()> {
        // The registry failed moments ago: no decision now (the bar is still paper-traded and
        // recorded); the next bar after the cool-down evaluates again.
        if self.registry_cooling() {
            return Err(crate::Error::Deferred);
        }
        self.state.bars_since_retrain = self.state.bars_since_retrain.map(|b| b + 1);
        if self.state.reigns.is_empty() {
            let fired = strider_core::retrain::Fired {
                trigger: "manual",
                evidence: serde_json::json!({"reason": "no champion yet"}),
            };
            return self.cycle(k, &[fired]);
        }
        self.ensure_scores()?;
        if self.check_rollback(k)? {
            return Ok(());
        }
        if self.state.shadow.is_some() {
            // A challenger on trial: no new cycle until it is decided.
            return self.advance_shadow(k);
        }
        let fired = self.triggers(k)?;
        if fired.is_empty() {
            return Ok(());
        }
        self.cycle(k, &fired)
    }

    /// Loads and scores every version that has reigned.
    fn ensure_scores(&mut self) -> Result<()> {
        self.score_versions(false)
    }

    /// Scores every version that has reigned (and a shadow), loading a bundle from the registry
    /// once and keeping it; `cached_only`: without calling the registry at all.
    fn score_versions(&mut self, cached_only: bool) -> Result<()> {
        let shadow = self.state.shadow.as_ref().map(|s| s.version);
        let versions: Vec<u64> = self
            .state
            .reigns
            .iter()
            .map(|r| r.version)
            .chain(shadow)
            .collect();
        for v in versions {
            if self.scores.contains_key(&v) {
                continue;
            }
            if !self.bundles.contains_key(&v) {
                if cached_only {
                    continue;
                }
                let bundle = self.load_version(v)?;
                self.bundles.insert(v, bundle);
            }
            let s = paper::score_all(&self.bundles[&v], &self.instruments)?;
            self.scores.insert(v, s);
        }
        Ok(())
    }

    fn load_version(&self, version: u64) -> Result<Bundle> {
        let r = ModelRef::Version {
            name: self.registered.clone(),
            version,
        };
        let resolved = resolve(&r, self.tracking_uri.as_deref())?;
        Ok(Bundle::load_checked(&resolved.files)?)
    }

    /// The live scores through `now`.
    fn live(&self, now: NaiveDate) -> Vec<Vec<Option<f64>>> {
        paper::live_scores(&self.instruments, &self.state.reigns, &self.scores, now)
    }

    fn reset_detector(&mut self, now: NaiveDate) {
        let detector = self.spec.model_drift.as_ref().and_then(|m| m.detector);
        self.state.detector = detector.map(|d| d.start());
        self.state.detector_fed_through = Some(now);
    }
}

fn parse_lines(text: &[u8]) -> Vec<Value> {
    text.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect()
}

/// Sleeps `d`, waking early when the request is stopped.
pub(crate) fn sleep_unless_stopped(req: &WatchRequest, d: Duration) {
    let end = std::time::Instant::now() + d;
    while !stopping(req) {
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

/// The events `state` has committed (an interrupted step's tail is left out), for a monitor
/// starting beside the service; none for a new state directory.
pub fn committed_events(state: &Path) -> Result<Vec<Value>> {
    if !state.join("state.json").exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(state.join("state.json"))?;
    let committed: WatchState = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a strider watch state", state.display()))?;
    let text = std::fs::read(state.join("events.jsonl")).unwrap_or_default();
    let head = text.get(..committed.events_len as usize).unwrap_or(&text);
    Ok(parse_lines(head))
}

/// The events committed so far where `req` keeps its state (files or PostgreSQL).
pub fn committed_events_for(req: &WatchRequest) -> Result<Vec<Value>> {
    match &req.postgres {
        None => committed_events(&req.state),
        Some(pg) => {
            let name = registered_name(&ConfigSource::load(Some(&req.config))?.config()?)?;
            pg::PgStore::open(&pg.url, &name, pg.lease.clone(), true)?.committed_events()
        }
    }
}

/// The watched model's index in the config and its registered name.
fn watched_model(config: &Config) -> Result<(usize, String)> {
    let Some(spec) = &config.retrain else {
        bail!("no [retrain] table: nothing to watch");
    };
    let index = match &spec.model {
        Some(m) => config
            .models
            .iter()
            .position(|s| s.name() == m)
            .unwrap_or(0),
        None => 0,
    };
    let model = config.models[index].name();
    let name = spec
        .registered_name
        .clone()
        .unwrap_or_else(|| format!("{}-{model}", config.name));
    Ok((index, name))
}

/// The name the watched model is registered under (and its PostgreSQL state is kept by).
pub fn registered_name(config: &Config) -> Result<String> {
    Ok(watched_model(config)?.1)
}

/// Queues a manual retrain request for the watch on `state` (a directory or a PostgreSQL URL),
/// acted on once, at its next bar; returns where it was queued.
pub fn request_retrain(config: &Path, state: &str, model: &str, reason: &str) -> Result<String> {
    let source = ConfigSource::load(Some(config))?;
    let cfg = source.config()?;
    if !cfg.models.iter().any(|m| m.name() == model) {
        bail!("{}: no model `{model}`", config.display());
    }
    let body = serde_json::to_string(&checks::ManualRequest {
        model: model.into(),
        reason: reason.into(),
    })?;
    if store::is_postgres(state) {
        let name = registered_name(&cfg)?;
        let lease = pg::LeaseSpec {
            holder: String::new(),
            ttl: Duration::from_secs(1),
        };
        let id = pg::PgStore::open(state, &name, lease, true)?.add_request(&body)?;
        return Ok(format!("{} request {id}", pg::redact(state)));
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ").to_string();
    let path = store::write_request_file(Path::new(state), &stamp, body.as_bytes())?;
    Ok(path.display().to_string())
}
