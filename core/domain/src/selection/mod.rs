//! Model selection with significance: every model of a run ranked by a rule, each checked against
//! criteria that account for how many models were tried (the deflated Sharpe ratio), for the
//! benchmark (SPA), for the other models (the model confidence set, Diebold-Mariano against the
//! best) and for stability across folds; then one recommendation with its reasons, or none with
//! the reason.

mod criteria;
mod stability;
mod verdict;

use chrono::NaiveDate;
use serde::Serialize;

pub use criteria::{Benchmark, Rule, SelectionSpec};
pub use stability::{Stability, fold_rank_correlation, stability};

use crate::metrics::moments::var;
use crate::metrics::{MetricsSpec, SeriesMetrics, series_metrics, sharpe_per_period};
use crate::stats::{
    McsMethod, diebold_mariano, expected_max_sharpe, model_confidence_set,
    superior_predictive_ability,
};
use crate::{Error, Result};

/// The most models one selection ranks (the model confidence set costs `reps · k²`).
pub const MAX_CANDIDATES: usize = 1000;
/// Trials counted beyond that bound change the deflation by nothing measurable.
pub const MAX_TRIALS: usize = 1_000_000_000;

/// One model as selection sees it: its out-of-sample net returns and the benchmark's on the same
/// days, its per-fold Sharpe ratios and its fitted parameters per refit.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub name: String,
    pub kind: String,
    pub dates: Vec<NaiveDate>,
    pub net: Vec<f64>,
    pub benchmark: Vec<f64>,
    pub fold_sharpes: Vec<f64>,
    pub fitted: Vec<serde_json::Value>,
}

/// The run's models and what else was tried to get them.
#[derive(Debug, Clone)]
pub struct SelectionInput {
    pub candidates: Vec<Candidate>,
    /// Trials behind the run besides its own models (e.g. a tuning study's trials): the DSR
    /// deflates for them too.
    pub other_trials: usize,
    pub metrics: MetricsSpec,
    pub seed: u64,
}

/// The figures a model is ranked and judged by.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedMetrics {
    pub sharpe: f64,
    pub sortino: f64,
    pub total_return: f64,
    pub cagr: f64,
    pub max_drawdown: f64,
    pub benchmark_sharpe: f64,
    /// Annualised Sharpe ratio of the returns the DSR is of (excess over the benchmark).
    pub excess_sharpe: f64,
    pub dsr: f64,
    pub n_trials: usize,
    /// Hansen's SPA p-value of this model against the benchmark.
    pub spa_p_value: f64,
    pub mcs_p_value: f64,
    pub in_mcs: bool,
    /// Diebold-Mariano (loss = -return) against the top-ranked model; `None` for that model.
    pub dm_vs_best_statistic: Option<f64>,
    pub dm_vs_best_p_value: Option<f64>,
    pub stability: Stability,
    /// Filled by the holdout evaluation, when there is one and this model was evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holdout: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranked {
    pub model: String,
    pub kind: String,
    pub rank: usize,
    pub passes: bool,
    /// Why it fails, or the evidence it passes on.
    pub reasons: Vec<String>,
    pub metrics: RankedMetrics,
}

/// Statistics of the run as a whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunTests {
    pub n_trials: usize,
    pub periods: usize,
    pub first_date: Option<NaiveDate>,
    pub last_date: Option<NaiveDate>,
    /// SPA p-value of the best model against the benchmark, accounting for all models.
    pub spa_p_value: f64,
    pub mcs: Vec<String>,
    /// Mean Spearman correlation of consecutive folds' model rankings.
    pub fold_rank_correlation: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelectionReport {
    pub criteria: SelectionSpec,
    pub ranking: Vec<Ranked>,
    pub recommended: Option<String>,
    pub reasons: Vec<String>,
    pub tests: RunTests,
}

