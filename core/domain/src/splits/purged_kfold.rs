//! Purged k-fold with embargo, López de Prado, *Advances in Financial Machine Learning*, snippet
//! 7.3 (`PurgedKFold.split`), on positions:
//! - test folds are `np.array_split(arange(n), k)` (the first `n % k` folds one longer);
//! - left training set: samples whose label ends at or before the test start (`t1 <= t0`);
//! - right training set: `[maxT1Idx + embargo, n)` where `maxT1Idx` is the position of the
//!   latest label end among the test samples. The embargo applies only after the test fold.
//!
//! One deviation: where labels end where they start (horizon 0), the snippet puts the test
//! fold's first sample (`t1 == t0`) and last sample (`maxT1Idx` inside the fold) into training.
//! Here train and test are always disjoint: those samples are left out, nothing else changes.

use super::Split;
use crate::{Error, Result};

/// `label_end[i]` is the position where sample `i`'s label ends (`>= i`, may be `>= n`).
pub fn purged_kfold(
    n: usize,
    n_splits: usize,
    label_end: &[usize],
    embargo: usize,
) -> Result<Vec<Split>> {
    super::check_n_splits(n_splits)?;
    if n_splits > n {
        return Err(Error::Split(format!(
            "Cannot have number of splits n_splits={n_splits} greater than the number of samples: n_samples={n}."
        )));
    }
    debug_assert_eq!(label_end.len(), n);
    let (base, extra) = (n / n_splits, n % n_splits);
    let mut out = Vec::with_capacity(n_splits);
    let mut start = 0;
    for k in 0..n_splits {
        let end = start + base + usize::from(k < extra);
        let max_t1 = label_end[start..end].iter().copied().max().unwrap_or(start);
        let mut train: Vec<usize> = (0..start).filter(|&j| label_end[j] <= start).collect();
        if max_t1 < n {
            train.extend(max_t1.saturating_add(embargo).clamp(end, n)..n);
        }
        out.push(Split::single(train, (start..end).collect()));
        start = end;
    }
    Ok(out)
}
