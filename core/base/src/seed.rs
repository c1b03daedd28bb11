//! Every random choice in Strider flows from one run seed. Sub-seeds for a model, a fold or a trial
//! are derived deterministically so that adding a fold never changes the randomness of another.

/// The seed of a run that names none.
pub const DEFAULT_SEED: u64 = 42;

/// SplitMix64 step: a well-studied 64-bit mixer (Steele, Lea, Flood 2014).
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Derive a sub-seed from the run seed and a path of indices (e.g. `[model, fold]`).
pub fn derive(seed: u64, path: &[u64]) -> u64 {
    path.iter()
        .fold(splitmix64(seed), |acc, &p| splitmix64(acc ^ splitmix64(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_seeds_differ_by_path_and_are_stable() {
        assert_eq!(derive(42, &[0, 1]), derive(42, &[0, 1]));
        assert_ne!(derive(42, &[0, 1]), derive(42, &[1, 0]));
        assert_ne!(derive(42, &[0]), derive(43, &[0]));
    }
}
