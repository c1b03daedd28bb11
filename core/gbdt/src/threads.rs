//! Training on several threads (LightGBM's `num_threads`: 0 = all cores) without changing a bit
//! of the model. Sums are split by feature, never by row: every histogram cell still sums its
//! rows in row order, and the best split is still chosen in feature order. Work that is cut by
//! rows (a leaf's partition, the gradients) computes each row on its own and puts the chunks
//! back in row order. So the trees are the ones one thread grows. One split's histograms and
//! searches are a single fork, and the training's own pool keeps its workers polling while a
//! tree grows (`with_workers_awake`). Without the `parallel` feature (wasm32) everything runs
//! on the caller.

use crate::error::{Error, Result};

/// Below this much work (histogram cells to sum, plus `SCAN_COST` per bin to search) one
/// split's histograms and searches stay on the calling thread. A rayon worker that was busy a
/// few microseconds ago joins in about 3 µs; one asleep takes tens of microseconds to wake on a
/// VM. It only decides speed, not results.
pub(crate) const MIN_PARALLEL_WORK: usize = 16 * 1024;
/// What searching one histogram bin costs, in histogram cells (about 5 ns against 0.8 ns).
pub(crate) const SCAN_COST: usize = 6;
/// Below this many rows a leaf's partition, or the gradients, stay on the calling thread (about
/// 1 ns a row).
pub(crate) const MIN_PARALLEL_ROWS: usize = 8 * 1024;

/// The most memory tasks on the threads may hold at once (see `Threads::for_memory`).
const MAX_PARALLEL_BYTES: usize = 1 << 30;

/// The most threads `num_threads` starts per hardware thread. The trees do not depend on the
/// count, so fewer change nothing but speed.
#[cfg(feature = "parallel")]
const MAX_THREADS_PER_CORE: usize = 4;

/// Where the trainer's parallel work runs.
pub(crate) enum Threads {
    /// On the calling thread only (`num_threads = 1`, or no `parallel` feature).
    Single,
    /// On the rayon pool the caller runs in, so a training started from a parallel
    /// cross-validation shares that pool's threads instead of adding its own.
    #[cfg(feature = "parallel")]
    Ambient,
    /// On a pool of the training's own, which no other work shares (so its idle workers poll
    /// for this training's jobs only); `poll`: whether they do, decided once (not when the pool
    /// has more threads than the machine has cores).
    #[cfg(feature = "parallel")]
    Own { pool: rayon::ThreadPool, poll: bool },
}

impl Threads {
    /// The threads `num_threads` asks for, LightGBM's way: 0 = all (the pool the caller runs
    /// in, or else a pool as large as the global one: all cores unless `RAYON_NUM_THREADS`
    /// says otherwise), n = a pool of n.
    pub(crate) fn new(num_threads: usize) -> Result<Self> {
        #[cfg(feature = "parallel")]
        {
            let all = rayon::current_num_threads();
            match num_threads {
                0 if all > 1 && rayon::current_thread_index().is_some() => Ok(Threads::Ambient),
                0 if all > 1 => Self::own(all),
                0 | 1 => Ok(Threads::Single),
                n => Self::own(n),
            }
        }
        #[cfg(not(feature = "parallel"))]
        {
            let _ = (num_threads, Error::Train);
            Ok(Threads::Single)
        }
    }

