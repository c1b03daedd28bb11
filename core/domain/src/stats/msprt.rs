//! An always-valid sequential A/B test: the mixture sequential probability ratio test (mSPRT) of
//! Johari, Pekelis & Walsh ("Always valid inference", Operations Research 2022) on paired
//! differences `d_i = b_i − a_i` with a normal mixing prior N(0, τ²) on their mean:
//!
//! `Λ_n = sqrt(σ² / (σ² + nτ²)) · exp(n² τ² d̄² / (2σ² (σ² + nτ²)))`,
//!
//! rejecting "equal means" the first time `Λ_n ≥ 1/α`; the always-valid p-value is
//! `p_n = min(p_{n−1}, 1/Λ_n)`, so a user may look after every observation. σ² is the running
//! sample variance (a plug-in, from `burn_in` observations on); τ = `tau` · σ. Assumes
//! independent differences with a finite variance; daily strategy returns are fat-tailed and
//! somewhat autocorrelated, which the simulation tests below bound in practice.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MsprtSpec {
    pub alpha: f64,
    /// The mixing prior's standard deviation in units of σ: the effect size the test is tuned to.
    pub tau: f64,
    /// Observations before the first look (the variance estimate needs some).
    pub burn_in: usize,
}

impl Default for MsprtSpec {
    fn default() -> Self {
        Self {
            alpha: 0.05,
            tau: 0.1,
            burn_in: 30,
        }
    }
}

impl MsprtSpec {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::stats("msprt", m.to_string()));
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return bad("alpha must be in (0, 1)");
        }
        if !(self.tau > 0.0 && self.tau.is_finite()) {
            return bad("tau must be a positive number");
        }
        if self.burn_in < 2 {
            return bad("burn_in must be at least 2");
        }
        Ok(())
    }
}

/// `a` (the champion) better, `b` (the challenger) better, or keep looking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    A,
    B,
    Continue,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MsprtResult {
    pub decision: Decision,
    /// The 0-based index of the observation at which the decision was reached.
    pub at: Option<usize>,
    /// The always-valid p-value after the last observation looked at.
    pub p_value: f64,
    pub n: usize,
    /// Mean of `b − a` over the observations looked at.
    pub mean_difference: f64,
    /// The p-value after each observation (1 during the burn-in).
    pub path: Vec<f64>,
}

/// The running state: one update per paired observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Msprt {
    spec: MsprtSpec,
    n: u64,
    mean: f64,
    /// Sum of squared deviations (Welford).
    m2: f64,
    p: f64,
}

impl Msprt {
    pub fn new(spec: MsprtSpec) -> Self {
        Self {
            spec,
            n: 0,
            mean: 0.0,
            m2: 0.0,
            p: 1.0,
        }
    }

    /// Adds `d = b − a`; returns the always-valid p-value so far.
    pub fn update(&mut self, d: f64) -> f64 {
        if !d.is_finite() {
            return self.p;
        }
        self.n += 1;
        let delta = d - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (d - self.mean);
        if (self.n as usize) < self.spec.burn_in {
            return self.p;
        }
        let n = self.n as f64;
        let var = self.m2 / (n - 1.0);
        if var > 0.0 {
            let tau2 = self.spec.tau * self.spec.tau * var;
            let log_lambda = 0.5 * (var / (var + n * tau2)).ln()
                + n * n * tau2 * self.mean * self.mean / (2.0 * var * (var + n * tau2));
            self.p = self.p.min((-log_lambda).exp().min(1.0));
        }
        self.p
    }

    pub fn p_value(&self) -> f64 {
        self.p
    }

    pub fn mean_difference(&self) -> f64 {
        self.mean
    }
}

