//! Robustness testing of a finished run: how each model's out-of-sample Sharpe ratio holds up
//! under higher costs, later execution, noisy features, other seeds, later start dates, and in
//! market regimes. Re-trading stresses reuse the run's scores; the others re-run the walk.

mod regimes;
mod spec;

use serde::Serialize;

pub use regimes::{REGIME_WINDOW, regimes};
pub use spec::RobustnessSpec;

use crate::backtest::{self, MAX_EXECUTION_LAG, StrategySpec};
use crate::data::Instrument;
use crate::metrics;
use crate::model::ModelParams;
use crate::pipeline::{RunOutput, RunRequest};
use crate::{Result, seed};

/// One stress of one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub model: String,
    pub check: &'static str,
    pub variant: String,
    /// The run's annualised net Sharpe ratio.
    pub base: f64,
    pub value: f64,
    pub change: f64,
    pub passes: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVerdict {
    pub model: String,
    pub passed: usize,
    pub checks: usize,
}

/// `validation.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RobustnessReport {
    pub spec: RobustnessSpec,
    pub metric: &'static str,
    pub checks: Vec<Check>,
    pub models: Vec<ModelVerdict>,
}

/// Runs every stress of `spec` against `output`, the run `req` produced.
pub fn robustness(
    req: &RunRequest,
    output: &RunOutput,
    spec: &RobustnessSpec,
) -> Result<RobustnessReport> {
    spec.validate()?;
    let mut r = Stresses {
        req,
        output,
        spec,
        checks: Vec::new(),
    };
    r.retrade();
    r.regime_checks();
    r.noise_checks();
    r.seed_checks();
    r.start_checks();
    let models = output
        .models
        .iter()
        .map(|m| {
            let own: Vec<&Check> = r.checks.iter().filter(|c| c.model == m.name).collect();
            ModelVerdict {
                model: m.name.clone(),
                passed: own.iter().filter(|c| c.passes).count(),
                checks: own.len(),
            }
        })
        .collect();
    Ok(RobustnessReport {
        spec: spec.clone(),
        metric: "sharpe",
        checks: r.checks,
        models,
    })
}

struct Stresses<'a> {
    req: &'a RunRequest<'a>,
    output: &'a RunOutput,
    spec: &'a RobustnessSpec,
    checks: Vec<Check>,
}

