//! skfolio 1.12 `CombinatorialPurgedCV(n_folds, n_test_folds, purged_size, embargo_size)`.
//!
//! Folds: `fold(i) = min(i / (n / n_folds), n_folds - 1)` (the last fold takes the remainder).
//! Splits: the test-fold combinations in lexicographic order. Training: every non-test sample,
//! less `purge` samples before each test block and `purge + embargo` after it.

use super::{Split, SplitPlan};
use crate::{Error, Result};

const MAX_COMBINATIONS: u128 = 100_000;

/// C(n, k) for k < n, or any number above `MAX_COMBINATIONS` once it is clear the count exceeds
/// it (so huge arguments neither overflow nor loop for long).
fn n_choose_k(n: usize, k: usize) -> u128 {
    let k = k.min(n - k);
    let mut acc = 1u128;
    for i in 0..k {
        // C(n, i + 1) = C(n, i) (n - i) / (i + 1), exact; it grows with i up to n / 2.
        acc = match acc.checked_mul((n - i) as u128) {
            Some(v) => v / (i as u128 + 1),
            None => return u128::MAX,
        };
        if acc > MAX_COMBINATIONS {
            return acc;
        }
    }
    acc
}

/// All k-subsets of `0..n` in lexicographic order (Python's `itertools.combinations`).
fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut c: Vec<usize> = (0..k).collect();
    loop {
        out.push(c.clone());
        let Some(i) = (0..k).rev().find(|&i| c[i] != i + n - k) else {
            return out;
        };
        c[i] += 1;
        for j in i + 1..k {
            c[j] = c[j - 1] + 1;
        }
    }
}

pub fn cpcv(
    n: usize,
    n_folds: usize,
    n_test_folds: usize,
    purge: usize,
    embargo: usize,
) -> Result<SplitPlan> {
    if n_folds <= 2 {
        return Err(Error::Split(format!(
            "`n_folds` must be at least 3, got `n_folds={n_folds}`."
        )));
    }
    if n_test_folds <= 1 {
        return Err(Error::Split(format!(
            "`n_test_folds` must at least 2, got `n_test_folds={n_test_folds}`."
        )));
    }
    if n_test_folds >= n_folds {
        return Err(Error::Split(
            "Combinatorial purged cross-validation requires `n_folds` to be greater than `n_test_folds`.".into(),
        ));
    }
    let n_comb = n_choose_k(n_folds, n_test_folds);
    if n_comb > MAX_COMBINATIONS {
        return Err(Error::Split(format!(
            "The combination of `n_folds={n_folds}` and `n_test_folds={n_test_folds}` produces \
             {n_comb} splits, which exceeds the maximum allowed ({MAX_COMBINATIONS})."
        )));
    }
    let min_fold = n / n_folds;
    let excluded = purge.checked_add(embargo).and_then(|s| s.checked_add(1));
    if excluded.is_none_or(|e| e >= min_fold) {
        return Err(Error::Split(format!(
            "The sum of `purged_size` and `embargo_size` must be smaller than the size of a train \
             fold which is {min_fold}"
        )));
    }
    let fold_of = |i: usize| (i / min_fold).min(n_folds - 1);
    let fold_index: Vec<Vec<usize>> = {
        let mut f = vec![Vec::new(); n_folds];
        for i in 0..n {
            f[fold_of(i)].push(i);
        }
        f
    };
    let combos = combinations(n_folds, n_test_folds);
    // Path of each (split, fold): the m-th split (in order) containing a fold is on path m.
    let mut seen_per_fold = vec![0usize; n_folds];
    let mut splits = Vec::with_capacity(combos.len());
    for combo in &combos {
        let mut is_test = vec![false; n];
        for &f in combo {
            for &i in &fold_index[f] {
                is_test[i] = true;
            }
        }
        let mut removed = is_test.clone();
        for i in 0..n.saturating_sub(1) {
            if !is_test[i] && is_test[i + 1] {
                // train -> test boundary at i: purge i, i-1, ..., i-purge+1
                for k in 0..purge {
                    removed[i.saturating_sub(k)] = true;
                }
            } else if is_test[i] && !is_test[i + 1] {
                // test -> train boundary: purge and embargo i+1 ..= i+purge+embargo
                for k in 0..purge + embargo {
                    removed[(i + k + 1).min(n - 1)] = true;
                }
            }
        }
        let path_ids = combo
            .iter()
            .map(|&f| {
                let p = seen_per_fold[f];
                seen_per_fold[f] += 1;
                p
            })
            .collect();
        let test_groups: Vec<Vec<usize>> = combo.iter().map(|&f| fold_index[f].clone()).collect();
        splits.push(Split {
            train: (0..n).filter(|&i| !removed[i]).collect(),
            test: test_groups.concat(),
            test_groups,
            path_ids,
        });
    }
    Ok(SplitPlan {
        n_samples: n,
        n_paths: n_choose_k(n_folds - 1, n_test_folds - 1) as usize,
        splits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example in shared/notes/quant.md section 3.3 (checked against skfolio there).
    #[test]
    fn notes_example() {
        let plan = cpcv(500, 6, 2, 3, 2).unwrap();
        assert_eq!(plan.splits.len(), 15);
        assert_eq!(plan.n_paths, 5);
        let r = |s: usize| crate::ranges::to_ranges(&plan.splits[s].train);
        assert_eq!(r(0), vec![[171, 499]]);
        assert_eq!(r(1), vec![[88, 162], [254, 499]]);
        assert_eq!(r(6), vec![[0, 79], [171, 245], [337, 499]]);
        assert_eq!(r(14), vec![[0, 328]]);
        let paths: Vec<Vec<usize>> = plan.splits.iter().map(|s| s.path_ids.clone()).collect();
        assert_eq!(paths[5], vec![1, 1]);
        assert_eq!(paths[14], vec![4, 4]);
    }
}
