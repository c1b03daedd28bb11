//! The report's what-if: re-trade a run's out-of-sample scores under other strategy settings
//! (threshold, sides, sizing, costs) and blends of its models, then recompute everything a reader
//! judges them by: metrics, drawdown, rolling Sharpe, the monthly table and the overfitting
//! statistics. Pure, and fast enough to run on every move of a control in the browser.
//!
//! With the run's own settings it reproduces the run's numbers exactly: it calls the same
//! backtest and evaluation as the pipeline, on the same scores.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::backtest::{self, StrategySpec};
use crate::data::{Instrument, ReturnsTable};
use crate::evaluation::{Evaluation, evaluate};
use crate::metrics::MetricsSpec;
use crate::metrics::{drawdown_series, rolling_sharpe};
use crate::metrics_report::{MetricsOptions, Tests, metrics_report};
use crate::{Error, Result};

/// The column name of buy-and-hold in the statistics (it is their benchmark).
pub const BENCHMARK: &str = "buy & hold";
/// The name of the blended model.
pub const ENSEMBLE: &str = "ensemble";

/// One model's out-of-sample scores, aligned to each instrument's bars (`None` = no prediction).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelScores {
    pub name: String,
    pub scores: Vec<Vec<Option<f64>>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatIfSettings {
    pub strategy: StrategySpec,
    /// Blend weights by model name. With a positive total, an `ensemble` model is added whose
    /// score is the weighted mean of the models' scores where they have one.
    #[serde(default)]
    pub ensemble: BTreeMap<String, f64>,
    /// Periods in the rolling Sharpe window (quantstats' default: 126).
    #[serde(default = "default_window")]
    pub rolling_window: usize,
    /// Compute the statistics (bootstrap tests take the most time).
    #[serde(default = "yes")]
    pub statistics: bool,
}

fn default_window() -> usize {
    126
}
fn yes() -> bool {
    true
}

