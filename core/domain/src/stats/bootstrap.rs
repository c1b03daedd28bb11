//! The stationary bootstrap of Politis & Romano (1994), as arch implements it: the first index
//! is uniform; each next index continues the current block (`prev + 1`, wrapping) unless a
//! uniform draw falls below `p = 1 / block_size`, in which case a new block starts uniformly.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// arch's default block length, `int(sqrt(T))`.
pub fn default_block_size(t: usize) -> usize {
    ((t as f64).sqrt() as usize).max(1)
}

pub struct StationaryBootstrap {
    rng: ChaCha8Rng,
    t: usize,
    p: f64,
}

impl StationaryBootstrap {
    pub fn new(t: usize, block_size: usize, seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            t,
            p: 1.0 / block_size.max(1) as f64,
        }
    }

    /// Draw one resample's indices into `out` (length `t`). Ranges are u64 so native and wasm32
    /// consume the same random stream.
    pub fn draw(&mut self, out: &mut Vec<usize>) {
        out.clear();
        let t = self.t as u64;
        let mut idx = self.rng.random_range(0..t);
        out.push(idx as usize);
        for _ in 1..self.t {
            let u: f64 = self.rng.random();
            idx = if u < self.p {
                self.rng.random_range(0..t)
            } else {
                (idx + 1) % t
            };
            out.push(idx as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_have_the_requested_mean_length() {
        let mut bs = StationaryBootstrap::new(10_000, 20, 1);
        let mut idx = Vec::new();
        bs.draw(&mut idx);
        let breaks = idx
            .windows(2)
            .filter(|w| w[1] != (w[0] + 1) % 10_000)
            .count();
        let mean_len = 10_000.0 / (breaks + 1) as f64;
        assert!((15.0..27.0).contains(&mean_len), "{mean_len}");
        let mut again = Vec::new();
        StationaryBootstrap::new(10_000, 20, 1).draw(&mut again);
        assert_eq!(idx, again);
    }
}
