//! GBDT training and batch prediction on synthetic Friedman-style data (20,000 x 10).
//! The full LightGBM comparison (160k x 30, 200 rounds) is benches/reference/gbdt_vs_lightgbm.py.
//! Run: `cargo bench -p strider-gbdt --bench gbdt`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use strider_gbdt::{GbdtParams, TrainData, train};

fn data(n: usize, f: usize) -> (Vec<f64>, Vec<f64>) {
    let mut s = 99u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut x = Vec::with_capacity(n * f);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f64> = (0..f).map(|_| next()).collect();
        y.push(
            10.0 * (std::f64::consts::PI * row[0] * row[1]).sin()
                + 20.0 * (row[2] - 0.5).powi(2)
                + 10.0 * row[3]
                + 5.0 * row[4]
                + next(),
        );
        x.extend(row);
    }
    (x, y)
}

fn bench(c: &mut Criterion) {
    let (n, f) = (20_000, 10);
    let (x, y) = data(n, f);
    let p = GbdtParams {
        num_iterations: 50,
        seed: 1,
        ..Default::default()
    };
    let td = TrainData {
        groups: &[],
        x: &x,
        n_features: f,
        y: &y,
        feature_names: vec![],
    };
    c.bench_function("gbdt/train 20k x 10, 50 rounds, 31 leaves", |b| {
        b.iter(|| train(black_box(&p), &td, None, &mut |_, _, _| {}).unwrap())
    });
    let model = train(
        &GbdtParams {
            num_iterations: 200,
            seed: 1,
            ..Default::default()
        },
        &td,
        None,
        &mut |_, _, _| {},
    )
    .unwrap();
    let compiled = model.compile();
    c.bench_function("gbdt/predict batch 20k rows x 200 trees", |b| {
        b.iter(|| compiled.predict_raw_batch(black_box(&x), n))
    });
    c.bench_function("gbdt/predict row by row 20k rows x 200 trees", |b| {
        b.iter(|| {
            (0..n)
                .map(|i| model.predict_raw(black_box(&x[i * f..(i + 1) * f]))[0])
                .sum::<f64>()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
