//! LSTM models (burn): stacked LSTM layers and a dense head on windows of each instrument's own
//! rows, for regression (forward return) or classification (direction).
//!
//! - [`sequences`]: leak-free windows and the purged validation tail.
//! - [`net`]: the burn module (fused gates, seeded initialisation, host-drawn dropout).
//! - [`train`]: the async training loop (Adam / AdamW, clipping, schedule, early stopping).

pub mod bptt;
pub mod fused;
pub mod kernels;
pub mod net;
pub mod sequences;
pub mod synthetic;
pub mod train;

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};

use super::{Fit, FitContext, Predict, StandardScaler};
use crate::dataset::Dataset;
use crate::labels::Task;
use crate::{Error, Result};
use net::{LstmNet, NetShape};
use sequences::{SequenceIndex, Sequences, validation_tail};
use train::{EpochLoss, Loss, Optimizer, Samples, Schedule, TrainSpec};

/// Where the network trains and predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// Strider's fused CPU engine ([`fused`]): hand-written back-propagation through time, about
    /// 5x faster than burn's autodiff on a CPU; the trained network is the same burn module,
    /// predicting on burn's `flex` CPU backend. Also what the browser runs without WebGPU.
    #[default]
    Cpu,
    /// burn's autodiff on its `flex` CPU backend: the generic path the GPU backends take.
    BurnCpu,
    /// A GPU through wgpu (Vulkan, Metal, DX12); needs the `wgpu` cargo feature.
    Wgpu,
}

impl Backend {
    /// The device, initialised asynchronously where the platform needs it (WebGPU in a browser
    /// must request its adapter with `await`).
    pub async fn device_async(self) -> Result<Device> {
        #[cfg(all(feature = "wgpu", target_family = "wasm"))]
        if self == Backend::Wgpu {
            return Device::wgpu_options()
                .init_async()
                .await
                .map_err(|e| Error::Model {
                    model: "lstm".into(),
                    message: format!("WebGPU is not available: {e}"),
                });
        }
        self.device()
    }

    pub fn device(self) -> Result<Device> {
        match self {
            Backend::Cpu | Backend::BurnCpu => Ok(Device::flex()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(not(feature = "wgpu"))]
            Backend::Wgpu => Err(Error::config(
                "models.backend",
                "backend = \"wgpu\" needs a build with the `wgpu` feature (cargo build --features wgpu)",
            )),
        }
    }
}

/// `kind = "lstm"`. The defaults suit daily bars: a month of history per sample, a small network
/// (daily returns carry little signal, so capacity mostly buys overfitting), AdamW with cosine
/// decay, and early stopping on the last 15% of each training window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LstmParams {
    /// Rows per input window (the sample's own row and the `window - 1` before it).
    pub window: usize,
    pub hidden: usize,
    pub layers: usize,
    /// Dropout between LSTM layers and before the head.
    pub dropout: f64,
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub optimizer: Optimizer,
    /// AdamW's decoupled weight decay.
    pub weight_decay: f64,
    pub lr_schedule: Schedule,
    pub warmup_epochs: usize,
    /// Clip the global gradient norm to this; 0 turns clipping off.
    pub clip_grad_norm: f64,
    /// Share of the training dates (the latest) held out for early stopping; 0 turns it off.
    pub validation_fraction: f64,
    /// Epochs without a better validation loss before stopping; 0 trains every epoch.
    pub patience: usize,
    pub backend: Backend,
    /// true (the default): the CPU engine trains with the exact kernel, the same bits natively and
    /// in the browser. false: fused multiply-adds on CPUs that have them (native only), faster
    /// but with bits of its own. Predictions always use the exact kernel.
    pub deterministic: bool,
}

/// The largest hidden layer an LSTM may have (its weights grow as hidden²).
pub const MAX_HIDDEN: usize = 4096;
/// The longest window of rows a sample may read.
pub const MAX_WINDOW: usize = 10_000;
/// The most stacked layers.
pub const MAX_LAYERS: usize = 16;
/// The largest mini-batch.
pub const MAX_BATCH: usize = 65_536;

