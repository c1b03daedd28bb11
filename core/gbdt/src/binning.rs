//! Feature binning for histogram training: at most `max_bin` bins per feature from the distinct
//! values of the training rows (midpoints between neighbours, or quantile cuts when there are
//! more distinct values than bins), plus one bin for NaN when the feature has missing values.

/// Bin layout of one feature.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureBins {
    /// Upper bounds: value `v` falls in the first bin `i` with `v <= upper[i]`; the last bin is
    /// open (`upper.len() + 1` value bins).
    pub upper: Vec<f64>,
    /// Whether training rows had NaN (they go to bin `n_value_bins()`).
    pub has_nan: bool,
}

impl FeatureBins {
    pub fn n_value_bins(&self) -> usize {
        self.upper.len() + 1
    }

    pub fn n_bins(&self) -> usize {
        self.n_value_bins() + usize::from(self.has_nan)
    }

    pub fn nan_bin(&self) -> usize {
        self.n_value_bins()
    }

    #[inline]
    pub fn bin(&self, v: f64) -> usize {
        if v.is_nan() {
            return if self.has_nan {
                self.nan_bin()
            } else {
                self.upper.partition_point(|u| *u < 0.0)
            };
        }
        self.upper.partition_point(|u| *u < v)
    }

    /// LightGBM's bin finder (`FindBinWithZeroAsOneBin` + `GreedyFindBin`, `bin.cpp`): zero
    /// gets its own bin, negative and positive values share the remaining bins in proportion to
    /// their counts, values frequent enough to fill a bin get their own, and bounds sit midway
    /// between neighbouring distinct values.
    pub fn fit(values: &mut Vec<f64>, max_bin: usize) -> Self {
        let has_nan = values.iter().any(|v| v.is_nan());
        values.retain(|v| !v.is_nan());
        values.sort_by(f64::total_cmp);
        let mut distinct: Vec<(f64, usize)> = Vec::new();
        for &v in values.iter() {
            match distinct.last_mut() {
                Some((d, c)) if *d == v => *c += 1,
                _ => distinct.push((v, 1)),
            }
        }
        let upper = find_bins_zero_as_one(&distinct, values.len(), max_bin.max(2));
        FeatureBins { upper, has_nan }
    }
}

const KZERO: f64 = super::tree::ZERO_THRESHOLD;

/// LightGBM `GreedyFindBin`: upper bounds (the last, +inf, is implied by the caller).
fn greedy_find_bin(distinct: &[(f64, usize)], max_bin: usize, total: usize) -> Vec<f64> {
    let mut bounds = Vec::new();
    if distinct.is_empty() {
        return bounds;
    }
    if distinct.len() <= max_bin {
        let mut cur = 0usize;
        for i in 0..distinct.len() - 1 {
            cur += distinct[i].1;
            // LightGBM's min_data_in_bin = 3.
            if cur >= 3 {
                bounds.push((distinct[i].0 + distinct[i + 1].0) / 2.0);
                cur = 0;
            }
        }
        return bounds;
    }
    let max_bin = max_bin.max(1);
    let mut mean_bin_size = total as f64 / max_bin as f64;
    let mut rest_bin_cnt = max_bin as f64;
    let mut rest_sample_cnt = total as f64;
    let big: Vec<bool> = distinct
        .iter()
        .map(|(_, c)| *c as f64 >= mean_bin_size)
        .collect();
    for (i, (_, c)) in distinct.iter().enumerate() {
        if big[i] {
            rest_bin_cnt -= 1.0;
            rest_sample_cnt -= *c as f64;
        }
    }
    mean_bin_size = rest_sample_cnt / rest_bin_cnt;
    let mut uppers = Vec::new();
    let mut lowers = vec![distinct[0].0];
    let mut cur = 0.0;
    for i in 0..distinct.len() - 1 {
        if !big[i] {
            rest_sample_cnt -= distinct[i].1 as f64;
        }
        cur += distinct[i].1 as f64;
        if big[i] || cur >= mean_bin_size || (big[i + 1] && cur >= (mean_bin_size * 0.5).max(1.0)) {
            uppers.push(distinct[i].0);
            lowers.push(distinct[i + 1].0);
            if uppers.len() >= max_bin - 1 {
                break;
            }
            cur = 0.0;
            if !big[i] {
                rest_bin_cnt -= 1.0;
                mean_bin_size = rest_sample_cnt / rest_bin_cnt;
            }
        }
    }
    for (u, l) in uppers.iter().zip(&lowers[1..]) {
        bounds.push((u + l) / 2.0);
    }
    bounds
}

/// LightGBM `FindBinWithZeroAsOneBin`.
fn find_bins_zero_as_one(distinct: &[(f64, usize)], total: usize, max_bin: usize) -> Vec<f64> {
    let neg: Vec<(f64, usize)> = distinct
        .iter()
        .copied()
        .filter(|(v, _)| *v < -KZERO)
        .collect();
    let pos: Vec<(f64, usize)> = distinct
        .iter()
        .copied()
        .filter(|(v, _)| *v > KZERO)
        .collect();
    let cnt_zero =
        total - neg.iter().map(|x| x.1).sum::<usize>() - pos.iter().map(|x| x.1).sum::<usize>();
    let left_cnt: usize = neg.iter().map(|x| x.1).sum();
    let right_cnt: usize = pos.iter().map(|x| x.1).sum();
    let mut bounds = Vec::new();
    if !neg.is_empty() {
        let denom = (total - cnt_zero) as f64;
        let left_max_bin = (((left_cnt as f64 / denom) * (max_bin - 1) as f64) as usize).max(1);
        bounds = greedy_find_bin(&neg, left_max_bin, left_cnt);
        bounds.push(-KZERO);
    }
    let right_max_bin = max_bin.saturating_sub(1).saturating_sub(bounds.len());
    if !pos.is_empty() && right_max_bin > 0 {
        let right = greedy_find_bin(&pos, right_max_bin, right_cnt);
        bounds.push(KZERO);
        bounds.extend(right);
    } else if !pos.is_empty() {
        bounds.push(KZERO);
    }
    // Bounds must be strictly increasing for the binary search.
    bounds.dedup_by(|a, b| a <= b);
    bounds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_their_own_bins() {
        let mut v: Vec<f64> = [1.0, 2.0, 3.0]
            .iter()
            .flat_map(|x| [*x; 5])
            .chain([f64::NAN])
            .collect();
        let b = FeatureBins::fit(&mut v, 255);
        // A zero bin below the positives, then one bin per value.
        assert_eq!(b.upper, vec![super::KZERO, 1.5, 2.5]);
        assert!(b.has_nan);
        assert_eq!(
            (
                b.bin(0.0),
                b.bin(1.0),
                b.bin(2.0),
                b.bin(9.0),
                b.bin(f64::NAN)
            ),
            (0, 1, 2, 3, 4)
        );
    }

    #[test]
    fn many_values_are_cut_into_at_most_max_bin_bins() {
        let mut v: Vec<f64> = (0..10_000).map(|i| (i as f64).sqrt()).collect();
        let b = FeatureBins::fit(&mut v, 63);
        assert!(
            b.n_value_bins() <= 63 && b.n_value_bins() > 50,
            "{}",
            b.n_value_bins()
        );
        assert!(b.upper.windows(2).all(|w| w[0] < w[1]));
    }
}
