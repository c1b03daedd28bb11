//! The network: stacked LSTM layers and a dense head on the last hidden state, as a burn module.
//!
//! Each layer keeps its four gates fused in one `[input, 4·hidden]` and one `[hidden, 4·hidden]`
//! matrix in PyTorch's gate order (input, forget, cell, output), so the input projection of the
//! whole window is one matmul and each time step costs one `[batch, hidden] × [hidden, 4·hidden]`
//! matmul. (burn's stock `Lstm` runs eight small matmuls per step.) The same module runs on every
//! burn device; parameters are initialised from Strider's seed, not the backend's RNG, so a seed
//! gives the same network on CPU, GPU and WebGPU.

use burn::module::{Module, Param};
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{Device, Tensor, TensorData, s};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::fused::FlatParams;

#[derive(Module, Debug)]
pub struct LstmLayer {
    /// `[input, 4·hidden]`, gates i, f, g, o.
    pub w_ih: Param<Tensor<2>>,
    /// `[hidden, 4·hidden]`.
    pub w_hh: Param<Tensor<2>>,
    /// `[4·hidden]` (PyTorch's `b_ih + b_hh`).
    pub bias: Param<Tensor<1>>,
}

#[derive(Module, Debug)]
pub struct LstmNet {
    pub layers: Vec<LstmLayer>,
    /// `[hidden, 1]`.
    pub head_w: Param<Tensor<2>>,
    pub head_b: Param<Tensor<1>>,
}

/// Shape of a network; enough to rebuild an empty one for loading a saved record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetShape {
    pub inputs: usize,
    pub hidden: usize,
    pub layers: usize,
}

/// Dropout masks for one forward pass, drawn on the host from the training seed so that dropout is
/// reproducible on every backend. `between[l]` is applied to layer `l`'s output sequence
/// (`[batch, window, hidden]`), `head` to the last hidden state (`[batch, hidden]`).
pub struct DropoutMasks {
    pub between: Vec<Tensor<3>>,
    pub head: Tensor<2>,
}

fn uniform(rng: &mut ChaCha8Rng, n: usize, bound: f64) -> Vec<f32> {
    (0..n)
        .map(|_| (rng.random::<f64>() * 2.0 - 1.0) as f32 * bound as f32)
        .collect()
}

impl LstmNet {
    /// The network with [`FlatParams::from_values`]'s initial values, on `device`.
    pub fn init(shape: NetShape, seed: u64, device: &Device) -> Self {
        FlatParams::from_values(shape, seed).to_net(device)
    }

    /// `x`: `[batch, window, inputs]` → one output per sample, `[batch]` (a regression value or a
    /// logit).
    pub fn forward(&self, x: Tensor<3>, masks: Option<&DropoutMasks>) -> Tensor<1> {
        let [batch, window, _] = x.dims();
        let mut input = x;
        let mut last = None;
        let n_layers = self.layers.len();
        for (l, layer) in self.layers.iter().enumerate() {
            let [_, _, k] = input.dims();
            let h = layer.w_hh.dims()[0];
            let projected = (input
                .clone()
                .reshape([batch * window, k])
                .matmul(layer.w_ih.val())
                + layer.bias.val().unsqueeze_dim(0))
            .reshape([batch, window, 4 * h]);
            let device = projected.device();
            let mut hidden = Tensor::<2>::zeros([batch, h], &device);
            let mut cell = Tensor::<2>::zeros([batch, h], &device);
            let keep_sequence = l + 1 < n_layers;
            let mut outputs = Vec::with_capacity(if keep_sequence { window } else { 0 });
            for t in 0..window {
                let gates = projected
                    .clone()
                    .slice(s![.., t, ..])
                    .reshape([batch, 4 * h])
                    + hidden.matmul(layer.w_hh.val());
                let ifo = sigmoid(gates.clone());
                let i = ifo.clone().slice(s![.., 0..h]);
                let f = ifo.clone().slice(s![.., h..2 * h]);
                let o = ifo.slice(s![.., 3 * h..4 * h]);
                let g = tanh(gates.slice(s![.., 2 * h..3 * h]));
                cell = f * cell + i * g;
                hidden = o * tanh(cell.clone());
                if keep_sequence {
                    outputs.push(hidden.clone());
                }
            }
            if keep_sequence {
                let seq: Tensor<3> = Tensor::stack(outputs, 1);
                input = match masks {
                    Some(m) => seq * m.between[l].clone(),
                    None => seq,
                };
            }
            last = Some(hidden);
        }
        #[expect(
            clippy::expect_used,
            reason = "LstmParams::validate refuses layers = 0"
        )]
        let mut last = last.expect("at least one layer");
        if let Some(m) = masks {
            last = last * m.head.clone();
        }
        let out = last.matmul(self.head_w.val()) + self.head_b.val().unsqueeze_dim(0);
        out.reshape([batch])
    }

    pub fn shape(&self) -> NetShape {
        let first = &self.layers[0];
        NetShape {
            inputs: first.w_ih.dims()[0],
            hidden: first.w_hh.dims()[0],
            layers: self.layers.len(),
        }
    }
}