impl Default for LstmParams {
    fn default() -> Self {
        Self {
            window: 20,
            hidden: 16,
            layers: 1,
            dropout: 0.0,
            epochs: 30,
            batch_size: 64,
            learning_rate: 3e-3,
            optimizer: Optimizer::Adamw,
            weight_decay: 1e-2,
            lr_schedule: Schedule::Cosine,
            warmup_epochs: 0,
            clip_grad_norm: 1.0,
            validation_fraction: 0.15,
            patience: 5,
            backend: Backend::Cpu,
            deterministic: true,
        }
    }
}

impl LstmParams {
    pub fn validate(&self) -> std::result::Result<(), String> {
        let checks: [(bool, &str); 11] = [
            (self.window >= 1, "window must be >= 1"),
            (self.hidden >= 1, "hidden must be >= 1"),
            (self.layers >= 1, "layers must be >= 1"),
            // Limits checked before anything is allocated: weights grow as hidden², the
            // sequences as window x batch.
            (
                self.hidden <= MAX_HIDDEN,
                "hidden must be <= 4096 (MAX_HIDDEN)",
            ),
            (
                self.window <= MAX_WINDOW,
                "window must be <= 10000 (MAX_WINDOW)",
            ),
            (
                self.layers <= MAX_LAYERS && self.batch_size <= MAX_BATCH,
                "layers must be <= 16 and batch_size <= 65536 (MAX_LAYERS, MAX_BATCH)",
            ),
            (
                (0.0..1.0).contains(&self.dropout),
                "dropout must be in [0, 1)",
            ),
            (self.epochs >= 1, "epochs must be >= 1"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (
                self.learning_rate > 0.0 && self.learning_rate.is_finite(),
                "learning_rate must be > 0",
            ),
            (
                (0.0..0.9).contains(&self.validation_fraction),
                "validation_fraction must be in [0, 0.9)",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, msg)) => Err((*msg).to_string()),
            None if self.weight_decay < 0.0 || self.clip_grad_norm < 0.0 => {
                Err("weight_decay and clip_grad_norm must be >= 0".into())
            }
            None => Ok(()),
        }
    }

    pub fn train_spec(&self, inputs: usize, task: Task, seed: u64) -> TrainSpec {
        TrainSpec {
            shape: NetShape {
                inputs,
                hidden: self.hidden,
                layers: self.layers,
            },
            epochs: self.epochs,
            batch_size: self.batch_size,
            learning_rate: self.learning_rate,
            optimizer: self.optimizer,
            weight_decay: self.weight_decay,
            schedule: self.lr_schedule,
            warmup_epochs: self.warmup_epochs,
            clip_norm: (self.clip_grad_norm > 0.0).then_some(self.clip_grad_norm),
            patience: self.patience,
            dropout: self.dropout,
            loss: match task {
                Task::Regression => Loss::Mse,
                Task::Classification => Loss::Bce,
            },
            seed,
            deterministic: self.deterministic,
        }
    }
}

/// A trained LSTM with everything its predictions depend on.
#[derive(Debug)]
pub struct FittedLstm {
    pub net: LstmNet,
    /// The same weights as flat buffers: off the GPU, predictions run on the fused engine, whose
    /// bits are the same natively and in wasm (burn's CPU kernels differ by platform).
    pub flat: Option<fused::FlatParams>,
    pub device: Device,
    pub params: LstmParams,
    pub scaler: StandardScaler,
    /// Regression targets are standardised for training; predictions are mapped back.
    pub target_mean: f64,
    pub target_scale: f64,
    pub task: Task,
    pub best_epoch: usize,
    pub history: Vec<EpochLoss>,
    pub feature_names: Vec<String>,
}

/// The JSON next to a saved network: what [`FittedLstm::load`] needs besides the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LstmMeta {
    pub format: String,
    pub params: LstmParams,
    pub inputs: usize,
    pub scaler_mean: Vec<f64>,
    pub scaler_scale: Vec<f64>,
    pub target_mean: f64,
    pub target_scale: f64,
    pub classification: bool,
    pub best_epoch: usize,
    pub feature_names: Vec<String>,
}

