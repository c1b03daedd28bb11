//! The training loop: mini-batch Adam / AdamW with gradient-norm clipping, a warm-up + cosine
//! learning-rate schedule and early stopping on a purged validation tail (the best epoch's
//! weights are kept). Every random choice (initial weights, batch order, dropout masks) comes from
//! the seed on the host, so a seed gives the same model on the CPU every time.
//!
//! The loop is `async` because a browser cannot read a WebGPU buffer synchronously; on the CPU
//! every read is ready at once and [`block_on`] drives it without an executor.

use burn::module::Module;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::log_sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::net::{DropoutMasks, LstmNet, NetShape};
use super::sequences::Sequences;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    Adam,
    Adamw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    Constant,
    /// Cosine decay from the learning rate to 1% of it over the epochs.
    Cosine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Mean squared error on the (standardised) target.
    Mse,
    /// Binary cross-entropy on the logit.
    Bce,
}

/// Everything the loop needs besides the data.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSpec {
    pub shape: NetShape,
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub optimizer: Optimizer,
    pub weight_decay: f64,
    pub schedule: Schedule,
    pub warmup_epochs: usize,
    pub clip_norm: Option<f64>,
    /// Epochs without a better validation loss before stopping; 0 trains every epoch.
    pub patience: usize,
    pub dropout: f64,
    pub loss: Loss,
    pub seed: u64,
    /// The fused engine's exact kernel (the same bits everywhere); false allows fused
    /// multiply-adds where the CPU has them ([`super::kernels::Kernel::for_training`]).
    pub deterministic: bool,
}

/// One epoch's record, streamed to the caller while training runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochLoss {
    pub epoch: usize,
    pub train_loss: f64,
    pub validation_loss: Option<f64>,
    pub learning_rate: f64,
}

pub struct Trained {
    /// The best epoch's network (the last one without a validation set), without autodiff.
    pub net: LstmNet,
    pub best_epoch: usize,
    pub history: Vec<EpochLoss>,
}

/// Inputs and targets of one set.
pub struct Samples<'a> {
    pub x: &'a Sequences,
    pub y: &'a [f32],
}

