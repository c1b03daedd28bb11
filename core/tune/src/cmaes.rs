//! CMA-ES (Hansen's (μ/μ_w, λ) with rank-one and rank-μ updates) as Optuna's `CmaEsSampler`
//! uses it: numerical parameters in the unit box (log / step aware), x0 at the centre, σ0 = 1/6,
//! bounds by resampling, generations recorded on the trials (`cma:generation`), categoricals
//! sampled at random. The state is rebuilt from the trials, so workers and resumed studies agree.

use std::collections::BTreeMap;
use std::sync::Mutex;

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rand::Rng;
use rand_distr_like::standard_normal;
use serde_json::Value;

use super::distribution::Distribution;
use super::sampler::{
    RandomSampler, Sampler, SearchSpace, StudyView, from_unit, intersection_search_space, rng_for,
    transform, transformed_bounds,
};
use super::trial::{FrozenTrial, TrialState};

pub const GENERATION_ATTR: &str = "cma:generation";

mod rand_distr_like {
    use rand::{Rng, RngExt};
    /// A standard normal draw (Box-Muller; one of the pair is discarded to stay stateless).
    pub fn standard_normal(rng: &mut impl Rng) -> f64 {
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[derive(Debug, Clone)]
struct Cma {
    n: usize,
    lambda: usize,
    weights: Vec<f64>,
    mu_eff: f64,
    c_sigma: f64,
    d_sigma: f64,
    c_c: f64,
    c_1: f64,
    c_mu: f64,
    chi_n: f64,
    mean: DVector<f64>,
    sigma: f64,
    c: DMatrix<f64>,
    p_sigma: DVector<f64>,
    p_c: DVector<f64>,
    b: DMatrix<f64>,
    d: DVector<f64>,
    generation: usize,
}

impl Cma {
    fn new(n: usize) -> Self {
        let nf = n as f64;
        let lambda = 4 + (3.0 * nf.ln()).floor() as usize;
        let mu = lambda / 2;
        let raw: Vec<f64> = (1..=mu)
            .map(|i| ((lambda as f64 + 1.0) / 2.0).ln() - (i as f64).ln())
            .collect();
        let s: f64 = raw.iter().sum();
        let weights: Vec<f64> = raw.iter().map(|w| w / s).collect();
        let mu_eff = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();
        let c_sigma = (mu_eff + 2.0) / (nf + mu_eff + 5.0);
        let d_sigma = 1.0 + 2.0 * (((mu_eff - 1.0) / (nf + 1.0)).sqrt() - 1.0).max(0.0) + c_sigma;
        let c_c = (4.0 + mu_eff / nf) / (nf + 4.0 + 2.0 * mu_eff / nf);
        let c_1 = 2.0 / ((nf + 1.3).powi(2) + mu_eff);
        let c_mu =
            (1.0 - c_1).min(2.0 * (mu_eff - 2.0 + 1.0 / mu_eff) / ((nf + 2.0).powi(2) + mu_eff));
        Cma {
            n,
            lambda,
            weights,
            mu_eff,
            c_sigma,
            d_sigma,
            c_c,
            c_1,
            c_mu,
            chi_n: nf.sqrt() * (1.0 - 1.0 / (4.0 * nf) + 1.0 / (21.0 * nf * nf)),
            mean: DVector::from_element(n, 0.5),
            sigma: 1.0 / 6.0,
            c: DMatrix::identity(n, n),
            p_sigma: DVector::zeros(n),
            p_c: DVector::zeros(n),
            b: DMatrix::identity(n, n),
            d: DVector::from_element(n, 1.0),
            generation: 0,
        }
    }

    fn ask(&self, rng: &mut impl Rng) -> DVector<f64> {
        for _ in 0..10 * self.n {
            let z = DVector::from_fn(self.n, |_, _| standard_normal(rng));
            let x = &self.mean + self.sigma * (&self.b * self.d.component_mul(&z));
            if x.iter().all(|v| (0.0..=1.0).contains(v)) {
                return x;
            }
        }
        let z = DVector::from_fn(self.n, |_, _| standard_normal(rng));
        (&self.mean + self.sigma * (&self.b * self.d.component_mul(&z))).map(|v| v.clamp(0.0, 1.0))
    }

    /// `solutions` sorted best first (λ of them).
    fn tell(&mut self, solutions: &[DVector<f64>]) {
        let n = self.n as f64;
        let ys: Vec<DVector<f64>> = solutions
            .iter()
            .take(self.weights.len())
            .map(|x| (x - &self.mean) / self.sigma)
            .collect();
        let mut y_w = DVector::zeros(self.n);
        for (w, y) in self.weights.iter().zip(&ys) {
            y_w += *w * y;
        }
        self.mean += self.sigma * &y_w;
        let inv_sqrt_c = &self.b
            * DMatrix::from_diagonal(&self.d.map(|d| 1.0 / d.max(1e-300)))
            * self.b.transpose();
        self.p_sigma = (1.0 - self.c_sigma) * &self.p_sigma
            + (self.c_sigma * (2.0 - self.c_sigma) * self.mu_eff).sqrt() * (&inv_sqrt_c * &y_w);
        let g = (self.generation + 1) as f64;
        let h_sigma = (self.p_sigma.norm() / (1.0 - (1.0 - self.c_sigma).powf(2.0 * g)).sqrt()
            < (1.4 + 2.0 / (n + 1.0)) * self.chi_n) as i32 as f64;
        self.p_c = (1.0 - self.c_c) * &self.p_c
            + h_sigma * (self.c_c * (2.0 - self.c_c) * self.mu_eff).sqrt() * &y_w;
        let mut rank_mu = DMatrix::zeros(self.n, self.n);
        for (w, y) in self.weights.iter().zip(&ys) {
            rank_mu += *w * y * y.transpose();
        }
        self.c = (1.0 - self.c_1 - self.c_mu) * &self.c
            + self.c_1
                * (&self.p_c * self.p_c.transpose()
                    + (1.0 - h_sigma) * self.c_c * (2.0 - self.c_c) * &self.c)
            + self.c_mu * rank_mu;
        self.sigma *= ((self.c_sigma / self.d_sigma) * (self.p_sigma.norm() / self.chi_n - 1.0))
            .min(1.0)
            .exp();
        // Keep C symmetric and positive definite.
        self.c = (&self.c + self.c.transpose()) * 0.5;
        let eig = SymmetricEigen::new(self.c.clone());
        self.d = eig.eigenvalues.map(|v| v.max(1e-20).sqrt());
        self.b = eig.eigenvectors;
        self.generation += 1;
    }
}

pub struct CmaEsSampler {
    pub seed: u64,
    pub n_startup_trials: usize,
    cache: Mutex<Option<(String, Cma)>>,
}

impl CmaEsSampler {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            n_startup_trials: 1,
            cache: Mutex::new(None),
        }
    }

