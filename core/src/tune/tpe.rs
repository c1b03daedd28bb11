//! TPE with Optuna 5.0's semantics: multivariate by default (one shared kernel index across the
//! relative search space), constant liar (RUNNING trials count as bad), the per-dimension
//! neighbour-gap bandwidth, truncated (and, for stepped parameters, discretised) Gaussian kernels,
//! a prior component, older trials down-weighted past 25, 24 candidates scored by log l - log g.
//! Two objectives split by non-domination rank.

use std::collections::BTreeMap;

use libm::erfc;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use statrs::function::erf::erf_inv;

use super::distribution::Distribution;
use super::pareto::nondomination_ranks;
use super::sampler::{
    Sampler, SearchSpace, StudyView, intersection_search_space, rng_for, transformed_bounds,
    untransform,
};
use super::trial::{FrozenTrial, TrialState};

#[derive(Debug, Clone)]
pub struct TpeSampler {
    pub seed: u64,
    pub n_startup_trials: usize,
    pub n_ei_candidates: usize,
    pub multivariate: bool,
    pub constant_liar: bool,
    pub prior_weight: f64,
    /// Sample categorical parameters with univariate TPE, outside the joint (multivariate)
    /// kernel of the numerical ones.
    pub categorical_independent: bool,
}

impl TpeSampler {
    /// Optuna 5.0's defaults.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            n_startup_trials: 10,
            n_ei_candidates: 24,
            multivariate: true,
            constant_liar: true,
            prior_weight: 1.0,
            categorical_independent: true,
        }
    }
}

pub const RELATIVE_PARAMS_ATTR: &str = "tpe:relative_params:0";

const SQRT2: f64 = std::f64::consts::SQRT_2;
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_7;

/// log(Φ(b) - Φ(a)) for a < b, accurate in both tails.
fn log_ndtr_diff(a: f64, b: f64) -> f64 {
    // Φ(-9) ~ 1e-19: a kernel this far inside its bounds has all its mass.
    if a < -9.0 && b > 9.0 {
        return 0.0;
    }
    let p = if a > 0.0 {
        0.5 * (erfc(a / SQRT2) - erfc(b / SQRT2))
    } else if b < 0.0 {
        0.5 * (erfc(-b / SQRT2) - erfc(-a / SQRT2))
    } else {
        1.0 - 0.5 * erfc(-a / SQRT2) - 0.5 * erfc(b / SQRT2)
    };
    p.max(1e-300).ln()
}

fn ndtr(x: f64) -> f64 {
    0.5 * erfc(-x / SQRT2)
}

fn ndtri(p: f64) -> f64 {
    SQRT2 * erf_inv(2.0 * p - 1.0)
}

/// One dimension of a Parzen estimator.
enum Dim {
    /// Transformed bounds, kernel centres and widths; `step` (in the original space) marks a
    /// discretised kernel, `log` a log-space one.
    Num {
        lo: f64,
        hi: f64,
        mu: Vec<f64>,
        sigma: Vec<f64>,
        /// log of each kernel's mass on [lo, hi].
        log_z: Vec<f64>,
        /// `-log(σ √(2π)) - log_z`: the continuous kernel's log density at its centre.
        log_peak: Vec<f64>,
        /// `1 / σ`.
        inv_sigma: Vec<f64>,
        dist: Distribution,
    },
    /// Kernel k (an observation) puts `exp(log_hit)` on its own choice `obs[k]` and
    /// `exp(log_miss)` on each other; the last kernel (the prior) is uniform.
    Cat {
        obs: Vec<usize>,
        n_choices: usize,
        log_hit: f64,
        log_miss: f64,
    },
}

struct Parzen {
    log_w: Vec<f64>,
    weights: Vec<f64>,
    dims: Vec<(String, Dim)>,
}

fn default_weights(m: usize) -> Vec<f64> {
    if m < 25 {
        vec![1.0; m]
    } else {
        let ramp = m - 25;
        let mut w: Vec<f64> = (0..ramp)
            .map(|i| {
                if ramp == 1 {
                    1.0 / m as f64
                } else {
                    1.0 / m as f64 + (1.0 - 1.0 / m as f64) * i as f64 / (ramp - 1) as f64
                }
            })
            .collect();
        w.extend(std::iter::repeat_n(1.0, 25));
        w
    }
}

