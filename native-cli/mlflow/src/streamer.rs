//! Live metric streaming: a thread that sends a run's metric points to the server in batches, at
//! most [`MAX_DELAY`] after each point was logged, whatever the logging thread is doing (a fold
//! busy with SHAP values after its last iteration still has its points on the server within the
//! second). Points are already in the local store when they are queued here, so a batch the server
//! refuses is not lost: the reconciling sync at the end sends it.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::Metric;
use crate::rest::RestClient;

/// The longest a point waits before it is sent.
pub const MAX_DELAY: Duration = Duration::from_secs(1);
/// MLflow's limit of metric points per `log-batch` call.
const MAX_BATCH: usize = 1000;

enum Message {
    Points(String, Vec<Metric>),
    /// Send everything queued now.
    Flush,
}

pub struct Streamer {
    tx: Option<Sender<Message>>,
    thread: Option<JoinHandle<()>>,
}

impl Streamer {
    pub fn start(rest: RestClient) -> Self {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("mlflow-metrics".into())
            .spawn(move || stream(&rest, &rx))
            .ok();
        Self {
            tx: thread.is_some().then_some(tx),
            thread,
        }
    }

    /// Queues points of the server run `run`.
    pub fn send(&self, run: &str, points: &[Metric]) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Message::Points(run.to_string(), points.to_vec()));
        }
    }

    pub fn flush(&self) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Message::Flush);
        }
    }

    /// Sends what is queued and stops (each call bounded by the client's budget).
    pub fn stop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Streamer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// After a failed call, the points queued meanwhile are dropped (the final sync sends them) and
/// streaming resumes this much later.
const RETRY_AFTER: Duration = Duration::from_secs(10);

/// The thread: collects points, sends them when the oldest has waited `MAX_DELAY`, on a flush, or
/// when the channel closes.
fn stream(rest: &RestClient, rx: &Receiver<Message>) {
    let mut queued: BTreeMap<String, Vec<Metric>> = BTreeMap::new();
    let mut oldest: Option<Instant> = None;
    let mut failed_at: Option<Instant> = None;
    loop {
        let wait = oldest.map_or(Duration::from_secs(3600), |t| {
            MAX_DELAY.saturating_sub(t.elapsed())
        });
        let (send_now, closed) = match rx.recv_timeout(wait) {
            Ok(Message::Points(run, points)) => {
                oldest.get_or_insert_with(Instant::now);
                queued.entry(run).or_default().extend(points);
                (false, false)
            }
            Ok(Message::Flush) => (true, false),
            Err(RecvTimeoutError::Timeout) => (true, false),
            Err(RecvTimeoutError::Disconnected) => (true, true),
        };
        if send_now || queued.values().map(Vec::len).sum::<usize>() >= MAX_BATCH {
            for (run, points) in std::mem::take(&mut queued) {
                for chunk in points.chunks(MAX_BATCH) {
                    if failed_at.is_some_and(|t| t.elapsed() < RETRY_AFTER) {
                        break;
                    }
                    let sent = rest.log_batch(&run, chunk, &BTreeMap::new(), &BTreeMap::new());
                    failed_at = sent.is_err().then(Instant::now);
                }
            }
            oldest = None;
        }
        if closed {
            return;
        }
    }
}
