//! Every per-series metric on 1,000,000 returns (target: under 50 ms), and the statistics at the
//! sizes a run uses. Run: `cargo bench -p strider-core --bench metrics`.

use std::hint::black_box;

use chrono::{Duration, NaiveDate};
use criterion::{Criterion, criterion_group, criterion_main};
use strider_core::metrics::MetricsSpec;
use strider_core::metrics::{benchmark_metrics, series_metrics};
use strider_core::stats::{
    McsMethod, model_confidence_set, probability_of_backtest_overfitting,
    superior_predictive_ability,
};

fn returns(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            0.02 * ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) + 0.0002
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let n = 1_000_000;
    let r = returns(n, 1);
    let b = returns(n, 2);
    let start = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
    let dates: Vec<NaiveDate> = (0..n).map(|i| start + Duration::days(i as i64)).collect();
    let spec = MetricsSpec::default();
    c.bench_function("metrics/every per-series metric, 1M returns", |bch| {
        bch.iter(|| series_metrics(black_box(&dates), black_box(&r), None, &spec))
    });
    c.bench_function("metrics/benchmark comparison, 1M returns", |bch| {
        bch.iter(|| benchmark_metrics(black_box(&r), black_box(&b), &spec))
    });
    let cols: Vec<Vec<f64>> = (0..10).map(|k| returns(2000, k + 3)).collect();
    c.bench_function("stats/pbo 2000 x 10, S=16", |bch| {
        bch.iter(|| probability_of_backtest_overfitting(black_box(&cols), 16).unwrap())
    });
    let bench_loss = returns(2000, 99);
    c.bench_function("stats/spa 2000 x 10, 1000 reps", |bch| {
        bch.iter(|| {
            superior_predictive_ability(&bench_loss, black_box(&cols), 1000, None, 7).unwrap()
        })
    });
    c.bench_function("stats/mcs R 2000 x 10, 1000 reps", |bch| {
        bch.iter(|| {
            model_confidence_set(black_box(&cols), 0.1, 1000, None, McsMethod::R, 7).unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
