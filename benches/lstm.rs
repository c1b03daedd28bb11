//! One training epoch of the LSTM on the anchor workload: 2,000 sequences × 32 steps × 8 features
//! → 32 hidden → 1, batch 64, Adam (lr 1e-2), MSE, on the CPU. The target is at most 1.5× PyTorch's
//! CPU epoch with the same threads; `benches/reference/lstm_vs_torch.py` runs both and prints the
//! ratio.

use criterion::{Criterion, criterion_group, criterion_main};
use strider_core::model::lstm::synthetic::{anchor_spec, sine_ar};
use strider_core::model::lstm::train::{Samples, block_on, train_async};

fn bench(c: &mut Criterion) {
    let (x, y) = sine_ar(2000, 32, 42);
    let spec = anchor_spec(1);
    let device = burn::tensor::Device::flex();
    let mut group = c.benchmark_group("lstm_epoch");
    group.sample_size(10);
    group.bench_function("fused_cpu/2000x32x8_h32_b64", |b| {
        b.iter(|| {
            strider_core::model::lstm::fused::train(
                &device,
                &spec,
                &Samples { x: &x, y: &y },
                None,
                &mut |_| {},
            )
        })
    });
    group.bench_function("burn_flex/2000x32x8_h32_b64", |b| {
        b.iter(|| {
            block_on(train_async(
                &device,
                &spec,
                &Samples { x: &x, y: &y },
                None,
                &mut |_| {},
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
