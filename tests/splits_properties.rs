//! The splitters over the whole `usize` range (issue: hardening): any parameters give a clear
//! error or a plan in which every split is in range, train and test are disjoint, and no training
//! sample reaches into the test window it is evaluated on (gap, purge and embargo respected).
//! Never a panic, a wrap-around or an endless loop.

use proptest::prelude::*;
use strider_core::splits::{MAX_SAMPLES, SplitPlan, SplitSpec, Window};

/// Small values (where plans exist), values near the top of the range and anything between.
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..40,
        1 => any::<usize>(),
        1 => (usize::MAX - 64)..=usize::MAX,
        1 => Just(MAX_SAMPLES + 1),
    ]
}

fn samples() -> impl Strategy<Value = usize> {
    prop_oneof![8 => 0usize..300, 1 => any::<usize>(), 1 => Just(MAX_SAMPLES + 1)]
}

/// In range, disjoint, sorted; every training index before a test group ends at least `before`
/// samples ahead of it, and none lies within `after` samples behind it.
fn check(plan: &SplitPlan, n: usize, before: usize, after: usize) -> Result<(), TestCaseError> {
    for s in &plan.splits {
        prop_assert!(s.train.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(s.test.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(s.train.iter().chain(&s.test).all(|&i| i < n));
        prop_assert!(s.train.iter().all(|i| s.test.binary_search(i).is_err()));
        for g in s.test_groups.iter().filter(|g| !g.is_empty()) {
            let (lo, hi) = (g[0], g[g.len() - 1]);
            for &i in &s.train {
                if i < lo {
                    prop_assert!(
                        i.saturating_add(before) < lo,
                        "train {} vs test {}..{}",
                        i,
                        lo,
                        hi
                    );
                } else {
                    prop_assert!(
                        i > hi.saturating_add(after),
                        "train {} vs test {}..{}",
                        i,
                        lo,
                        hi
                    );
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn time_series_split(n in samples(), k in size(), max_train in proptest::option::of(size()),
                         test in proptest::option::of(size()), gap in size()) {
        let spec = SplitSpec::Tss { n_splits: k, max_train_size: max_train, test_size: test, gap: Some(gap) };
        if let Ok(plan) = spec.plan(n, None, 0) {
            // Forward only: nothing after the test window trains.
            check(&plan, n, gap, usize::MAX)?;
        }
    }

    #[test]
    fn walk_forward(n in samples(), train in size(), test in size(), step in proptest::option::of(size()),
                    gap in size(), expanding in any::<bool>(), reduce in any::<bool>()) {
        let window = if expanding { Window::Expanding } else { Window::Rolling };
        let spec = SplitSpec::WalkForward {
            train_size: train, test_size: test, step, gap: Some(gap), window, reduce_test: reduce,
        };
        if let Ok(plan) = spec.plan(n, None, 0) {
            check(&plan, n, gap, usize::MAX)?;
            for s in &plan.splits {
                prop_assert!(!s.test.is_empty());
                prop_assert!(expanding || s.train.len() <= train);
            }
        }
    }

    #[test]
    fn purged_kfold(n in samples(), k in size(), purge in size(), embargo in size()) {
        let spec = SplitSpec::PurgedKfold { n_splits: k, purge: Some(purge), embargo };
        if let Ok(plan) = spec.plan(n, None, 0) {
            // AFML: a label ending at the test's first bar may train (its return ends there),
            // and the embargo counts from the bar where the test's last label ends.
            let after = purge.saturating_add(embargo).saturating_sub(1);
            check(&plan, n, purge.saturating_sub(1), after)?;
        }
    }

    #[test]
    fn cpcv(n in samples(), folds in size(), test_folds in size(), purge in size(), embargo in size()) {
        let spec = SplitSpec::Cpcv { n_folds: folds, n_test_folds: test_folds, purge: Some(purge), embargo };
        if let Ok(plan) = spec.plan(n, None, 0) {
            check(&plan, n, purge, purge.saturating_add(embargo))?;
        }
    }
}