/// Daily series of one model, for the charts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesView {
    pub dates: Vec<NaiveDate>,
    pub net: Vec<f64>,
    pub gross: Vec<f64>,
    pub benchmark: Vec<f64>,
    pub exposure: Vec<f64>,
    pub turnover: Vec<f64>,
    pub drawdown: Vec<f64>,
    pub benchmark_drawdown: Vec<f64>,
    pub rolling_sharpe: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelView {
    pub name: String,
    pub evaluation: Evaluation,
    pub series: SeriesView,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatIfView {
    pub models: Vec<ModelView>,
    /// DSR, PBO, SPA (against buy-and-hold), MCS and DM across the models, as `strider metrics`.
    pub statistics: Option<Tests>,
}

/// A run's out-of-sample scores with the bars they trade on.
pub struct WhatIf {
    instruments: Vec<Instrument>,
    names: Vec<String>,
    models: Vec<ModelScores>,
    metrics: MetricsSpec,
    seed: u64,
}

impl WhatIf {
    pub fn new(
        instruments: Vec<Instrument>,
        models: Vec<ModelScores>,
        metrics: MetricsSpec,
        seed: u64,
    ) -> Result<Self> {
        for m in &models {
            check_shape(&instruments, m)?;
        }
        let names = instruments.iter().map(|i| i.name.clone()).collect();
        Ok(Self {
            instruments,
            names,
            models,
            metrics,
            seed,
        })
    }

    /// The instruments the scores are aligned to.
    pub fn instruments(&self) -> &[Instrument] {
        &self.instruments
    }

    pub fn model_names(&self) -> Vec<String> {
        self.models.iter().map(|m| m.name.clone()).collect()
    }

    /// Replace one model's scores (after retraining it).
    pub fn set_scores(&mut self, scores: ModelScores) -> Result<()> {
        check_shape(&self.instruments, &scores)?;
        let slot = self
            .models
            .iter_mut()
            .find(|m| m.name == scores.name)
            .ok_or_else(|| Error::RunData(format!("no model `{}` in this run", scores.name)))?;
        *slot = scores;
        Ok(())
    }

    pub fn evaluate(&self, settings: &WhatIfSettings) -> Result<WhatIfView> {
        settings.strategy.validate()?;
        let mut views: Vec<ModelView> = self
            .models
            .iter()
            .map(|m| self.view(&m.name, &m.scores, settings))
            .collect();
        if let Some(blend) = self.ensemble(&settings.ensemble)? {
            views.push(self.view(ENSEMBLE, &blend, settings));
        }
        let statistics = if settings.statistics && !views.is_empty() {
            Some(self.statistics(&views)?)
        } else {
            None
        };
        Ok(WhatIfView {
            models: views,
            statistics,
        })
    }

    fn view(&self, name: &str, scores: &[Vec<Option<f64>>], s: &WhatIfSettings) -> ModelView {
        let bt = backtest::run(&self.instruments, scores, &s.strategy);
        let evaluation = evaluate(&bt, &self.names, &self.metrics);
        let col = |f: fn(&backtest::PortfolioDay) -> f64| -> Vec<f64> {
            bt.portfolio.iter().map(f).collect()
        };
        let net = col(|d| d.strategy);
        let benchmark = col(|d| d.benchmark);
        ModelView {
            name: name.to_string(),
            evaluation,
            series: SeriesView {
                dates: bt.portfolio.iter().map(|d| d.date).collect(),
                drawdown: drawdown_series(&net),
                benchmark_drawdown: drawdown_series(&benchmark),
                rolling_sharpe: rolling_sharpe(&net, s.rolling_window, &self.metrics),
                gross: col(|d| d.gross),
                exposure: col(|d| d.exposure),
                turnover: col(|d| d.turnover),
                net,
                benchmark,
            },
        }
    }

    /// Weighted mean of the models' scores; `None` when no weight is positive.
    fn ensemble(&self, weights: &BTreeMap<String, f64>) -> Result<Option<Vec<Vec<Option<f64>>>>> {
        for (name, w) in weights {
            if !self.models.iter().any(|m| &m.name == name) {
                return Err(Error::RunData(format!(
                    "ensemble: no model `{name}` in this run"
                )));
            }
            if !w.is_finite() || *w < 0.0 {
                return Err(Error::RunData(format!(
                    "ensemble: weight of `{name}` must be finite and >= 0, got {w}"
                )));
            }
        }
        let parts: Vec<(f64, &ModelScores)> = self
            .models
            .iter()
            .filter_map(|m| weights.get(&m.name).map(|&w| (w, m)))
            .filter(|(w, _)| *w > 0.0)
            .collect();
        if parts.is_empty() {
            return Ok(None);
        }
        let blend = self
            .instruments
            .iter()
            .enumerate()
            .map(|(i, inst)| {
                (0..inst.len())
                    .map(|b| {
                        let (mut sw, mut s) = (0.0, 0.0);
                        for (w, m) in &parts {
                            if let Some(x) = m.scores[i][b] {
                                sw += w;
                                s += w * x;
                            }
                        }
                        (sw > 0.0).then(|| s / sw)
                    })
                    .collect()
            })
            .collect();
        Ok(Some(blend))
    }

    /// The statistics of `strider metrics` on a table of the models' net returns plus
    /// buy-and-hold as the benchmark, on the union of their dates.
    fn statistics(&self, views: &[ModelView]) -> Result<Tests> {
        let mut dates: Vec<NaiveDate> = views
            .iter()
            .flat_map(|v| v.series.dates.iter().copied())
            .collect();
        dates.sort();
        dates.dedup();
        let at = |v: &ModelView, values: &[f64]| -> Vec<f64> {
            let mut col = vec![f64::NAN; dates.len()];
            for (d, x) in v.series.dates.iter().zip(values) {
                if let Ok(k) = dates.binary_search(d) {
                    col[k] = *x;
                }
            }
            col
        };
        let mut columns: Vec<(String, Vec<f64>)> = views
            .iter()
            .map(|v| (v.name.clone(), at(v, &v.series.net)))
            .collect();
        if columns.iter().any(|(n, _)| n == BENCHMARK) {
            return Err(Error::RunData(format!(
                "a model is named `{BENCHMARK}`, the benchmark's name in the statistics"
            )));
        }
        let mut bench = vec![f64::NAN; dates.len()];
        for v in views {
            for (k, x) in at(v, &v.series.benchmark).into_iter().enumerate() {
                if bench[k].is_nan() {
                    bench[k] = x;
                }
            }
        }
        columns.push((BENCHMARK.to_string(), bench));
        let report = metrics_report(
            &ReturnsTable { dates, columns },
            &MetricsOptions {
                spec: self.metrics.clone(),
                benchmark: Some(BENCHMARK.to_string()),
                seed: self.seed,
                ..MetricsOptions::default()
            },
        )?;
        Ok(report.tests)
    }
}

fn check_shape(instruments: &[Instrument], m: &ModelScores) -> Result<()> {
    let ok = m.scores.len() == instruments.len()
        && m.scores
            .iter()
            .zip(instruments)
            .all(|(s, i)| s.len() == i.len());
    if ok {
        Ok(())
    } else {
        Err(Error::RunData(format!(
            "model `{}`: scores do not match the instruments' bars",
            m.name
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::parse_panel;

    fn setup() -> WhatIf {
        let inst = parse_panel(
            "p.csv",
            "date,A,B\n2020-01-01,100,50\n2020-01-02,110,51\n2020-01-03,99,49\n\
             2020-01-06,99,50\n2020-01-07,108,52\n2020-01-08,100,53\n",
        )
        .unwrap();
        let a = ModelScores {
            name: "a".into(),
            scores: vec![
                vec![Some(0.1), Some(-0.2), Some(0.3), Some(0.1), None, None],
                vec![Some(-0.1), Some(0.2), Some(0.1), Some(-0.3), None, None],
            ],
        };
        let mut b = a.clone();
        b.name = "b".into();
        for s in b.scores.iter_mut().flatten().flatten() {
            *s = -*s * 0.5;
        }
        WhatIf::new(inst, vec![a, b], MetricsSpec::default(), 1).unwrap()
    }

    fn settings(cost_bps: f64) -> WhatIfSettings {
        WhatIfSettings {
            strategy: StrategySpec {
                cost_bps,
                ..Default::default()
            },
            ensemble: BTreeMap::new(),
            rolling_window: 2,
            statistics: false,
        }
    }

    #[test]
    fn costs_come_off_turnover() {
        let w = setup();
        let free = w.evaluate(&settings(0.0)).unwrap();
        let dear = w.evaluate(&settings(25.0)).unwrap();
        let (f, d) = (&free.models[0].series, &dear.models[0].series);
        for k in 0..f.net.len() {
            let expect = f.gross[k] - 25.0 * 1e-4 * f.turnover[k];
            assert!((d.net[k] - expect).abs() < 1e-15);
        }
        assert!(
            dear.models[0].evaluation.strategy.sharpe < free.models[0].evaluation.strategy.sharpe
        );
    }

    #[test]
    fn ensemble_blends_where_scores_exist_and_rejects_unknown_models() {
        let w = setup();
        let mut s = settings(0.0);
        // a + 2 * (-a / 2) = 0 everywhere: the blend is flat, so it earns nothing.
        s.ensemble = BTreeMap::from([("a".to_string(), 1.0), ("b".to_string(), 2.0)]);
        let v = w.evaluate(&s).unwrap();
        assert_eq!(v.models.len(), 3);
        assert_eq!(v.models[2].name, ENSEMBLE);
        assert!(v.models[2].series.net.iter().all(|x| *x == 0.0));
        // Only `a`: the blend is `a` itself.
        s.ensemble = BTreeMap::from([("a".to_string(), 3.0)]);
        let v = w.evaluate(&s).unwrap();
        assert_eq!(v.models[2].series.net, v.models[0].series.net);
        s.ensemble = BTreeMap::from([("zz".to_string(), 1.0)]);
        assert!(w.evaluate(&s).unwrap_err().to_string().contains("zz"));
    }
}
