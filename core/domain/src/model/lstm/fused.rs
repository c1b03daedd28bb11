//! Strider's fused CPU engine for the LSTM: forward and back-propagation through time written out
//! by hand over flat f32 buffers, with register-tiled matrix products and the gate activations in
//! one vectorisable pass. It trains the same network as [`super::net::LstmNet`] (same parameter
//! layout, same initialisation, same batches and dropout masks from the same seed) and hands the
//! result back as that burn module, so prediction, saving and every other backend stay burn's.
//!
//! Why it exists: burn's autodiff records ~15 tensor ops per time step, and on a CPU that overhead,
//! not arithmetic, dominates a small recurrent network (0.6 s per anchor epoch against PyTorch's
//! 0.08 s with its fused oneDNN kernel). The gradients equal burn's autodiff to float precision
//! (`tests/lstm.rs`).
//!
//! Same bits everywhere by default: the kernels ([`super::kernels`]) use only IEEE basic operations
//! in a fixed order (no BLAS, no platform `exp`), so a seed trains the same network natively and in
//! the browser's wasm. `deterministic = false` trades that for fused multiply-adds (native only).
//!
//! - [`super::bptt`]: one batch forward and back through time, in a reused [`Workspace`].
//! - here: the parameters as flat buffers, dropout masks, Adam, and the epoch loop.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::bptt::{Batch, Workspace, batch_loss, forward, loss_and_gradients_in};
use super::kernels::Kernel;
use super::net::{DropoutMasks, LstmNet, NetShape};
use super::train::{EarlyStopping, EpochLoss, Loss, Samples, TrainSpec, Trained};

/// Parameters as flat buffers, in the order of [`LstmNet`]'s modules.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatParams {
    pub shape: NetShape,
    /// Per layer: `w_ih`, `w_hh`, `bias`.
    pub layers: Vec<[Vec<f32>; 3]>,
    pub head_w: Vec<f32>,
    pub head_b: f32,
}

impl FlatParams {
    pub fn zeros_like(&self) -> Self {
        Self {
            shape: self.shape,
            layers: self
                .layers
                .iter()
                .map(|l| l.clone().map(|v| vec![0.0; v.len()]))
                .collect(),
            head_w: vec![0.0; self.head_w.len()],
            head_b: 0.0,
        }
    }

    fn slices_mut(&mut self) -> Vec<&mut [f32]> {
        let mut out: Vec<&mut [f32]> = Vec::new();
        for l in &mut self.layers {
            for v in l.iter_mut() {
                out.push(v.as_mut_slice());
            }
        }
        out.push(self.head_w.as_mut_slice());
        out.push(std::slice::from_mut(&mut self.head_b));
        out
    }

    fn slices(&self) -> Vec<&[f32]> {
        let mut out: Vec<&[f32]> = Vec::new();
        for l in &self.layers {
            for v in l {
                out.push(v.as_slice());
            }
        }
        out.push(self.head_w.as_slice());
        out.push(std::slice::from_ref(&self.head_b));
        out
    }

    pub fn from_net(net: &LstmNet) -> Self {
        let read = |t: burn::tensor::TensorData| t.iter::<f32>().collect::<Vec<f32>>();
        Self {
            shape: net.shape(),
            layers: net
                .layers
                .iter()
                .map(|l| {
                    [
                        read(l.w_ih.val().into_data()),
                        read(l.w_hh.val().into_data()),
                        read(l.bias.val().into_data()),
                    ]
                })
                .collect(),
            head_w: read(net.head_w.val().into_data()),
            head_b: read(net.head_b.val().into_data())[0],
        }
    }

