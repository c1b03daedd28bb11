//! The sampler interface (Optuna's: a relative joint sample of the search space every trial
//! shares, then independent sampling for the rest) and the random sampler.
//!
//! Samplers are stateless between calls: everything they use is in the trials, so a study
//! resumed from storage, or shared by many workers, samples exactly as one that never stopped.
//! Randomness comes from the study seed and the trial number.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::distribution::Distribution;
use super::trial::{Direction, FrozenTrial};

/// The part of a study a sampler reads.
pub struct StudyView<'a> {
    pub name: &'a str,
    pub directions: &'a [Direction],
    /// Every trial of the study, the current one included (RUNNING).
    pub trials: &'a [Arc<FrozenTrial>],
    pub system_attrs: &'a BTreeMap<String, Value>,
    /// The space the caller declared up front (`ask` with a fixed space), if any.
    pub declared: Option<&'a SearchSpace>,
}

pub type SearchSpace = BTreeMap<String, Distribution>;

pub trait Sampler: Send + Sync {
    /// The space sampled jointly for `trial` (may be empty).
    fn relative_search_space(&self, study: &StudyView, trial: &FrozenTrial) -> SearchSpace;
    /// Internal values for the relative space, plus trial system attributes to record.
    fn sample_relative(
        &self,
        study: &StudyView,
        trial: &FrozenTrial,
        space: &SearchSpace,
    ) -> (BTreeMap<String, f64>, BTreeMap<String, Value>);
    /// An internal value for a parameter outside the relative space.
    fn sample_independent(
        &self,
        study: &StudyView,
        trial: &FrozenTrial,
        name: &str,
        dist: &Distribution,
    ) -> f64;
    /// True when the sampler has nothing left to try (an exhausted grid).
    fn exhausted(&self, _study: &StudyView) -> bool {
        false
    }
}

/// A stream for one trial and purpose, from the study seed.
pub fn rng_for(seed: u64, trial: usize, purpose: &str) -> ChaCha8Rng {
    let tag = purpose.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    ChaCha8Rng::seed_from_u64(strider_base::seed::derive(seed, &[trial as u64, tag]))
}

/// Bounds of a numerical distribution in the space samplers work in: log-transformed where
/// `log`, widened by half a step where stepped. `None` for categoricals.
pub fn transformed_bounds(d: &Distribution) -> Option<(f64, f64)> {
    match d {
        Distribution::Float {
            low,
            high,
            log,
            step,
        } => {
            let (lo, hi) = match step {
                Some(s) => (low - s / 2.0, high + s / 2.0),
                None => (*low, *high),
            };
            Some(if *log { (lo.ln(), hi.ln()) } else { (lo, hi) })
        }
        Distribution::Int {
            low,
            high,
            log,
            step,
        } => {
            let h = *step as f64 / 2.0;
            let (lo, hi) = (*low as f64 - h, *high as f64 + h);
            Some(if *log { (lo.ln(), hi.ln()) } else { (lo, hi) })
        }
        Distribution::Categorical { .. } => None,
    }
}

/// A value of the transformed space back to an admissible internal value.
pub fn untransform(d: &Distribution, v: f64) -> f64 {
    match d {
        Distribution::Float {
            low,
            high,
            log,
            step,
        } => {
            let x = if *log { v.exp() } else { v };
            match step {
                Some(s) => {
                    let k = ((x - low) / s).round();
                    let top = ((high - low) / s).floor();
                    low + k.clamp(0.0, top) * s
                }
                // High is exclusive for continuous floats, as in Optuna.
                None => x.clamp(*low, if high > low { next_down(*high) } else { *high }),
            }
        }
        Distribution::Int {
            low,
            high,
            log,
            step,
        } => {
            let x = if *log { v.exp() } else { v };
            let k = ((x - *low as f64) / *step as f64).round();
            // In i128: a range validated elsewhere cannot overflow, one that was not still must
            // not panic here.
            let top = ((i128::from(*high) - i128::from(*low)) / i128::from((*step).max(1))) as f64;
            *low as f64 + k.clamp(0.0, top.max(0.0)) * *step as f64
        }
        Distribution::Categorical { choices } => {
            v.floor().clamp(0.0, choices.len().saturating_sub(1) as f64)
        }
    }
}

/// A value of `d` in the transformed space (inverse of [`untransform`] on admissible values).
pub fn transform(d: &Distribution, x: f64) -> f64 {
    match d {
        Distribution::Float { log: true, .. } | Distribution::Int { log: true, .. } => x.ln(),
        _ => x,
    }
}

