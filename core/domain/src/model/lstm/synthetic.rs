//! The synthetic sequence task shared by the LSTM tests, the benchmark and the PyTorch twin
//! (`benches/reference/lstm_vs_torch.py`, same generator and draw order): a noisy sine plus an
//! AR(1) process (φ = 0.8, σ = 0.1) plus observation noise (σ = 0.05), 8 features per step, and
//! the next value as the target. What no model can predict is the AR innovation and the
//! observation noise of the next step, so the MSE noise floor is 0.1² + 0.05² = 0.0125.

use super::sequences::Sequences;

pub const NOISE_FLOOR_MSE: f64 = 0.0125;
pub const FEATURES: usize = 8;

/// A 64-bit LCG (Knuth's MMIX constants) so Python can replay the same numbers bit for bit.
struct Lcg(u64);

impl Lcg {
    fn next_f32(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 40) as f64 / (1u64 << 24) as f64
    }

    fn normal(&mut self) -> f64 {
        let u1 = self.next_f32().max(1e-7);
        let u2 = self.next_f32();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// `n` sequences of `window` steps and their next-value targets.
pub fn sine_ar(n: usize, window: usize, seed: u64) -> (Sequences, Vec<f32>) {
    let mut rng = Lcg(seed);
    let mut x = Vec::with_capacity(n * window * FEATURES);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let freq = 0.1 + 0.3 * rng.next_f32();
        // 6.28, not τ: the PyTorch twin's generator, number for number.
        #[allow(clippy::approx_constant)]
        let phase = 6.28 * rng.next_f32();
        let mut ar = 0.0;
        let mut series = Vec::with_capacity(window + 1);
        for t in 0..=window {
            ar = 0.8 * ar + 0.1 * rng.normal();
            let s = (freq * t as f64 + phase).sin();
            series.push((s + ar + 0.05 * rng.normal(), s, ar));
        }
        for t in 0..window {
            let (v, s, a) = series[t];
            let prev = if t > 0 { series[t - 1].0 } else { 0.0 };
            let step = [
                v,
                s,
                (freq * t as f64 + phase).cos(),
                a,
                v - prev,
                freq,
                0.1 * rng.normal(),
                t as f64 / window as f64,
            ];
            x.extend(step.iter().map(|&v| v as f32));
        }
        y.push(series[window].0 as f32);
    }
    (
        Sequences {
            x,
            n,
            window,
            features: FEATURES,
        },
        y,
    )
}

/// The benchmark workload's training settings (the PyTorch twin's): one layer of 32, batch 64,
/// Adam at 1e-2, MSE, constant rate, no clipping, dropout or early stopping.
pub fn anchor_spec(epochs: usize) -> super::train::TrainSpec {
    use super::train::{Loss, Optimizer, Schedule, TrainSpec};
    TrainSpec {
        shape: super::net::NetShape {
            inputs: FEATURES,
            hidden: 32,
            layers: 1,
        },
        epochs,
        batch_size: 64,
        learning_rate: 1e-2,
        optimizer: Optimizer::Adam,
        weight_decay: 0.0,
        schedule: Schedule::Constant,
        warmup_epochs: 0,
        clip_norm: None,
        patience: 0,
        dropout: 0.0,
        loss: Loss::Mse,
        seed: 0,
        deterministic: true,
    }
}

/// A training run on the synthetic task, for the browser tests and the wasm benchmark: the same
/// experiment natively and in wasm, so their results and epoch times compare directly.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticRun {
    /// The benchmark workload: 2,000 × 32 × 8 → 32, batch 64, Adam 1e-2, no validation.
    pub anchor: bool,
    pub n_train: usize,
    pub n_validation: usize,
    pub n_test: usize,
    pub window: usize,
    pub hidden: usize,
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub seed: u64,
    pub backend: super::Backend,
}

impl Default for SyntheticRun {
    fn default() -> Self {
        Self {
            anchor: false,
            n_train: 2000,
            n_validation: 400,
            n_test: 1000,
            window: 32,
            hidden: 32,
            epochs: 30,
            batch_size: 64,
            learning_rate: 1e-2,
            seed: 1,
            backend: super::Backend::Cpu,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SyntheticResult {
    pub backend: super::Backend,
    pub epochs: Vec<super::train::EpochLoss>,
    /// Median seconds per epoch by the caller's clock.
    pub s_per_epoch: f64,
    pub final_loss: f64,
    /// MSE of the best epoch's network on held-out sequences (`NaN` when `n_test` is 0).
    pub test_mse: f64,
    pub noise_floor: f64,
}

/// Run `run` on `device`; `now()` is a clock in seconds (the browser's `performance.now`).
pub async fn run_synthetic(
    run: &SyntheticRun,
    device: &burn::tensor::Device,
    now: &dyn Fn() -> f64,
) -> SyntheticResult {
    use super::net::NetShape;
    use super::train::{Loss, Optimizer, Samples, Schedule, TrainSpec};
    let (x, y) = sine_ar(run.n_train, run.window, 42);
    let (xv, yv) = sine_ar(run.n_validation, run.window, 7);
    let (xt, yt) = sine_ar(run.n_test, run.window, 99);
    let spec = TrainSpec {
        shape: NetShape {
            inputs: FEATURES,
            hidden: run.hidden,
            layers: 1,
        },
        epochs: run.epochs,
        batch_size: run.batch_size,
        learning_rate: run.learning_rate,
        optimizer: Optimizer::Adam,
        weight_decay: 0.0,
        schedule: if run.anchor {
            Schedule::Constant
        } else {
            Schedule::Cosine
        },
        warmup_epochs: 0,
        clip_norm: (!run.anchor).then_some(1.0),
        patience: 0,
        dropout: 0.0,
        loss: Loss::Mse,
        seed: run.seed,
        deterministic: true,
    };
    let validation = Samples { x: &xv, y: &yv };
    let validation = (!run.anchor && run.n_validation > 0).then_some(&validation);
    let mut times = Vec::new();
    let mut last = now();
    let mut on_epoch = |_: &super::train::EpochLoss| {
        let t = now();
        times.push(t - last);
        last = t;
    };
    let samples = Samples { x: &x, y: &y };
    let trained = match run.backend {
        super::Backend::Cpu => {
            super::fused::train(device, &spec, &samples, validation, &mut on_epoch)
        }
        _ => super::train::train_async(device, &spec, &samples, validation, &mut on_epoch).await,
    };
    times.sort_by(f64::total_cmp);
    let test_mse = if run.n_test > 0 {
        let p = super::train::predict_async(&trained.net, &xt, 256, device).await;
        p.iter()
            .zip(&yt)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>()
            / p.len() as f64
    } else {
        f64::NAN
    };
    SyntheticResult {
        backend: run.backend,
        s_per_epoch: times.get(times.len() / 2).copied().unwrap_or(f64::NAN),
        final_loss: trained.history.last().map_or(f64::NAN, |e| e.train_loss),
        epochs: trained.history,
        test_mse,
        noise_floor: NOISE_FLOOR_MSE,
    }
}
