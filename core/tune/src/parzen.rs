//! The Parzen estimator behind TPE, in Optuna 5.0's form: one kernel per observation plus a
//! prior, truncated Gaussians with the neighbour-gap bandwidth on numerical dimensions
//! (discretised onto the grid where the distribution has a step), Aitchison-Aitken style rows on
//! categorical ones, and a joint kernel index across dimensions (multivariate).
//!
//! It is the tuner's hot path: at 1,000 trials TPE scores 24 candidates against about 1,000
//! kernels per ask. Hence the layout: everything that does not depend on the candidate (the
//! weights, peaks and normalisers) is folded into one `base` term per kernel, a candidate's
//! terms accumulate in one small reused buffer, grid cells are evaluated once per distinct
//! kernel shape, and a lone categorical dimension is a closed-form table.

use libm::erfc;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use statrs::function::erf::erf_inv;

use super::distribution::Distribution;
use super::sampler::{SearchSpace, transformed_bounds, untransform};
use strider_base::multiversion;

const SQRT2: f64 = std::f64::consts::SQRT_2;
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_7;
/// Mixture terms this far (in nats) below the largest cannot change the sum of a mixture of at
/// most a few thousand kernels (e^-40 ~ 4e-18).
const NEGLIGIBLE: f64 = -40.0;

/// log(Φ(b) - Φ(a)) for a < b, accurate in both tails.
pub(crate) fn log_ndtr_diff(a: f64, b: f64) -> f64 {
    // Φ(-9) ~ 1e-19: a kernel this far inside its bounds has all its mass.
    if a < -9.0 && b > 9.0 {
        return 0.0;
    }
    let p = if a > 0.0 {
        0.5 * (erfc(a / SQRT2) - erfc(b / SQRT2))
    } else if b < 0.0 {
        0.5 * (erfc(-b / SQRT2) - erfc(-a / SQRT2))
    } else {
        // a <= 0 <= b: each tail outside is at most 1/2, and one past 9σ (Φ(-9) ~ 1e-19)
        // cannot change the difference, so it costs no erfc.
        let below = if a < -9.0 {
            0.0
        } else {
            0.5 * erfc(-a / SQRT2)
        };
        let above = if b > 9.0 { 0.0 } else { 0.5 * erfc(b / SQRT2) };
        1.0 - below - above
    };
    p.max(1e-300).ln()
}

/// `ln` behind a call LLVM may not hoist: inline, a branch that skips the logarithm becomes a
/// select that always takes it.
#[inline(never)]
fn ln_not_speculated(x: f64) -> f64 {
    x.ln()
}

fn ndtr(x: f64) -> f64 {
    0.5 * erfc(-x / SQRT2)
}

fn ndtri(p: f64) -> f64 {
    SQRT2 * erf_inv(2.0 * p - 1.0)
}

/// A stepped dimension's kernels grouped by shape: kernels with the same centre and width give
/// the same mass on every grid cell, and an integer parameter has few distinct shapes.
struct Grid {
    step: f64,
    log: bool,
    /// (μ, 1/σ) of each distinct shape.
    shapes: Vec<(f64, f64)>,
    /// The shape of each kernel.
    shape_of: Vec<u32>,
}

impl Grid {
    /// log mass of the grid cell around internal value `v` under each shape.
    fn cell_masses(&self, v: f64) -> Vec<f64> {
        let (a, b) = if self.log {
            ((v - self.step / 2.0).ln(), (v + self.step / 2.0).ln())
        } else {
            (v - self.step / 2.0, v + self.step / 2.0)
        };
        self.shapes
            .iter()
            .map(|&(mu, inv_sigma)| {
                let (za, zb) = ((a - mu) * inv_sigma, (b - mu) * inv_sigma);
                // Far in a tail the cell's mass is its width times the density (to ~1e-3
                // relative), and its term is negligible in the mixture anyway.
                if za > 9.0 || zb < -9.0 {
                    let zm = 0.5 * (za + zb);
                    -0.5 * zm * zm + (zb - za).ln() - HALF_LN_2PI
                } else {
                    log_ndtr_diff(za, zb)
                }
            })
            .collect()
    }
}