/// Ranks the candidates and recommends the best one that passes every criterion.
pub fn select(input: &SelectionInput, spec: &SelectionSpec) -> Result<SelectionReport> {
    spec.validate()?;
    if input.candidates.len() > MAX_CANDIDATES {
        return Err(Error::RunData(format!(
            "selection: {} models (at most {MAX_CANDIDATES})",
            input.candidates.len()
        )));
    }
    let aligned = Aligned::new(&input.candidates)?;
    let n_trials = input
        .candidates
        .len()
        .saturating_add(input.other_trials.min(MAX_TRIALS));
    let mut measured = measure(input, spec, &aligned, n_trials)?;
    order(&mut measured, spec.rule);
    add_dm_vs_best(&mut measured, &aligned);
    let mut rows: Vec<Ranked> = measured.into_iter().map(|(_, r)| r).collect();
    for (i, r) in rows.iter_mut().enumerate() {
        r.rank = i + 1;
        (r.passes, r.reasons) = verdict::judge(&r.metrics, spec);
    }
    let (recommended, reasons) = verdict::recommend(&rows, spec);
    let fold_sharpes: Vec<Vec<f64>> = input
        .candidates
        .iter()
        .map(|c| c.fold_sharpes.clone())
        .collect();
    let tests = RunTests {
        n_trials,
        periods: aligned.dates.len(),
        first_date: aligned.dates.first().copied(),
        last_date: aligned.dates.last().copied(),
        spa_p_value: aligned.spa(
            &(0..aligned.net.len()).collect::<Vec<_>>(),
            spec,
            input.seed,
        )?,
        mcs: rows
            .iter()
            .filter(|r| r.metrics.in_mcs)
            .map(|r| r.model.clone())
            .collect(),
        fold_rank_correlation: fold_rank_correlation(&fold_sharpes),
    };
    Ok(SelectionReport {
        criteria: spec.clone(),
        ranking: rows,
        recommended,
        reasons,
        tests,
    })
}

/// The candidates on the days every one of them traded.
struct Aligned {
    dates: Vec<NaiveDate>,
    net: Vec<Vec<f64>>,
    benchmark: Vec<f64>,
}

impl Aligned {
    fn new(candidates: &[Candidate]) -> Result<Self> {
        let first = candidates
            .first()
            .ok_or_else(|| Error::RunData("selection: the run has no models".into()))?;
        let mut dates: Vec<NaiveDate> = first.dates.clone();
        for c in &candidates[1..] {
            dates.retain(|d| c.dates.binary_search(d).is_ok());
        }
        let on = |c: &Candidate, v: &[f64]| -> Vec<f64> {
            dates
                .iter()
                .map(|d| c.dates.binary_search(d).map(|i| v[i]).unwrap_or(f64::NAN))
                .collect()
        };
        let net: Vec<Vec<f64>> = candidates.iter().map(|c| on(c, &c.net)).collect();
        let benchmark = on(first, &first.benchmark);
        if dates.len() < 3
            || net
                .iter()
                .flatten()
                .chain(&benchmark)
                .any(|r| !r.is_finite())
        {
            return Err(Error::RunData(format!(
                "selection: {} common out-of-sample days with finite returns (need at least 3)",
                dates.len()
            )));
        }
        Ok(Self {
            dates,
            net,
            benchmark,
        })
    }

    /// The returns the DSR judges: the excess over the benchmark, or the net returns.
    fn judged(&self, m: usize, benchmark: Benchmark) -> Vec<f64> {
        match benchmark {
            Benchmark::BuyAndHold => self.net[m]
                .iter()
                .zip(&self.benchmark)
                .map(|(r, b)| r - b)
                .collect(),
            Benchmark::Zero => self.net[m].clone(),
        }
    }

    fn benchmark_loss(&self, benchmark: Benchmark) -> Vec<f64> {
        match benchmark {
            Benchmark::BuyAndHold => self.benchmark.iter().map(|b| -b).collect(),
            Benchmark::Zero => vec![0.0; self.dates.len()],
        }
    }

    fn loss(&self, m: usize) -> Vec<f64> {
        self.net[m].iter().map(|r| -r).collect()
    }

    /// SPA p-value of the models `ms` against the benchmark.
    fn spa(&self, ms: &[usize], spec: &SelectionSpec, seed: u64) -> Result<f64> {
        let losses: Vec<Vec<f64>> = ms.iter().map(|&m| self.loss(m)).collect();
        let bench = self.benchmark_loss(spec.benchmark);
        Ok(superior_predictive_ability(&bench, &losses, spec.reps, None, seed)?.p_value)
    }
}

