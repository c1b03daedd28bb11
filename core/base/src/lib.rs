//! What every Strider crate shares and nothing else: the derivation of sub-seeds from one run
//! seed, run-time CPU dispatch for hot loops, and NumPy's linear quantile.
//!
//! Architecture invariant: no dependencies, no I/O, no state but the once-detected CPU features;
//! everything here is a pure function of its arguments, so it gives the same bits natively and
//! in wasm32.
//!
//! ```
//! let a = strider_base::seed::derive(42, &[0, 1]);
//! assert_eq!(a, strider_base::seed::derive(42, &[0, 1]));
//! assert_ne!(a, strider_base::seed::derive(42, &[1, 0]));
//! assert_eq!(strider_base::quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
//! ```
// No panics by construction in library code (tests may unwrap): see docs/configuration.md, "Limits and hostile input".
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod cpu;
pub mod seed;

/// Quantile with linear interpolation between order statistics (NumPy's default, pandas'
/// `quantile`). `sorted` must be sorted ascending.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let t = pos - lo as f64;
    // NumPy's lerp: exact at both ends.
    if t >= 0.5 {
        sorted[hi] - (sorted[hi] - sorted[lo]) * (1.0 - t)
    } else {
        sorted[lo] + (sorted[hi] - sorted[lo]) * t
    }
}
