//! Hyper-parameter optimisation with Optuna 5.0's semantics: the ask / tell [`Study`] over a
//! [`Storage`], samplers (random, grid, TPE, CMA-ES, QMC), pruners, two objectives with a Pareto
//! front, permutation importance, the summaries a report draws, and [`optimize()`] with parallel
//! workers. Optuna's own storages (its journal file, its RDB schema on SQLite and PostgreSQL) are
//! in [`storage`], behind the cargo features `journal`, `sqlite` and `postgres`, all off by
//! default.
//!
//! Architecture invariant: with default features this crate does no I/O and links no database
//! driver (it builds for `wasm32-unknown-unknown`); samplers are stateless functions of the
//! trials and `seed + trial number`, so workers, processes and resumed studies agree.
//!
//! Minimise a function with TPE, as `optuna.create_study().optimize(f, n_trials=40)` would:
//!
//! ```
//! use strider_tune::{Direction, Distribution, InMemoryStorage, Outcome, PrunerSpec, Study, TpeSampler};
//!
//! let mut storage = InMemoryStorage::default();
//! let sampler = TpeSampler::new(42);
//! let mut study = Study::open(&mut storage, "quadratic", &[Direction::Minimize], &sampler, PrunerSpec::None)?;
//! for _ in 0..40 {
//!     let mut trial = study.ask(None)?;
//!     let x = study.suggest(&mut trial, "x", &Distribution::float(-10.0, 10.0))?;
//!     let x = x.as_f64().unwrap_or(f64::NAN);
//!     study.tell(trial, Outcome::Complete(vec![(x - 2.0).powi(2)]))?;
//! }
//! let best = study.best_trial()?.expect("a finished trial");
//! assert!(best.value().unwrap() < 0.5, "{:?}", best.value());
//! # Ok::<(), strider_tune::Error>(())
//! ```
// No panics by construction in library code (tests may unwrap): see docs/configuration.md, "Limits and hostile input".
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod cmaes;
mod distribution;
mod error;
mod grid;
pub mod importance;
mod memo;
pub mod optimize;
mod pareto;
mod parzen;
mod pruner;
mod qmc;
mod sampler;
mod space;
pub mod storage;
mod study;
mod tpe;
mod trial;
pub mod visualization;

pub use cmaes::CmaEsSampler;
pub use distribution::{Distribution, py_float, py_json};
pub use error::{Error, Result, Source};
pub use grid::GridSampler;
pub use optimize::{Budget, Objective, StudySpec, optimize};
pub use pareto::{dominates, nondomination_ranks, pareto_front};
pub use pruner::{PrunerSpec, crc32};
pub use qmc::QmcSampler;
pub use sampler::{RandomSampler, Sampler, SearchSpace, StudyView, intersection_search_space};
pub use space::{ParamSpec, SpaceFile};
pub use study::{Outcome, Study, Trial, check_directions};
pub use tpe::TpeSampler;
pub use trial::{Direction, FrozenTrial, InMemoryStorage, Storage, StudyInfo, TrialState};

/// A sampler by its CLI name.
pub fn sampler_by_name(
    name: &str,
    seed: u64,
    space: Option<&SearchSpace>,
) -> Result<Box<dyn Sampler>> {
    Ok(match name {
        "tpe" => Box::new(TpeSampler::new(seed)),
        "tpe-univariate" => Box::new(TpeSampler {
            multivariate: false,
            constant_liar: false,
            ..TpeSampler::new(seed)
        }),
        "random" => Box::new(RandomSampler { seed }),
        "cmaes" => Box::new(CmaEsSampler::new(seed)),
        "qmc" => Box::new(QmcSampler { seed }),
        "grid" => Box::new(GridSampler::new(
            space.ok_or_else(|| Error::Space("the grid sampler needs a declared space".into()))?,
            seed,
        )?),
        other => {
            return Err(Error::Space(format!(
                "unknown sampler `{other}` (tpe, tpe-univariate, cmaes, random, grid, qmc)"
            )));
        }
    })
}
