//! Market regimes of the out-of-sample days, from the benchmark's own trailing returns (known on
//! each day): high and low realised-volatility terciles, and up and down trends.

/// Trailing window of the regime measures, in bars.
pub const REGIME_WINDOW: usize = 63;

/// `(name, day indices)` of each regime; days without a full trailing window are in none.
pub fn regimes(benchmark: &[f64]) -> Vec<(&'static str, Vec<usize>)> {
    let w = REGIME_WINDOW;
    if benchmark.len() <= w + 2 {
        return Vec::new();
    }
    let days: Vec<usize> = (w..benchmark.len()).collect();
    let vol: Vec<f64> = days
        .iter()
        .map(|&t| crate::metrics::std(&benchmark[t - w..t]))
        .collect();
    let trend: Vec<f64> = days
        .iter()
        .map(|&t| benchmark[t - w..t].iter().sum())
        .collect();
    let mut sorted: Vec<f64> = vol.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return Vec::new();
    }
    let q = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
    let (low, high) = (q(1.0 / 3.0), q(2.0 / 3.0));
    let pick = |f: &dyn Fn(usize) -> bool| -> Vec<usize> {
        (0..days.len()).filter(|&i| f(i)).map(|i| days[i]).collect()
    };
    vec![
        ("high volatility", pick(&|i| vol[i] >= high)),
        ("low volatility", pick(&|i| vol[i] <= low)),
        ("up trend", pick(&|i| trend[i] > 0.0)),
        ("down trend", pick(&|i| trend[i] <= 0.0)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calm_then_wild_days_split_into_volatility_terciles_and_trends() {
        let mut b: Vec<f64> = (0..300)
            .map(|i| if i % 2 == 0 { 0.001 } else { -0.0005 })
            .collect();
        b.extend((0..300).map(|i| if i % 2 == 0 { 0.03 } else { -0.035 }));
        let r = regimes(&b);
        let get = |n: &str| r.iter().find(|x| x.0 == n).unwrap().1.clone();
        assert!(get("high volatility").iter().all(|&t| t >= 300));
        assert!(
            get("low volatility")
                .iter()
                .all(|&t| t < 300 + REGIME_WINDOW)
        );
        assert!(get("up trend").iter().all(|&t| t < 300 + REGIME_WINDOW));
        assert!(regimes(&b[..50]).is_empty());
    }
}