    /// A pool of `n` threads, at most `MAX_THREADS_PER_CORE` per hardware thread: more only
    /// take turns on the same cores (and a hostile `num_threads` would start millions).
    #[cfg(feature = "parallel")]
    fn own(n: usize) -> Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        let n = n.min(MAX_THREADS_PER_CORE * cores);
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map(|pool| Threads::Own {
                pool,
                poll: n <= cores,
            })
            .map_err(|e| Error::Train(format!("cannot start {n} threads: {e}")))
    }

    fn count(&self) -> usize {
        match self {
            Threads::Single => 1,
            #[cfg(feature = "parallel")]
            Threads::Ambient => rayon::current_num_threads(),
            #[cfg(feature = "parallel")]
            Threads::Own { pool, .. } => pool.current_num_threads(),
        }
    }

    /// Contiguous blocks of features, one per thread (every block walks all of a leaf's rows,
    /// so more blocks would repeat each row's gradients and prefetches): the binned data is
    /// stored block by block, and each split's histograms and searches take the blocks.
    pub(crate) fn feature_blocks(&self, n_features: usize) -> Vec<(usize, usize)> {
        even_blocks(n_features, self.count().min(n_features).max(1))
    }

    /// Where one split's work (as `MIN_PARALLEL_WORK` counts it) runs: on these threads, or on
    /// the calling one when it is too small to share.
    pub(crate) fn for_work(&self, work: usize) -> &Threads {
        if work < MIN_PARALLEL_WORK {
            &Threads::Single
        } else {
            self
        }
    }

    /// Where tasks that each hold `bytes` of memory at once run: on these threads, or on the
    /// calling one when all the threads' share would pass `MAX_PARALLEL_BYTES`.
    pub(crate) fn for_memory(&self, bytes: usize) -> &Threads {
        if bytes.saturating_mul(self.count()) > MAX_PARALLEL_BYTES {
            &Threads::Single
        } else {
            self
        }
    }

    /// Contiguous chunks of `rows` rows (a leaf's to partition, or all for the gradients): one
    /// per thread, or a single one when they are few.
    pub(crate) fn row_chunks(&self, rows: usize) -> Vec<(usize, usize)> {
        let threads = self.count();
        if threads == 1 || rows < MIN_PARALLEL_ROWS {
            return vec![(0, rows)];
        }
        even_blocks(rows, threads)
    }

    /// `f` run as one of the pool's threads, so the parallel loops inside it start on a worker,
    /// which takes its share of the work: handing each histogram from a foreign thread to the
    /// pool and sleeping until it is done cost more than the second core saved. On the
    /// training's own pool the other workers are kept awake while `f` runs (see
    /// `with_workers_awake`).
    pub(crate) fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match self {
            Threads::Single => f(),
            #[cfg(feature = "parallel")]
            Threads::Ambient => f(),
            #[cfg(feature = "parallel")]
            Threads::Own { pool, poll: true } => pool.install(|| with_workers_awake(f)),
            #[cfg(feature = "parallel")]
            Threads::Own { pool, poll: false } => pool.install(f),
        }
    }

    /// `f` of every item (taken by value), in the items' order, on the threads when there are
    /// several.
    pub(crate) fn map_into<T: Send, R: Send>(
        &self,
        items: Vec<T>,
        f: impl Fn(T) -> R + Sync + Send,
    ) -> Vec<R> {
        match self {
            Threads::Single => items.into_iter().map(f).collect(),
            #[cfg(feature = "parallel")]
            Threads::Ambient => {
                use rayon::prelude::*;
                items.into_par_iter().map(f).collect()
            }
            #[cfg(feature = "parallel")]
            Threads::Own { pool, .. } => pool.install(|| {
                use rayon::prelude::*;
                items.into_par_iter().map(f).collect()
            }),
        }
    }
}

/// `f` on the current worker while the pool's other workers (the training's own pool) poll for
/// its jobs instead of falling asleep. A tree's forks come every few tens of microseconds, with
/// serial work in between; a rayon worker idle that long falls asleep, and waking it again
/// costs tens of microseconds on a VM, as much as the fork saves. Each other worker runs one
/// poller (a broadcast job: exactly one per worker), which takes jobs with `rayon::yield_now`
/// and gives the CPU to the OS scheduler between polls, as rayon's own idle loop does before it
/// sleeps. A poller stops when `f` is done (or panics), or after `MAX_IDLE_POLLS` polls in a
/// row without a job, so pollers cost little where trainings share the cores (several at once;
/// a pool larger than the machine starts none, see `Threads::Own`).
#[cfg(feature = "parallel")]
fn with_workers_awake<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    use std::sync::atomic::{AtomicBool, Ordering};
    /// Sets the flag when dropped, so the pollers stop even when `f` panics (the scope waits for
    /// them before it passes the panic on).
    struct Done<'a>(&'a AtomicBool);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }
    let done = AtomicBool::new(false);
    let me = rayon::current_thread_index();
    rayon::scope(|s| {
        s.spawn_broadcast(|_, worker| {
            let mut idle = 0;
            while Some(worker.index()) != me
                && idle < MAX_IDLE_POLLS
                && !done.load(Ordering::Acquire)
            {
                if rayon::yield_now() == Some(rayon::Yield::Executed) {
                    idle = 0;
                } else {
                    idle += 1;
                    std::thread::yield_now();
                }
            }
        });
        let _done = Done(&done);
        f()
    })
}

/// Polls in a row without a job after which a poller stops (about a millisecond when the core
/// is free: far longer than the gaps between a tree's forks).
#[cfg(feature = "parallel")]
const MAX_IDLE_POLLS: usize = 1024;

/// `items` cut into the consecutive parts `ranges` (contiguous, in order, from 0) name.
pub(crate) fn cut<'a, T>(items: &'a mut [T], ranges: &[(usize, usize)]) -> Vec<&'a mut [T]> {
    let mut parts = Vec::with_capacity(ranges.len());
    let mut rest = items;
    for &(start, end) in ranges {
        let (part, tail) = rest.split_at_mut(end - start);
        parts.push(part);
        rest = tail;
    }
    parts
}

/// `0..n` cut into `k` contiguous blocks of near-equal length, in order.
fn even_blocks(n: usize, k: usize) -> Vec<(usize, usize)> {
    (0..k).map(|i| (i * n / k, (i + 1) * n / k)).collect()
}

#[cfg(all(test, feature = "parallel"))]
mod tests {
    use super::*;

    /// The pollers stop when a tree panics, so the panic reaches the caller (it would hang,
    /// the pool's threads spinning, if they waited for a tree that never finishes).
    #[test]
    fn a_panic_inside_a_tree_reaches_the_caller() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let threads = Threads::new(2).unwrap();
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                threads.install(|| -> usize { panic!("a tree panics") })
            }));
            tx.send(out.is_err()).unwrap();
        });
        let back = rx.recv_timeout(std::time::Duration::from_secs(60));
        assert_eq!(back, Ok(true), "the panic did not come back");
    }
}
