//! Every per-series metric, with the reference each one follows (see `mod.rs` for conventions).

use chrono::NaiveDate;
use serde::Serialize;

use super::drawdown::DrawdownTracker;
use super::moments::*;
use crate::metrics::MetricsSpec;

/// Per-series metrics. Keys are the JSON keys of `strider metrics` and `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesMetrics {
    /// Finite returns used.
    pub n_periods: usize,
    pub total_return: f64,
    pub cagr: f64,
    pub volatility: f64,
    pub sharpe: f64,
    pub sortino: f64,
    pub calmar: f64,
    pub max_drawdown: f64,
    pub longest_drawdown_days: i64,
    pub avg_drawdown: f64,
    pub win_rate: f64,
    pub hit_rate: f64,
    pub profit_factor: f64,
    pub payoff_ratio: f64,
    pub tail_ratio: f64,
    pub omega: f64,
    pub var_95: f64,
    pub cvar_95: f64,
    pub var_95_parametric: f64,
    pub cvar_95_parametric: f64,
    pub skew: f64,
    pub kurtosis: f64,
    pub best_day: f64,
    pub worst_day: f64,
    pub psr: f64,
    pub min_track_record_length: f64,
    /// Mean gross exposure (mean |position|); `null` without positions.
    pub exposure: Option<f64>,
    /// Mean one-way turnover per period, `0.5 * sum |w_t - w_{t-1}|`; `null` without positions.
    pub turnover: Option<f64>,
}

impl SeriesMetrics {
    /// Every numeric metric by its JSON key, with non-finite values intact (JSON turns them into
    /// `null`). `exposure` and `turnover` follow when positions were given.
    pub fn fields(&self) -> Vec<(&'static str, f64)> {
        let mut out = vec![
            ("n_periods", self.n_periods as f64),
            ("total_return", self.total_return),
            ("cagr", self.cagr),
            ("volatility", self.volatility),
            ("sharpe", self.sharpe),
            ("sortino", self.sortino),
            ("calmar", self.calmar),
            ("max_drawdown", self.max_drawdown),
            ("longest_drawdown_days", self.longest_drawdown_days as f64),
            ("avg_drawdown", self.avg_drawdown),
            ("win_rate", self.win_rate),
            ("hit_rate", self.hit_rate),
            ("profit_factor", self.profit_factor),
            ("payoff_ratio", self.payoff_ratio),
            ("tail_ratio", self.tail_ratio),
            ("omega", self.omega),
            ("var_95", self.var_95),
            ("cvar_95", self.cvar_95),
            ("var_95_parametric", self.var_95_parametric),
            ("cvar_95_parametric", self.cvar_95_parametric),
            ("skew", self.skew),
            ("kurtosis", self.kurtosis),
            ("best_day", self.best_day),
            ("worst_day", self.worst_day),
            ("psr", self.psr),
            ("min_track_record_length", self.min_track_record_length),
        ];
        if let (Some(e), Some(t)) = (self.exposure, self.turnover) {
            out.push(("exposure", e));
            out.push(("turnover", t));
        }
        out
    }
}

/// Per-period risk-free rate from an annual one: `(1 + rf)^(1/P) - 1`.
pub fn periodic_rf(annual: f64, periods: f64) -> f64 {
    if annual == 0.0 {
        0.0
    } else {
        (1.0 + annual).powf(1.0 / periods) - 1.0
    }
}

/// Per-period Sharpe ratio of excess returns (quantstats `sharpe(annualize=False)`).
pub fn sharpe_per_period(r: &[f64], spec: &MetricsSpec) -> f64 {
    let f = finite(r);
    (mean(&f) - periodic_rf(spec.risk_free, spec.periods_per_year)) / std(&f)
}

/// Annualised Sharpe ratio.
pub fn sharpe(r: &[f64], spec: &MetricsSpec) -> f64 {
    sharpe_per_period(r, spec) * spec.periods_per_year.sqrt()
}

/// Annualised Sharpe ratio over each trailing window of `window` periods (quantstats'
/// `rolling_sharpe`: pandas' rolling mean over rolling std, ddof 1). `NaN` until the first full
/// window.
pub fn rolling_sharpe(r: &[f64], window: usize, spec: &MetricsSpec) -> Vec<f64> {
    (0..r.len())
        .map(|t| {
            if window < 2 || t + 1 < window {
                f64::NAN
            } else {
                sharpe(&r[t + 1 - window..=t], spec)
            }
        })
        .collect()
}