impl Parzen {
    /// `obs[i][d]`: internal values of observation i (ordered by trial number).
    fn new(space: &SearchSpace, obs: &[Vec<f64>], uniform: bool, prior_weight: f64) -> Self {
        let m = obs.len();
        let mut weights = if uniform {
            vec![1.0; m]
        } else {
            default_weights(m)
        };
        weights.push(prior_weight);
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let n_kernels = m + 1;
        let dims = space
            .iter()
            .enumerate()
            .map(|(d, (name, dist))| {
                let dim = match dist {
                    Distribution::Categorical { choices } => {
                        // Optuna's rows: prior_weight / n_kernels on every choice, plus 1 on
                        // the observed one, normalised.
                        let k = choices.len() as f64;
                        let base = prior_weight / n_kernels as f64;
                        let row_sum = base * k + 1.0;
                        Dim::Cat {
                            obs: obs.iter().map(|o| o[d] as usize).collect(),
                            n_choices: choices.len(),
                            log_hit: ((base + 1.0) / row_sum).ln(),
                            log_miss: (base / row_sum).ln(),
                        }
                    }
                    _ => {
                        let (lo, hi) = transformed_bounds(dist).expect("numerical");
                        let tx = |x: f64| match dist {
                            Distribution::Float { log: true, .. }
                            | Distribution::Int { log: true, .. } => x.ln(),
                            _ => x,
                        };
                        let mut mu: Vec<f64> = obs.iter().map(|o| tx(o[d])).collect();
                        let sigma_obs = neighbour_gap_bandwidth(&mu, lo, hi, n_kernels);
                        let mut sigma = sigma_obs;
                        mu.push((lo + hi) / 2.0);
                        sigma.push(hi - lo);
                        let log_z: Vec<f64> = mu
                            .iter()
                            .zip(&sigma)
                            .map(|(m, s)| log_ndtr_diff((lo - m) / s, (hi - m) / s))
                            .collect();
                        let log_peak = sigma
                            .iter()
                            .zip(&log_z)
                            .map(|(s, z)| -HALF_LN_2PI - s.ln() - z)
                            .collect();
                        let inv_sigma = sigma.iter().map(|s| 1.0 / s).collect();
                        Dim::Num {
                            lo,
                            hi,
                            mu,
                            sigma,
                            log_z,
                            log_peak,
                            inv_sigma,
                            dist: dist.clone(),
                        }
                    }
                };
                (name.clone(), dim)
            })
            .collect();
        Parzen {
            log_w: weights.iter().map(|w| w.ln()).collect(),
            weights,
            dims,
        }
    }

