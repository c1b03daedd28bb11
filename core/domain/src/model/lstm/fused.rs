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
//! Same bits everywhere: the kernels use only IEEE basic operations in a fixed order (no BLAS, no
//! platform `exp`), so a seed trains the same network natively and in the browser's wasm.
//!
//! Layouts: sequences are time-major inside the engine (`[T][B][·]`), weights row-major
//! (`w_ih [k][4h]`, `w_hh [h][4h]`, gates in PyTorch's order i, f, g, o).

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::net::{DropoutMasks, LstmNet, NetShape};
use super::train::{EarlyStopping, EpochLoss, Loss, Samples, TrainSpec, Trained};
use strider_base::multiversion;

/// `c (m×n, row-major) = [c +] a·b`, with `a` given by (data, row stride, column stride) and `b`
/// row-major, `n` wide.
///
/// Not a BLAS on purpose: every element is summed in the same order (k = 0, 1, ...) with separate
/// multiplies and adds (Rust never fuses them), whatever the CPU or wasm's SIMD width, so training
/// gives the same bits natively and in the browser. A 4 × 16 register tile keeps it fast.
#[inline(always)]
fn matmul(
    m: usize,
    n: usize,
    kd: usize,
    c: &mut [f32],
    accumulate: bool,
    a: (&[f32], usize, usize),
    b: &[f32],
) {
    const MR: usize = 4;
    const NR: usize = 16;
    let (ad, ars, acs) = a;
    assert!(c.len() >= m * n && b.len() >= kd * n);
    if m == 0 || n == 0 {
        return;
    }
    if !accumulate {
        c[..m * n].fill(0.0);
    }
    if kd == 0 {
        return;
    }
    assert!(ad.len() > (m - 1) * ars + (kd - 1) * acs);
    // Every unchecked index below is below m·n in `c`, kd·n in `b` and (m-1)·ars + (kd-1)·acs in
    // `a`, all checked by the asserts above.
    // SAFETY: callers pass i < m and k < kd, so i·ars + k·acs <= (m-1)·ars + (kd-1)·acs < ad.len().
    let at = |i: usize, k: usize| unsafe { *ad.get_unchecked(i * ars + k * acs) };
    let mut i = 0;
    while i + MR <= m {
        let mut j = 0;
        while j + NR <= n {
            let mut acc = [[0f32; NR]; MR];
            for (ii, row) in acc.iter_mut().enumerate() {
                row.copy_from_slice(&c[(i + ii) * n + j..(i + ii) * n + j + NR]);
            }
            for k in 0..kd {
                // SAFETY: k < kd and j + NR <= n, so the NR floats from k·n + j lie inside
                // b[..kd·n] (asserted above); [f32; NR] has f32's alignment.
                let brow: &[f32; NR] = unsafe { &*(b.as_ptr().add(k * n + j) as *const [f32; NR]) };
                for (ii, row) in acc.iter_mut().enumerate() {
                    let av = at(i + ii, k);
                    for (x, bv) in row.iter_mut().zip(brow) {
                        *x += av * bv;
                    }
                }
            }
            for (ii, row) in acc.iter().enumerate() {
                c[(i + ii) * n + j..(i + ii) * n + j + NR].copy_from_slice(row);
            }
            j += NR;
        }
        for ii in i..i + MR {
            for jj in j..n {
                let mut s = c[ii * n + jj];
                for k in 0..kd {
                    // SAFETY: k < kd and jj < n, so k·n + jj < kd·n <= b.len() (asserted above).
                    s += at(ii, k) * unsafe { *b.get_unchecked(k * n + jj) };
                }
                c[ii * n + jj] = s;
            }
        }
        i += MR;
    }
    for ii in i..m {
        let crow = &mut c[ii * n..(ii + 1) * n];
        for k in 0..kd {
            let av = at(ii, k);
            for (x, bv) in crow.iter_mut().zip(&b[k * n..(k + 1) * n]) {
                *x += av * bv;
            }
        }
    }
}

/// `w` (`rows × cols`, row-major) transposed.
fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; w.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

/// `exp(x)` to about 2e-7 relative error, branch-free so the compiler vectorises the loops that
/// call it (Cephes' polynomial for 2^f on [-0.5, 0.5]).
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to an integer in the low bits
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    // Integer part from the bits, not an `as` cast: the saturating cast does not vectorise.
    let n_int = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let n = t - MAGIC;
    let f = (x - n * 0.693_359_4) + n * 2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * f + 1.398_199_9e-3) * f + 8.333_452e-3) * f + 4.166_579_6e-2) * f
        + 1.666_666_5e-1)
        * f
        + 5e-1;
    let e = p * f * f + f + 1.0;
    e * f32::from_bits(((n_int + 127) as u32) << 23)
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

/// Per gate column, `a·σ(k·x) + c`: the identity coefficients for the sigmoid gates (i, f, o)
/// and `2σ(2x) - 1 = tanh(x)` for the cell candidate (g).
struct GateCoefficients {
    k: Vec<f32>,
    a: Vec<f32>,
    c: Vec<f32>,
}

