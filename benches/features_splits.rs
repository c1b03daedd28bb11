//! Feature building and splitting on 30 years of daily bars (7,560 rows per instrument).
//! Run: `cargo bench -p strider-core --bench features_splits`.

use std::hint::black_box;

use chrono::{Duration, NaiveDate};
use criterion::{Criterion, criterion_group, criterion_main};
use strider_core::data::Instrument;
use strider_core::dataset::Dataset;
use strider_core::features::{FeatureSpec, Source, compute_all};
use strider_core::labels::LabelSpec;
use strider_core::splits::{SplitSpec, Window};

const BARS: usize = 30 * 252;

/// A deterministic random walk (xorshift), so the bench needs no data files.
fn synthetic(name: &str, seed: u64) -> Instrument {
    let mut s = seed;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut p = 100.0;
    let (mut dates, mut o, mut h, mut l, mut c, mut v) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let start = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
    for i in 0..BARS {
        p *= 1.0 + 0.02 * next();
        dates.push(start + Duration::days(i as i64));
        o.push(p * (1.0 + 0.002 * next()));
        h.push(p * 1.01);
        l.push(p * 0.99);
        c.push(p);
        v.push(1e6 * (1.0 + next()));
    }
    Instrument {
        name: name.into(),
        dates,
        open: Some(o),
        high: Some(h),
        low: Some(l),
        close: c,
        volume: Some(v),
        adj_close: None,
        extra: vec![],
    }
}

fn features() -> Vec<FeatureSpec> {
    vec![
        FeatureSpec::Returns {
            periods: vec![1, 5, 20],
        },
        FeatureSpec::LaggedReturns {
            lags: vec![1, 2, 3],
        },
        FeatureSpec::RollingMean {
            window: 20,
            of: Source::Return,
        },
        FeatureSpec::RollingStd {
            window: 20,
            of: Source::Return,
        },
        FeatureSpec::Zscore {
            window: 60,
            of: Source::Price,
        },
        FeatureSpec::Rsi { window: 14 },
        FeatureSpec::Macd {
            fast: 12,
            slow: 26,
            signal: 9,
        },
        FeatureSpec::Atr { window: 14 },
        FeatureSpec::VolumeZscore { window: 20 },
        FeatureSpec::DayOfWeek { onehot: true },
    ]
}

fn bench(c: &mut Criterion) {
    let one = synthetic("a", 1);
    let three: Vec<Instrument> = (1..=3).map(|s| synthetic(&format!("i{s}"), s)).collect();
    let specs = features();
    c.bench_function("features/30y x 1 instrument (21 columns)", |b| {
        b.iter(|| compute_all(black_box(&specs), black_box(&one)).unwrap())
    });
    c.bench_function("dataset/30y x 3 instruments", |b| {
        b.iter(|| Dataset::build(black_box(&three), &specs, &LabelSpec::default()).unwrap())
    });
    let n = BARS;
    let ends: Vec<usize> = (0..n).map(|i| i + 5).collect();
    let schemes = [
        (
            "tss",
            SplitSpec::Tss {
                n_splits: 10,
                max_train_size: None,
                test_size: None,
                gap: Some(5),
            },
        ),
        (
            "walk-forward",
            SplitSpec::WalkForward {
                train_size: 756,
                test_size: 63,
                step: None,
                gap: Some(5),
                window: Window::Rolling,
                reduce_test: true,
            },
        ),
        (
            "purged-kfold",
            SplitSpec::PurgedKfold {
                n_splits: 10,
                purge: None,
                embargo: 76,
            },
        ),
        (
            "cpcv(10,2)",
            SplitSpec::Cpcv {
                n_folds: 10,
                n_test_folds: 2,
                purge: Some(5),
                embargo: 76,
            },
        ),
    ];
    for (name, spec) in schemes {
        c.bench_function(&format!("splits/{name} on 30y"), |b| {
            b.iter(|| spec.plan(black_box(n), Some(&ends), 5).unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