    fn sample(&self, rng: &mut ChaCha8Rng, n: usize) -> Vec<Vec<f64>> {
        (0..n)
            .map(|_| {
                let mut u = rng.random::<f64>();
                let mut k = self.weights.len() - 1;
                for (i, w) in self.weights.iter().enumerate() {
                    if u < *w {
                        k = i;
                        break;
                    }
                    u -= w;
                }
                self.dims
                    .iter()
                    .map(|(_, dim)| match dim {
                        Dim::Cat {
                            obs,
                            n_choices,
                            log_hit,
                            log_miss,
                        } => {
                            let mut u = rng.random::<f64>();
                            let mut c = n_choices - 1;
                            for j in 0..*n_choices {
                                let p = match obs.get(k) {
                                    Some(o) if *o == j => log_hit.exp(),
                                    Some(_) => log_miss.exp(),
                                    None => 1.0 / *n_choices as f64,
                                };
                                if u < p {
                                    c = j;
                                    break;
                                }
                                u -= p;
                            }
                            c as f64
                        }
                        Dim::Num {
                            lo,
                            hi,
                            mu,
                            sigma,
                            dist,
                            ..
                        } => {
                            let (m, s) = (mu[k], sigma[k]);
                            let (pa, pb) = (ndtr((lo - m) / s), ndtr((hi - m) / s));
                            let p = pa + (pb - pa) * rng.random::<f64>();
                            let z = if p > 0.0 && p < 1.0 { ndtri(p) } else { 0.0 };
                            let v = (m + s * z).clamp(*lo, *hi);
                            untransform(dist, v)
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// log density (mass, for discrete dimensions) of each point.
    fn log_pdf(&self, xs: &[Vec<f64>]) -> Vec<f64> {
        let nk = self.log_w.len();
        let mut acc: Vec<f64> = xs.iter().flat_map(|_| self.log_w.iter().copied()).collect();
        for (d, (_, dim)) in self.dims.iter().enumerate() {
            match dim {
                Dim::Cat {
                    obs,
                    n_choices,
                    log_hit,
                    log_miss,
                } => {
                    let log_prior = -(*n_choices as f64).ln();
                    for (x, row) in xs.iter().zip(acc.chunks_mut(nk)) {
                        let c = x[d] as usize;
                        for (a, o) in row.iter_mut().zip(obs) {
                            *a += if *o == c { *log_hit } else { *log_miss };
                        }
                        row[nk - 1] += log_prior;
                    }
                }
                Dim::Num {
                    mu,
                    log_z,
                    log_peak,
                    inv_sigma,
                    dist,
                    ..
                } => {
                    let stepped = match dist {
                        Distribution::Float { step, .. } => step.map(|s| (s, false)),
                        Distribution::Int { step, log, .. } => Some((*step as f64, *log)),
                        Distribution::Categorical { .. } => None,
                    };
                    match stepped {
                        None => {
                            let is_log = matches!(dist, Distribution::Float { log: true, .. });
                            for (x, row) in xs.iter().zip(acc.chunks_mut(nk)) {
                                let v = if is_log { x[d].ln() } else { x[d] };
                                for k in 0..nk {
                                    let z = (v - mu[k]) * inv_sigma[k];
                                    row[k] += log_peak[k] - 0.5 * z * z;
                                }
                            }
                        }
                        Some((s, log)) => {
                            // Candidates repeat grid values: each value's column once.
                            let mut columns: Vec<(f64, Vec<f64>)> = Vec::new();
                            for (x, row) in xs.iter().zip(acc.chunks_mut(nk)) {
                                let v = x[d];
                                let col = match columns.iter().position(|(cv, _)| *cv == v) {
                                    Some(i) => &columns[i].1,
                                    None => {
                                        let (a, b) = if log {
                                            ((v - s / 2.0).ln(), (v + s / 2.0).ln())
                                        } else {
                                            (v - s / 2.0, v + s / 2.0)
                                        };
                                        let col = (0..nk)
                                            .map(|k| {
                                                let (za, zb) = (
                                                    (a - mu[k]) * inv_sigma[k],
                                                    (b - mu[k]) * inv_sigma[k],
                                                );
                                                // Far in a tail the cell's mass is its width
                                                // times the density (to ~1e-3 relative), and
                                                // its term is negligible in the mixture anyway.
                                                let mass = if za > 9.0 || zb < -9.0 {
                                                    let zm = 0.5 * (za + zb);
                                                    -0.5 * zm * zm + (zb - za).ln() - HALF_LN_2PI
                                                } else {
                                                    log_ndtr_diff(za, zb)
                                                };
                                                mass - log_z[k]
                                            })
                                            .collect();
                                        columns.push((v, col));
                                        &columns.last().expect("just pushed").1
                                    }
                                };
                                for (a, c) in row.iter_mut().zip(col) {
                                    *a += c;
                                }
                            }
                        }
                    }
                }
            }
        }
        acc.chunks(nk)
            .map(|row| {
                let top = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                // Terms below e^-40 of the largest cannot change the sum.
                let sum: f64 = row
                    .iter()
                    .map(|a| a - top)
                    .filter(|d| *d > -40.0)
                    .map(f64::exp)
                    .sum();
                top + sum.ln()
            })
            .collect()
    }
}

/// Optuna 5.0's bandwidth: each kernel's σ is the larger gap to its sorted neighbours (the
/// outermost kernels look inward only), clipped to [(hi-lo)/min(100, 1+n_kernels), hi-lo].
fn neighbour_gap_bandwidth(mu: &[f64], lo: f64, hi: f64, n_kernels: usize) -> Vec<f64> {
    let m = mu.len();
    let range = hi - lo;
    let min_sigma = range / (100.0_f64).min(1.0 + n_kernels as f64);
    if m == 0 {
        return Vec::new();
    }
    // Sort (value, index) pairs: no indirection in the comparisons. Equal values keep their
    // order (stable), as NumPy's argsort on them is irrelevant to the gaps (zero either way).
    let mut sorted: Vec<(f64, usize)> = mu.iter().copied().zip(0..m).collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut sigma = vec![0.0; m];
    for rank in 0..m {
        let (v, i) = sorted[rank];
        let left = if rank == 0 {
            v - lo
        } else {
            v - sorted[rank - 1].0
        };
        let right = if rank + 1 == m {
            hi - v
        } else {
            sorted[rank + 1].0 - v
        };
        let s = if m >= 2 && rank == 0 {
            right
        } else if m >= 2 && rank + 1 == m {
            left
        } else {
            left.max(right)
        };
        sigma[i] = s.clamp(min_sigma, range);
    }
    sigma
}

impl TpeSampler {
    fn sample(
        &self,
        study: &StudyView,
        trial: &FrozenTrial,
        space: &SearchSpace,
        purpose: &str,
    ) -> BTreeMap<String, f64> {
        let n_done = study
            .trials
            .iter()
            .filter(|t| matches!(t.state, TrialState::Complete | TrialState::Pruned))
            .count();
        let mut rng = rng_for(self.seed, trial.number, purpose);
        if n_done < self.n_startup_trials {
            return space
                .iter()
                .map(|(k, d)| (k.clone(), super::sampler::sample_uniform(d, &mut rng)))
                .collect();
        }
        let (below, above) = self.split(study, trial);
        let obs = |ts: &[&FrozenTrial]| -> Vec<Vec<f64>> {
            ts.iter().filter_map(|t| values_in(t, space)).collect()
        };
        let multi = study.directions.len() > 1;
        let l = Parzen::new(space, &obs(&below), multi, self.prior_weight);
        let g = Parzen::new(space, &obs(&above), false, self.prior_weight);
        let cands = l.sample(&mut rng, self.n_ei_candidates);
        let (ll, lg) = (l.log_pdf(&cands), g.log_pdf(&cands));
        let best = (0..cands.len())
            .max_by(|&a, &b| (ll[a] - lg[a]).total_cmp(&(ll[b] - lg[b])))
            .unwrap_or(0);
        space
            .keys()
            .cloned()
            .zip(cands[best].iter().copied())
            .collect()
    }

    /// Optuna's `_split_trials`: the best `gamma(n)` finished trials ("below"), the rest and
    /// every other RUNNING trial ("above"), each in trial-number order.
    fn split<'a>(
        &self,
        study: &'a StudyView,
        trial: &FrozenTrial,
    ) -> (Vec<&'a FrozenTrial>, Vec<&'a FrozenTrial>) {
        let multi = study.directions.len() > 1;
        let mut complete: Vec<&FrozenTrial> = study
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Complete && t.values.is_some())
            .map(|t| &**t)
            .collect();
        let mut pruned: Vec<&FrozenTrial> = study
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Pruned)
            .map(|t| &**t)
            .collect();
        let running: Vec<&FrozenTrial> = if self.constant_liar {
            study
                .trials
                .iter()
                .filter(|t| t.state == TrialState::Running && t.number != trial.number)
                .map(|t| &**t)
                .collect()
        } else {
            Vec::new()
        };
        let n = complete.len() + pruned.len();
        let n_below = if multi {
            (0.1 * n as f64).ceil() as usize
        } else {
            ((0.1 * n as f64).ceil() as usize).min(25)
        };
        if multi {
            let losses: Vec<Vec<f64>> = complete
                .iter()
                .map(|t| t.losses(study.directions))
                .collect();
            let ranks = nondomination_ranks(&losses);
            let mut idx: Vec<usize> = (0..complete.len()).collect();
            idx.sort_by_key(|&i| (ranks[i], complete[i].number));
            complete = idx.into_iter().map(|i| complete[i]).collect();
        } else {
            let dir = study.directions[0];
            complete.sort_by(|a, b| {
                dir.loss(a.value().unwrap_or(f64::NAN))
                    .total_cmp(&dir.loss(b.value().unwrap_or(f64::NAN)))
                    .then(a.number.cmp(&b.number))
            });
        }
        let dir = study.directions[0];
        pruned.sort_by(|a, b| {
            let key = |t: &FrozenTrial| {
                let step = t.last_step().unwrap_or(i64::MIN);
                let v = t
                    .last_step()
                    .map(|s| dir.loss(t.intermediate[&s]))
                    .filter(|v| !v.is_nan())
                    .unwrap_or(f64::INFINITY);
                (-(step as i128), v)
            };
            let (ka, kb) = (key(a), key(b));
            ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
        });
        let ordered: Vec<&FrozenTrial> = complete.into_iter().chain(pruned).collect();
        let (b, a) = ordered.split_at(n_below.min(ordered.len()));
        let mut below = b.to_vec();
        let mut above: Vec<&FrozenTrial> = a.iter().copied().chain(running).collect();
        below.sort_by_key(|t| t.number);
        above.sort_by_key(|t| t.number);
        (below, above)
    }
}

/// The internal values of `space` in `t`, if it has them all (RUNNING trials also through the
/// relative sample they recorded).
fn values_in(t: &FrozenTrial, space: &SearchSpace) -> Option<Vec<f64>> {
    // Both maps are sorted by name: walk them together (one comparison per step).
    let mut params = t.params.iter().peekable();
    let mut out = Vec::with_capacity(space.len());
    let mut relative: Option<Option<BTreeMap<String, Value>>> = None;
    for (k, d) in space {
        while params.next_if(|(pk, _)| pk.as_str() < k.as_str()).is_some() {}
        match params.peek() {
            Some((pk, (td, x))) if *pk == k => {
                if td != d {
                    return None;
                }
                out.push(*x);
            }
            _ => {
                // A RUNNING trial's other parameters are in the relative sample it recorded.
                if t.state != TrialState::Running {
                    return None;
                }
                let r = relative.get_or_insert_with(|| {
                    t.system_attrs
                        .get(RELATIVE_PARAMS_ATTR)
                        .and_then(|v| v.as_str())
                        .and_then(|s| serde_json::from_str(s).ok())
                });
                out.push(r.as_ref()?.get(k).and_then(|v| d.to_internal(v).ok())?);
            }
        }
    }
    Some(out)
}

impl Sampler for TpeSampler {
    fn relative_search_space(&self, study: &StudyView, _: &FrozenTrial) -> SearchSpace {
        if self.multivariate {
            let mut space = intersection_search_space(study.trials, true);
            if self.categorical_independent {
                space.retain(|_, d| !matches!(d, Distribution::Categorical { .. }));
            }
            space
        } else {
            SearchSpace::new()
        }
    }

    fn sample_relative(
        &self,
        study: &StudyView,
        trial: &FrozenTrial,
        space: &SearchSpace,
    ) -> (BTreeMap<String, f64>, BTreeMap<String, Value>) {
        if space.is_empty() {
            return Default::default();
        }
        let params = self.sample(study, trial, space, "tpe:relative");
        // Recorded so other workers' constant liar sees this trial's whole point at once.
        let external: serde_json::Map<String, Value> = params
            .iter()
            .map(|(k, x)| (k.clone(), space[k].to_external(*x)))
            .collect();
        let attrs = BTreeMap::from([(
            RELATIVE_PARAMS_ATTR.to_string(),
            Value::String(Value::Object(external).to_string()),
        )]);
        (params, attrs)
    }

    fn sample_independent(
        &self,
        study: &StudyView,
        trial: &FrozenTrial,
        name: &str,
        dist: &Distribution,
    ) -> f64 {
        let space = SearchSpace::from([(name.to_string(), dist.clone())]);
        self.sample(study, trial, &space, name)[name]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidth_follows_the_neighbour_gaps() {
        // Sorted centres 0.1, 0.2, 0.6 on [0, 1]: outer kernels look inward, the middle one
        // takes its larger gap; minimum width 1/min(100, 1+4).
        let s = neighbour_gap_bandwidth(&[0.6, 0.1, 0.2], 0.0, 1.0, 4);
        assert!((s[1] - 0.2).abs() < 1e-12, "{s:?}"); // 0.1 -> gap 0.1 to the right, clipped up to 0.2
        assert!((s[2] - 0.4).abs() < 1e-12, "{s:?}");
        assert!((s[0] - 0.4).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn weights_ramp_after_25() {
        let w = default_weights(30);
        assert_eq!(w.len(), 30);
        assert!((w[0] - 1.0 / 30.0).abs() < 1e-12);
        assert_eq!(w[29], 1.0);
        assert_eq!(default_weights(3), vec![1.0; 3]);
    }

    #[test]
    fn tail_probabilities_are_accurate() {
        assert!((log_ndtr_diff(-1.0, 1.0) - 0.682_689_492_137_085_9_f64.ln()).abs() < 1e-9);
        assert!(log_ndtr_diff(30.0, 31.0).is_finite());
    }
}
