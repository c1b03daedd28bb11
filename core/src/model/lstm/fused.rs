//! Strider's fused CPU engine for the LSTM: forward and back-propagation through time written out
//! by hand over flat f32 buffers, with every matrix product a `gemm` call and the gate activations
//! one vectorisable pass. It trains the same network as [`super::net::LstmNet`] (same parameter
//! layout, same initialisation, same batches and dropout masks from the same seed) and hands the
//! result back as that burn module, so prediction, saving and every other backend stay burn's.
//!
//! Why it exists: burn's autodiff records ~15 tensor ops per time step, and on a CPU that overhead,
//! not arithmetic, dominates a small recurrent network (0.6 s per anchor epoch against PyTorch's
//! 0.08 s with its fused oneDNN kernel). The gradients equal burn's autodiff to float precision
//! (`tests/lstm.rs`).
//!
//! Layouts: sequences are time-major inside the engine (`[T][B][·]`), weights row-major
//! (`w_ih [k][4h]`, `w_hh [h][4h]`, gates in PyTorch's order i, f, g, o).

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::net::{DropoutMasks, LstmNet, NetShape};
use super::train::{EpochLoss, Loss, Samples, Trained, TrainSpec};

/// `c (m×n, row-major) = [c +] a·b`, with `a` and `b` given by (data, row stride, column stride).
#[allow(clippy::too_many_arguments)]
fn matmul(
    m: usize,
    n: usize,
    k: usize,
    c: &mut [f32],
    accumulate: bool,
    a: (&[f32], usize, usize),
    b: (&[f32], usize, usize),
) {
    if m == 0 || n == 0 {
        return;
    }
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs;
    assert!(c.len() >= m * n);
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    assert!(a.0.len() > last(m, k, a.1, a.2) && b.0.len() > last(k, n, b.1, b.2));
    // SAFETY: the asserts above keep every index the kernel reads or writes inside the slices;
    // `c` does not alias `a` or `b` (a `&mut` and two `&` borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.0.as_ptr(),
            a.2 as isize,
            a.1 as isize,
            b.0.as_ptr(),
            b.2 as isize,
            b.1 as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `exp(x)` to about 2e-7 relative error, branch-free so the compiler vectorises the loops that
/// call it (Cephes' polynomial for 2^f on [-0.5, 0.5]).
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let y = x * std::f32::consts::LOG2_E;
    // Round to nearest with the 1.5·2^23 trick (vectorises, unlike `round`).
    let n = (y + 12_582_912.0) - 12_582_912.0;
    let f = (x - n * 0.693_359_4) + n * 2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * f + 1.398_199_9e-3) * f + 8.333_452e-3) * f + 4.166_579_6e-2) * f
        + 1.666_666_5e-1)
        * f
        + 5.000_000_1e-1;
    let e = p * f * f + f + 1.0;
    let bits = ((n as i32 + 127) as u32) << 23;
    e * f32::from_bits(bits)
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + fast_exp(-x))
}

#[inline(always)]
fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

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
        let read = |t: burn::tensor::TensorData| t.try_to_vec::<f32>().expect("f32 parameters");
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

    /// The burn module with these values (on `device`).
    pub fn to_net(&self, device: &burn::tensor::Device) -> LstmNet {
        use burn::module::Param;
        use burn::tensor::{Tensor, TensorData};
        let h = self.shape.hidden;
        let p2 = |v: &Vec<f32>, rows: usize, cols: usize| {
            Param::from_tensor(Tensor::<2>::from_data(
                TensorData::new(v.clone(), [rows, cols]),
                device,
            ))
        };
        let p1 = |v: Vec<f32>| {
            let n = v.len();
            Param::from_tensor(Tensor::<1>::from_data(TensorData::new(v, [n]), device))
        };
        LstmNet {
            layers: self
                .layers
                .iter()
                .map(|[w_ih, w_hh, b]| super::net::LstmLayer {
                    w_ih: p2(w_ih, w_ih.len() / (4 * h), 4 * h),
                    w_hh: p2(w_hh, h, 4 * h),
                    bias: p1(b.clone()),
                })
                .collect(),
            head_w: p2(&self.head_w, h, 1),
            head_b: p1(vec![self.head_b]),
        }
    }
}

/// Per-layer forward state kept for the backward pass.
struct LayerTape {
    /// Layer input, `[T][B][k]`.
    x: Vec<f32>,
    /// Activated gates, `[T][B][4h]`.
    gates: Vec<f32>,
    /// Cell states `c_t`, `[T+1][B][h]` (`c_0 = 0`).
    c: Vec<f32>,
    /// `tanh(c_t)`, `[T][B][h]`.
    tc: Vec<f32>,
    /// Hidden states, `[T+1][B][h]` (`h_0 = 0`).
    hs: Vec<f32>,
}

