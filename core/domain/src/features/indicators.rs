//! Causal indicator kernels on one series. Each output at `t` reads inputs at `t` and earlier only;
//! outputs are `NaN` until enough history exists. Windows are summed directly (O(n·w)) rather than
//! with running sums, so a value never carries rounding drift from far-away bars.

pub fn pct_change(x: &[f64], k: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; x.len()];
    for t in k..x.len() {
        out[t] = x[t] / x[t - k] - 1.0;
    }
    out
}

/// Value at `t - lag` (NaN for the first `lag` rows).
pub fn lag(x: &[f64], lag: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; x.len()];
    if lag < x.len() {
        out[lag..].copy_from_slice(&x[..x.len() - lag]);
    }
    out
}

/// Apply `f` to each full window `x[t+1-w..=t]` whose values are all finite.
fn rolling(x: &[f64], w: usize, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let mut out = vec![f64::NAN; x.len()];
    if w == 0 {
        return out;
    }
    for t in (w - 1)..x.len() {
        let win = &x[t + 1 - w..=t];
        if win.iter().all(|v| v.is_finite()) {
            out[t] = f(win);
        }
    }
    out
}

fn mean(win: &[f64]) -> f64 {
    win.iter().sum::<f64>() / win.len() as f64
}

/// Sample standard deviation (ddof = 1), as pandas' `rolling().std()`.
fn std(win: &[f64]) -> f64 {
    let m = mean(win);
    (win.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (win.len() as f64 - 1.0)).sqrt()
}

pub fn rolling_mean(x: &[f64], w: usize) -> Vec<f64> {
    rolling(x, w, mean)
}

pub fn rolling_std(x: &[f64], w: usize) -> Vec<f64> {
    rolling(x, w, std)
}

/// `(x[t] - mean) / std` over the trailing window including `t`; 0 where the window is flat.
pub fn rolling_zscore(x: &[f64], w: usize) -> Vec<f64> {
    rolling(x, w, |win| {
        let s = std(win);
        if s > 0.0 {
            (win[win.len() - 1] - mean(win)) / s
        } else {
            0.0
        }
    })
}

/// Wilder's moving average (RMA): seeded with the simple mean of the first `n` finite values,
/// then `a[t] = (a[t-1] * (n-1) + x[t]) / n`. Leading NaNs are skipped.
pub fn wilder(x: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; x.len()];
    let Some(start) = x.iter().position(|v| v.is_finite()) else {
        return out;
    };
    if n == 0 || start + n > x.len() {
        return out;
    }
    let seed_end = start + n - 1;
    let mut a = mean(&x[start..=seed_end]);
    out[seed_end] = a;
    for t in seed_end + 1..x.len() {
        a = (a * (n as f64 - 1.0) + x[t]) / n as f64;
        out[t] = a;
    }
    out
}

/// Exponential moving average with `alpha = 2 / (span + 1)`, started at the first finite value
/// (pandas `ewm(span, adjust=False)`).
pub fn ema(x: &[f64], span: usize) -> Vec<f64> {
    let alpha = 2.0 / (span as f64 + 1.0);
    let mut out = vec![f64::NAN; x.len()];
    let mut prev: Option<f64> = None;
    for (t, &v) in x.iter().enumerate() {
        if !v.is_finite() {
            continue;
        }
        let e = match prev {
            None => v,
            Some(p) => alpha * v + (1.0 - alpha) * p,
        };
        out[t] = e;
        prev = Some(e);
    }
    out
}

/// Wilder's RSI in [0, 100]; 100 when there are no losses in the smoothing, 50 when flat.
pub fn rsi(price: &[f64], n: usize) -> Vec<f64> {
    let mut gain = vec![f64::NAN; price.len()];
    let mut loss = vec![f64::NAN; price.len()];
    for t in 1..price.len() {
        let d = price[t] - price[t - 1];
        gain[t] = d.max(0.0);
        loss[t] = (-d).max(0.0);
    }
    let g = wilder(&gain, n);
    let l = wilder(&loss, n);
    g.iter()
        .zip(&l)
        .map(|(&g, &l)| {
            if g.is_nan() || l.is_nan() {
                f64::NAN
            } else if l == 0.0 {
                if g == 0.0 { 50.0 } else { 100.0 }
            } else {
                100.0 - 100.0 / (1.0 + g / l)
            }
        })
        .collect()
}

/// Wilder's average true range.
pub fn atr(high: &[f64], low: &[f64], close: &[f64], n: usize) -> Vec<f64> {
    let mut tr = vec![f64::NAN; close.len()];
    for t in 1..close.len() {
        let pc = close[t - 1];
        tr[t] = (high[t] - low[t])
            .max((high[t] - pc).abs())
            .max((low[t] - pc).abs());
    }
    wilder(&tr, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_matches_hand_computation() {
        let x = [1.0, 2.0, 4.0, 8.0];
        let m = rolling_mean(&x, 2);
        assert!(m[0].is_nan());
        assert_eq!(&m[1..], &[1.5, 3.0, 6.0]);
        let s = rolling_std(&x, 3);
        assert!((s[2] - (7.0f64 / 3.0).sqrt()).abs() < 1e-15);
        let z = rolling_zscore(&[1.0, 1.0, 1.0], 3);
        assert_eq!(z[2], 0.0);
    }

    #[test]
    fn rsi_extremes() {
        let up: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(rsi(&up, 14)[14], 100.0);
        assert!(rsi(&up, 14)[13].is_nan());
    }

    #[test]
    fn ema_matches_pandas_adjust_false() {
        // pandas: pd.Series([1,2,3]).ewm(span=3, adjust=False).mean() -> 1, 1.5, 2.25
        assert_eq!(ema(&[1.0, 2.0, 3.0], 3), vec![1.0, 1.5, 2.25]);
    }
}
