//! Training on several threads (LightGBM's `num_threads`: 0 = all cores) without changing a bit
//! of the model. Work is split by feature, never by row: every histogram cell still sums its rows
//! in row order, and the best split is still chosen in feature order, so the trees are the ones
//! one thread grows. Without the `parallel` feature (wasm32) everything runs on the caller.

use crate::error::{Error, Result};

/// Below this many (row, feature) cells a histogram is built on the calling thread: handing
/// small leaves to other threads costs more than it saves (a sleeping rayon worker takes tens of
/// microseconds to wake on a VM). It only decides speed, not results.
pub(crate) const MIN_PARALLEL_CELLS: usize = 64 * 1024;
/// Below this many bins the split search stays on the calling thread: 30 features of 255 bins
/// search in tens of microseconds, about a wake-up's cost.
pub(crate) const MIN_PARALLEL_BINS: usize = 64 * 1024;

/// Where the trainer's parallel work runs.
pub(crate) enum Threads {
    /// On the calling thread only (`num_threads = 1`, or no `parallel` feature).
    Single,
    /// On the rayon pool the caller runs in (the global pool: all cores), so a training started
    /// from a parallel cross-validation shares that pool's threads instead of adding its own.
    #[cfg(feature = "parallel")]
    Ambient,
    /// On a pool of exactly `num_threads` threads.
    #[cfg(feature = "parallel")]
    Own(rayon::ThreadPool),
}

impl Threads {
    /// The threads `num_threads` asks for, LightGBM's way: 0 = all (the pool the caller is in,
    /// or the global one), n = a pool of n.
    pub(crate) fn new(num_threads: usize) -> Result<Self> {
        #[cfg(feature = "parallel")]
        {
            match num_threads {
                0 if rayon::current_num_threads() > 1 => Ok(Threads::Ambient),
                0 | 1 => Ok(Threads::Single),
                n => rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map(Threads::Own)
                    .map_err(|e| Error::Train(format!("cannot start {n} threads: {e}"))),
            }
        }
        #[cfg(not(feature = "parallel"))]
        {
            let _ = (num_threads, Error::Train);
            Ok(Threads::Single)
        }
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

    /// Contiguous blocks of features for building one histogram over `rows` rows: one block
    /// when the work is small or there is one thread, else one block per thread (every block
    /// walks all the rows, so more blocks would repeat each row's gradients and prefetches).
    pub(crate) fn feature_blocks(&self, n_features: usize, rows: usize) -> Vec<(usize, usize)> {
        let threads = self.count();
        if threads == 1 || n_features < 2 || rows.saturating_mul(n_features) < MIN_PARALLEL_CELLS {
            return vec![(0, n_features)];
        }
        let blocks = threads.min(n_features);
        (0..blocks)
            .map(|i| (i * n_features / blocks, (i + 1) * n_features / blocks))
            .collect()
    }

    /// Whether a split search over `bins` histogram bins is worth spreading over threads.
    pub(crate) fn search_in_parallel(&self, bins: usize) -> bool {
        self.count() > 1 && bins >= MIN_PARALLEL_BINS
    }

    /// `f` run as one of the pool's threads, so the parallel loops inside it start on a worker,
    /// which takes its share of the work: handing each histogram from a foreign thread to the
    /// pool and sleeping until it is done cost more than the second core saved. (`rayon::scope`
    /// called from outside the global pool runs its closure on one of its workers.)
    pub(crate) fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match self {
            Threads::Single => f(),
            #[cfg(feature = "parallel")]
            Threads::Ambient if rayon::current_thread_index().is_none() => rayon::scope(|_| f()),
            #[cfg(feature = "parallel")]
            Threads::Ambient => f(),
            #[cfg(feature = "parallel")]
            Threads::Own(pool) => pool.install(f),
        }
    }

    /// `f` on every item, on the threads when there are several.
    pub(crate) fn for_each<T: Send>(&self, items: Vec<T>, f: impl Fn(T) + Sync + Send) {
        match self {
            Threads::Single => items.into_iter().for_each(f),
            #[cfg(feature = "parallel")]
            Threads::Ambient => {
                use rayon::prelude::*;
                items.into_par_iter().for_each(f)
            }
            #[cfg(feature = "parallel")]
            Threads::Own(pool) => pool.install(|| {
                use rayon::prelude::*;
                items.into_par_iter().for_each(f)
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
