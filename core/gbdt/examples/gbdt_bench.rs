//! Train on the benchmark data (shared/notes/lightgbm-eval/gen_data.py): rows 0..160k
//! train, 160k..200k holdout; 200 rounds, 31 leaves, learning rate 0.05. Prints train CPU
//! wall seconds and holdout RMSE. Usage: cargo run --release --example gbdt_bench -- data.csv
//! Environment: `THREADS` (num_threads, default 1; 0 = all cores, needs `--features parallel`),
//! `MAX_BIN`, `MODEL_OUT` (where the model is written, default /tmp/strider_bench_model.txt).
use std::time::Instant;

use strider_gbdt::{GbdtParams, TrainData, train};

fn main() {
    let path = std::env::args().nth(1).expect("data.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let mut y = Vec::new();
    let mut x = Vec::new();
    for line in text.lines().skip(1) {
        let mut it = line.split(',').map(|v| v.parse::<f64>().unwrap());
        y.push(it.next().unwrap());
        x.extend(it);
    }
    let f = x.len() / y.len();
    let n_train = 160_000;
    let max_bin = std::env::var("MAX_BIN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(255);
    let num_threads = std::env::var("THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let p = GbdtParams {
        num_threads,
        num_iterations: 200,
        learning_rate: 0.05,
        num_leaves: 31,
        seed: 42,
        max_bin,
        ..Default::default()
    };
    let data = TrainData {
        groups: &[],
        x: &x[..n_train * f],
        n_features: f,
        y: &y[..n_train],
        feature_names: vec![],
    };
    let t = Instant::now();
    let m = train(&p, &data, None, &mut |_, _, _| {}).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let hold = &x[n_train * f..];
    let t2 = Instant::now();
    let se: f64 = (0..y.len() - n_train)
        .map(|i| (m.predict(&hold[i * f..(i + 1) * f])[0] - y[n_train + i]).powi(2))
        .sum();
    let _row_secs = t2.elapsed().as_secs_f64();
    // The batch path (what `strider gbdt predict` and runs use).
    // Best of five, like the reference script's timing of LightGBM.
    let compiled = m.compile();
    let mut pred_secs = f64::INFINITY;
    for _ in 0..5 {
        let t3 = Instant::now();
        std::hint::black_box(compiled.predict_raw_batch(hold, y.len() - n_train));
        pred_secs = pred_secs.min(t3.elapsed().as_secs_f64());
    }
    let batch = m.predict_batch(hold, y.len() - n_train);
    assert!(
        batch
            .iter()
            .enumerate()
            .all(|(i, p)| p.to_bits() == m.predict(&hold[i * f..(i + 1) * f])[0].to_bits())
    );
    println!(
        "train {secs:.2}s  holdout RMSE {:.6}  predict 40k rows {pred_secs:.3}s",
        (se / (y.len() - n_train) as f64).sqrt()
    );
    let out = std::env::var("MODEL_OUT").unwrap_or("/tmp/strider_bench_model.txt".into());
    std::fs::write(out, m.write()).unwrap();
}