    /// The burn module with these values (on `device`). Parameter ids are numbered, not random
    /// (burn's default), so a saved record is the same bytes for the same weights.
    pub fn to_net(&self, device: &burn::tensor::Device) -> LstmNet {
        use burn::module::{Param, ParamId};
        use burn::tensor::{Tensor, TensorData};
        let h = self.shape.hidden;
        let mut next_id = 0u64;
        let mut id = || {
            next_id += 1;
            ParamId::from(next_id)
        };
        let mut p2 = |v: &[f32], rows: usize, cols: usize| {
            let mut p = Param::from_tensor(Tensor::<2>::from_data(
                TensorData::new(v.to_vec(), [rows, cols]),
                device,
            ));
            p.id = id();
            p
        };
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut biases = Vec::with_capacity(self.layers.len());
        for [w_ih, w_hh, b] in &self.layers {
            let w_ih = p2(w_ih, w_ih.len() / (4 * h), 4 * h);
            let w_hh = p2(w_hh, h, 4 * h);
            layers.push((w_ih, w_hh));
            biases.push(b.clone());
        }
        let head_w = p2(&self.head_w, h, 1);
        let mut p1 = |v: Vec<f32>| {
            let n = v.len();
            let mut p = Param::from_tensor(Tensor::<1>::from_data(TensorData::new(v, [n]), device));
            p.id = id();
            p
        };
        let layers = layers
            .into_iter()
            .zip(biases)
            .map(|((w_ih, w_hh), b)| super::net::LstmLayer {
                w_ih,
                w_hh,
                bias: p1(b),
            })
            .collect();
        let head_b = p1(vec![self.head_b]);
        LstmNet {
            layers,
            head_w,
            head_b,
        }
    }
}

/// Dropout masks as flat host buffers: per layer below the top `[T][B][h]`, and the head `[B][h]`.
pub struct FlatMasks {
    pub between: Vec<Vec<f32>>,
    pub head: Vec<f32>,
}

impl FlatMasks {
    /// The same masks [`DropoutMasks::draw`] makes from the same RNG state, laid out time-major.
    pub fn draw(
        rng: &mut ChaCha8Rng,
        p: f64,
        shape: NetShape,
        batch: usize,
        window: usize,
    ) -> Self {
        let m = DropoutMasks::draw_values(rng, p, shape, batch, window);
        let h = shape.hidden;
        let between = m
            .between
            .into_iter()
            .map(|bm| {
                // [B][T][h] -> [T][B][h]
                let mut out = vec![0.0; bm.len()];
                for b in 0..batch {
                    for t in 0..window {
                        out[(t * batch + b) * h..(t * batch + b + 1) * h]
                            .copy_from_slice(&bm[(b * window + t) * h..(b * window + t + 1) * h]);
                    }
                }
                out
            })
            .collect();
        Self {
            between,
            head: m.head,
        }
    }
}

/// Adam / AdamW state.
struct AdamState {
    m: FlatParams,
    v: FlatParams,
    /// β1^t and β2^t, kept as running products (no `powi`, whose result may differ by platform).
    beta1_t: f32,
    beta2_t: f32,
}

fn adam_step(p: &mut FlatParams, g: &FlatParams, s: &mut AdamState, lr: f64, spec: &TrainSpec) {
    let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    s.beta1_t *= b1;
    s.beta2_t *= b2;
    let c1 = 1.0 - s.beta1_t;
    let c2 = 1.0 - s.beta2_t;
    let lr = lr as f32;
    let decay = match spec.optimizer {
        super::train::Optimizer::Adamw => 1.0 - lr * spec.weight_decay as f32,
        super::train::Optimizer::Adam => 1.0,
    };
    let gs = g.slices();
    for (((pv, gv), mv), vv) in p
        .slices_mut()
        .into_iter()
        .zip(gs)
        .zip(s.m.slices_mut())
        .zip(s.v.slices_mut())
    {
        for j in 0..pv.len() {
            let gj = gv[j];
            mv[j] = b1 * mv[j] + (1.0 - b1) * gj;
            vv[j] = b2 * vv[j] + (1.0 - b2) * gj * gj;
            let update = (mv[j] / c1) / ((vv[j] / c2).sqrt() + eps);
            pv[j] = pv[j] * decay - lr * update;
        }
    }
}

/// Scale the gradients so their global L2 norm is at most `max` (PyTorch's `clip_grad_norm_`).
fn clip_global_norm(g: &mut FlatParams, max: f64) {
    let norm = g
        .slices()
        .iter()
        .flat_map(|s| s.iter())
        .map(|v| f64::from(*v).powi(2))
        .sum::<f64>()
        .sqrt();
    if norm > max {
        let scale = (max / (norm + 1e-6)) as f32;
        for s in g.slices_mut() {
            s.iter_mut().for_each(|v| *v *= scale);
        }
    }
}

/// Network outputs for every sample (regression value or logit), without a tape.
pub fn predict(p: &FlatParams, x: &super::sequences::Sequences) -> Vec<f32> {
    // Always the exact kernel: a deployed model scores the same bits natively and in the browser.
    let mut ws = Workspace::new(Kernel::Exact);
    let per = x.window * x.features;
    let mut out = Vec::with_capacity(x.n);
    for start in (0..x.n).step_by(512) {
        let end = (start + 512).min(x.n);
        forward(
            p,
            &x.x[start * per..end * per],
            end - start,
            x.window,
            None,
            &mut ws,
        );
        out.extend_from_slice(ws.outputs());
    }
    out
}