/// Every candidate's metrics, DSR, SPA, MCS and stability, in input order.
fn measure(
    input: &SelectionInput,
    spec: &SelectionSpec,
    aligned: &Aligned,
    n_trials: usize,
) -> Result<Vec<(usize, Ranked)>> {
    let ms = &input.metrics;
    let judged: Vec<Vec<f64>> = (0..aligned.net.len())
        .map(|m| aligned.judged(m, spec.benchmark))
        .collect();
    // Excess returns over buy-and-hold are already relative: no risk-free rate comes off them.
    let judged_spec = match spec.benchmark {
        Benchmark::BuyAndHold => MetricsSpec {
            risk_free: 0.0,
            ..ms.clone()
        },
        Benchmark::Zero => ms.clone(),
    };
    let trial_sharpes: Vec<f64> = judged
        .iter()
        .map(|r| sharpe_per_period(r, &judged_spec))
        .filter(|s| s.is_finite())
        .collect();
    let sr0 = no_skill_bar(&trial_sharpes, n_trials, aligned.dates.len());
    let losses: Vec<Vec<f64>> = (0..aligned.net.len()).map(|m| aligned.loss(m)).collect();
    let mcs = if losses.len() >= 2 {
        Some(model_confidence_set(
            &losses,
            spec.mcs_size,
            spec.reps,
            None,
            McsMethod::R,
            input.seed,
        )?)
    } else {
        None
    };
    let fold_sharpes: Vec<Vec<f64>> = input
        .candidates
        .iter()
        .map(|c| c.fold_sharpes.clone())
        .collect();
    let bench = series_metrics(&aligned.dates, &aligned.benchmark, None, ms);
    let mut rows = Vec::new();
    for (m, c) in input.candidates.iter().enumerate() {
        let s: SeriesMetrics = series_metrics(&aligned.dates, &aligned.net[m], None, ms);
        let excess = series_metrics(&aligned.dates, &judged[m], None, &judged_spec);
        rows.push((
            m,
            Ranked {
                model: c.name.clone(),
                kind: c.kind.clone(),
                rank: 0,
                passes: false,
                reasons: Vec::new(),
                metrics: RankedMetrics {
                    sharpe: s.sharpe,
                    sortino: s.sortino,
                    total_return: s.total_return,
                    cagr: s.cagr,
                    max_drawdown: s.max_drawdown,
                    benchmark_sharpe: bench.sharpe,
                    excess_sharpe: excess.sharpe,
                    dsr: crate::metrics::psr(&judged[m], sr0, ms),
                    n_trials,
                    spa_p_value: aligned.spa(&[m], spec, input.seed)?,
                    mcs_p_value: mcs.as_ref().map_or(1.0, |x| x.p_values[m]),
                    in_mcs: mcs.as_ref().is_none_or(|x| x.included.contains(&m)),
                    dm_vs_best_statistic: None,
                    dm_vs_best_p_value: None,
                    stability: stability(m, &fold_sharpes, &c.fitted),
                    holdout: None,
                },
            },
        ));
    }
    Ok(rows)
}

/// `SR0`, the per-period Sharpe ratio the best of `n_trials` unskilled trials is expected to
/// reach: the trials' dispersion times `E[max]` of that many normals. The dispersion is the
/// variance of the run's (finite) trial Sharpe ratios; with fewer than two of them (one model
/// tuned over many trials) it is the sampling variance of a Sharpe ratio of `periods` returns
/// under no skill, `1 / periods`. One trial selects nothing: the bar is zero.
fn no_skill_bar(trial_sharpes: &[f64], n_trials: usize, periods: usize) -> f64 {
    if n_trials < 2 {
        return 0.0;
    }
    let variance = if trial_sharpes.len() >= 2 {
        var(trial_sharpes)
    } else {
        1.0 / periods.max(1) as f64
    };
    variance.sqrt() * expected_max_sharpe(n_trials)
}

