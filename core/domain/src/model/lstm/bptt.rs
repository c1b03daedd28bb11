//! One batch through the fused engine: the forward pass over every time step and
//! back-propagation through time, over flat f32 buffers held in a [`Workspace`] that lives as long
//! as the training, so a batch allocates nothing (per-batch buffers cost ~7% in page faults).
//!
//! Layouts: sequences are time-major inside the engine (`[T][B][·]`), weights row-major
//! (`w_ih [k][4h]`, `w_hh [h][4h]`, gates in PyTorch's order i, f, g, o).

use super::fused::{FlatMasks, FlatParams};
use super::kernels::{Kernel, matmul, sigmoid, tanh, transpose_into};
use super::train::Loss;
use strider_base::multiversion;

/// Per gate column, `a·σ(k·x) + c`: the identity coefficients for the sigmoid gates (i, f, o)
/// and `2σ(2x) - 1 = tanh(x)` for the cell candidate (g).
#[derive(Default)]
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
#[derive(Default)]
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

/// Every buffer of a batch's forward and backward pass, reused from batch to batch (they only
/// grow, to the largest batch seen).
pub struct Workspace {
    kernel: Kernel,
    coef: GateCoefficients,
    tapes: Vec<LayerTape>,
    /// The top layer's (masked) last hidden states, `[B][h]`.
    last: Vec<f32>,
    /// Network outputs, `[B]`.
    out: Vec<f32>,
    d_out: Vec<f32>,
    /// Gradient carried to `h_{t-1}`, `[B][h]`, and to `c_{t-1}`.
    dh: Vec<f32>,
    dc: Vec<f32>,
    /// Gate pre-activation gradients of a layer, `[T][B][4h]`.
    dg: Vec<f32>,
    /// Gradient arriving at a layer's output sequence from the layer above, `[T][B][h]`, and
    /// the one it sends below.
    d_seq: Vec<f32>,
    d_below: Vec<f32>,
    w_hh_t: Vec<f32>,
    w_ih_t: Vec<f32>,
}

impl Workspace {
    pub fn new(kernel: Kernel) -> Self {
        Self {
            kernel,
            coef: GateCoefficients::default(),
            tapes: Vec::new(),
            last: Vec::new(),
            out: Vec::new(),
            d_out: Vec::new(),
            dh: Vec::new(),
            dc: Vec::new(),
            dg: Vec::new(),
            d_seq: Vec::new(),
            d_below: Vec::new(),
            w_hh_t: Vec::new(),
            w_ih_t: Vec::new(),
        }
    }

    /// The outputs of the last forward pass (regression value or logit per sample).
    pub fn outputs(&self) -> &[f32] {
        &self.out
    }
}

/// `v` as `len` zeros, keeping its allocation.
fn zeroed(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    v.clear();
    v.resize(len, 0.0);
    v
}

multiversion! {
    /// Forward one batch into `ws`: the outputs `[B]`, the tape and the (masked) last hidden
    /// states.
    pub fn forward(
        p: &FlatParams,
        x_bt: &[f32],
        batch: usize,
        window: usize,
        masks: Option<&FlatMasks>,
        ws: &mut Workspace,
    ) => forward_impl
}

#[inline(always)]
fn forward_impl(
    p: &FlatParams,
    x_bt: &[f32],
    batch: usize,
    window: usize,
    masks: Option<&FlatMasks>,
    ws: &mut Workspace,
) {
    let (bsz, t_len) = (batch, window);
    let h = p.shape.hidden;
    let k0 = p.shape.inputs;
    if ws.coef.k.len() != 4 * h {
        ws.coef = GateCoefficients::new(h);
    }
    ws.tapes.resize_with(p.layers.len(), LayerTape::default);
    // Sample-major [B][T][k] -> time-major [T][B][k].
    let input = zeroed(&mut ws.tapes[0].x, t_len * bsz * k0);
    for b in 0..bsz {
        for t in 0..t_len {
            input[(t * bsz + b) * k0..(t * bsz + b + 1) * k0]
                .copy_from_slice(&x_bt[(b * t_len + t) * k0..(b * t_len + t + 1) * k0]);
        }
    }
    for l in 0..p.layers.len() {
        let (done, rest) = ws.tapes.split_at_mut(l + 1);
        layer_forward(ws.kernel, p, l, bsz, t_len, &ws.coef, &mut done[l]);
        if let Some(next) = rest.first_mut() {
            // The next layer reads this layer's hidden states h_1..h_T, masked.
            next.x.clear();
            next.x.extend_from_slice(&done[l].hs[bsz * h..]);
            if let Some(m) = masks {
                next.x
                    .iter_mut()
                    .zip(&m.between[l])
                    .for_each(|(v, m)| *v *= m);
            }
        }
    }
    #[expect(
        clippy::expect_used,
        reason = "LstmParams::validate refuses layers = 0"
    )]
    let top = ws.tapes.last().expect("a layer");
    ws.last.clear();
    ws.last.extend_from_slice(&top.hs[t_len * bsz * h..]);
    if let Some(m) = masks {
        ws.last.iter_mut().zip(&m.head).for_each(|(v, m)| *v *= m);
    }
    ws.out.clear();
    ws.out.extend(
        ws.last
            .chunks_exact(h)
            .map(|row| row.iter().zip(&p.head_w).map(|(a, w)| a * w).sum::<f32>() + p.head_b),
    );
}