/// One numerical dimension, in the transformed (log where `log`) space.
struct NumDim {
    lo: f64,
    hi: f64,
    mu: Vec<f64>,
    sigma: Vec<f64>,
    inv_sigma: Vec<f64>,
    /// Continuous kernels are scored in the transformed space; `ln` says the candidate's value
    /// must be transformed first.
    ln: bool,
    grid: Option<Grid>,
    dist: Distribution,
}

/// Kernel k (an observation) puts `exp(log_hit)` on its own choice `obs[k]` and `exp(log_miss)`
/// on each other; the last kernel (the prior) is uniform.
struct CatDim {
    obs: Vec<usize>,
    n_choices: usize,
    log_hit: f64,
    log_miss: f64,
}

enum Dim {
    Num(NumDim),
    Cat(CatDim),
}

/// What a Parzen estimator is built on: the observations' internal values, one row of
/// `space.len()` per observation, and, when the caller has it, each dimension's rows sorted by
/// value (ties in row order).
pub(crate) struct Observations {
    pub(crate) values: Vec<f64>,
    pub(crate) orders: Option<Vec<Vec<u32>>>,
}

pub(crate) struct Parzen {
    weights: Vec<f64>,
    dims: Vec<Dim>,
    /// Per kernel: log weight + every candidate-independent term (continuous peaks, truncation
    /// normalisers, the prior's categorical mass).
    base: Vec<f64>,
    /// A lone categorical dimension: the mixture's log mass of each choice.
    cat_table: Option<Vec<f64>>,
}