pub const META_FORMAT: &str = "strider-lstm/1";

impl Fit for LstmParams {
    type Fitted = FittedLstm;

    fn fit(&self, data: &Dataset, rows: &[usize], ctx: &mut FitContext) -> Result<FittedLstm> {
        let device = self.backend.device()?;
        train::block_on(self.fit_async(data, rows, ctx.seed, &device, &mut |e| {
            ctx.emit(e.epoch, "train_loss", e.train_loss);
            if let Some(v) = e.validation_loss {
                ctx.emit(e.epoch, "validation_loss", v);
            }
        }))
    }
}

impl LstmParams {
    /// Fit on `device` (the browser passes its WebGPU device here and awaits).
    pub async fn fit_async(
        &self,
        data: &Dataset,
        rows: &[usize],
        seed: u64,
        device: &Device,
        on_epoch: &mut dyn FnMut(&EpochLoss),
    ) -> Result<FittedLstm> {
        let bad = |message: String| Error::Model {
            model: "lstm".into(),
            message,
        };
        self.validate().map_err(bad)?;
        let (fit_rows, val_rows) = validation_tail(data, rows, self.validation_fraction);
        // The scaler sees the fit rows only: the validation tail is "future" for early stopping.
        let scaler = StandardScaler::fit(data, &fit_rows);
        let (target_mean, target_scale) = match data.task {
            Task::Regression => {
                let y: Vec<f64> = fit_rows.iter().map(|&r| data.y[r]).collect();
                let m = crate::metrics::mean(&y);
                let sd = (y.iter().map(|v| (v - m).powi(2)).sum::<f64>() / y.len() as f64).sqrt();
                (m, if sd > 0.0 { sd } else { 1.0 })
            }
            Task::Classification => (0.0, 1.0),
        };
        let index = SequenceIndex::new(data);
        let target = |rows: &[usize]| -> Vec<f32> {
            rows.iter()
                .map(|&r| ((data.y[r] - target_mean) / target_scale) as f32)
                .collect()
        };
        let xs = Sequences::build(data, &index, &fit_rows, self.window, &scaler);
        let ys = target(&fit_rows);
        let xv = Sequences::build(data, &index, &val_rows, self.window, &scaler);
        let yv = target(&val_rows);
        let spec = self.train_spec(data.n_features(), data.task, seed);
        let val = Samples { x: &xv, y: &yv };
        let samples = Samples { x: &xs, y: &ys };
        let val = (!val_rows.is_empty()).then_some(&val);
        let trained = match self.backend {
            Backend::Cpu => fused::train(device, &spec, &samples, val, on_epoch),
            Backend::BurnCpu | Backend::Wgpu => {
                train::train_async(device, &spec, &samples, val, on_epoch).await
            }
        };
        if trained.history.iter().any(|e| !e.train_loss.is_finite()) {
            return Err(bad(format!(
                "training diverged (loss {:?}); lower learning_rate or set clip_grad_norm",
                trained.history.last().map(|e| e.train_loss)
            )));
        }
        let flat =
            (self.backend != Backend::Wgpu).then(|| fused::FlatParams::from_net(&trained.net));
        Ok(FittedLstm {
            flat,
            net: trained.net,
            device: device.clone(),
            params: self.clone(),
            scaler,
            target_mean,
            target_scale,
            task: data.task,
            best_epoch: trained.best_epoch,
            history: trained.history,
            feature_names: data.feature_names.clone(),
        })
    }
}

impl FittedLstm {
    pub async fn predict_async(&self, data: &Dataset, rows: &[usize]) -> Vec<f64> {
        let index = SequenceIndex::new(data);
        let x = Sequences::build(data, &index, rows, self.params.window, &self.scaler);
        let out = match &self.flat {
            Some(flat) => fused::predict(flat, &x),
            None => train::predict_async(&self.net, &x, 512, &self.device).await,
        };
        out.into_iter()
            .map(|z| match self.task {
                Task::Regression => f64::from(z) * self.target_scale + self.target_mean,
                Task::Classification => 1.0 / (1.0 + libm::exp(-f64::from(z))),
            })
            .collect()
    }

