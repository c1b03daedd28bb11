//! Sequence inputs for recurrent models, built without look-ahead.
//!
//! A sample's window is the `L` rows of *its own instrument* ending at its own bar: the row itself
//! and the `L - 1` bars before it, never a later one and never another instrument's. Where the
//! instrument has fewer earlier rows (the start of its history, or a gap), the window is
//! left-padded with zeros, which after scaling is the training mean. Features are standardised with
//! a scaler fit on the fold's training rows only.

use crate::dataset::Dataset;
use crate::model::StandardScaler;

/// For every instrument, the dataset row of each of its bars (rows are stored by date, so one
/// instrument's rows are interleaved with the others').
#[derive(Debug, Clone)]
pub struct SequenceIndex {
    by_instrument: Vec<Vec<Option<usize>>>,
}

impl SequenceIndex {
    pub fn new(data: &Dataset) -> Self {
        let mut by_instrument: Vec<Vec<Option<usize>>> = vec![Vec::new(); data.instruments.len()];
        for (r, meta) in data.rows.iter().enumerate() {
            let bars = &mut by_instrument[meta.instrument];
            if bars.len() <= meta.bar {
                bars.resize(meta.bar + 1, None);
            }
            bars[meta.bar] = Some(r);
        }
        Self { by_instrument }
    }

    /// The rows of `row`'s window, oldest first, `None` where it is padded. The last entry is
    /// always `row` itself.
    pub fn window(&self, data: &Dataset, row: usize, len: usize) -> Vec<Option<usize>> {
        let meta = data.rows[row];
        let bars = &self.by_instrument[meta.instrument];
        let mut out = vec![None; len];
        for back in 0..len.min(meta.bar + 1) {
            // Stop at the first missing bar: a window never bridges a gap in the rows.
            match bars.get(meta.bar - back).copied().flatten() {
                Some(r) => out[len - 1 - back] = Some(r),
                None => break,
            }
        }
        out
    }
}

/// Samples as one flat `[n, window, features]` f32 buffer, scaled, ready for a tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequences {
    pub x: Vec<f32>,
    pub n: usize,
    pub window: usize,
    pub features: usize,
}

impl Sequences {
    pub fn build(
        data: &Dataset,
        index: &SequenceIndex,
        rows: &[usize],
        window: usize,
        scaler: &StandardScaler,
    ) -> Self {
        let k = data.n_features();
        let mut x = vec![0f32; rows.len() * window * k];
        for (i, &r) in rows.iter().enumerate() {
            for (step, w) in index.window(data, r, window).into_iter().enumerate() {
                if let Some(w) = w {
                    let at = (i * window + step) * k;
                    for (j, v) in data.row(w).iter().enumerate() {
                        x[at + j] = scaler.transform_one(j, *v) as f32;
                    }
                }
            }
        }
        Self {
            x,
            n: rows.len(),
            window,
            features: k,
        }
    }

    /// Samples `idx` (in that order) as a new buffer: a mini-batch.
    pub fn gather(&self, idx: &[usize]) -> Vec<f32> {
        let mut out = Vec::new();
        self.gather_into(idx, &mut out);
        out
    }

    /// [`Self::gather`] into `out`, keeping its allocation.
    pub fn gather_into(&self, idx: &[usize], out: &mut Vec<f32>) {
        let per = self.window * self.features;
        out.clear();
        out.reserve(idx.len() * per);
        for &i in idx {
            out.extend_from_slice(&self.x[i * per..(i + 1) * per]);
        }
    }
}

/// Split a fold's training rows into the rows the network fits and a validation tail for early
/// stopping: the last `fraction` of the training dates. Fit rows whose label ends after the
/// validation tail starts are purged (`t1 <= t0`, as in purged k-fold), so no fit label overlaps a
/// validation date. Returns `(fit, validation)`; the validation part is empty when `fraction` is 0
/// or the window is too short to hold both.
pub fn validation_tail(data: &Dataset, rows: &[usize], fraction: f64) -> (Vec<usize>, Vec<usize>) {
    let mut times: Vec<usize> = rows.iter().map(|&r| data.rows[r].time).collect();
    times.sort_unstable();
    times.dedup();
    let n_val = ((times.len() as f64) * fraction).round() as usize;
    if fraction <= 0.0 || n_val == 0 || n_val + 2 > times.len() {
        return (rows.to_vec(), Vec::new());
    }
    let t0 = times[times.len() - n_val];
    let fit: Vec<usize> = rows
        .iter()
        .copied()
        .filter(|&r| data.rows[r].time < t0 && data.rows[r].label_end <= t0)
        .collect();
    let val: Vec<usize> = rows
        .iter()
        .copied()
        .filter(|&r| data.rows[r].time >= t0)
        .collect();
    if fit.is_empty() {
        return (rows.to_vec(), Vec::new());
    }
    (fit, val)
}