impl Stresses<'_> {
    fn base(&self, m: usize) -> f64 {
        self.output.summary.models[m].evaluation.strategy.sharpe
    }

    fn push(
        &mut self,
        m: usize,
        check: &'static str,
        variant: String,
        value: std::result::Result<f64, String>,
    ) {
        let base = self.base(m);
        let (value, note) = match value {
            Ok(v) => (v, None),
            Err(e) => (f64::NAN, Some(e)),
        };
        let floor = base - (1.0 - self.spec.min_retained) * base.abs();
        self.checks.push(Check {
            model: self.output.models[m].name.clone(),
            check,
            variant,
            base,
            value,
            change: value - base,
            passes: value >= floor,
            note,
        });
    }

    fn sharpe(&self, returns: &[f64]) -> f64 {
        metrics::sharpe(returns, &self.req.config.metrics)
    }

    /// Path-0 scores of model `m` on the run's bars, re-traded under `strategy`.
    fn retraded(&self, m: usize, strategy: &StrategySpec) -> f64 {
        let inst = self.req.instruments;
        let mut scores: Vec<Vec<Option<f64>>> = inst.iter().map(|i| vec![None; i.len()]).collect();
        let task = self.req.config.label.task();
        for p in self.output.models[m]
            .predictions
            .iter()
            .filter(|p| p.path == 0)
        {
            if let Some(k) = inst.iter().position(|i| i.name == p.instrument)
                && let Ok(bar) = inst[k].dates.binary_search(&p.date)
            {
                scores[k][bar] = Some(task.score(p.prediction));
            }
        }
        let net: Vec<f64> = backtest::run(inst, &scores, strategy)
            .portfolio
            .iter()
            .map(|d| d.strategy)
            .collect();
        self.sharpe(&net)
    }

    fn retrade(&mut self) {
        let base = &self.req.config.strategy;
        for m in 0..self.output.models.len() {
            for &x in &self.spec.cost_multipliers.clone() {
                let s = StrategySpec {
                    cost_bps: base.cost_bps * x,
                    ..base.clone()
                };
                let v = self.retraded(m, &s);
                self.push(m, "costs", format!("{x}x costs"), Ok(v));
            }
            for &d in &self.spec.extra_delays.clone() {
                let lag = (base.execution_lag + d).min(MAX_EXECUTION_LAG);
                let s = StrategySpec {
                    execution_lag: lag,
                    ..base.clone()
                };
                let v = self.retraded(m, &s);
                self.push(m, "delay", format!("+{d} bar(s)"), Ok(v));
            }
        }
    }

    fn regime_checks(&mut self) {
        if !self.spec.regimes {
            return;
        }
        for m in 0..self.output.models.len() {
            let days = &self.output.models[m].backtest.portfolio;
            let bench: Vec<f64> = days.iter().map(|d| d.benchmark).collect();
            for (name, idx) in regimes(&bench) {
                let net: Vec<f64> = idx.iter().map(|&t| days[t].strategy).collect();
                let v = self.sharpe(&net);
                self.push(m, "regime", format!("{name} ({} days)", idx.len()), Ok(v));
            }
        }
    }

    /// The run again on `instruments` with `seed` (other options as given), each requested
    /// model's Sharpe ratio or the error.
    fn rerun(
        &self,
        request: RunRequest,
        models: &[usize],
    ) -> Vec<(usize, std::result::Result<f64, String>)> {
        match request.models(models).run(&mut |_| {}) {
            Ok(out) => models
                .iter()
                .zip(&out.summary.models)
                .map(|(&m, s)| (m, Ok(s.evaluation.strategy.sharpe)))
                .collect(),
            Err(e) => models.iter().map(|&m| (m, Err(e.to_string()))).collect(),
        }
    }

    fn base_request<'b>(&'b self, instruments: &'b [Instrument], seed: u64) -> RunRequest<'b> {
        let mut r = RunRequest::new(self.req.config, instruments, seed);
        r.native_gbdt = self.req.native_gbdt;
        r
    }

    fn noise_checks(&mut self) {
        let all: Vec<usize> = self.run_indices();
        for &k in &self.spec.feature_noise.clone() {
            let req = self
                .base_request(self.req.instruments, self.req.seed)
                .test_feature_noise(k);
            for (m, v) in self.rerun(req, &all) {
                self.push(
                    self.out_index(m),
                    "feature_noise",
                    format!("{k} sd noise"),
                    v,
                );
            }
        }
    }

    fn seed_checks(&mut self) {
        let stochastic: Vec<usize> = self
            .run_indices()
            .into_iter()
            .filter(|&mi| self.is_stochastic(mi))
            .collect();
        if stochastic.is_empty() {
            return;
        }
        for i in 1..=self.spec.seeds as u64 {
            let s = seed::derive(self.req.seed, &[0x5eed, i]);
            for (m, v) in self.rerun(self.base_request(self.req.instruments, s), &stochastic) {
                self.push(self.out_index(m), "seed", format!("seed {s}"), v);
            }
        }
    }

    fn start_checks(&mut self) {
        let all = self.run_indices();
        let Some(first) = self
            .req
            .instruments
            .iter()
            .filter_map(|i| i.dates.first())
            .min()
            .copied()
        else {
            return;
        };
        for &y in &self.spec.drop_years.clone() {
            let Some(cut) = first.checked_add_months(chrono::Months::new(12 * y)) else {
                continue;
            };
            let later: Vec<Instrument> = self
                .req
                .instruments
                .iter()
                .map(|i| i.tail_from(cut))
                .collect();
            let results = self.rerun(self.base_request(&later, self.req.seed), &all);
            for (m, v) in results {
                self.push(
                    self.out_index(m),
                    "start_date",
                    format!("from {cut} (-{y}y)"),
                    v,
                );
            }
        }
    }

    /// The config indices of the run's models, in output order.
    fn run_indices(&self) -> Vec<usize> {
        self.output
            .models
            .iter()
            .filter_map(|m| self.req.config.models.iter().position(|c| c.name == m.name))
            .collect()
    }

    fn out_index(&self, config_index: usize) -> usize {
        let name = &self.req.config.models[config_index].name;
        self.output
            .models
            .iter()
            .position(|m| &m.name == name)
            .unwrap_or(0)
    }

    /// Models whose fit draws random numbers: LSTMs, trees, and ensembles with such a member.
    fn is_stochastic(&self, mi: usize) -> bool {
        match &self.req.config.models[mi].params {
            ModelParams::Lstm(_) | ModelParams::Gbdt(_) => true,
            ModelParams::Ensemble(e)
                if e.meta
                    .as_ref()
                    .is_some_and(|m| matches!(m.params, ModelParams::Gbdt(_))) =>
            {
                true
            }
            ModelParams::Ensemble(e) => self
                .req
                .config
                .models
                .iter()
                .enumerate()
                .any(|(j, m)| e.members.contains(&m.name) && self.is_stochastic(j)),
            _ => false,
        }
    }
}