/// Layer `l` over every time step, from `tape.x` into the rest of `tape`.
#[inline(always)]
fn layer_forward(
    kernel: Kernel,
    p: &FlatParams,
    l: usize,
    bsz: usize,
    t_len: usize,
    coef: &GateCoefficients,
    tape: &mut LayerTape,
) {
    let [w_ih, w_hh, bias] = &p.layers[l];
    let h = p.shape.hidden;
    let g4 = 4 * h;
    let k = w_ih.len() / g4;
    let rows = t_len * bsz;
    // Input projection of every step at once, bias included.
    let gates = zeroed(&mut tape.gates, rows * g4);
    for row in gates.chunks_exact_mut(g4) {
        row.copy_from_slice(bias);
    }
    matmul(kernel, rows, g4, k, gates, true, (&tape.x, k, 1), w_ih);
    let c = zeroed(&mut tape.c, (t_len + 1) * bsz * h);
    let tc = zeroed(&mut tape.tc, t_len * bsz * h);
    let hs = zeroed(&mut tape.hs, (t_len + 1) * bsz * h);
    for t in 0..t_len {
        let (h_prev, h_rest) = hs.split_at_mut((t + 1) * bsz * h);
        let h_prev = &h_prev[t * bsz * h..];
        let g = &mut gates[t * bsz * g4..(t + 1) * bsz * g4];
        matmul(kernel, bsz, g4, h, g, true, (h_prev, h, 1), w_hh);
        let (c_prev, c_rest) = c.split_at_mut((t + 1) * bsz * h);
        let c_prev = &c_prev[t * bsz * h..];
        let c_now = &mut c_rest[..bsz * h];
        let tc_now = &mut tc[t * bsz * h..(t + 1) * bsz * h];
        let h_now = &mut h_rest[..bsz * h];
        // One pass over the whole step: sigmoid for i, f, o and tanh(x) = 2σ(2x) - 1 for g, as
        // `a·σ(k·x) + c` with per-column coefficients, so the loop runs 4h wide and vectorises.
        for row in g.chunks_exact_mut(g4) {
            for (v, ((k, a), c)) in row.iter_mut().zip(coef.k.iter().zip(&coef.a).zip(&coef.c)) {
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
}

/// Loss of a batch and `dLoss/dOutput` per sample (mean over the batch) into `d_out`.
pub fn loss_and_grad(loss: Loss, out: &[f32], y: &[f32], d_out: &mut Vec<f32>) -> f64 {
    let n = out.len() as f32;
    d_out.clear();
    match loss {
        Loss::Mse => {
            d_out.extend(out.iter().zip(y).map(|(o, y)| 2.0 * (o - y) / n));
            out.iter()
                .zip(y)
                .map(|(o, y)| f64::from(o - y).powi(2))
                .sum::<f64>()
                / out.len() as f64
        }
        Loss::Bce => {
            d_out.extend(out.iter().zip(y).map(|(&z, &y)| (sigmoid(z) - y) / n));
            out.iter()
                .zip(y)
                .map(|(&z, &y)| {
                    let z = f64::from(z);
                    // softplus(z) - y·z, stable for large |z|.
                    // libm, not the platform's: the same bits natively and in wasm.
                    z.max(0.0) + libm::log1p(libm::exp(-z.abs())) - f64::from(y) * z
                })
                .sum::<f64>()
                / out.len() as f64
        }
    }
}

/// The mean loss of a batch without gradients.
pub fn batch_loss(
    p: &FlatParams,
    x_bt: &[f32],
    y: &[f32],
    window: usize,
    loss: Loss,
    ws: &mut Workspace,
) -> f64 {
    forward(p, x_bt, y.len(), window, None, ws);
    loss_and_grad(loss, &ws.out, y, &mut ws.d_out)
}

/// A mini-batch: samples `[B][T][k]` (sample-major) and their targets.
#[derive(Clone, Copy)]
pub struct Batch<'a> {
    pub x: &'a [f32],
    pub y: &'a [f32],
    pub window: usize,
}

multiversion! {
    /// The loss of one batch and the gradient of every parameter (`grads` is overwritten).
    pub fn loss_and_gradients_in(
        p: &FlatParams,
        batch: Batch<'_>,
        loss: Loss,
        masks: Option<&FlatMasks>,
        grads: &mut FlatParams,
        ws: &mut Workspace,
    ) -> f64 => backward_impl
}

#[inline(always)]
fn backward_impl(
    p: &FlatParams,
    Batch { x: x_bt, y, window }: Batch<'_>,
    loss: Loss,
    masks: Option<&FlatMasks>,
    grads: &mut FlatParams,
    ws: &mut Workspace,
) -> f64 {
    let bsz = y.len();
    let h = p.shape.hidden;
    forward_impl(p, x_bt, bsz, window, masks, ws);
    let value = loss_and_grad(loss, &ws.out, y, &mut ws.d_out);
    // Head.
    grads.head_b = ws.d_out.iter().sum();
    grads.head_w.fill(0.0);
    let dh = zeroed(&mut ws.dh, bsz * h);
    for b in 0..bsz {
        for j in 0..h {
            grads.head_w[j] += ws.last[b * h + j] * ws.d_out[b];
            dh[b * h + j] = ws.d_out[b] * p.head_w[j];
        }
    }
    if let Some(m) = masks {
        dh.iter_mut().zip(&m.head).for_each(|(d, m)| *d *= m);
    }
    for l in (0..p.layers.len()).rev() {
        layer_backward(p, l, bsz, window, masks, grads, ws);
        std::mem::swap(&mut ws.d_seq, &mut ws.d_below);
    }
    value
}

/// Back-propagation through layer `l`: its parameter gradients into `grads`, and (below the
/// top) the gradient it sends to the layer below into `ws.d_below`.
#[inline(always)]
fn layer_backward(
    p: &FlatParams,
    l: usize,
    bsz: usize,
    window: usize,
    masks: Option<&FlatMasks>,
    grads: &mut FlatParams,
    ws: &mut Workspace,
) {
    let [w_ih, w_hh, _] = &p.layers[l];
    let (h, kernel) = (p.shape.hidden, ws.kernel);
    let g4 = 4 * h;
    let k = w_ih.len() / g4;
    let top = l + 1 == p.layers.len();
    let tape = &ws.tapes[l];
    transpose_into(w_hh, h, g4, &mut ws.w_hh_t);
    let dg = zeroed(&mut ws.dg, window * bsz * g4);
    if !top {
        // The head's gradient went to the top layer only; lower layers start from zero.
        zeroed(&mut ws.dh, bsz * h);
    }
    let dh_carry = &mut ws.dh;
    let dc = zeroed(&mut ws.dc, bsz * h);
    for t in (0..window).rev() {
        if !top {
            dh_carry
                .iter_mut()
                .zip(&ws.d_seq[t * bsz * h..(t + 1) * bsz * h])
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
        matmul(
            kernel,
            bsz,
            h,
            g4,
            dh_carry,
            false,
            (dgt, g4, 1),
            &ws.w_hh_t,
        );
    }
    let rows = window * bsz;
    let [gw_ih, gw_hh, gb] = &mut grads.layers[l];
    // dW_hh = Σ_t h_{t-1}ᵀ dG_t ; dW_ih = Σ_t x_tᵀ dG_t ; db = Σ dG.
    matmul(kernel, h, g4, rows, gw_hh, false, (&tape.hs, 1, h), dg);
    matmul(kernel, k, g4, rows, gw_ih, false, (&tape.x, 1, k), dg);
    gb.fill(0.0);
    for r in 0..rows {
        gb.iter_mut()
            .zip(&dg[r * g4..(r + 1) * g4])
            .for_each(|(a, b)| *a += b);
    }
    if l > 0 {
        transpose_into(w_ih, k, g4, &mut ws.w_ih_t);
        let dx = zeroed(&mut ws.d_below, rows * k);
        matmul(kernel, rows, k, g4, dx, false, (dg, g4, 1), &ws.w_ih_t);
        if let Some(m) = masks {
            dx.iter_mut()
                .zip(&m.between[l - 1])
                .for_each(|(d, m)| *d *= m);
        }
    }
}
