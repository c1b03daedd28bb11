//! Walk-forward over positions: skfolio 1.12 `WalkForward(test_size, train_size, purged_size,
//! expand_train, reduce_test)` with integer sizes, generalised by `step` (test starts advance by
//! `step`; skfolio's case is `step == test_size`).

use super::{Split, Window};
use crate::{Error, Result};

pub fn walk_forward(
    n: usize,
    train_size: usize,
    test_size: usize,
    step: usize,
    gap: usize,
    window: Window,
    reduce_test: bool,
) -> Result<Vec<Split>> {
    for (name, v) in [
        ("test_size", test_size),
        ("train_size", train_size),
        ("step", step),
    ] {
        if v == 0 {
            return Err(Error::Split(format!(
                "{name} must be a positive integer, got {v}"
            )));
        }
    }
    // Sizes come from users: every sum is checked, so a huge gap is an error, never a wrap that
    // would put test rows before training rows.
    let total = train_size.saturating_add(gap);
    if total >= n {
        return Err(Error::Split(format!(
            "The sum of `train_size={train_size}` and `purged_size={gap}` (total={total}) must be \
             less than the number of observations={n}."
        )));
    }
    let mut out = Vec::new();
    let mut test_start = total;
    while test_start < n {
        let test_end = test_start.saturating_add(test_size);
        let train_end = test_start - gap;
        let train_start = match window {
            Window::Expanding => 0,
            Window::Rolling => train_end - train_size,
        };
        if test_end > n && !reduce_test {
            break;
        }
        out.push(Split::single(
            (train_start..train_end).collect(),
            (test_start..test_end.min(n)).collect(),
        ));
        match test_start.checked_add(step) {
            Some(next) => test_start = next,
            None => break,
        }
    }
    if out.is_empty() {
        return Err(Error::Split(format!(
            "no complete test window: train_size={train_size} + gap={gap} + test_size={test_size} \
             exceeds the number of observations={n} (set reduce_test = true to keep a short one)"
        )));
    }
    Ok(out)
}