/// Best first by the rule; NaN last; ties keep the run's model order.
fn order(rows: &mut [(usize, Ranked)], rule: Rule) {
    let key = |r: &Ranked| {
        let v = match rule {
            Rule::MaxDsr => r.metrics.dsr,
            Rule::MaxSharpe => r.metrics.sharpe,
            Rule::MaxSortino => r.metrics.sortino,
        };
        if v.is_nan() { f64::NEG_INFINITY } else { v }
    };
    rows.sort_by(|a, b| key(&b.1).total_cmp(&key(&a.1)));
}

/// Diebold-Mariano of each model against the top-ranked one (loss = -return, horizon 1).
fn add_dm_vs_best(rows: &mut [(usize, Ranked)], aligned: &Aligned) {
    let Some(&(best, _)) = rows.first() else {
        return;
    };
    let best_loss = aligned.loss(best);
    for (m, r) in rows.iter_mut().skip(1) {
        if let Ok(dm) = diebold_mariano(&aligned.loss(*m), &best_loss, 1) {
            r.metrics.dm_vs_best_statistic = Some(dm.statistic);
            r.metrics.dm_vs_best_p_value = Some(dm.p_value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(name: &str, net: Vec<f64>) -> Candidate {
        let d0 = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        Candidate {
            name: name.into(),
            kind: "ridge".into(),
            dates: (0..net.len() as u64)
                .map(|i| d0 + chrono::Days::new(i))
                .collect(),
            benchmark: vec![0.0; net.len()],
            fold_sharpes: vec![1.0, 0.5],
            fitted: Vec::new(),
            net,
        }
    }

    fn input(candidates: Vec<Candidate>, other_trials: usize) -> SelectionInput {
        SelectionInput {
            candidates,
            other_trials,
            metrics: MetricsSpec::default(),
            seed: 1,
        }
    }

    fn wobble(n: usize, drift: f64) -> Vec<f64> {
        (0..n)
            .map(|i| drift + 0.01 * ((i * 7919 % 17) as f64 - 8.0) / 8.0)
            .collect()
    }

    #[test]
    fn a_single_model_tuned_over_many_trials_is_deflated() {
        let spec = SelectionSpec {
            reps: 50,
            ..Default::default()
        };
        let alone = select(&input(vec![candidate("m", wobble(500, 0.001))], 0), &spec).unwrap();
        let tuned = select(&input(vec![candidate("m", wobble(500, 0.001))], 200), &spec).unwrap();
        let (a, t) = (&alone.ranking[0].metrics, &tuned.ranking[0].metrics);
        assert_eq!((a.n_trials, t.n_trials), (1, 201));
        assert!(t.dsr < a.dsr - 0.05, "{} vs {}", t.dsr, a.dsr);
    }

    #[test]
    fn a_model_that_never_trades_does_not_poison_the_others() {
        let spec = SelectionSpec {
            reps: 50,
            benchmark: Benchmark::Zero,
            ..Default::default()
        };
        let r = select(
            &input(
                vec![
                    candidate("idle", vec![0.0; 500]),
                    candidate("m", wobble(500, 0.004)),
                    candidate("n", wobble(500, 0.0)),
                ],
                0,
            ),
            &spec,
        )
        .unwrap();
        let m = r.ranking.iter().find(|x| x.model == "m").unwrap();
        assert!(
            m.metrics.dsr.is_finite() && m.metrics.dsr > 0.9,
            "{}",
            m.metrics.dsr
        );
    }

    #[test]
    fn absurd_inputs_are_errors_not_allocations() {
        let many: Vec<Candidate> = (0..=MAX_CANDIDATES)
            .map(|i| candidate(&format!("m{i}"), vec![0.0; 3]))
            .collect();
        assert!(select(&input(many, 0), &SelectionSpec::default()).is_err());
        let r = select(
            &input(
                vec![
                    candidate("a", wobble(50, 0.0)),
                    candidate("b", wobble(50, 0.001)),
                ],
                usize::MAX,
            ),
            &SelectionSpec {
                reps: 10,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.tests.n_trials, 2 + MAX_TRIALS);
    }
}
