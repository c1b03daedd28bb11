//! Training on several threads (LightGBM's `num_threads`: 0 = all cores) without changing a bit
//! of the model. Sums are split by feature, never by row: every histogram cell still sums its
//! rows in row order, and the best split is still chosen in feature order. Work that is cut by
//! rows (a leaf's partition, the gradients) computes each row on its own and puts the chunks
//! back in row order. So the trees are the ones one thread grows. One split's histograms and
//! searches are a single fork, so the threads stay awake between splits. Without the `parallel`
//! feature (wasm32) everything runs on the caller.

use crate::error::{Error, Result};

/// Below this much work (histogram cells to sum, plus `SCAN_COST` per bin to search) one
/// split's histograms and searches stay on the calling thread. A rayon worker that was busy a
/// few microseconds ago joins in about 3 µs; one asleep takes tens of microseconds to wake on a
/// VM. It only decides speed, not results.
pub(crate) const MIN_PARALLEL_WORK: usize = 16 * 1024;
/// What searching one histogram bin costs, in histogram cells (about 5 ns against 0.8 ns).
pub(crate) const SCAN_COST: usize = 6;
/// Below this many rows a leaf's partition stays on the calling thread (about 1 ns a row).
pub(crate) const MIN_PARALLEL_ROWS: usize = 8 * 1024;

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
    /// On a pool of the training's own, which no other work shares (its idle workers may
    /// poll for its jobs without stalling anyone else's).
    #[cfg(feature = "parallel")]
    Own(rayon::ThreadPool),
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
            .map(Threads::Own)
            .map_err(|e| Error::Train(format!("cannot start {n} threads: {e}")))
    }

    fn count(&self) -> usize {
        match self {
            Threads::Single => 1,
            #[cfg(feature = "parallel")]
            Threads::Ambient => rayon::current_num_threads(),
            #[cfg(feature = "parallel")]
            Threads::Own(pool) => pool.current_num_threads(),
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

    /// Contiguous chunks of a leaf's `rows` rows to partition: one per thread, or a single one
    /// for a small leaf.
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
            Threads::Own(pool) => pool.install(|| with_workers_awake(f)),
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
            Threads::Own(pool) => pool.install(|| {
                use rayon::prelude::*;
                items.into_par_iter().map(f).collect()
            }),
        }
    }

    /// `f` of every item, in the items' order, on the threads when there are several.
    pub(crate) fn map<T: Sync, R: Send>(
        &self,
        items: &[T],
        f: impl Fn(&T) -> R + Sync + Send,
    ) -> Vec<R> {
        match self {
            Threads::Single => items.iter().map(f).collect(),
            #[cfg(feature = "parallel")]
            Threads::Ambient => {
                use rayon::prelude::*;
                items.par_iter().map(f).collect()
            }
            #[cfg(feature = "parallel")]
            Threads::Own(pool) => pool.install(|| {
                use rayon::prelude::*;
                items.par_iter().map(f).collect()
            }),
        }
    }
}

/// `f` on the current worker while every other worker of its pool (the training's own) looks
/// for work without going to sleep, until `f` returns. A tree's forks come every few tens of microseconds, with
/// serial work in between; a rayon worker idle that long falls asleep, and waking it again
/// costs tens of microseconds on a VM, as much as the fork saves. The other workers poll with
/// `rayon::yield_now` (which runs a job if there is one) and give the CPU to the OS scheduler
/// between polls, as rayon's own idle loop does before it sleeps.
#[cfg(feature = "parallel")]
fn with_workers_awake<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    use std::sync::atomic::{AtomicBool, Ordering};
    let done = AtomicBool::new(false);
    rayon::scope(|s| {
        for _ in 1..rayon::current_num_threads() {
            s.spawn(|_| {
                while !done.load(Ordering::Acquire) {
                    if rayon::yield_now() != Some(rayon::Yield::Executed) {
                        std::thread::yield_now();
                    }
                }
            });
        }
        let out = f();
        done.store(true, Ordering::Release);
        out
    })
}

/// `0..n` cut into `k` contiguous blocks of near-equal length, in order.
fn even_blocks(n: usize, k: usize) -> Vec<(usize, usize)> {
    (0..k).map(|i| (i * n / k, (i + 1) * n / k)).collect()
}