/// Optuna's weights: flat up to 25 observations, then a linear ramp on the older ones.
pub(crate) fn default_weights(m: usize) -> Vec<f64> {
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

/// A key whose integer order is `f64::total_cmp`'s.
pub(crate) fn ordered_bits(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

/// Indices of `xs` sorted by value, ties in index order (a stable sort's result), through one
/// integer sort: the bandwidth needs this per dimension on every ask.
fn sorted_order(xs: &[f64]) -> Vec<u32> {
    let mut keys: Vec<u128> = xs
        .iter()
        .enumerate()
        .map(|(i, x)| ((ordered_bits(*x) as u128) << 32) | i as u128)
        .collect();
    keys.sort_unstable();
    keys.into_iter().map(|k| k as u32).collect()
}

/// Optuna 5.0's bandwidth: each kernel's σ is the larger gap to its sorted neighbours (the
/// outermost kernels look inward only), clipped to [(hi-lo)/min(100, 1+n_kernels), hi-lo].
/// `order` is `sorted_order(mu)`.
pub(crate) fn neighbour_gap_bandwidth(
    mu: &[f64],
    order: &[u32],
    lo: f64,
    hi: f64,
    n_kernels: usize,
) -> Vec<f64> {
    let m = mu.len();
    let range = hi - lo;
    let min_sigma = range / (100.0_f64).min(1.0 + n_kernels as f64);
    let mut sigma = Vec::with_capacity(m + 1);
    sigma.resize(m, 0.0);
    // The centres in sorted order, padded with the bounds: the gaps are then plain differences.
    let mut sorted = Vec::with_capacity(m + 2);
    sorted.push(lo);
    sorted.extend(order.iter().map(|&i| mu[i as usize]));
    sorted.push(hi);
    for (rank, w) in sorted.windows(3).enumerate() {
        let (left, right) = (w[1] - w[0], w[2] - w[1]);
        let s = if m >= 2 && rank == 0 {
            right
        } else if m >= 2 && rank + 1 == m {
            left
        } else {
            left.max(right)
        };
        sigma[order[rank] as usize] = s.clamp(min_sigma, range);
    }
    sigma
}

/// Distinct (μ, σ) shapes of a stepped dimension's kernels; `order` sorts the observations'
/// centres, so equal centres are adjacent. The prior (last kernel) is a shape of its own.
fn grid_shapes(mu: &[f64], sigma: &[f64], order: &[u32]) -> (Vec<(f64, f64)>, Vec<u32>) {
    let mut shapes: Vec<(f64, f64)> = Vec::new();
    let mut shape_of = vec![0u32; mu.len()];
    let mut run_start = 0;
    for &i in order {
        let i = i as usize;
        if shapes
            .get(run_start)
            .is_some_and(|(m, _)| m.to_bits() != mu[i].to_bits())
        {
            run_start = shapes.len();
        }
        let found = shapes[run_start..]
            .iter()
            .position(|(_, s)| s.to_bits() == sigma[i].to_bits());
        shape_of[i] = match found {
            Some(p) => (run_start + p) as u32,
            None => {
                shapes.push((mu[i], sigma[i]));
                (shapes.len() - 1) as u32
            }
        };
    }
    let prior = mu.len() - 1;
    shape_of[prior] = shapes.len() as u32;
    shapes.push((mu[prior], sigma[prior]));
    (shapes, shape_of)
}

impl Parzen {
    /// Kernels on `obs` (ordered by trial number), plus the prior.
    pub(crate) fn new(
        space: &SearchSpace,
        obs: &Observations,
        uniform: bool,
        prior_weight: f64,
    ) -> Self {
        let n_dims = space.len();
        let order_of = |d: usize| obs.orders.as_ref().map(|o| o[d].as_slice());
        let obs = &obs.values;
        let m = obs.len().checked_div(n_dims).unwrap_or(0);
        let mut weights = if uniform {
            vec![1.0; m]
        } else {
            default_weights(m)
        };
        weights.push(prior_weight);
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let n_kernels = m + 1;
        let mut base: Vec<f64> = weights.iter().map(|w| w.ln()).collect();
        let column = |d: usize| (0..m).map(move |i| obs[i * n_dims + d]);
        let dims: Vec<Dim> = space
            .values()
            .enumerate()
            .map(|(d, dist)| match dist {
                Distribution::Categorical { choices } => {
                    // Optuna's rows: prior_weight / n_kernels on every choice, plus 1 on the
                    // observed one, normalised.
                    let k = choices.len() as f64;
                    let share = prior_weight / n_kernels as f64;
                    let row_sum = share * k + 1.0;
                    base[m] -= k.ln();
                    Dim::Cat(CatDim {
                        obs: column(d).map(|x| x as usize).collect(),
                        n_choices: choices.len(),
                        log_hit: ((share + 1.0) / row_sum).ln(),
                        log_miss: (share / row_sum).ln(),
                    })
                }
                _ => Dim::Num(NumDim::new(
                    dist,
                    column(d),
                    order_of(d),
                    n_kernels,
                    &mut base,
                )),
            })
            .collect();
        let cat_table = match dims.as_slice() {
            [Dim::Cat(c)] => Some(c.table(&weights)),
            _ => None,
        };
        Parzen {
            weights,
            dims,
            base,
            cat_table,
        }
    }

    pub(crate) fn sample(&self, rng: &mut ChaCha8Rng, n: usize) -> Vec<Vec<f64>> {
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
                    .map(|dim| match dim {
                        Dim::Cat(c) => c.sample(k, rng),
                        Dim::Num(d) => d.sample(k, rng),
                    })
                    .collect()
            })
            .collect()
    }

    /// log density (mass, for discrete dimensions) of each point.
    pub(crate) fn log_pdf(&self, xs: &[Vec<f64>]) -> Vec<f64> {
        if let Some(table) = &self.cat_table {
            return xs.iter().map(|x| table[x[0] as usize]).collect();
        }
        // Grid cells repeat across candidates: each distinct value's masses once per dimension.
        let mut cells: Vec<Vec<(f64, Vec<f64>)>> = vec![Vec::new(); self.dims.len()];
        let per_dim: Vec<Vec<Term>> = self
            .dims
            .iter()
            .enumerate()
            .map(|(d, dim)| {
                xs.iter()
                    .map(|x| match dim {
                        Dim::Cat(_) => Term::Choice(x[d] as usize),
                        Dim::Num(NumDim {
                            grid: Some(grid), ..
                        }) => {
                            let cache = &mut cells[d];
                            Term::Cells(match cache.iter().position(|(v, _)| *v == x[d]) {
                                Some(i) => i,
                                None => {
                                    cache.push((x[d], grid.cell_masses(x[d])));
                                    cache.len() - 1
                                }
                            })
                        }
                        Dim::Num(n) => Term::Centre(if n.ln { x[d].ln() } else { x[d] }),
                    })
                    .collect()
            })
            .collect();
        // Each candidate's log term per kernel, a row per candidate. Kernels are taken in
        // blocks small enough that a block's rows for every candidate and its kernels stay in
        // L1 through all dimensions (each term sees the same operations in the same order as
        // one candidate at a time would).
        let nk = self.base.len();
        SCORES.with_borrow_mut(|acc| {
            acc.clear();
            for _ in xs {
                acc.extend_from_slice(&self.base);
            }
            self.score_terms(acc, &per_dim, &cells);
            acc.chunks(nk).map(log_sum_exp).collect()
        })
    }

    /// Subtracts / adds each dimension's term for every candidate (a row of `acc` each), block
    /// by block.
    fn score_terms(&self, acc: &mut [f64], per_dim: &[Vec<Term>], cells: &[Vec<(f64, Vec<f64>)>]) {
        let nk = self.base.len();
        for start in (0..nk).step_by(BLOCK) {
            let end = (start + BLOCK).min(nk);
            for ((d, dim), terms) in self.dims.iter().enumerate().zip(per_dim) {
                for (row, term) in acc.chunks_mut(nk).zip(terms) {
                    let a = &mut row[start..end];
                    match (dim, term) {
                        (Dim::Cat(c), Term::Choice(choice)) => c.add_terms(*choice, start, a),
                        (Dim::Num(n), Term::Cells(i)) => {
                            // Cell terms are made only for dimensions that have a grid.
                            let Some(grid) = n.grid.as_ref() else {
                                continue;
                            };
                            let masses = &cells[d][*i].1;
                            for (a, s) in a.iter_mut().zip(&grid.shape_of[start..end]) {
                                *a += masses[*s as usize];
                            }
                        }
                        (Dim::Num(n), Term::Centre(v)) => {
                            sub_half_squares(a, *v, &n.mu[start..end], &n.inv_sigma[start..end])
                        }
                        _ => unreachable!("terms follow their dimension"),
                    }
                }
            }
        }
    }
}