/// Dropout masks as flat host buffers: per layer below the top `[T][B][h]`, and the head `[B][h]`.
pub struct FlatMasks {
    pub between: Vec<Vec<f32>>,
    pub head: Vec<f32>,
}

impl FlatMasks {
    /// The same masks [`DropoutMasks::draw`] makes from the same RNG state, laid out time-major.
    pub fn draw(rng: &mut ChaCha8Rng, p: f64, shape: NetShape, batch: usize, window: usize) -> Self {
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

/// Forward one batch: returns the outputs `[B]` and the tape.
fn forward(
    p: &FlatParams,
    x_bt: &[f32],
    batch: usize,
    window: usize,
    masks: Option<&FlatMasks>,
) -> (Vec<f32>, Vec<LayerTape>, Vec<f32>) {
    let (bsz, t_len) = (batch, window);
    let h = p.shape.hidden;
    let g4 = 4 * h;
    let k0 = p.shape.inputs;
    // Sample-major [B][T][k] -> time-major [T][B][k].
    let mut input = vec![0.0f32; t_len * bsz * k0];
    for b in 0..bsz {
        for t in 0..t_len {
            input[(t * bsz + b) * k0..(t * bsz + b + 1) * k0]
                .copy_from_slice(&x_bt[(b * t_len + t) * k0..(b * t_len + t + 1) * k0]);
        }
    }
    let mut tapes = Vec::with_capacity(p.layers.len());
    for (l, [w_ih, w_hh, bias]) in p.layers.iter().enumerate() {
        let k = w_ih.len() / g4;
        let rows = t_len * bsz;
        // Input projection of every step at once, bias included.
        let mut gates = vec![0.0f32; rows * g4];
        for r in 0..rows {
            gates[r * g4..(r + 1) * g4].copy_from_slice(bias);
        }
        matmul(rows, g4, k, &mut gates, true, (&input, k, 1), (w_ih, g4, 1));
        let mut c = vec![0.0f32; (t_len + 1) * bsz * h];
        let mut tc = vec![0.0f32; t_len * bsz * h];
        let mut hs = vec![0.0f32; (t_len + 1) * bsz * h];
        for t in 0..t_len {
            let (h_prev, h_rest) = hs.split_at_mut((t + 1) * bsz * h);
            let h_prev = &h_prev[t * bsz * h..];
            let g = &mut gates[t * bsz * g4..(t + 1) * bsz * g4];
            matmul(bsz, g4, h, g, true, (h_prev, h, 1), (w_hh, g4, 1));
            let (c_prev, c_rest) = c.split_at_mut((t + 1) * bsz * h);
            let c_prev = &c_prev[t * bsz * h..];
            let c_now = &mut c_rest[..bsz * h];
            let tc_now = &mut tc[t * bsz * h..(t + 1) * bsz * h];
            let h_now = &mut h_rest[..bsz * h];
            for b in 0..bsz {
                let gb = &mut g[b * g4..(b + 1) * g4];
                for v in &mut gb[..2 * h] {
                    *v = sigmoid(*v);
                }
                for v in &mut gb[2 * h..3 * h] {
                    *v = tanh(*v);
                }
                for v in &mut gb[3 * h..] {
                    *v = sigmoid(*v);
                }
                let (i, rest) = gb.split_at(h);
                let (f, rest) = rest.split_at(h);
                let (gg, o) = rest.split_at(h);
                let cp = &c_prev[b * h..(b + 1) * h];
                let cn = &mut c_now[b * h..(b + 1) * h];
                let tn = &mut tc_now[b * h..(b + 1) * h];
                let hn = &mut h_now[b * h..(b + 1) * h];
                for j in 0..h {
                    cn[j] = f[j] * cp[j] + i[j] * gg[j];
                    tn[j] = tanh(cn[j]);
                    hn[j] = o[j] * tn[j];
                }
            }
        }
        let next = if l + 1 < p.layers.len() {
            let mut out = hs[bsz * h..].to_vec();
            if let Some(m) = masks {
                out.iter_mut().zip(&m.between[l]).for_each(|(v, m)| *v *= m);
            }
            out
        } else {
            Vec::new()
        };
        tapes.push(LayerTape {
            x: std::mem::replace(&mut input, next),
            gates,
            c,
            tc,
            hs,
        });
    }
    let top = tapes.last().expect("a layer");
    let mut last = top.hs[t_len * bsz * h..].to_vec();
    if let Some(m) = masks {
        last.iter_mut().zip(&m.head).for_each(|(v, m)| *v *= m);
    }
    let out: Vec<f32> = (0..bsz)
        .map(|b| {
            last[b * h..(b + 1) * h]
                .iter()
                .zip(&p.head_w)
                .map(|(a, w)| a * w)
                .sum::<f32>()
                + p.head_b
        })
        .collect();
    (out, tapes, last)
}

/// Loss of a batch and `dLoss/dOutput` per sample (mean over the batch).
fn loss_and_grad(loss: Loss, out: &[f32], y: &[f32]) -> (f64, Vec<f32>) {
    let n = out.len() as f32;
    match loss {
        Loss::Mse => {
            let l = out
                .iter()
                .zip(y)
                .map(|(o, y)| f64::from(o - y).powi(2))
                .sum::<f64>()
                / out.len() as f64;
            (l, out.iter().zip(y).map(|(o, y)| 2.0 * (o - y) / n).collect())
        }
        Loss::Bce => {
            let l = out
                .iter()
                .zip(y)
                .map(|(&z, &y)| {
                    let z = f64::from(z);
                    // softplus(z) - y·z, stable for large |z|.
                    z.max(0.0) + (-z.abs()).exp().ln_1p() - f64::from(y) * z
                })
                .sum::<f64>()
                / out.len() as f64;
            (
                l,
                out.iter().zip(y).map(|(&z, &y)| (sigmoid(z) - y) / n).collect(),
            )
        }
    }
}

/// The loss of one batch and the gradient of every parameter (`grads` is overwritten).
pub fn loss_and_gradients(
    p: &FlatParams,
    x_bt: &[f32],
    y: &[f32],
    window: usize,
    loss: Loss,
    masks: Option<&FlatMasks>,
    grads: &mut FlatParams,
) -> f64 {
    let bsz = y.len();
    let h = p.shape.hidden;
    let g4 = 4 * h;
    let (out, tapes, last) = forward(p, x_bt, bsz, window, masks);
    let (value, d_out) = loss_and_grad(loss, &out, y);
    // Head.
    grads.head_b = d_out.iter().sum();
    grads.head_w.fill(0.0);
    let mut dh = vec![0.0f32; bsz * h];
    for b in 0..bsz {
        for j in 0..h {
            grads.head_w[j] += last[b * h + j] * d_out[b];
            dh[b * h + j] = d_out[b] * p.head_w[j];
        }
    }
    if let Some(m) = masks {
        dh.iter_mut().zip(&m.head).for_each(|(d, m)| *d *= m);
    }
    // Gradient arriving at each layer's output sequence from the layer above, `[T][B][h]`.
    let mut d_seq: Option<Vec<f32>> = None;
    for l in (0..p.layers.len()).rev() {
        let [w_ih, w_hh, _] = &p.layers[l];
        let tape = &tapes[l];
        let k = w_ih.len() / g4;
        let mut dg = vec![0.0f32; window * bsz * g4];
        let mut dh_carry = if l + 1 == p.layers.len() {
            std::mem::take(&mut dh)
        } else {
            vec![0.0f32; bsz * h]
        };
        let mut dc = vec![0.0f32; bsz * h];
        for t in (0..window).rev() {
            if let Some(ds) = &d_seq {
                dh_carry
                    .iter_mut()
                    .zip(&ds[t * bsz * h..(t + 1) * bsz * h])
                    .for_each(|(a, b)| *a += b);
            }
            let gates = &tape.gates[t * bsz * g4..(t + 1) * bsz * g4];
            let c_prev = &tape.c[t * bsz * h..(t + 1) * bsz * h];
            let tc = &tape.tc[t * bsz * h..(t + 1) * bsz * h];
            let dgt = &mut dg[t * bsz * g4..(t + 1) * bsz * g4];
            for b in 0..bsz {
                let gb = &gates[b * g4..(b + 1) * g4];
                let db = &mut dgt[b * g4..(b + 1) * g4];
                for j in 0..h {
                    let (i, f, g, o) = (gb[j], gb[h + j], gb[2 * h + j], gb[3 * h + j]);
                    let x = b * h + j;
                    let dhv = dh_carry[x];
                    let tcv = tc[x];
                    let dcv = dc[x] + dhv * o * (1.0 - tcv * tcv);
                    db[j] = dcv * g * i * (1.0 - i);
                    db[h + j] = dcv * c_prev[x] * f * (1.0 - f);
                    db[2 * h + j] = dcv * i * (1.0 - g * g);
                    db[3 * h + j] = dhv * tcv * o * (1.0 - o);
                    dc[x] = dcv * f;
                }
            }
            // dh_{t-1} = dG_t · W_hhᵀ
            matmul(bsz, h, g4, &mut dh_carry, false, (dgt, g4, 1), (w_hh, 1, g4));
        }
        let rows = window * bsz;
        let [gw_ih, gw_hh, gb] = &mut grads.layers[l];
        // dW_hh = Σ_t h_{t-1}ᵀ dG_t ; dW_ih = Σ_t x_tᵀ dG_t ; db = Σ dG.
        matmul(h, g4, rows, gw_hh, false, (&tape.hs, 1, h), (&dg, g4, 1));
        matmul(k, g4, rows, gw_ih, false, (&tape.x, 1, k), (&dg, g4, 1));
        gb.fill(0.0);
        for r in 0..rows {
            gb.iter_mut()
                .zip(&dg[r * g4..(r + 1) * g4])
                .for_each(|(a, b)| *a += b);
        }
        d_seq = if l > 0 {
            let mut dx = vec![0.0f32; rows * k];
            matmul(rows, k, g4, &mut dx, false, (&dg, g4, 1), (w_ih, 1, g4));
            if let Some(m) = masks {
                dx.iter_mut().zip(&m.between[l - 1]).for_each(|(d, m)| *d *= m);
            }
            Some(dx)
        } else {
            None
        };
    }
    value
}

/// Adam / AdamW state.
struct AdamState {
    m: FlatParams,
    v: FlatParams,
    step: i32,
}

fn adam_step(p: &mut FlatParams, g: &FlatParams, s: &mut AdamState, lr: f64, spec: &TrainSpec) {
    let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    s.step += 1;
    let c1 = 1.0 - b1.powi(s.step);
    let c2 = 1.0 - b2.powi(s.step);
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

fn mean_loss(p: &FlatParams, set: &Samples<'_>, loss: Loss) -> f64 {
    let per = set.x.window * set.x.features;
    let mut total = 0.0;
    for start in (0..set.x.n).step_by(512) {
        let end = (start + 512).min(set.x.n);
        let (out, _, _) = forward(p, &set.x.x[start * per..end * per], end - start, set.x.window, None);
        total += loss_and_grad(loss, &out, &set.y[start..end]).0 * (end - start) as f64;
    }
    total / set.x.n.max(1) as f64
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
    let mut p = FlatParams::from_values(spec.shape, spec.seed ^ 0x5EED_1257);
    let mut grads = p.zeros_like();
    let mut adam = AdamState {
        m: p.zeros_like(),
        v: p.zeros_like(),
        step: 0,
    };
    let mut order: Vec<usize> = (0..train.x.n).collect();
    let mut history = Vec::with_capacity(spec.epochs);
    let mut best: Option<(f64, usize, FlatParams)> = None;
    let mut yb = Vec::with_capacity(spec.batch_size);
    for epoch in 0..spec.epochs {
        let lr = spec.learning_rate_at(epoch);
        order.shuffle(&mut rng);
        let mut sum = 0.0;
        for idx in order.chunks(spec.batch_size.max(1)) {
            let masks = (spec.dropout > 0.0).then(|| {
                FlatMasks::draw(&mut rng, spec.dropout, spec.shape, idx.len(), train.x.window)
            });
            let xb = train.x.gather(idx);
            yb.clear();
            yb.extend(idx.iter().map(|&i| train.y[i]));
            let l = loss_and_gradients(&p, &xb, &yb, train.x.window, spec.loss, masks.as_ref(), &mut grads);
            sum += l * idx.len() as f64;
            if let Some(c) = spec.clip_norm {
                clip_global_norm(&mut grads, c);
            }
            adam_step(&mut p, &grads, &mut adam, lr, spec);
        }
        let train_loss = sum / train.x.n.max(1) as f64;
        let validation_loss = validation
            .filter(|v| v.x.n > 0)
            .map(|v| mean_loss(&p, v, spec.loss));
        let record = EpochLoss {
            epoch: epoch + 1,
            train_loss,
            validation_loss,
            learning_rate: lr,
        };
        on_epoch(&record);
        history.push(record);
        let score = validation_loss.unwrap_or(train_loss);
        let improved = best.as_ref().is_none_or(|(b, _, _)| score < *b);
        if improved || validation_loss.is_none() {
            best = Some((score, epoch + 1, p.clone()));
        } else if spec.patience > 0
            && best.as_ref().is_some_and(|(_, e, _)| epoch + 1 - e >= spec.patience)
        {
            break;
        }
    }
    let (p, best_epoch) = match best {
        Some((_, e, b)) => (b, e),
        None => (p, 0),
    };
    Trained {
        net: p.to_net(device),
        best_epoch,
        history,
    }
}