/// Looks after every pair `(a_i, b_i)` and stops at the first rejection.
pub fn msprt(a: &[f64], b: &[f64], spec: &MsprtSpec) -> Result<MsprtResult> {
    spec.validate()?;
    if a.len() != b.len() {
        return Err(Error::stats(
            "msprt",
            format!(
                "the two series differ in length ({} and {})",
                a.len(),
                b.len()
            ),
        ));
    }
    let mut test = Msprt::new(*spec);
    let mut path = Vec::with_capacity(a.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let p = test.update(y - x);
        path.push(p);
        if p <= spec.alpha {
            let decision = if test.mean > 0.0 {
                Decision::B
            } else {
                Decision::A
            };
            return Ok(MsprtResult {
                decision,
                at: Some(i),
                p_value: p,
                n: i + 1,
                mean_difference: test.mean,
                path,
            });
        }
    }
    Ok(MsprtResult {
        decision: Decision::Continue,
        at: None,
        p_value: test.p,
        n: a.len(),
        mean_difference: test.mean,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream of nearly normal draws (sum of twelve uniforms, centred).
    struct Draws(u64);

    impl Draws {
        fn next(&mut self) -> f64 {
            let mut s = 0.0;
            for _ in 0..12 {
                self.0 = self
                    .0
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                s += (self.0 >> 11) as f64 / 2f64.powi(53);
            }
            s - 6.0
        }
    }

    fn pair(seed: u64, n: usize, effect: f64) -> (Vec<f64>, Vec<f64>) {
        let mut g = Draws(seed);
        let a: Vec<f64> = (0..n).map(|_| 0.01 * g.next()).collect();
        let b: Vec<f64> = (0..n).map(|_| 0.01 * (g.next() + effect)).collect();
        (a, b)
    }

    /// A fixed-horizon Welch-free paired t-test looked at after every observation (|t| > 1.96).
    fn peeking_t_test_rejects(a: &[f64], b: &[f64], burn_in: usize) -> bool {
        let (mut n, mut mean, mut m2) = (0.0, 0.0, 0.0);
        for (x, y) in a.iter().zip(b) {
            let d = y - x;
            n += 1.0;
            let delta = d - mean;
            mean += delta / n;
            m2 += delta * (d - mean);
            if n >= burn_in as f64 {
                let t = mean / (m2 / (n - 1.0) / n).sqrt();
                if t.abs() > 1.96 {
                    return true;
                }
            }
        }
        false
    }

    #[test]
    fn looking_after_every_observation_keeps_the_false_positive_rate_under_alpha() {
        let spec = MsprtSpec::default();
        let (sims, n) = (1000, 500);
        let (mut msprt_fp, mut t_fp) = (0, 0);
        for s in 0..sims {
            let (a, b) = pair(1000 + s, n, 0.0);
            if msprt(&a, &b, &spec).unwrap().decision != Decision::Continue {
                msprt_fp += 1;
            }
            if peeking_t_test_rejects(&a, &b, spec.burn_in) {
                t_fp += 1;
            }
        }
        let (m, t) = (msprt_fp as f64 / sims as f64, t_fp as f64 / sims as f64);
        assert!(m <= spec.alpha, "mSPRT false-positive rate {m}");
        assert!(
            t > 3.0 * spec.alpha,
            "the peeking t-test's rate {t} should be far above alpha"
        );
    }

    #[test]
    fn fat_tails_and_mild_autocorrelation_stay_under_alpha() {
        // Differences like daily strategy returns: a scale mixture (kurtosis well above 3) with
        // AR(1) coefficient 0.1.
        let spec = MsprtSpec::default();
        let (sims, n) = (1000, 500);
        let mut fp = 0;
        for s in 0..sims {
            let mut g = Draws(77_000 + s);
            let mut prev = 0.0;
            let d: Vec<f64> = (0..n)
                .map(|_| {
                    let scale = if g.next() > 1.5 { 3.0 } else { 1.0 };
                    prev = 0.1 * prev + scale * g.next();
                    prev
                })
                .collect();
            let zeros = vec![0.0; n];
            if msprt(&zeros, &d, &spec).unwrap().decision != Decision::Continue {
                fp += 1;
            }
        }
        let rate = fp as f64 / sims as f64;
        assert!(rate <= spec.alpha, "false-positive rate {rate}");
    }

    #[test]
    fn a_real_difference_is_found_and_its_direction_named() {
        let spec = MsprtSpec::default();
        let (sims, n) = (200, 2000);
        let mut found = 0;
        for s in 0..sims {
            let (a, b) = pair(5000 + s, n, 0.2);
            let r = msprt(&a, &b, &spec).unwrap();
            if r.decision == Decision::B {
                found += 1;
                assert!(r.at.unwrap() < n && r.p_value <= spec.alpha);
            }
            assert_ne!(r.decision, Decision::A);
        }
        assert!(found as f64 / sims as f64 > 0.9, "power {found}/{sims}");
        let (a, b) = pair(9, n, 0.3);
        assert_eq!(msprt(&b, &a, &spec).unwrap().decision, Decision::A);
    }

    #[test]
    fn the_p_value_path_never_rises_and_inputs_are_checked() {
        let (a, b) = pair(3, 300, 0.1);
        let r = msprt(&a, &b, &MsprtSpec::default()).unwrap();
        assert!(r.path.windows(2).all(|w| w[1] <= w[0]));
        assert!(r.path[..29].iter().all(|p| *p == 1.0), "burn-in");
        assert!(msprt(&a, &b[..10], &MsprtSpec::default()).is_err());
        let bad = MsprtSpec {
            alpha: 0.0,
            ..Default::default()
        };
        assert!(msprt(&a, &b, &bad).is_err());
        let mut t = Msprt::new(MsprtSpec::default());
        assert_eq!(t.update(f64::NAN), 1.0);
    }
}