fn mean_loss(p: &FlatParams, set: &Samples<'_>, loss: Loss, ws: &mut Workspace) -> f64 {
    let per = set.x.window * set.x.features;
    let mut total = 0.0;
    for start in (0..set.x.n).step_by(512) {
        let end = (start + 512).min(set.x.n);
        let x = &set.x.x[start * per..end * per];
        let y = &set.y[start..end];
        total += batch_loss(p, x, y, set.x.window, loss, ws) * (end - start) as f64;
    }
    total / set.x.n.max(1) as f64
}

/// What an epoch updates: the parameters, their gradients, Adam's moments and the buffers.
struct Trainer {
    p: FlatParams,
    grads: FlatParams,
    adam: AdamState,
    ws: Workspace,
    xb: Vec<f32>,
    yb: Vec<f32>,
}

impl Trainer {
    fn new(spec: &TrainSpec) -> Self {
        let p = FlatParams::from_values(spec.shape, spec.seed ^ 0x5EED_1257);
        Self {
            grads: p.zeros_like(),
            adam: AdamState {
                m: p.zeros_like(),
                v: p.zeros_like(),
                beta1_t: 1.0,
                beta2_t: 1.0,
            },
            p,
            ws: Workspace::new(Kernel::for_training(spec.deterministic)),
            xb: Vec::new(),
            yb: Vec::with_capacity(spec.batch_size),
        }
    }

    /// One pass over `order` in mini-batches; returns the mean training loss.
    fn epoch(
        &mut self,
        spec: &TrainSpec,
        train: &Samples<'_>,
        order: &[usize],
        lr: f64,
        rng: &mut ChaCha8Rng,
    ) -> f64 {
        let mut sum = 0.0;
        for idx in order.chunks(spec.batch_size.max(1)) {
            let masks = (spec.dropout > 0.0)
                .then(|| FlatMasks::draw(rng, spec.dropout, spec.shape, idx.len(), train.x.window));
            train.x.gather_into(idx, &mut self.xb);
            self.yb.clear();
            self.yb.extend(idx.iter().map(|&i| train.y[i]));
            let batch = Batch {
                x: &self.xb,
                y: &self.yb,
                window: train.x.window,
            };
            let (masks, grads) = (masks.as_ref(), &mut self.grads);
            let l = loss_and_gradients_in(&self.p, batch, spec.loss, masks, grads, &mut self.ws);
            sum += l * idx.len() as f64;
            if let Some(c) = spec.clip_norm {
                clip_global_norm(&mut self.grads, c);
            }
            adam_step(&mut self.p, &self.grads, &mut self.adam, lr, spec);
        }
        sum / train.x.n.max(1) as f64
    }
}

/// [`super::train::train_async`] on the fused engine: the same epochs, batches, masks, schedule
/// and early stopping; the result is the burn module on `device`.
pub fn train(
    device: &burn::tensor::Device,
    spec: &TrainSpec,
    train: &Samples<'_>,
    validation: Option<&Samples<'_>>,
    on_epoch: &mut dyn FnMut(&EpochLoss),
) -> Trained {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut trainer = Trainer::new(spec);
    let mut order: Vec<usize> = (0..train.x.n).collect();
    let mut history = Vec::with_capacity(spec.epochs);
    let mut stopping = EarlyStopping::new(spec.patience);
    for epoch in 0..spec.epochs {
        let lr = spec.learning_rate_at(epoch);
        order.shuffle(&mut rng);
        let train_loss = trainer.epoch(spec, train, &order, lr, &mut rng);
        let validation_loss = validation
            .filter(|v| v.x.n > 0)
            .map(|v| mean_loss(&trainer.p, v, spec.loss, &mut trainer.ws));
        let record = EpochLoss {
            epoch: epoch + 1,
            train_loss,
            validation_loss,
            learning_rate: lr,
        };
        on_epoch(&record);
        let stop = stopping.update(&record, || trainer.p.clone());
        history.push(record);
        if stop {
            break;
        }
    }
    let (best_epoch, p) = stopping.into_best().unwrap_or((0, trainer.p));
    Trained {
        net: p.to_net(device),
        best_epoch,
        history,
    }
}
