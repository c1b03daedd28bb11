//! From a backtest to everything a user judges a model by: full metrics net and gross, the
//! buy-and-hold comparison, and attribution by instrument, by side and by calendar month.

use chrono::NaiveDate;
use serde::Serialize;

use crate::backtest::Backtest;
use crate::metrics::MetricsSpec;
use crate::metrics::{
    BenchmarkMetrics, GroupMetrics, SeriesMetrics, YearRow, benchmark_metrics, calendar_table,
    series_metrics,
};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attribution {
    /// Each instrument's own traded returns, and its contribution to the portfolio.
    pub by_instrument: Vec<GroupMetrics>,
    /// The portfolio split into its long and its short positions.
    pub by_side: Vec<GroupMetrics>,
    /// Compounded net returns by calendar month and year.
    pub calendar: Vec<YearRow>,
    /// Sum of per-period costs (the drag between gross and net).
    pub total_cost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Net of costs.
    pub strategy: SeriesMetrics,
    pub gross: SeriesMetrics,
    /// Buy-and-hold of the same instruments over the same days.
    pub benchmark: SeriesMetrics,
    pub vs_benchmark: BenchmarkMetrics,
    pub attribution: Attribution,
}

pub fn evaluate(bt: &Backtest, instruments: &[String], spec: &MetricsSpec) -> Evaluation {
    let dates: Vec<NaiveDate> = bt.portfolio.iter().map(|d| d.date).collect();
    let col = |f: fn(&crate::backtest::PortfolioDay) -> f64| -> Vec<f64> {
        bt.portfolio.iter().map(f).collect()
    };
    let (net, gross, bench) = (col(|d| d.strategy), col(|d| d.gross), col(|d| d.benchmark));
    // Portfolio weights per day: each present instrument's position over the day's count.
    let n_inst = instruments.len();
    let mut weights: Vec<Vec<f64>> = Vec::with_capacity(dates.len());
    let mut by_inst: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); n_inst];
    let (mut long, mut short) = (
        Vec::with_capacity(dates.len()),
        Vec::with_capacity(dates.len()),
    );
    for group in bt.days.chunk_by(|a, b| a.date == b.date) {
        let m = group.len() as f64;
        let mut w = vec![0.0; n_inst];
        let (mut l, mut s) = (0.0, 0.0);
        for d in group {
            w[d.instrument] = d.position / m;
            by_inst[d.instrument].0.push(d.net);
            by_inst[d.instrument].1.push(d.net / m);
            if d.position > 0.0 {
                l += d.net / m;
            } else if d.position < 0.0 {
                s += d.net / m;
            }
        }
        weights.push(w);
        long.push(l);
        short.push(s);
    }
    Evaluation {
        strategy: series_metrics(&dates, &net, Some(&weights), spec),
        gross: series_metrics(&dates, &gross, Some(&weights), spec),
        benchmark: series_metrics(&dates, &bench, None, spec),
        vs_benchmark: benchmark_metrics(&net, &bench, spec),
        attribution: Attribution {
            by_instrument: instruments
                .iter()
                .zip(&by_inst)
                .map(|(name, (r, c))| GroupMetrics::new(name.clone(), r, c, spec))
                .collect(),
            by_side: vec![
                GroupMetrics::new("long".into(), &long, &long, spec),
                GroupMetrics::new("short".into(), &short, &short, spec),
            ],
            calendar: calendar_table(&dates, &net),
            total_cost: bt.portfolio.iter().map(|d| d.cost).sum(),
        },
    }
}
