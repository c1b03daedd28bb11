//! Hyper-parameter optimisation with Optuna 5.0's semantics: the ask / tell study over a
//! storage, samplers (random, grid, TPE, CMA-ES, QMC), pruners, two objectives with a Pareto
//! front, and the summaries a report draws. Storages on disk and databases live in the CLI;
//! this module only needs the [`Storage`] trait.

mod cmaes;
mod distribution;
mod error;
mod grid;
pub mod importance;
mod memo;
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