impl TrainSpec {
    pub(crate) fn learning_rate_at(&self, epoch: usize) -> f64 {
        let lr = self.learning_rate;
        if epoch < self.warmup_epochs {
            return lr * (epoch + 1) as f64 / (self.warmup_epochs + 1) as f64;
        }
        match self.schedule {
            Schedule::Constant => lr,
            Schedule::Cosine => {
                let span = self.epochs.saturating_sub(self.warmup_epochs).max(1) as f64;
                let t = (epoch - self.warmup_epochs) as f64 / span;
                let floor = 0.01 * lr;
                floor + 0.5 * (lr - floor) * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }

    fn optimizer(&self) -> ModuleOptimizer {
        let clip = self
            .clip_norm
            .map(|c| GradientClippingConfig::Norm(c as f32));
        match self.optimizer {
            Optimizer::Adam => AdamConfig::new()
                .with_epsilon(1e-8)
                .with_grad_clipping(clip)
                .init(),
            Optimizer::Adamw => AdamWConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(self.weight_decay as f32)
                .with_grad_clipping(clip)
                .init(),
        }
    }
}

pub fn loss_of(loss: Loss, out: Tensor<1>, y: Tensor<1>) -> Tensor<1> {
    match loss {
        Loss::Mse => (out - y).powi_scalar(2).mean(),
        Loss::Bce => {
            let pos = y.clone() * log_sigmoid(out.clone());
            let neg = (y.neg() + 1.0) * log_sigmoid(out.neg());
            (pos + neg).mean().neg()
        }
    }
}

pub async fn read_scalar(t: Tensor<1>) -> f64 {
    #[cfg(target_family = "wasm")]
    {
        t.into_scalar_async::<f32>()
            .await
            .map(f64::from)
            .unwrap_or(f64::NAN)
    }
    #[cfg(not(target_family = "wasm"))]
    {
        f64::from(t.into_scalar::<f32>())
    }
}

pub async fn read_vec(t: Tensor<1>) -> Vec<f32> {
    #[cfg(target_family = "wasm")]
    let data = t.into_data_async().await.ok();
    #[cfg(not(target_family = "wasm"))]
    let data = Some(t.into_data());
    data.and_then(|d| d.try_to_vec::<f32>().ok())
        .unwrap_or_default()
}

fn batch_x(x: &Sequences, idx: &[usize], device: &Device) -> Tensor<3> {
    Tensor::from_data(
        TensorData::new(x.gather(idx), [idx.len(), x.window, x.features]),
        device,
    )
}

fn batch_y(y: &[f32], idx: &[usize], device: &Device) -> Tensor<1> {
    let v: Vec<f32> = idx.iter().map(|&i| y[i]).collect();
    Tensor::from_data(TensorData::new(v, [idx.len()]), device)
}

/// Network outputs for every sample of `x`, in batches, without autodiff.
pub async fn predict_async(
    net: &LstmNet,
    x: &Sequences,
    batch: usize,
    device: &Device,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.n);
    let all: Vec<usize> = (0..x.n).collect();
    for idx in all.chunks(batch.max(1)) {
        out.extend(read_vec(net.forward(batch_x(x, idx, device), None)).await);
    }
    out
}

async fn mean_loss(net: &LstmNet, set: &Samples<'_>, spec: &TrainSpec, device: &Device) -> f64 {
    let all: Vec<usize> = (0..set.x.n).collect();
    let mut total = 0.0;
    for idx in all.chunks(spec.batch_size.max(256)) {
        let out = net.forward(batch_x(set.x, idx, device), None);
        let l = read_scalar(loss_of(spec.loss, out, batch_y(set.y, idx, device))).await;
        total += l * idx.len() as f64;
    }
    total / set.x.n.max(1) as f64
}

/// Train on `device` (autodiff is added here). `on_epoch` sees every epoch as it ends.
pub async fn train_async(
    device: &Device,
    spec: &TrainSpec,
    train: &Samples<'_>,
    validation: Option<&Samples<'_>>,
    on_epoch: &mut dyn FnMut(&EpochLoss),
) -> Trained {
    let ad = device.clone().autodiff();
    let plain = device.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut net = LstmNet::init(spec.shape, spec.seed ^ 0x5EED_1257, &ad);
    let mut optim = spec.optimizer();
    let mut order: Vec<usize> = (0..train.x.n).collect();
    let mut history = Vec::with_capacity(spec.epochs);
    let mut stopping = EarlyStopping::new(spec.patience);
    for epoch in 0..spec.epochs {
        let lr = spec.learning_rate_at(epoch);
        order.shuffle(&mut rng);
        let mut sum: Option<Tensor<1>> = None;
        for idx in order.chunks(spec.batch_size.max(1)) {
            let masks = (spec.dropout > 0.0).then(|| {
                DropoutMasks::draw(
                    &mut rng,
                    spec.dropout,
                    spec.shape,
                    idx.len(),
                    train.x.window,
                    &ad,
                )
            });
            let out = net.forward(batch_x(train.x, idx, &ad), masks.as_ref());
            let loss = loss_of(spec.loss, out, batch_y(train.y, idx, &ad));
            let weighted = loss.clone().detach().mul_scalar(idx.len() as f64);
            sum = Some(match sum {
                Some(s) => s + weighted,
                None => weighted,
            });
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(lr, net, grads);
        }
        let train_loss = match sum {
            Some(s) => read_scalar(s).await / train.x.n.max(1) as f64,
            None => f64::NAN,
        };
        let snapshot = net.valid();
        let validation_loss = match validation {
            Some(v) if v.x.n > 0 => Some(mean_loss(&snapshot, v, spec, &plain).await),
            _ => None,
        };
        let record = EpochLoss {
            epoch: epoch + 1,
            train_loss,
            validation_loss,
            learning_rate: lr,
        };
        on_epoch(&record);
        let stop = stopping.update(&record, || snapshot);
        history.push(record);
        if stop {
            break;
        }
    }
    let (best_epoch, net) = stopping.into_best().unwrap_or_else(|| (0, net.valid()));
    Trained {
        net,
        best_epoch,
        history,
    }
}

/// Early stopping shared by both engines: keeps the best epoch's weights (lowest validation loss;
/// without a validation set, the last epoch's) and says when `patience` epochs passed without a
/// better one.
pub(crate) struct EarlyStopping<T> {
    patience: usize,
    best: Option<(f64, usize, T)>,
}

impl<T> EarlyStopping<T> {
    pub(crate) fn new(patience: usize) -> Self {
        Self {
            patience,
            best: None,
        }
    }

    /// Record an epoch; `weights` is taken only when the epoch becomes the best. True: stop.
    pub(crate) fn update(&mut self, record: &EpochLoss, weights: impl FnOnce() -> T) -> bool {
        let score = record.validation_loss.unwrap_or(record.train_loss);
        let improved = self.best.as_ref().is_none_or(|(b, _, _)| score < *b);
        if improved || record.validation_loss.is_none() {
            self.best = Some((score, record.epoch, weights()));
            return false;
        }
        self.patience > 0
            && self
                .best
                .as_ref()
                .is_some_and(|(_, e, _)| record.epoch - e >= self.patience)
    }

    /// The best epoch (1-based) and its weights.
    pub(crate) fn into_best(self) -> Option<(usize, T)> {
        self.best.map(|(_, e, w)| (e, w))
    }
}

/// Drive a future whose reads are all ready at once (CPU backends) to completion.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}
