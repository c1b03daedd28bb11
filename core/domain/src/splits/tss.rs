//! scikit-learn 1.9 `TimeSeriesSplit(n_splits, max_train_size, test_size, gap)`.

use super::Split;
use crate::{Error, Result};

pub fn time_series_split(
    n: usize,
    n_splits: usize,
    max_train_size: Option<usize>,
    test_size: Option<usize>,
    gap: usize,
) -> Result<Vec<Split>> {
    super::check_n_splits(n_splits)?;
    let n_folds = n_splits.saturating_add(1);
    let test_size = test_size.unwrap_or(n / n_folds);
    if n_folds > n {
        return Err(Error::Split(format!(
            "Cannot have number of folds={n_folds} greater than the number of samples={n}."
        )));
    }
    if test_size == 0 {
        return Err(Error::Split("test_size must be >= 1".into()));
    }
    let needed = test_size
        .checked_mul(n_splits)
        .and_then(|t| t.checked_add(gap));
    if needed.is_none_or(|needed| needed >= n) {
        return Err(Error::Split(format!(
            "Too many splits={n_splits} for number of samples={n} with test_size={test_size} and gap={gap}."
        )));
    }
    let first = n - n_splits * test_size;
    Ok((first..n)
        .step_by(test_size)
        .map(|test_start| {
            let train_end = test_start - gap;
            // sklearn treats max_train_size=0 as unset (`if self.max_train_size and ...`).
            let train_start = match max_train_size {
                Some(m) if m > 0 && m < train_end => train_end - m,
                _ => 0,
            };
            Split::single(
                (train_start..train_end).collect(),
                (test_start..(test_start + test_size).min(n)).collect(),
            )
        })
        .collect())
}
