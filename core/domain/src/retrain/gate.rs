//! The promotion gate: the challenger must trade the recent window better than the champion did,
//! significantly (one-sided Diebold-Mariano on per-bar losses, loss = minus the paper return).

use serde::Serialize;

use super::spec::GateSpec;
use crate::metrics::{self, MetricsSpec};
use crate::stats::diebold_mariano;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    pub passed: bool,
    /// Bars both traded.
    pub n: usize,
    pub champion_sharpe: f64,
    pub challenger_sharpe: f64,
    /// Mean of (challenger − champion) per-bar returns.
    pub mean_difference: f64,
    /// The HLN-corrected DM statistic (positive: the challenger lost less).
    pub dm_statistic: Option<f64>,
    /// One-sided p-value of "the challenger is no better".
    pub p_value: f64,
    pub alpha: f64,
    /// Why it did or did not pass, in words.
    pub reason: String,
}

/// Compares per-bar paper returns of both models on the same bars.
pub fn gate(
    champion: &[f64],
    challenger: &[f64],
    spec: &GateSpec,
    metrics_spec: &MetricsSpec,
) -> GateResult {
    let n = champion.len().min(challenger.len());
    let (a, b) = (&champion[..n], &challenger[..n]);
    let sharpe = |r: &[f64]| {
        let s = metrics::sharpe(r, metrics_spec);
        if s.is_finite() { s } else { 0.0 }
    };
    let loss = |r: &[f64]| r.iter().map(|x| -x).collect::<Vec<_>>();
    let mean_difference = if n == 0 {
        0.0
    } else {
        b.iter().zip(a).map(|(x, y)| x - y).sum::<f64>() / n as f64
    };
    let dm = diebold_mariano(&loss(a), &loss(b), 1).ok();
    let (dm_statistic, p_value) = match &dm {
        // DM's d = L_champion − L_challenger: positive when the challenger lost less.
        Some(d) if d.statistic > 0.0 => (Some(d.statistic), d.p_value / 2.0),
        Some(d) => (Some(d.statistic), 1.0 - d.p_value / 2.0),
        None => (None, 1.0),
    };
    // Too short a shared history (a champion that took office inside the window) decides
    // nothing: the challenger waits for the next cycle.
    let enough = 2 * n >= spec.window;
    let passed = enough && p_value < spec.alpha && mean_difference > 0.0;
    let reason = match (passed, &dm) {
        (false, _) if !enough => format!(
            "only {n} bars of the champion's live trading in the {}-bar gate window (needs half)",
            spec.window
        ),
        (true, _) => format!(
            "the challenger earned {:+.2e} per bar more over {n} bars (DM p = {p_value:.3} < {})",
            mean_difference, spec.alpha
        ),
        (false, None) => format!("no test over {n} bars (too few bars, or identical returns)"),
        (false, Some(_)) => format!(
            "not significantly better over {n} bars: DM p = {p_value:.3} ≥ {}",
            spec.alpha
        ),
    };
    GateResult {
        passed,
        n,
        champion_sharpe: sharpe(a),
        challenger_sharpe: sharpe(b),
        mean_difference,
        dm_statistic,
        p_value,
        alpha: spec.alpha,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(seed: u64, n: usize) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / 2f64.powi(53) - 0.5) * 0.02
            })
            .collect()
    }

    #[test]
    fn a_higher_number_alone_does_not_pass() {
        let spec = GateSpec::default();
        let champion = noise(1, 120);
        let challenger: Vec<f64> = noise(2, 120).iter().map(|x| x + 0.0002).collect();
        let g = gate(&champion, &challenger, &spec, &MetricsSpec::default());
        assert!(!g.passed, "{g:?}");
    }

    #[test]
    fn a_clearly_better_challenger_passes() {
        let spec = GateSpec::default();
        let champion = noise(1, 120);
        let challenger: Vec<f64> = champion.iter().map(|x| x + 0.002).collect::<Vec<_>>();
        let short = gate(
            &champion[..50],
            &challenger[..50],
            &spec,
            &MetricsSpec::default(),
        );
        assert!(
            !short.passed && short.reason.contains("only 50 bars"),
            "{short:?}"
        );
        let mut jitter = challenger.clone();
        for (j, e) in jitter.iter_mut().zip(noise(3, 120)) {
            *j += e * 0.1;
        }
        let g = gate(&champion, &jitter, &spec, &MetricsSpec::default());
        assert!(g.passed && g.p_value < 0.01, "{g:?}");
        let worse = gate(&jitter, &champion, &spec, &MetricsSpec::default());
        assert!(!worse.passed && worse.p_value > 0.99);
    }
}
