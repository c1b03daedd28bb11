//! The population stability index with pinned binning, so two tools give the same number: ten
//! bins whose nine inner edges are the reference's deciles (`numpy.quantile(ref, k / 10)`,
//! linear method), the outer bins open-ended, a value `v` in bin `i` when
//! `edge[i-1] <= v < edge[i]` (`numpy.searchsorted(edges, v, side="right")`), each bin's share
//! floored at 1e-4, and `PSI = Σ (cur − ref) · ln(cur / ref)`.

use strider_base::quantile_sorted;

pub const BINS: usize = 10;
/// The floor on a bin's share: an empty bin would make the logarithm infinite.
pub const FLOOR: f64 = 1e-4;

/// The nine inner edges: the reference's deciles. `None` for an empty reference.
pub fn decile_edges(reference: &[f64]) -> Option<Vec<f64>> {
    if reference.is_empty() {
        return None;
    }
    let mut sorted = reference.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(
        (1..BINS)
            .map(|k| quantile_sorted(&sorted, k as f64 / BINS as f64))
            .collect(),
    )
}

/// Each bin's share of `values`, floored.
pub fn shares(edges: &[f64], values: &[f64]) -> Vec<f64> {
    let mut counts = vec![0usize; edges.len() + 1];
    for &v in values {
        counts[edges.partition_point(|&e| e <= v)] += 1;
    }
    let n = values.len().max(1) as f64;
    counts
        .into_iter()
        .map(|c| (c as f64 / n).max(FLOOR))
        .collect()
}

/// PSI of `current` against `reference` (finite values; callers drop NaN first). `None` if
/// either is empty.
pub fn psi(reference: &[f64], current: &[f64]) -> Option<f64> {
    if current.is_empty() {
        return None;
    }
    let edges = decile_edges(reference)?;
    Some(psi_from_shares(
        &shares(&edges, reference),
        &shares(&edges, current),
    ))
}

/// Σ (cur − ref) · ln(cur / ref) over bins, in bin order.
pub fn psi_from_shares(reference: &[f64], current: &[f64]) -> f64 {
    reference
        .iter()
        .zip(current)
        .map(|(&r, &c)| (c - r) * (c / r).ln())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_sample_is_stable() {
        let x: Vec<f64> = (0..100).map(|i| (i as f64 * 0.37).sin()).collect();
        assert_eq!(psi(&x, &x), Some(0.0));
    }

    #[test]
    fn a_shifted_sample_is_not() {
        let x: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let y: Vec<f64> = x.iter().map(|v| v + 500.0).collect();
        assert!(psi(&x, &y).unwrap() > 0.25);
    }

    #[test]
    fn the_edges_are_numpy_deciles() {
        let x: Vec<f64> = (1..=11).map(f64::from).collect();
        assert_eq!(decile_edges(&x).unwrap()[0], 2.0);
        assert!(psi(&[], &[1.0]).is_none() && psi(&[1.0], &[]).is_none());
    }
}