pub fn sample_uniform(d: &Distribution, rng: &mut impl Rng) -> f64 {
    match d {
        Distribution::Categorical { choices } => rng.random_range(0..choices.len()) as f64,
        _ => from_unit(d, rng.random::<f64>()),
    }
}

/// The internal value at `u` in [0, 1] of the distribution's transformed range (for a
/// categorical, the choice index at `u`).
pub fn from_unit(d: &Distribution, u: f64) -> f64 {
    match (d, transformed_bounds(d)) {
        (_, Some((lo, hi))) => untransform(d, lo + u * (hi - lo)),
        (Distribution::Categorical { choices }, None) => (u * choices.len() as f64)
            .floor()
            .min(choices.len().saturating_sub(1) as f64),
        (_, None) => 0.0, // numeric distributions always have bounds
    }
}

/// Independent uniform sampling.
pub struct RandomSampler {
    pub seed: u64,
}

impl Sampler for RandomSampler {
    fn relative_search_space(&self, _: &StudyView, _: &FrozenTrial) -> SearchSpace {
        SearchSpace::new()
    }

    fn sample_relative(
        &self,
        _: &StudyView,
        _: &FrozenTrial,
        _: &SearchSpace,
    ) -> (BTreeMap<String, f64>, BTreeMap<String, Value>) {
        Default::default()
    }

    fn sample_independent(
        &self,
        _: &StudyView,
        trial: &FrozenTrial,
        name: &str,
        dist: &Distribution,
    ) -> f64 {
        sample_uniform(dist, &mut rng_for(self.seed, trial.number, name))
    }
}

/// Optuna's `IntersectionSearchSpace`: the parameters (with identical distributions) that every
/// finished trial has, single-valued ones left out.
pub fn intersection_search_space(trials: &[Arc<FrozenTrial>], include_pruned: bool) -> SearchSpace {
    use super::trial::TrialState::{Complete, Pruned};
    let mut keep = None;
    for t in trials
        .iter()
        .filter(|t| t.state == Complete || (include_pruned && t.state == Pruned))
    {
        fold_intersection(&mut keep, t);
    }
    keep.unwrap_or_default()
        .into_iter()
        .filter(|(_, d)| !d.single())
        .collect()
}

/// One more trial into an intersection search space (`None` before the first trial), kept
/// sorted by name.
pub(crate) fn fold_intersection(keep: &mut Option<Vec<(String, Distribution)>>, t: &FrozenTrial) {
    let Some(keep) = keep else {
        *keep = Some(
            t.params
                .iter()
                .map(|(k, (d, _))| (k.clone(), d.clone()))
                .collect(),
        );
        return;
    };
    // The usual case: the trial has exactly the kept parameters, so one lockstep pass decides.
    if has_exactly(t, keep.iter().map(|(k, d)| (k, d))) {
        return;
    }
    // Both sorted by name: one merge pass instead of a lookup per name.
    let mut params = t.params.iter().peekable();
    keep.retain(|(k, d)| {
        while params
            .next_if(|(pk, _)| cmp_name(pk, k) == Ordering::Less)
            .is_some()
        {}
        params
            .peek()
            .is_some_and(|(pk, (td, _))| same_name(pk, k) && td == d)
    });
}

/// Whether `t` has exactly `params` (sorted by name), with the same distributions: one lockstep
/// pass over both.
pub(crate) fn has_exactly<'a>(
    t: &FrozenTrial,
    params: impl ExactSizeIterator<Item = (&'a String, &'a Distribution)>,
) -> bool {
    t.params.len() == params.len()
        && params
            .zip(&t.params)
            .all(|((k, d), (pk, (pd, _)))| same_name(k, pk) && d == pd)
}

/// Parameter names are short: comparing them inline costs less than the call into `memcmp`
/// that `str`'s comparisons make, and samplers compare every name of every trial on each ask.
#[inline]
pub(crate) fn cmp_name(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

#[inline]
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && cmp_name(a, b) == Ordering::Equal
}

/// The largest float below `x` (finite `x`).
pub fn next_down(x: f64) -> f64 {
    if x == 0.0 {
        -f64::from_bits(1)
    } else if x > 0.0 {
        f64::from_bits(x.to_bits() - 1)
    } else {
        f64::from_bits(x.to_bits() + 1)
    }
}