/// The variance term of the Sharpe ratio's estimator: `1 - g3 SR + (g4 - 1)/4 SR^2`.
fn sr_variance_term(sr: f64, g3: f64, g4: f64) -> f64 {
    1.0 - g3 * sr + (g4 - 1.0) / 4.0 * sr * sr
}

fn psr_from(sr: f64, sr_star: f64, g3: f64, g4: f64, n: usize) -> f64 {
    norm_cdf((sr - sr_star) / (sr_variance_term(sr, g3, g4) / (n as f64 - 1.0)).sqrt())
}

fn min_trl_from(sr: f64, sr_star: f64, g3: f64, g4: f64) -> f64 {
    if sr <= sr_star {
        return f64::INFINITY;
    }
    1.0 + sr_variance_term(sr, g3, g4) * (norm_ppf(0.95) / (sr - sr_star)).powi(2)
}

/// PSR against `sr_star` (per period), quantstats' formula: `n` counts every observation,
/// moments are pandas' bias-adjusted skew and kurtosis (+3).
pub fn psr(r: &[f64], sr_star: f64, spec: &MetricsSpec) -> f64 {
    let f = finite(r);
    psr_from(
        sharpe_per_period(r, spec),
        sr_star,
        skew(&f),
        kurtosis(&f) + 3.0,
        r.len(),
    )
}

/// Minimum track record length (Bailey & López de Prado 2012) at 95% confidence against
/// `sr_star`, in periods: `1 + (1 - g3 SR + (g4-1)/4 SR^2) (z_0.95 / (SR - SR*))^2`; infinite
/// when the Sharpe ratio does not exceed `sr_star`.
pub fn min_track_record_length(r: &[f64], sr_star: f64, spec: &MetricsSpec) -> f64 {
    let f = finite(r);
    min_trl_from(
        sharpe_per_period(r, spec),
        sr_star,
        skew(&f),
        kurtosis(&f) + 3.0,
    )
}

/// Mean gross exposure and mean one-way turnover of per-period weight rows.
fn exposure_turnover(rows: &[Vec<f64>]) -> (f64, f64) {
    let (mut gross, mut turn) = (0.0, 0.0);
    let mut prev: Option<&Vec<f64>> = None;
    for w in rows {
        gross += w.iter().map(|v| v.abs()).sum::<f64>();
        turn += 0.5
            * match prev {
                Some(pw) => w.iter().zip(pw).map(|(a, b)| (a - b).abs()).sum::<f64>(),
                None => w.iter().map(|v| v.abs()).sum::<f64>(),
            };
        prev = Some(w);
    }
    let n = rows.len() as f64;
    (gross / n, turn / n)
}

