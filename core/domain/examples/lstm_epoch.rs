//! Median epoch time of the LSTM anchor workload (2,000 × 32 × 8 → 32, batch 64, Adam 1e-2, MSE)
//! on both CPU engines (the fused one with its exact and its FMA kernel), as JSON, for
//! `benches/reference/lstm_vs_torch.py`.
//!
//!     cargo run --release -p strider-core --example lstm_epoch -- [EPOCHS]

use std::time::Instant;

use strider_core::model::lstm::synthetic::{anchor_spec, sine_ar};
use strider_core::model::lstm::train::{EpochLoss, Samples, block_on, train_async};

/// Runs a training, calling its argument after every epoch.
type Trainer<'a> = dyn FnMut(&mut dyn FnMut(&EpochLoss)) + 'a;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let epochs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let (x, y) = sine_ar(2000, 32, 42);
    let spec = anchor_spec(epochs);
    let device = burn::tensor::Device::flex();
    let samples = Samples { x: &x, y: &y };
    let timed = |run: &mut Trainer| {
        let mut times = Vec::new();
        let mut last = Instant::now();
        let mut loss = f64::NAN;
        run(&mut |e: &EpochLoss| {
            times.push(last.elapsed().as_secs_f64());
            last = Instant::now();
            loss = e.train_loss;
        });
        (median(times), loss)
    };
    let (fused, fused_loss) = timed(&mut |cb| {
        strider_core::model::lstm::fused::train(&device, &spec, &samples, None, cb);
    });
    let fast_spec = strider_core::model::lstm::train::TrainSpec {
        deterministic: false,
        ..spec.clone()
    };
    let (fast, fast_loss) = timed(&mut |cb| {
        strider_core::model::lstm::fused::train(&device, &fast_spec, &samples, None, cb);
    });
    // `lstm_epoch EPOCHS fused` skips burn (for profiling the fused engine alone).
    let (burn_flex, burn_loss) = if std::env::args().nth(2).as_deref() == Some("fused") {
        (f64::NAN, f64::NAN)
    } else {
        timed(&mut |cb| {
            block_on(train_async(&device, &spec, &samples, None, cb));
        })
    };
    println!(
        "{}",
        serde_json::json!({
            "epochs": epochs,
            "fused_cpu_s_per_epoch": fused,
            "fused_cpu_final_loss": fused_loss,
            "fused_fast_s_per_epoch": fast,
            "fused_fast_final_loss": fast_loss,
            "burn_flex_s_per_epoch": burn_flex,
            "burn_flex_final_loss": burn_loss,
        })
    );
}