impl GateCoefficients {
    fn new(h: usize) -> Self {
        let is_g = |j: usize| (2 * h..3 * h).contains(&j);
        let pick = |g: f32, other: f32| {
            (0..4 * h)
                .map(|j| if is_g(j) { g } else { other })
                .collect()
        };
        Self {
            k: pick(2.0, 1.0),
            a: pick(2.0, 1.0),
            c: pick(-1.0, 0.0),
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

type ForwardOut = (Vec<f32>, Vec<LayerTape>, Vec<f32>);

multiversion! {
    /// Forward one batch: returns the outputs `[B]`, the tape and the (masked) last hidden states.
    fn forward(
        p: &FlatParams,
        x_bt: &[f32],
        batch: usize,
        window: usize,
        masks: Option<&FlatMasks>,
    ) -> ForwardOut => forward_impl
}

#[inline(always)]
fn forward_impl(
    p: &FlatParams,
    x_bt: &[f32],
    batch: usize,
    window: usize,
    masks: Option<&FlatMasks>,
) -> ForwardOut {
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
    let coef = GateCoefficients::new(h);
    let mut tapes = Vec::with_capacity(p.layers.len());
    for (l, [w_ih, w_hh, bias]) in p.layers.iter().enumerate() {
        let k = w_ih.len() / g4;
        let rows = t_len * bsz;
        // Input projection of every step at once, bias included.
        let mut gates = vec![0.0f32; rows * g4];
        for r in 0..rows {
            gates[r * g4..(r + 1) * g4].copy_from_slice(bias);
        }
        matmul(rows, g4, k, &mut gates, true, (&input, k, 1), w_ih);
        let mut c = vec![0.0f32; (t_len + 1) * bsz * h];
        let mut tc = vec![0.0f32; t_len * bsz * h];
        let mut hs = vec![0.0f32; (t_len + 1) * bsz * h];
        for t in 0..t_len {
            let (h_prev, h_rest) = hs.split_at_mut((t + 1) * bsz * h);
            let h_prev = &h_prev[t * bsz * h..];
            let g = &mut gates[t * bsz * g4..(t + 1) * bsz * g4];
            matmul(bsz, g4, h, g, true, (h_prev, h, 1), w_hh);
            let (c_prev, c_rest) = c.split_at_mut((t + 1) * bsz * h);
            let c_prev = &c_prev[t * bsz * h..];
            let c_now = &mut c_rest[..bsz * h];
            let tc_now = &mut tc[t * bsz * h..(t + 1) * bsz * h];
            let h_now = &mut h_rest[..bsz * h];
            // One pass over the whole step: sigmoid for i, f, o and tanh(x) = 2σ(2x) - 1 for g, as
            // `a·σ(k·x) + c` with per-column coefficients, so the loop runs 4h wide and vectorises.
            for row in g.chunks_exact_mut(g4) {
                for (v, ((k, a), c)) in row.iter_mut().zip(coef.k.iter().zip(&coef.a).zip(&coef.c))
                {
                    *v = a * sigmoid(k * *v) + c;
                }
            }
            for b in 0..bsz {
                let gb = &g[b * g4..(b + 1) * g4];
                let (i, rest) = gb.split_at(h);
                let (f, rest) = rest.split_at(h);
                let (gg, o) = rest.split_at(h);
                let cp = &c_prev[b * h..(b + 1) * h];
                let cn = &mut c_now[b * h..(b + 1) * h];
                let tn = &mut tc_now[b * h..(b + 1) * h];
                let hn = &mut h_now[b * h..(b + 1) * h];
                // Zipped, not indexed: no bounds checks, so the loop vectorises.
                let gates_j = i.iter().zip(f).zip(gg.iter().zip(o));
                let state_j = cn.iter_mut().zip(tn.iter_mut()).zip(hn.iter_mut()).zip(cp);
                for ((((cn, tn), hn), cp), ((i, f), (gg, o))) in state_j.zip(gates_j) {
                    *cn = f * cp + i * gg;
                    *tn = tanh(*cn);
                    *hn = o * *tn;
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
    #[expect(
        clippy::expect_used,
        reason = "LstmParams::validate refuses layers = 0"
    )]
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
            (
                l,
                out.iter().zip(y).map(|(o, y)| 2.0 * (o - y) / n).collect(),
            )
        }
        Loss::Bce => {
            let l = out
                .iter()
                .zip(y)
                .map(|(&z, &y)| {
                    let z = f64::from(z);
                    // softplus(z) - y·z, stable for large |z|.
                    // libm, not the platform's: the same bits natively and in wasm.
                    z.max(0.0) + libm::log1p(libm::exp(-z.abs())) - f64::from(y) * z
                })
                .sum::<f64>()
                / out.len() as f64;
            (
                l,
                out.iter()
                    .zip(y)
                    .map(|(&z, &y)| (sigmoid(z) - y) / n)
                    .collect(),
            )
        }
    }
}

multiversion! {
    /// The loss of one batch and the gradient of every parameter (`grads` is overwritten).
    pub fn loss_and_gradients(
        p: &FlatParams,
        x_bt: &[f32],
        y: &[f32],
        window: usize,
        loss: Loss,
        masks: Option<&FlatMasks>,
        grads: &mut FlatParams,
    ) -> f64 => backward_impl
}

#[inline(always)]
fn backward_impl(
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
    let (out, tapes, last) = forward_impl(p, x_bt, bsz, window, masks);
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
        let w_hh_t = transpose(w_hh, h, g4);
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
                let (gi, rest) = gb.split_at(h);
                let (gf, rest) = rest.split_at(h);
                let (gg, go) = rest.split_at(h);
                let (di, rest) = dgt[b * g4..(b + 1) * g4].split_at_mut(h);
                let (df, rest) = rest.split_at_mut(h);
                let (dgg, dgo) = rest.split_at_mut(h);
                let row = b * h..(b + 1) * h;
                let gates_j = gi.iter().zip(gf).zip(gg.iter().zip(go));
                let state_j = dh_carry[row.clone()]
                    .iter()
                    .zip(&tc[row.clone()])
                    .zip(dc[row.clone()].iter_mut().zip(&c_prev[row]));
                let out_j = di
                    .iter_mut()
                    .zip(df.iter_mut())
                    .zip(dgg.iter_mut().zip(dgo.iter_mut()));
                for ((((i, f), (g, o)), ((dhv, tcv), (dc, cp))), ((di, df), (dg, dov))) in
                    gates_j.zip(state_j).zip(out_j)
                {
                    let dcv = *dc + dhv * o * (1.0 - tcv * tcv);
                    *di = dcv * g * i * (1.0 - i);
                    *df = dcv * cp * f * (1.0 - f);
                    *dg = dcv * i * (1.0 - g * g);
                    *dov = dhv * tcv * o * (1.0 - o);
                    *dc = dcv * f;
                }
            }
            // dh_{t-1} = dG_t · W_hhᵀ
            matmul(bsz, h, g4, &mut dh_carry, false, (dgt, g4, 1), &w_hh_t);
        }
        let rows = window * bsz;
        let [gw_ih, gw_hh, gb] = &mut grads.layers[l];
        // dW_hh = Σ_t h_{t-1}ᵀ dG_t ; dW_ih = Σ_t x_tᵀ dG_t ; db = Σ dG.
        matmul(h, g4, rows, gw_hh, false, (&tape.hs, 1, h), &dg);
        matmul(k, g4, rows, gw_ih, false, (&tape.x, 1, k), &dg);
        gb.fill(0.0);
        for r in 0..rows {
            gb.iter_mut()
                .zip(&dg[r * g4..(r + 1) * g4])
                .for_each(|(a, b)| *a += b);
        }
        d_seq = if l > 0 {
            let mut dx = vec![0.0f32; rows * k];
            matmul(
                rows,
                k,
                g4,
                &mut dx,
                false,
                (&dg, g4, 1),
                &transpose(w_ih, k, g4),
            );
            if let Some(m) = masks {
                dx.iter_mut()
                    .zip(&m.between[l - 1])
                    .for_each(|(d, m)| *d *= m);
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
    let per = x.window * x.features;
    let mut out = Vec::with_capacity(x.n);
    for start in (0..x.n).step_by(512) {
        let end = (start + 512).min(x.n);
        out.extend(forward(p, &x.x[start * per..end * per], end - start, x.window, None).0);
    }
    out
}

fn mean_loss(p: &FlatParams, set: &Samples<'_>, loss: Loss) -> f64 {
    let per = set.x.window * set.x.features;
    let mut total = 0.0;
    for start in (0..set.x.n).step_by(512) {
        let end = (start + 512).min(set.x.n);
        let (out, _, _) = forward(
            p,
            &set.x.x[start * per..end * per],
            end - start,
            set.x.window,
            None,
        );
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
        beta1_t: 1.0,
        beta2_t: 1.0,
    };
    let mut order: Vec<usize> = (0..train.x.n).collect();
    let mut history = Vec::with_capacity(spec.epochs);
    let mut stopping = EarlyStopping::new(spec.patience);
    let mut yb = Vec::with_capacity(spec.batch_size);
    for epoch in 0..spec.epochs {
        let lr = spec.learning_rate_at(epoch);
        order.shuffle(&mut rng);
        let mut sum = 0.0;
        for idx in order.chunks(spec.batch_size.max(1)) {
            let masks = (spec.dropout > 0.0).then(|| {
                FlatMasks::draw(
                    &mut rng,
                    spec.dropout,
                    spec.shape,
                    idx.len(),
                    train.x.window,
                )
            });
            let xb = train.x.gather(idx);
            yb.clear();
            yb.extend(idx.iter().map(|&i| train.y[i]));
            let l = loss_and_gradients(
                &p,
                &xb,
                &yb,
                train.x.window,
                spec.loss,
                masks.as_ref(),
                &mut grads,
            );
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
        let stop = stopping.update(&record, || p.clone());
        history.push(record);
        if stop {
            break;
        }
    }
    let (best_epoch, p) = stopping.into_best().unwrap_or((0, p));
    Trained {
        net: p.to_net(device),
        best_epoch,
        history,
    }
}