/// All metrics of one series. `dates` align with `returns`; `positions` (if known) hold the
/// per-period weights of each instrument, one row per period.
///
/// Two passes over the data plus two O(n) selections: the first pass compounds, counts and
/// tracks drawdowns; the second takes centred moments and the risk-free-adjusted sums.
pub fn series_metrics(
    dates: &[NaiveDate],
    returns: &[f64],
    positions: Option<&[Vec<f64>]>,
    spec: &MetricsSpec,
) -> SeriesMetrics {
    let p = spec.periods_per_year;
    let rf = periodic_rf(spec.risk_free, p);
    let mut f = Vec::with_capacity(returns.len());
    let mut dd = DrawdownTracker::default();
    let (mut sum, mut growth, mut gains) = (0.0, 1.0, 0.0);
    let (mut pos_n, mut pos_sum, mut neg_n, mut neg_sum, mut nonzero) =
        (0usize, 0.0, 0usize, 0.0, 0usize);
    let (mut best, mut worst) = (f64::NAN, f64::NAN);
    for &r in returns {
        dd.push(r);
        if !r.is_finite() {
            continue;
        }
        f.push(r);
        sum += r;
        growth *= 1.0 + r;
        best = best.max(r);
        worst = worst.min(r);
        if r >= 0.0 {
            gains += r;
        }
        if r > 0.0 {
            pos_n += 1;
            pos_sum += r;
        } else if r < 0.0 {
            neg_n += 1;
            neg_sum += r;
        }
        if r != 0.0 {
            nonzero += 1;
        }
    }
    let n = f.len();
    let nf = n as f64;
    let mu = sum / nf;
    let (mut m2, mut m3, mut m4, mut down2, mut above, mut below) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for &r in &f {
        let d = r - mu;
        let d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
        let x = r - rf;
        if x < 0.0 {
            down2 += x * x;
            below -= x;
        } else {
            above += x;
        }
    }
    let sd = (m2 / (nf - 1.0)).sqrt();
    let g3 = if n < 3 {
        f64::NAN
    } else if m2 == 0.0 {
        0.0
    } else {
        (nf * (nf - 1.0)).sqrt() / (nf - 2.0) * (m3 / nf) / (m2 / nf).powf(1.5)
    };
    let g2 = if n < 4 {
        f64::NAN
    } else if m2 == 0.0 {
        0.0
    } else {
        nf * (nf + 1.0) * (nf - 1.0) * m4 / ((nf - 2.0) * (nf - 3.0) * m2 * m2)
            - 3.0 * (nf - 1.0) * (nf - 1.0) / ((nf - 2.0) * (nf - 3.0))
    };
    let sr = (mu - rf) / sd;
    let years = nf / p;
    let cagr = if n == 0 || growth < 0.0 {
        f64::NAN
    } else {
        growth.powf(1.0 / years) - 1.0
    };
    let mdd = dd.max_drawdown();
    let eps = dd.episodes(dates);
    let q05 = quantile_select(&mut f, 0.05);
    let q95 = quantile_select(&mut f, 0.95);
    let (tail_n, tail_sum) = f
        .iter()
        .filter(|v| **v <= q05)
        .fold((0usize, 0.0), |(c, s), v| (c + 1, s + v));
    let downside = (down2 / nf).sqrt();
    let alpha = 0.05;
    let (exposure, turnover) = match positions {
        Some(rows) if !rows.is_empty() => {
            let (e, t) = exposure_turnover(rows);
            (Some(e), Some(t))
        }
        _ => (None, None),
    };
    SeriesMetrics {
        n_periods: n,
        total_return: growth - 1.0,
        cagr,
        volatility: sd * p.sqrt(),
        sharpe: sr * p.sqrt(),
        sortino: if downside > 0.0 {
            (mu - rf) / downside * p.sqrt()
        } else {
            f64::NAN
        },
        calmar: if mdd < 0.0 {
            cagr / mdd.abs()
        } else {
            f64::NAN
        },
        max_drawdown: mdd,
        longest_drawdown_days: eps.iter().map(|e| e.days).max().unwrap_or(0),
        avg_drawdown: if eps.is_empty() {
            0.0
        } else {
            eps.iter().map(|e| e.max_drawdown).sum::<f64>() / eps.len() as f64
        },
        win_rate: if nonzero == 0 {
            f64::NAN
        } else {
            pos_n as f64 / nonzero as f64
        },
        hit_rate: pos_n as f64 / nf,
        profit_factor: if neg_sum == 0.0 {
            if gains > 0.0 { f64::INFINITY } else { 0.0 }
        } else {
            gains / neg_sum.abs()
        },
        payoff_ratio: (pos_sum / pos_n as f64) / (neg_sum / neg_n as f64).abs(),
        tail_ratio: if q05 == 0.0 {
            f64::NAN
        } else {
            (q95 / q05).abs()
        },
        omega: if below > 0.0 { above / below } else { f64::NAN },
        var_95: q05,
        cvar_95: if tail_n == 0 {
            f64::NAN
        } else {
            tail_sum / tail_n as f64
        },
        var_95_parametric: mu + sd * norm_ppf(alpha),
        cvar_95_parametric: if sd == 0.0 || sd.is_nan() {
            mu
        } else {
            mu - sd * norm_pdf(norm_ppf(alpha)) / alpha
        },
        skew: g3,
        kurtosis: g2,
        best_day: best,
        worst_day: worst,
        psr: psr_from(sr, 0.0, g3, g2 + 3.0, returns.len()),
        min_track_record_length: min_trl_from(sr, 0.0, g3, g2 + 3.0),
        exposure,
        turnover,
    }
}
