//! Non-negative weights that sum to one: constrained least squares, or the largest Sharpe ratio
//! of the weighted members' strategy returns. Both by projected gradient on the simplex, a fixed
//! number of deterministic steps (same input, same bits, natively and in wasm).

const STEPS: usize = 3000;

/// Euclidean projection onto the probability simplex (Duchi et al. 2008).
pub fn project_simplex(v: &[f64]) -> Vec<f64> {
    let mut u: Vec<f64> = v.to_vec();
    u.sort_by(|a, b| b.total_cmp(a));
    let mut css = 0.0;
    let mut theta = 0.0;
    for (j, x) in u.iter().enumerate() {
        css += x;
        let t = (css - 1.0) / (j + 1) as f64;
        if x - t > 0.0 {
            theta = t;
        }
    }
    v.iter().map(|x| (x - theta).max(0.0)).collect()
}

/// `argmin ||P w - y||²` over the simplex; `p[member][row]`.
pub fn least_squares(p: &[Vec<f64>], y: &[f64]) -> Vec<f64> {
    let k = p.len();
    let n = y.len().max(1) as f64;
    // Gram matrix and P'y, scaled by 1/n.
    let gram: Vec<Vec<f64>> = (0..k)
        .map(|a| (0..k).map(|b| dot(&p[a], &p[b]) / n).collect())
        .collect();
    let py: Vec<f64> = (0..k).map(|a| dot(&p[a], y) / n).collect();
    // Step 1/L with L = 2 * trace bound on the largest eigenvalue.
    let trace: f64 = (0..k).map(|a| gram[a][a]).sum();
    if !positive(trace) {
        return vec![1.0 / k as f64; k];
    }
    let step = 1.0 / (2.0 * trace);
    let mut w = vec![1.0 / k as f64; k];
    for _ in 0..STEPS {
        let g: Vec<f64> = (0..k)
            .map(|a| 2.0 * ((0..k).map(|b| gram[a][b] * w[b]).sum::<f64>() - py[a]))
            .collect();
        let next = project_simplex(
            &w.iter()
                .zip(&g)
                .map(|(w, g)| w - step * g)
                .collect::<Vec<_>>(),
        );
        w = next;
    }
    w
}

/// The simplex weights with the largest Sharpe ratio of `sum_i w_i s_i`; `s[member][row]` are
/// per-row strategy returns. Starts from equal weights and keeps the best point visited.
pub fn max_sharpe(s: &[Vec<f64>]) -> Vec<f64> {
    let k = s.len();
    let n = s.first().map_or(0, Vec::len);
    let mut w = vec![1.0 / k as f64; k];
    if n < 2 {
        return w;
    }
    let means: Vec<f64> = s.iter().map(|r| r.iter().sum::<f64>() / n as f64).collect();
    let cov: Vec<Vec<f64>> = (0..k)
        .map(|a| {
            (0..k)
                .map(|b| {
                    s[a].iter()
                        .zip(&s[b])
                        .map(|(x, y)| (x - means[a]) * (y - means[b]))
                        .sum::<f64>()
                        / (n - 1) as f64
                })
                .collect()
        })
        .collect();
    let sharpe = |w: &[f64]| {
        let m: f64 = w.iter().zip(&means).map(|(w, m)| w * m).sum();
        let v: f64 = (0..k)
            .map(|a| (0..k).map(|b| w[a] * w[b] * cov[a][b]).sum::<f64>())
            .sum();
        if v > 0.0 {
            m / v.sqrt()
        } else {
            f64::NEG_INFINITY
        }
    };
    let mut best = (sharpe(&w), w.clone());
    for t in 0..STEPS {
        let m: f64 = w.iter().zip(&means).map(|(w, m)| w * m).sum();
        let cw: Vec<f64> = (0..k)
            .map(|a| (0..k).map(|b| cov[a][b] * w[b]).sum())
            .collect();
        let v: f64 = w.iter().zip(&cw).map(|(w, c)| w * c).sum();
        if !positive(v) {
            break;
        }
        let sd = v.sqrt();
        let g: Vec<f64> = (0..k)
            .map(|a| (means[a] * v - m * cw[a]) / (v * sd))
            .collect();
        let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
        if !positive(norm) {
            break;
        }
        let eta = 0.1 / ((t + 1) as f64).sqrt();
        w = project_simplex(
            &w.iter()
                .zip(&g)
                .map(|(w, g)| w + eta * g / norm)
                .collect::<Vec<_>>(),
        );
        let sr = sharpe(&w);
        if sr > best.0 {
            best = (sr, w.clone());
        }
    }
    best.1
}

/// Finite and above zero (NaN is not).
fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projection_lands_on_the_simplex() {
        assert_eq!(project_simplex(&[0.2, 0.3, 0.5]), vec![0.2, 0.3, 0.5]);
        assert_eq!(project_simplex(&[2.0, 0.0]), vec![1.0, 0.0]);
        let w = project_simplex(&[0.5, 0.5, 0.5]);
        assert!(w.iter().all(|x| (x - 1.0 / 3.0).abs() < 1e-15));
    }

    #[test]
    fn least_squares_finds_the_member_that_is_the_label() {
        let y: Vec<f64> = (0..50).map(|i| ((i * 7919) % 13) as f64 - 6.0).collect();
        let noise: Vec<f64> = (0..50).map(|i| ((i * 104_729) % 11) as f64 - 5.0).collect();
        let w = least_squares(&[noise, y.clone()], &y);
        assert!(w[1] > 0.999 && w[0] < 1e-3, "{w:?}");
        // A mix: y = 0.3 a + 0.7 b exactly.
        let a: Vec<f64> = (0..40).map(|i| (i as f64).sin()).collect();
        let b: Vec<f64> = (0..40).map(|i| (i as f64 * 0.7).cos()).collect();
        let y: Vec<f64> = a.iter().zip(&b).map(|(a, b)| 0.3 * a + 0.7 * b).collect();
        let w = least_squares(&[a, b], &y);
        assert!(
            (w[0] - 0.3).abs() < 1e-6 && (w[1] - 0.7).abs() < 1e-6,
            "{w:?}"
        );
    }

    #[test]
    fn max_sharpe_prefers_the_steadier_member_and_mixes_uncorrelated_ones() {
        let good: Vec<f64> = (0..200)
            .map(|i| 0.01 + 0.01 * ((i % 2) as f64 - 0.5))
            .collect();
        let bad: Vec<f64> = (0..200)
            .map(|i| 0.0 + 0.02 * ((i % 3) as f64 - 1.0))
            .collect();
        let w = max_sharpe(&[bad, good]);
        assert!(w[1] > 0.95, "{w:?}");
    }
}
