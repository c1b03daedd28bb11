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
            seed: crate::seed::DEFAULT_SEED,
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
        Err(Error::RunData(what.into()))
    }
}

/// Every column's metrics, and the statistics across the strategy columns (every column but the
/// benchmark). Only a `--benchmark` the table lacks is an error; a statistic the input cannot
/// support is reported as unavailable.
pub fn metrics_report(table: &ReturnsTable, opts: &MetricsOptions) -> Result<MetricsReport> {
    // Zero bootstrap repetitions would report SPA and MCS decisions resting on no evidence.
    if opts.reps == 0 {
        return Err(Error::RunData(
            "reps: the bootstrap needs at least 1 repetition".into(),
        ));
    }
    let bench = find_benchmark(table, opts)?;
    let columns = column_reports(table, bench, opts);
    let s = Strategies::new(table, opts);
    Ok(MetricsReport {
        columns,
        tests: Tests {
            dsr: dsr_test(&s, opts).into(),
            pbo: probability_of_backtest_overfitting(&s.returns, opts.pbo_blocks).into(),
            spa: spa_test(&s, bench, opts).into(),
            mcs: mcs_test(&s, opts).into(),
            dm: dm_test(&s).into(),
        },
    })
}

/// A named column of returns.
type Column = (String, Vec<f64>);

/// The `--benchmark` column, when one is named.
fn find_benchmark<'a>(
    table: &'a ReturnsTable,
    opts: &MetricsOptions,
) -> Result<Option<&'a Column>> {
    let Some(name) = &opts.benchmark else {
        return Ok(None);
    };
    let column = table
        .columns
        .iter()
        .find(|(n, _)| n == name)
        .ok_or_else(|| {
            Error::RunData(format!(
                "--benchmark: no column `{name}` in the returns file"
            ))
        })?;
    Ok(Some(column))
}

/// Per-series metrics of every column (the benchmark's own too), with each other column's
/// comparison against the benchmark.
fn column_reports(
    table: &ReturnsTable,
    bench: Option<&Column>,
    opts: &MetricsOptions,
) -> BTreeMap<String, ColumnReport> {
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
    columns
}

/// The strategy columns as the statistics see them: aligned rows, i.e. only the periods where
/// every column (the benchmark included) is finite.
struct Strategies {
    /// The periods kept.
    keep: Vec<usize>,
    names: Vec<String>,
    returns: Vec<Vec<f64>>,
    /// Per-period Sharpe ratio of each strategy.
    sharpes: Vec<f64>,
    /// Strategies by Sharpe ratio, best first (ties in column order).
    order: Vec<usize>,
    /// Losses are negative returns.
    losses: Vec<Vec<f64>>,
}

impl Strategies {
    fn new(table: &ReturnsTable, opts: &MetricsOptions) -> Self {
        let keep: Vec<usize> = (0..table.dates.len())
            .filter(|&t| table.columns.iter().all(|(_, c)| c[t].is_finite()))
            .collect();
        let strategies: Vec<&Column> = table
            .columns
            .iter()
            .filter(|(n, _)| Some(n) != opts.benchmark.as_ref())
            .collect();
        let returns: Vec<Vec<f64>> = strategies.iter().map(|(_, c)| align(&keep, c)).collect();
        let names: Vec<String> = strategies.iter().map(|(n, _)| n.clone()).collect();
        let sharpes: Vec<f64> = returns
            .iter()
            .map(|c| sharpe_per_period(c, &opts.spec))
            .collect();
        let mut order: Vec<usize> = (0..returns.len()).collect();
        order.sort_by(|&a, &b| sharpes[b].total_cmp(&sharpes[a]));
        let losses = returns.iter().map(|c| negated(c)).collect();
        Strategies {
            keep,
            names,
            returns,
            sharpes,
            order,
            losses,
        }
    }
}

/// Column `c` on the kept periods.
fn align(keep: &[usize], c: &[f64]) -> Vec<f64> {
    keep.iter().map(|&t| c[t]).collect()
}

fn negated(c: &[f64]) -> Vec<f64> {
    c.iter().map(|r| -r).collect()
}

/// Deflated Sharpe ratio of the best strategy, the other columns being the trials.
fn dsr_test(s: &Strategies, opts: &MetricsOptions) -> Result<DsrReport> {
    need(
        s.returns.len() >= 2,
        "dsr: needs at least 2 strategy columns (the trials)",
    )?;
    let best = s.order[0];
    Ok(DsrReport {
        selected: s.names[best].clone(),
        test: deflated_sharpe(&s.returns[best], &s.sharpes, &opts.spec),
    })
}

/// Hansen's SPA of the strategies against the benchmark, or cash (zero return) without one.
fn spa_test(s: &Strategies, bench: Option<&Column>, opts: &MetricsOptions) -> Result<SpaReport> {
    need(
        !s.returns.is_empty(),
        "spa: needs at least 1 strategy column",
    )?;
    let (bname, bloss) = match bench {
        Some((n, b)) => (n.clone(), negated(&align(&s.keep, b))),
        None => ("cash".to_string(), vec![0.0; s.keep.len()]),
    };
    let test = superior_predictive_ability(&bloss, &s.losses, opts.reps, None, opts.seed)?;
    Ok(SpaReport {
        benchmark: bname,
        best: s.names[test.best_model].clone(),
        test,
    })
}

/// The model confidence set of the strategies (`R` statistic), by name.
fn mcs_test(s: &Strategies, opts: &MetricsOptions) -> Result<McsReport> {
    let m = model_confidence_set(
        &s.losses,
        opts.mcs_size,
        opts.reps,
        None,
        McsMethod::R,
        opts.seed,
    )?;
    let named = |ids: &[usize]| ids.iter().map(|&i| s.names[i].clone()).collect();
    Ok(McsReport {
        included: named(&m.included),
        excluded: named(&m.excluded),
        p_values: s
            .names
            .iter()
            .cloned()
            .zip(m.p_values.iter().copied())
            .collect(),
        size: m.size,
        method: m.method,
    })
}

/// Diebold-Mariano test between the two strategies with the best Sharpe ratios.
fn dm_test(s: &Strategies) -> Result<DmReport> {
    need(
        s.returns.len() >= 2,
        "dm: needs at least 2 strategy columns",
    )?;
    let (a, b) = (s.order[0], s.order[1]);
    Ok(DmReport {
        first: s.names[a].clone(),
        second: s.names[b].clone(),
        test: diebold_mariano(&s.losses[a], &s.losses[b], 1)?,
    })
}
