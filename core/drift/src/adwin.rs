//! ADWIN (Bifet & Gavaldà 2007, the ADWIN2 variant with an exponential histogram) exactly as
//! River 0.26 runs it, so the same stream gives the same detection indices: the same bucket
//! merging order, the same streaming variance update and the same cut test, evaluated every
//! `clock` updates once the window holds more than `grace_period` values. As River's
//! `ADWIN.update`, the first update after a detection starts again from an empty window.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdwinParams {
    pub delta: f64,
    pub clock: u32,
    pub max_buckets: usize,
    pub min_window_length: u32,
    pub grace_period: u32,
}

impl Default for AdwinParams {
    /// River's defaults.
    fn default() -> Self {
        Self {
            delta: 0.002,
            clock: 32,
            max_buckets: 5,
            min_window_length: 5,
            grace_period: 10,
        }
    }
}

impl AdwinParams {
    pub fn validate(&self) -> Result<(), String> {
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(format!("delta must be in (0, 1), got {}", self.delta));
        }
        // One bucket per row would leave rows empty after a merge; a zero minimum would test a
        // cut with an empty side.
        if self.clock == 0 || !(2..=1000).contains(&self.max_buckets) || self.min_window_length == 0
        {
            return Err(
                "clock and min_window_length must be ≥ 1 and max_buckets in 2..=1000".into(),
            );
        }
        Ok(())
    }
}

/// One row of the histogram: up to `max_buckets + 1` (sum, variance) summaries of 2^row values
/// each, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Row {
    totals: Vec<f64>,
    variances: Vec<f64>,
}

impl Row {
    fn push(&mut self, total: f64, variance: f64) {
        self.totals.push(total);
        self.variances.push(variance);
    }

    fn drop_oldest(&mut self, k: usize) {
        self.totals.drain(..k.min(self.totals.len()));
        self.variances.drain(..k.min(self.variances.len()));
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adwin {
    params: AdwinParams,
    total: f64,
    /// The window's sum of squared deviations from its mean.
    variance: f64,
    width: f64,
    tick: u64,
    detected: bool,
    /// `rows[i]` holds buckets of 2^i values; the last row is the oldest data.
    rows: Vec<Row>,
}

impl Adwin {
    pub fn new(params: AdwinParams) -> Self {
        Self {
            params,
            total: 0.0,
            variance: 0.0,
            width: 0.0,
            tick: 0,
            detected: false,
            rows: vec![Row::default()],
        }
    }

    /// Adds one value; true when this update detects a change.
    pub fn update(&mut self, x: f64) -> bool {
        if self.detected {
            *self = Self::new(self.params);
        }
        self.insert(x);
        self.detected = self.detect();
        self.detected
    }

    pub fn width(&self) -> usize {
        self.width as usize
    }

    /// The mean of the current window (0 when empty).
    pub fn estimation(&self) -> f64 {
        if self.width == 0.0 {
            0.0
        } else {
            self.total / self.width
        }
    }

    fn insert(&mut self, x: f64) {
        self.rows[0].push(x, 0.0);
        self.width += 1.0;
        let mut increment = 0.0;
        if self.width > 1.0 {
            let dev = x - self.total / (self.width - 1.0);
            increment = (self.width - 1.0) * dev * dev / self.width;
        }
        self.variance += increment;
        self.total += x;
        self.merge_full_rows();
    }

    /// A row holding `max_buckets + 1` buckets merges its two oldest into one bucket of the next
    /// row, which may overflow in turn.
    fn merge_full_rows(&mut self) {
        let mut i = 0;
        while i < self.rows.len() && self.rows[i].totals.len() == self.params.max_buckets + 1 {
            let size = (1u64 << i.min(62)) as f64;
            let row = &self.rows[i];
            let (t0, t1) = (row.totals[0], row.totals[1]);
            let (mu0, mu1) = (t0 / size, t1 / size);
            let merged_var =
                row.variances[0] + row.variances[1] + size * 0.5 * (mu0 - mu1) * (mu0 - mu1);
            if i + 1 == self.rows.len() {
                self.rows.push(Row::default());
            }
            self.rows[i + 1].push(t0 + t1, merged_var);
            self.rows[i].drop_oldest(2);
            i += 1;
        }
    }

    /// Drops the oldest bucket from the window's statistics and the histogram.
    fn drop_oldest_bucket(&mut self) {
        let last = self.rows.len() - 1;
        let size = (1u64 << last.min(62)) as f64;
        let (Some(&u), Some(&v)) = (
            self.rows[last].totals.first(),
            self.rows[last].variances.first(),
        ) else {
            return;
        };
        let mu = u / size;
        self.width -= size;
        self.total -= u;
        let mu_window = self.total / self.width;
        self.variance -=
            v + size * self.width * (mu - mu_window) * (mu - mu_window) / (size + self.width);
        self.rows[last].drop_oldest(1);
        if self.rows[last].totals.is_empty() && last > 0 {
            self.rows.pop();
        }
    }

    fn detect(&mut self) -> bool {
        self.tick += 1;
        let checking = self.tick.is_multiple_of(u64::from(self.params.clock))
            && self.width > f64::from(self.params.grace_period);
        if !checking {
            return false;
        }
        let mut detected = false;
        while self.find_cut() {
            detected = true;
            if self.width <= 0.0 {
                break;
            }
            self.drop_oldest_bucket();
        }
        detected
    }

    /// Walks every cut between buckets, oldest data first, and says whether the means of the
    /// older part W0 and the newer part W1 differ by more than the bound.
    fn find_cut(&self) -> bool {
        let min_len = f64::from(self.params.min_window_length);
        let (mut n0, mut n1) = (0.0, self.width);
        let (mut u0, mut u1) = (0.0, self.total);
        for (i, row) in self.rows.iter().enumerate().rev() {
            let size = (1u64 << i.min(62)) as f64;
            for (k, &t) in row.totals.iter().enumerate() {
                n0 += size;
                n1 -= size;
                u0 += t;
                u1 -= t;
                if i == 0 && k + 1 == row.totals.len() {
                    return false;
                }
                let diff = u0 / n0 - u1 / n1;
                if n1 >= min_len && n0 >= min_len && self.cut_exceeds(n0, n1, diff) {
                    return true;
                }
            }
        }
        false
    }

    /// |μ0 − μ1| > ε_cut with Hoeffding-Bernstein's bound on the window's variance.
    fn cut_exceeds(&self, n0: f64, n1: f64, diff: f64) -> bool {
        let min_len = f64::from(self.params.min_window_length);
        let delta_prime = (2.0 * self.width.ln() / self.params.delta).ln();
        let m_recip = 1.0 / (n0 - min_len + 1.0) + 1.0 / (n1 - min_len + 1.0);
        let epsilon = (2.0 * m_recip * (self.variance / self.width) * delta_prime).sqrt()
            + 2.0 / 3.0 * delta_prime * m_recip;
        diff.abs() > epsilon
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_stream_never_drifts() {
        let mut d = Adwin::new(AdwinParams::default());
        assert!((0..5000).all(|_| !d.update(1.0)));
        assert_eq!(d.width(), 5000);
        assert_eq!(d.estimation(), 1.0);
    }

    #[test]
    fn a_jump_is_found_and_the_window_restarts() {
        let mut d = Adwin::new(AdwinParams::default());
        let hits: Vec<usize> = (0..2000)
            .filter(|&i| d.update(if i < 1000 { 0.0 } else { 5.0 }))
            .collect();
        assert!(
            !hits.is_empty() && hits[0] >= 1000 && hits[0] < 1100,
            "{hits:?}"
        );
    }
}