/// Dropout masks as host buffers: `between[l]` is `[batch][window][hidden]`, `head` is
/// `[batch][hidden]`.
pub struct MaskValues {
    pub between: Vec<Vec<f32>>,
    pub head: Vec<f32>,
}

impl DropoutMasks {
    /// Inverted dropout with keep probability `1 - p`, from `rng`. The fused CPU engine draws the
    /// same values from the same RNG state, so both engines drop the same units.
    pub fn draw_values(
        rng: &mut ChaCha8Rng,
        p: f64,
        shape: NetShape,
        batch: usize,
        window: usize,
    ) -> MaskValues {
        let scale = (1.0 / (1.0 - p)) as f32;
        let mut mask = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| if rng.random::<f64>() < p { 0.0 } else { scale })
                .collect()
        };
        let h = shape.hidden;
        let between = (0..shape.layers.saturating_sub(1))
            .map(|_| mask(batch * window * h))
            .collect();
        let head = mask(batch * h);
        MaskValues { between, head }
    }

    pub fn draw(
        rng: &mut ChaCha8Rng,
        p: f64,
        shape: NetShape,
        batch: usize,
        window: usize,
        device: &Device,
    ) -> Self {
        let h = shape.hidden;
        let v = Self::draw_values(rng, p, shape, batch, window);
        Self {
            between: v
                .between
                .into_iter()
                .map(|m| Tensor::from_data(TensorData::new(m, [batch, window, h]), device))
                .collect(),
            head: Tensor::from_data(TensorData::new(v.head, [batch, h]), device),
        }
    }
}

impl FlatParams {
    /// PyTorch's initialisation (`U(-1/√hidden, 1/√hidden)` for every LSTM and head weight), with
    /// the forget-gate bias set to 1 (Jozefowicz et al. 2015), which helps long windows train.
    pub fn from_values(shape: NetShape, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let h = shape.hidden;
        let bound = 1.0 / (h as f64).sqrt();
        let layers = (0..shape.layers)
            .map(|l| {
                let input = if l == 0 { shape.inputs } else { h };
                let w_ih = uniform(&mut rng, input * 4 * h, bound);
                let w_hh = uniform(&mut rng, h * 4 * h, bound);
                let mut bias = uniform(&mut rng, 4 * h, bound);
                bias[h..2 * h].iter_mut().for_each(|b| *b = 1.0);
                [w_ih, w_hh, bias]
            })
            .collect();
        let head_w = uniform(&mut rng, h, bound);
        let head_b = uniform(&mut rng, 1, bound)[0];
        Self {
            shape,
            layers,
            head_w,
            head_b,
        }
    }
}
