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
