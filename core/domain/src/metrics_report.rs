//! `strider metrics`: every per-series metric of each column of a returns table, the benchmark
//! comparison, and the overfitting statistics across the columns (treated as the trials).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::data::ReturnsTable;
use crate::metrics::MetricsSpec;
use crate::metrics::{
    BenchmarkMetrics, SeriesMetrics, benchmark_metrics, series_metrics, sharpe_per_period,
};
use crate::stats::{
    DeflatedSharpe, DieboldMariano, McsMethod, Pbo, Spa, deflated_sharpe, diebold_mariano,
    model_confidence_set, probability_of_backtest_overfitting, superior_predictive_ability,
};
use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct MetricsOptions {
    pub spec: MetricsSpec,
    /// Column used as the benchmark (excluded from the strategies).
    pub benchmark: Option<String>,
    pub seed: u64,
    /// Bootstrap repetitions for SPA and MCS.
    pub reps: usize,
    /// Blocks for PBO's CSCV (even).
    pub pbo_blocks: usize,
    /// MCS size (models with p-value above it stay in the set).
    pub mcs_size: f64,
}

impl Default for MetricsOptions {
    fn default() -> Self {
        Self {
            spec: MetricsSpec::default(),
            benchmark: None,
            seed: crate::config::DEFAULT_SEED,
            reps: 1000,
            pbo_blocks: 16,
            mcs_size: 0.1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnReport {
    #[serde(flatten)]
    pub metrics: SeriesMetrics,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vs_benchmark: Option<BenchmarkMetrics>,
}

/// A statistic, or why it could not be computed for this input.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Outcome<T> {
    Ok(T),
    Unavailable { error: String },
}

impl<T> From<Result<T>> for Outcome<T> {
    fn from(r: Result<T>) -> Self {
        match r {
            Ok(v) => Outcome::Ok(v),
            Err(e) => Outcome::Unavailable {
                error: e.to_string(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DmReport {
    /// The two columns compared (best and second-best Sharpe), loss = -return.
    pub first: String,
    pub second: String,
    #[serde(flatten)]
    pub test: DieboldMariano,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpaReport {
    /// Losses are negative returns; the benchmark is `--benchmark` or cash (zero return).
    pub benchmark: String,
    pub best: String,
    #[serde(flatten)]
    pub test: Spa,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct McsReport {
    pub included: Vec<String>,
    pub excluded: Vec<String>,
    pub p_values: BTreeMap<String, f64>,
    pub size: f64,
    pub method: McsMethod,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DsrReport {
    pub selected: String,
    #[serde(flatten)]
    pub test: DeflatedSharpe,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tests {
    pub dsr: Outcome<DsrReport>,
    pub pbo: Outcome<Pbo>,
    pub spa: Outcome<SpaReport>,
    pub mcs: Outcome<McsReport>,
    pub dm: Outcome<DmReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsReport {
    pub columns: BTreeMap<String, ColumnReport>,
    pub tests: Tests,
}

fn need(cond: bool, what: &str) -> Result<()> {
    if cond {
        Ok(())
    } else {
        Err(Error::Config(what.into()))
    }
}

pub fn metrics_report(table: &ReturnsTable, opts: &MetricsOptions) -> Result<MetricsReport> {
    let bench = match &opts.benchmark {
        Some(name) => Some(
            table
                .columns
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| {
                    Error::Config(format!(
                        "--benchmark: no column `{name}` in the returns file"
                    ))
                })?,
        ),
        None => None,
    };
    let strategies: Vec<&(String, Vec<f64>)> = table
        .columns
        .iter()
        .filter(|(n, _)| Some(n) != opts.benchmark.as_ref())
        .collect();
    let mut columns = BTreeMap::new();
    for (name, r) in &table.columns {
        let is_bench = Some(name) == opts.benchmark.as_ref();
        columns.insert(
            name.clone(),
            ColumnReport {
                metrics: series_metrics(&table.dates, r, None, &opts.spec),
                vs_benchmark: bench
                    .filter(|_| !is_bench)
                    .map(|(_, b)| benchmark_metrics(r, b, &opts.spec)),
            },
        );
    }
    // The statistics need aligned rows: keep the periods where every column is finite.
    let keep: Vec<usize> = (0..table.dates.len())
        .filter(|&t| table.columns.iter().all(|(_, c)| c[t].is_finite()))
        .collect();
    let aligned = |c: &[f64]| -> Vec<f64> { keep.iter().map(|&t| c[t]).collect() };
    let strat: Vec<Vec<f64>> = strategies.iter().map(|(_, c)| aligned(c)).collect();
    let names: Vec<String> = strategies.iter().map(|(n, _)| n.clone()).collect();
    let sharpes: Vec<f64> = strat
        .iter()
        .map(|c| sharpe_per_period(c, &opts.spec))
        .collect();
    let mut order: Vec<usize> = (0..strat.len()).collect();
    order.sort_by(|&a, &b| sharpes[b].total_cmp(&sharpes[a]));
    let losses: Vec<Vec<f64>> = strat
        .iter()
        .map(|c| c.iter().map(|r| -r).collect())
        .collect();

    let dsr = (|| {
        need(
            strat.len() >= 2,
            "dsr: needs at least 2 strategy columns (the trials)",
        )?;
        let best = order[0];
        Ok(DsrReport {
            selected: names[best].clone(),
            test: deflated_sharpe(&strat[best], &sharpes, &opts.spec),
        })
    })();
    let pbo = probability_of_backtest_overfitting(&strat, opts.pbo_blocks);
    let spa = (|| {
        need(!strat.is_empty(), "spa: needs at least 1 strategy column")?;
        let (bname, bloss) = match bench {
            Some((n, b)) => (n.clone(), aligned(b).iter().map(|r| -r).collect()),
            None => ("cash".to_string(), vec![0.0; keep.len()]),
        };
        let test = superior_predictive_ability(&bloss, &losses, opts.reps, None, opts.seed)?;
        Ok(SpaReport {
            benchmark: bname,
            best: names[test.best_model].clone(),
            test,
        })
    })();
    let mcs = (|| {
        let m = model_confidence_set(
            &losses,
            opts.mcs_size,
            opts.reps,
            None,
            McsMethod::R,
            opts.seed,
        )?;
        Ok(McsReport {
            included: m.included.iter().map(|&i| names[i].clone()).collect(),
            excluded: m.excluded.iter().map(|&i| names[i].clone()).collect(),
            p_values: names
                .iter()
                .cloned()
                .zip(m.p_values.iter().copied())
                .collect(),
            size: m.size,
            method: m.method,
        })
    })();
    let dm = (|| {
        need(strat.len() >= 2, "dm: needs at least 2 strategy columns")?;
        let (a, b) = (order[0], order[1]);
        Ok(DmReport {
            first: names[a].clone(),
            second: names[b].clone(),
            test: diebold_mariano(&losses[a], &losses[b], 1)?,
        })
    })();
    Ok(MetricsReport {
        columns,
        tests: Tests {
            dsr: dsr.into(),
            pbo: pbo.into(),
            spa: spa.into(),
            mcs: mcs.into(),
            dm: dm.into(),
        },
    })
}