    fn to_unit(space: &SearchSpace, t: &FrozenTrial) -> Option<DVector<f64>> {
        let v: Option<Vec<f64>> = space
            .iter()
            .map(|(k, d)| {
                let (lo, hi) = transformed_bounds(d)?;
                let (td, x) = t.params.get(k)?;
                (td == d).then(|| (transform(d, *x) - lo) / (hi - lo))
            })
            .collect();
        v.map(DVector::from_vec)
    }

    /// The optimizer after every generation the trials complete.
    fn state(&self, study: &StudyView, space: &SearchSpace) -> Cma {
        let key = format!("{}|{:?}", study.name, space);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let mut cma = match cache.take() {
            Some((k, c)) if k == key => c,
            _ => Cma::new(space.len()),
        };
        let dir = study.directions[0];
        loop {
            let mut gen_trials: Vec<&FrozenTrial> = study
                .trials
                .iter()
                .filter(|t| t.state == TrialState::Complete)
                .filter(|t| {
                    t.system_attrs.get(GENERATION_ATTR).and_then(Value::as_u64)
                        == Some(cma.generation as u64)
                })
                .map(|t| &**t)
                .collect();
            if gen_trials.len() < cma.lambda {
                break;
            }
            gen_trials.sort_by_key(|t| t.number);
            gen_trials.truncate(cma.lambda);
            gen_trials.sort_by(|a, b| {
                dir.loss(a.value().unwrap_or(f64::NAN))
                    .total_cmp(&dir.loss(b.value().unwrap_or(f64::NAN)))
            });
            let xs: Vec<DVector<f64>> = gen_trials
                .iter()
                .filter_map(|t| Self::to_unit(space, t))
                .collect();
            if xs.len() < cma.lambda {
                break;
            }
            cma.tell(&xs);
        }
        *cache = Some((key, cma.clone()));
        cma
    }
}

impl Sampler for CmaEsSampler {
    fn relative_search_space(&self, study: &StudyView, _: &FrozenTrial) -> SearchSpace {
        let space = match study.declared {
            Some(s) => s.clone(),
            None => intersection_search_space(study.trials, false),
        };
        space
            .into_iter()
            .filter(|(_, d)| !matches!(d, Distribution::Categorical { .. }) && !d.single())
            .collect()
    }

    fn sample_relative(
        &self,
        study: &StudyView,
        trial: &FrozenTrial,
        space: &SearchSpace,
    ) -> (BTreeMap<String, f64>, BTreeMap<String, Value>) {
        let complete = study
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .count();
        if space.is_empty() || complete < self.n_startup_trials || study.directions.len() > 1 {
            return Default::default();
        }
        let cma = self.state(study, space);
        let mut rng = rng_for(self.seed, trial.number, "cmaes");
        let x = cma.ask(&mut rng);
        let params = space
            .iter()
            .zip(x.iter())
            .map(|((k, d), u)| (k.clone(), from_unit(d, *u)))
            .collect();
        let attrs = BTreeMap::from([(GENERATION_ATTR.to_string(), Value::from(cma.generation))]);
        (params, attrs)
    }

    fn sample_independent(
        &self,
        study: &StudyView,
        trial: &FrozenTrial,
        name: &str,
        dist: &Distribution,
    ) -> f64 {
        RandomSampler { seed: self.seed }.sample_independent(study, trial, name, dist)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converges_on_a_sphere() {
        let mut cma = Cma::new(4);
        let mut rng = rng_for(1, 0, "t");
        let f = |x: &DVector<f64>| x.iter().map(|v| (v - 0.3).powi(2)).sum::<f64>();
        for _ in 0..60 {
            let mut xs: Vec<DVector<f64>> = (0..cma.lambda).map(|_| cma.ask(&mut rng)).collect();
            xs.sort_by(|a, b| f(a).total_cmp(&f(b)));
            cma.tell(&xs);
        }
        assert!(f(&cma.mean) < 1e-6, "{}", f(&cma.mean));
    }
}