    pub fn meta(&self) -> LstmMeta {
        LstmMeta {
            format: META_FORMAT.into(),
            params: self.params.clone(),
            inputs: self.scaler.mean.len(),
            scaler_mean: self.scaler.mean.clone(),
            scaler_scale: self.scaler.scale.clone(),
            target_mean: self.target_mean,
            target_scale: self.target_scale,
            classification: self.task == Task::Classification,
            best_epoch: self.best_epoch,
            feature_names: self.feature_names.clone(),
        }
    }

    /// The weights in burn's record format (burnpack).
    pub fn weights(&self) -> Result<Vec<u8>> {
        let bytes = self
            .net
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| Error::Model {
                model: "lstm".into(),
                message: format!("saving the weights: {e}"),
            })?;
        Ok(bytes.to_vec())
    }

    /// Rebuild a saved model from its `lstm.json` and `lstm.bpk` on `device`.
    pub fn load(meta: &LstmMeta, weights: &[u8], device: &Device) -> Result<Self> {
        let bad = |message: String| Error::Model {
            model: "lstm".into(),
            message,
        };
        if meta.format != META_FORMAT {
            return Err(bad(format!(
                "unknown model format `{}` (expected {META_FORMAT})",
                meta.format
            )));
        }
        let shape = NetShape {
            inputs: meta.inputs,
            hidden: meta.params.hidden,
            layers: meta.params.layers,
        };
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights.to_vec()))
            .map_err(|e| bad(format!("reading the weights: {e}")))?;
        let net = LstmNet::init(shape, 0, device)
            .try_load_record(record)
            .map_err(|e| bad(format!("loading the weights: {e}")))?;
        let flat =
            (meta.params.backend != Backend::Wgpu).then(|| fused::FlatParams::from_net(&net));
        Ok(Self {
            flat,
            net,
            device: device.clone(),
            params: meta.params.clone(),
            scaler: StandardScaler {
                mean: meta.scaler_mean.clone(),
                scale: meta.scaler_scale.clone(),
            },
            target_mean: meta.target_mean,
            target_scale: meta.target_scale,
            task: if meta.classification {
                Task::Classification
            } else {
                Task::Regression
            },
            best_epoch: meta.best_epoch,
            history: Vec::new(),
            feature_names: meta.feature_names.clone(),
        })
    }
}

impl FittedLstm {
    /// [`FittedLstm::load`] on the CPU, predicting on the fused engine whatever backend trained
    /// it: a deployment bundle scores with the same bits natively and in the browser.
    pub fn load_on_cpu(meta: &LstmMeta, weights: &[u8]) -> Result<Self> {
        let device = Backend::Cpu.device()?;
        let mut model = Self::load(meta, weights, &device)?;
        if model.flat.is_none() {
            model.flat = Some(fused::FlatParams::from_net(&model.net));
        }
        Ok(model)
    }
}

impl Predict for FittedLstm {
    fn predict(&self, data: &Dataset, rows: &[usize]) -> Result<Vec<f64>> {
        Ok(train::block_on(self.predict_async(data, rows)))
    }

    fn describe(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self.meta()).unwrap_or_default();
        v["epochs_run"] = self.history.len().into();
        v["history"] = serde_json::to_value(&self.history).unwrap_or_default();
        v
    }

    fn save(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let meta = serde_json::to_vec_pretty(&self.meta()).map_err(|e| Error::Model {
            model: "lstm".into(),
            message: format!("cannot be written as JSON: {e}"),
        })?;
        Ok(vec![
            ("lstm.json".to_string(), meta),
            ("lstm.bpk".to_string(), self.weights()?),
        ])
    }

    fn artifacts(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = vec![(
            "lstm.json".to_string(),
            serde_json::to_vec_pretty(&self.meta()).unwrap_or_default(),
        )];
        if let Ok(w) = self.weights() {
            out.push(("lstm.bpk".to_string(), w));
        }
        out
    }
}