thread_local! {
    /// The candidates' scores, kept between asks: at 1,000 trials they are about 190 KB, and a
    /// fresh buffer of that size each ask costs more in page faults than the scoring it holds.
    static SCORES: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Kernels per block of scoring: 24 candidates' rows of 128 doubles are 24 KiB.
const BLOCK: usize = 128;

/// What a candidate contributes in one dimension.
enum Term {
    Choice(usize),
    /// Index of the candidate's value in that dimension's cell cache.
    Cells(usize),
    /// The (transformed) value, for continuous kernels.
    Centre(f64),
}

multiversion! {
    /// `acc[k] -= ((v - mu[k]) / σ_k)² / 2`: the inner loop of scoring, run 8 or 4 wide where
    /// the CPU has AVX-512 or AVX2 (same bits: no FMA).
    fn sub_half_squares(acc: &mut [f64], v: f64, mu: &[f64], inv_sigma: &[f64]) => sub_half_squares_impl
}

/// A function of its own so the slices are known not to alias, which lets it vectorise.
#[inline(always)]
fn sub_half_squares_impl(acc: &mut [f64], v: f64, mu: &[f64], inv_sigma: &[f64]) {
    let n = acc.len();
    let (mu, inv_sigma) = (&mu[..n], &inv_sigma[..n]);
    for k in 0..n {
        let z = (v - mu[k]) * inv_sigma[k];
        acc[k] -= 0.5 * z * z;
    }
}

multiversion! {
    /// log Σ exp(terms), leaving out terms more than 40 nats below the largest.
    fn log_sum_exp(terms: &[f64]) -> f64 => log_sum_exp_impl
}

#[inline(always)]
fn log_sum_exp_impl(terms: &[f64]) -> f64 {
    // Four running maxima: one is a serial chain the compiler will not vectorise.
    let mut lanes = [f64::NEG_INFINITY; 4];
    let chunks = terms.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks.clone() {
        for j in 0..4 {
            lanes[j] = if c[j] > lanes[j] { c[j] } else { lanes[j] };
        }
    }
    let top = rest
        .iter()
        .chain(&lanes)
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    // Few terms come within 40 nats of the top: test four at once, branch-free, and visit the
    // rare group that has one (in order, so the sum is the plain loop's).
    let floor = top + NEGLIGIBLE;
    let mut sum = 0.0;
    let mut add = |a: f64| {
        let d = a - top;
        if d > NEGLIGIBLE {
            sum += d.exp();
        }
    };
    for c in chunks {
        if (c[0] > floor) | (c[1] > floor) | (c[2] > floor) | (c[3] > floor) {
            c.iter().for_each(|a| add(*a));
        }
    }
    rest.iter().for_each(|a| add(*a));
    top + sum.ln()
}

impl NumDim {
    /// Kernels on the observations `xs` (internal values; `order` sorts them, if known) plus
    /// the prior; adds each kernel's candidate-independent log terms to `base`.
    fn new(
        dist: &Distribution,
        xs: impl Iterator<Item = f64>,
        order: Option<&[u32]>,
        n_kernels: usize,
        base: &mut [f64],
    ) -> Self {
        // Only numeric dimensions get here; a categorical would get the unit range.
        let (lo, hi) = transformed_bounds(dist).unwrap_or((0.0, 1.0));
        let is_log = matches!(
            dist,
            Distribution::Float { log: true, .. } | Distribution::Int { log: true, .. }
        );
        // Room for the prior's kernel, pushed last.
        let mut mu: Vec<f64> = Vec::with_capacity(n_kernels);
        if is_log {
            mu.extend(xs.map(f64::ln));
        } else {
            mu.extend(xs);
        }
        // The log transform keeps the order of the internal values.
        let sorted;
        let order = match order {
            Some(o) => o,
            None => {
                sorted = sorted_order(&mu);
                &sorted
            }
        };
        let mut sigma = neighbour_gap_bandwidth(&mu, order, lo, hi, n_kernels);
        mu.push((lo + hi) / 2.0);
        sigma.push(hi - lo);
        let step = match dist {
            Distribution::Float { step, .. } => *step,
            Distribution::Int { step, .. } => Some(*step as f64),
            Distribution::Categorical { .. } => None,
        };
        let log_z_of = |m: f64, s: f64| log_ndtr_diff((lo - m) / s, (hi - m) / s);
        let grid = match step {
            Some(step) => {
                let (shapes, shape_of) = grid_shapes(&mu, &sigma, order);
                let shape_log_z: Vec<f64> = shapes.iter().map(|&(m, s)| log_z_of(m, s)).collect();
                for (b, s) in base.iter_mut().zip(&shape_of) {
                    *b -= shape_log_z[*s as usize];
                }
                Some(Grid {
                    step,
                    // Log-scale integers are discretised on cells of the original space.
                    log: is_log,
                    shapes: shapes.into_iter().map(|(m, s)| (m, 1.0 / s)).collect(),
                    shape_of,
                })
            }
            None => {
                // With many observations most widths sit on the lower clip: one logarithm
                // for all of them.
                let clip = (hi - lo) / (100.0_f64).min(1.0 + n_kernels as f64);
                // Such a kernel 9σ inside both bounds keeps all its mass (log_z = 0), so
                // its peak term is the same as every other one's.
                let ln_clip = clip.ln();
                let common = -HALF_LN_2PI - ln_clip;
                let (inner_lo, inner_hi) = (lo + 9.0 * clip, hi - 9.0 * clip);
                for ((b, m), s) in base.iter_mut().zip(&mu).zip(&sigma) {
                    *b += if *s == clip && *m > inner_lo && *m < inner_hi {
                        common
                    } else {
                        -HALF_LN_2PI - ln_not_speculated(*s) - log_z_of(*m, *s)
                    };
                }
                None
            }
        };
        let inv_sigma = sigma.iter().map(|s| 1.0 / s).collect();
        NumDim {
            lo,
            hi,
            mu,
            sigma,
            inv_sigma,
            ln: is_log,
            grid,
            dist: dist.clone(),
        }
    }

    fn sample(&self, k: usize, rng: &mut ChaCha8Rng) -> f64 {
        let (m, s) = (self.mu[k], self.sigma[k]);
        let (pa, pb) = (ndtr((self.lo - m) / s), ndtr((self.hi - m) / s));
        let p = pa + (pb - pa) * rng.random::<f64>();
        let z = if p > 0.0 && p < 1.0 { ndtri(p) } else { 0.0 };
        let v = (m + s * z).clamp(self.lo, self.hi);
        untransform(&self.dist, v)
    }
}

impl CatDim {
    fn sample(&self, k: usize, rng: &mut ChaCha8Rng) -> f64 {
        let mut u = rng.random::<f64>();
        let mut c = self.n_choices - 1;
        for j in 0..self.n_choices {
            let p = match self.obs.get(k) {
                Some(o) if *o == j => self.log_hit.exp(),
                Some(_) => self.log_miss.exp(),
                None => 1.0 / self.n_choices as f64,
            };
            if u < p {
                c = j;
                break;
            }
            u -= p;
        }
        c as f64
    }

    /// Each observation kernel's log mass on choice `c` (the prior's is in `base`), for the
    /// kernels from `start` on.
    fn add_terms(&self, c: usize, start: usize, acc: &mut [f64]) {
        let obs = self.obs.get(start..).unwrap_or_default();
        for (a, o) in acc.iter_mut().zip(obs) {
            *a += if *o == c { self.log_hit } else { self.log_miss };
        }
    }

    /// The mixture's log mass on each choice, in closed form: kernels that observed the same
    /// choice are the same kernel up to weight.
    fn table(&self, weights: &[f64]) -> Vec<f64> {
        let mut on = vec![0.0; self.n_choices];
        for (o, w) in self.obs.iter().zip(weights) {
            on[*o] += w;
        }
        let observed: f64 = on.iter().sum();
        let prior = weights[self.obs.len()] / self.n_choices as f64;
        let (hit, miss) = (self.log_hit.exp(), self.log_miss.exp());
        on.iter()
            .map(|w| (w * hit + (observed - w) * miss + prior).ln())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unsorted(values: &[f64]) -> Observations {
        Observations {
            values: values.to_vec(),
            orders: None,
        }
    }

    fn bandwidth(mu: &[f64], lo: f64, hi: f64, n_kernels: usize) -> Vec<f64> {
        neighbour_gap_bandwidth(mu, &sorted_order(mu), lo, hi, n_kernels)
    }

    #[test]
    fn bandwidth_follows_the_neighbour_gaps() {
        // Sorted centres 0.1, 0.2, 0.6 on [0, 1]: outer kernels look inward, the middle one
        // takes its larger gap; minimum width 1/min(100, 1+4).
        let s = bandwidth(&[0.6, 0.1, 0.2], 0.0, 1.0, 4);
        assert!((s[1] - 0.2).abs() < 1e-12, "{s:?}"); // 0.1 -> gap 0.1 to the right, clipped up to 0.2
        assert!((s[2] - 0.4).abs() < 1e-12, "{s:?}");
        assert!((s[0] - 0.4).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn sorted_order_is_a_stable_total_order() {
        let xs = [0.5, -0.0, 0.0, -3.0, 0.5, f64::INFINITY, -1e-300];
        let mut want: Vec<u32> = (0..xs.len() as u32).collect();
        want.sort_by(|a, b| xs[*a as usize].total_cmp(&xs[*b as usize]));
        assert_eq!(sorted_order(&xs), want);
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
        // One-sided: Φ(10) - Φ(0.5) = 1 - Φ(0.5).
        assert!((log_ndtr_diff(0.5, 10.0) - 0.308_537_538_725_986_9_f64.ln()).abs() < 1e-12);
        assert!((log_ndtr_diff(-10.0, -0.5) - 0.308_537_538_725_986_9_f64.ln()).abs() < 1e-12);
        assert!(log_ndtr_diff(30.0, 31.0).is_finite());
    }

    /// The direct mixture the fast paths must reproduce: Σ_k w_k Π_d p_kd(x_d).
    fn brute_force(space: &SearchSpace, obs: &[f64], x: &[f64]) -> f64 {
        let n_dims = space.len();
        let m = obs.len() / n_dims;
        let mut w = default_weights(m);
        w.push(1.0);
        let total: f64 = w.iter().sum();
        let log_scale = |dist: &Distribution| {
            matches!(
                dist,
                Distribution::Float { log: true, .. } | Distribution::Int { log: true, .. }
            )
        };
        // Each numerical dimension's centres (transformed) and widths.
        let kernels: Vec<(Vec<f64>, Vec<f64>)> = space
            .values()
            .enumerate()
            .map(|(d, dist)| {
                let Some((lo, hi)) = transformed_bounds(dist) else {
                    return (Vec::new(), Vec::new());
                };
                let tx = |v: f64| if log_scale(dist) { v.ln() } else { v };
                let mus: Vec<f64> = (0..m).map(|i| tx(obs[i * n_dims + d])).collect();
                let sig = bandwidth(&mus, lo, hi, m + 1);
                (mus, sig)
            })
            .collect();
        let mut sum = 0.0;
        for (k, wk) in w.iter().enumerate() {
            let mut p = wk / total;
            for (d, dist) in space.values().enumerate() {
                p *= match dist {
                    Distribution::Categorical { choices } => {
                        let n = choices.len() as f64;
                        let share = 1.0 / (m + 1) as f64;
                        if k == m {
                            1.0 / n
                        } else if obs[k * n_dims + d] == x[d] {
                            (share + 1.0) / (share * n + 1.0)
                        } else {
                            share / (share * n + 1.0)
                        }
                    }
                    _ => {
                        let (lo, hi) = transformed_bounds(dist).unwrap();
                        let tx = |v: f64| if log_scale(dist) { v.ln() } else { v };
                        let (mus, sig) = &kernels[d];
                        let (mu, s) = if k == m {
                            ((lo + hi) / 2.0, hi - lo)
                        } else {
                            (mus[k], sig[k])
                        };
                        let z_mass = ndtr((hi - mu) / s) - ndtr((lo - mu) / s);
                        let step = match dist {
                            Distribution::Int { step, .. } => Some(*step as f64),
                            Distribution::Float { step, .. } => *step,
                            _ => None,
                        };
                        match step {
                            Some(st) => {
                                let (a, b) = (tx(x[d] - st / 2.0), tx(x[d] + st / 2.0));
                                (ndtr((b - mu) / s) - ndtr((a - mu) / s)) / z_mass
                            }
                            None => {
                                let z = (tx(x[d]) - mu) / s;
                                (-0.5 * z * z - HALF_LN_2PI).exp() / s / z_mass
                            }
                        }
                    }
                };
            }
            sum += p;
        }
        sum.ln()
    }

    #[test]
    fn log_pdf_equals_the_direct_mixture() {
        use rand::SeedableRng;
        let space = SearchSpace::from([
            ("a".to_string(), Distribution::float(-2.0, 3.0)),
            (
                "b".to_string(),
                Distribution::Float {
                    low: 1e-3,
                    high: 1.0,
                    log: true,
                    step: None,
                },
            ),
            (
                "c".to_string(),
                Distribution::Int {
                    low: 1,
                    high: 9,
                    log: false,
                    step: 2,
                },
            ),
            (
                "d".to_string(),
                Distribution::Categorical {
                    choices: vec!["x".into(), "y".into(), "z".into()],
                },
            ),
            (
                "e".to_string(),
                Distribution::Int {
                    low: 1,
                    high: 100,
                    log: true,
                    step: 1,
                },
            ),
            (
                "f".to_string(),
                Distribution::Float {
                    low: 0.0,
                    high: 1.0,
                    log: false,
                    step: Some(0.25),
                },
            ),
        ]);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // 300 observations span several scoring blocks.
        for m in [0usize, 1, 5, 40, 300] {
            let obs: Vec<f64> = (0..m)
                .flat_map(|_| {
                    [
                        -2.0 + 5.0 * rng.random::<f64>(),
                        (1e-3f64).powf(rng.random::<f64>()),
                        (1 + 2 * rng.random_range(0..5)) as f64,
                        rng.random_range(0..3) as f64,
                        (100f64).powf(rng.random::<f64>()).round(),
                        0.25 * rng.random_range(0..5) as f64,
                    ]
                })
                .collect();
            let p = Parzen::new(&space, &unsorted(&obs), false, 1.0);
            let xs = p.sample(&mut rng, 30);
            for (x, got) in xs.iter().zip(p.log_pdf(&xs)) {
                let want = brute_force(&space, &obs, x);
                assert!((got - want).abs() < 1e-9, "m={m} x={x:?}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn a_lone_categorical_is_the_same_mixture_in_closed_form() {
        let space = SearchSpace::from([(
            "c".to_string(),
            Distribution::Categorical {
                choices: vec![1.into(), 2.into(), 3.into(), 4.into()],
            },
        )]);
        let obs: Vec<f64> = (0..60).map(|i| ((i * 7) % 4 / 2) as f64).collect();
        let p = Parzen::new(&space, &unsorted(&obs), false, 1.0);
        let xs: Vec<Vec<f64>> = (0..4).map(|c| vec![c as f64]).collect();
        let got = p.log_pdf(&xs);
        for (x, g) in xs.iter().zip(&got) {
            let want = brute_force(&space, &obs, x);
            assert!((g - want).abs() < 1e-12, "{x:?}: {g} vs {want}");
        }
        let total: f64 = got.iter().map(|g| g.exp()).sum();
        assert!((total - 1.0).abs() < 1e-12);
    }
}
