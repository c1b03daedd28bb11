//! Every per-series metric, with the reference each one follows (see `mod.rs` for conventions).

use chrono::NaiveDate;
use serde::Serialize;

use super::drawdown::{DrawdownTracker, Episode};
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
    let mut first = FirstPass::over(returns);
    let n = first.finite.len();
    let nf = n as f64;
    let mu = first.sum / nf;
    let second = SecondPass::over(&first.finite, mu, rf);
    let sd = (second.m2 / (nf - 1.0)).sqrt();
    let g3 = second.skew(n);
    let g2 = second.excess_kurtosis(n);
    let sr = (mu - rf) / sd;
    let cagr = first.cagr(nf / p);
    let mdd = first.dd.max_drawdown();
    let eps = first.dd.episodes(dates);
    // Selections reorder the finite returns; the tail sums follow that order (as before).
    let tails = Tails::select(&mut first.finite);
    let downside = (second.down2 / nf).sqrt();
    let (var_95_parametric, cvar_95_parametric) = parametric_var_cvar(mu, sd);
    let (exposure, turnover) = match positions {
        Some(rows) if !rows.is_empty() => {
            let (e, t) = exposure_turnover(rows);
            (Some(e), Some(t))
        }
        _ => (None, None),
    };
    SeriesMetrics {
        n_periods: n,
        total_return: first.growth - 1.0,
        cagr,
        volatility: sd * p.sqrt(),
        sharpe: sr * p.sqrt(),
        sortino: sortino(mu - rf, downside, p),
        calmar: calmar(cagr, mdd),
        max_drawdown: mdd,
        longest_drawdown_days: eps.iter().map(|e| e.days).max().unwrap_or(0),
        avg_drawdown: mean_episode_depth(&eps),
        win_rate: first.win_rate(),
        hit_rate: first.pos_n as f64 / nf,
        profit_factor: first.profit_factor(),
        payoff_ratio: first.payoff_ratio(),
        tail_ratio: tails.tail_ratio(),
        omega: second.omega(),
        var_95: tails.q05,
        cvar_95: tails.cvar(),
        var_95_parametric,
        cvar_95_parametric,
        skew: g3,
        kurtosis: g2,
        best_day: first.best,
        worst_day: first.worst,
        psr: psr_from(sr, 0.0, g3, g2 + 3.0, returns.len()),
        min_track_record_length: min_trl_from(sr, 0.0, g3, g2 + 3.0),
        exposure,
        turnover,
    }
}

/// First pass: compounds, counts and sums the finite returns and tracks drawdowns (which see
/// every period, non-finite ones as 0).
struct FirstPass {
    /// The finite returns, in order.
    finite: Vec<f64>,
    dd: DrawdownTracker,
    sum: f64,
    growth: f64,
    /// Sum of the returns >= 0 (quantstats' profit factor numerator).
    gains: f64,
    pos_n: usize,
    pos_sum: f64,
    neg_n: usize,
    neg_sum: f64,
    nonzero: usize,
    best: f64,
    worst: f64,
}

impl FirstPass {
    fn over(returns: &[f64]) -> Self {
        let mut s = FirstPass {
            finite: Vec::with_capacity(returns.len()),
            dd: DrawdownTracker::default(),
            sum: 0.0,
            growth: 1.0,
            gains: 0.0,
            pos_n: 0,
            pos_sum: 0.0,
            neg_n: 0,
            neg_sum: 0.0,
            nonzero: 0,
            best: f64::NAN,
            worst: f64::NAN,
        };
        for &r in returns {
            s.dd.push(r);
            if r.is_finite() {
                s.add(r);
            }
        }
        s
    }

    fn add(&mut self, r: f64) {
        self.finite.push(r);
        self.sum += r;
        self.growth *= 1.0 + r;
        self.best = self.best.max(r);
        self.worst = self.worst.min(r);
        if r >= 0.0 {
            self.gains += r;
        }
        if r > 0.0 {
            self.pos_n += 1;
            self.pos_sum += r;
        } else if r < 0.0 {
            self.neg_n += 1;
            self.neg_sum += r;
        }
        if r != 0.0 {
            self.nonzero += 1;
        }
    }

    /// Compound annual growth over `years`; `NaN` without returns or after a loss beyond -100%.
    fn cagr(&self, years: f64) -> f64 {
        if self.finite.is_empty() || self.growth < 0.0 {
            f64::NAN
        } else {
            self.growth.powf(1.0 / years) - 1.0
        }
    }

    /// Share of positive returns among the non-zero ones (quantstats ignores flat periods).
    fn win_rate(&self) -> f64 {
        if self.nonzero == 0 {
            f64::NAN
        } else {
            self.pos_n as f64 / self.nonzero as f64
        }
    }

    /// Gains over losses; infinite with gains and no losses, 0 with neither.
    fn profit_factor(&self) -> f64 {
        if self.neg_sum == 0.0 {
            if self.gains > 0.0 { f64::INFINITY } else { 0.0 }
        } else {
            self.gains / self.neg_sum.abs()
        }
    }

    /// Mean win over mean loss.
    fn payoff_ratio(&self) -> f64 {
        (self.pos_sum / self.pos_n as f64) / (self.neg_sum / self.neg_n as f64).abs()
    }
}

/// Second pass: centred moments about the mean `mu`, and the downside / upside sums of the
/// returns in excess of the per-period risk-free rate.
struct SecondPass {
    m2: f64,
    m3: f64,
    m4: f64,
    down2: f64,
    above: f64,
    below: f64,
}

impl SecondPass {
    fn over(finite: &[f64], mu: f64, rf: f64) -> Self {
        let (mut m2, mut m3, mut m4, mut down2, mut above, mut below) =
            (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        for &r in finite {
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
        SecondPass {
            m2,
            m3,
            m4,
            down2,
            above,
            below,
        }
    }

    /// pandas' bias-adjusted skew of `n` returns: `NaN` below 3, 0 for a constant series.
    fn skew(&self, n: usize) -> f64 {
        let (nf, m2, m3) = (n as f64, self.m2, self.m3);
        if n < 3 {
            f64::NAN
        } else if m2 == 0.0 {
            0.0
        } else {
            (nf * (nf - 1.0)).sqrt() / (nf - 2.0) * (m3 / nf) / (m2 / nf).powf(1.5)
        }
    }

    /// pandas' bias-adjusted excess kurtosis of `n` returns: `NaN` below 4, 0 for a constant
    /// series.
    fn excess_kurtosis(&self, n: usize) -> f64 {
        let (nf, m2, m4) = (n as f64, self.m2, self.m4);
        if n < 4 {
            f64::NAN
        } else if m2 == 0.0 {
            0.0
        } else {
            nf * (nf + 1.0) * (nf - 1.0) * m4 / ((nf - 2.0) * (nf - 3.0) * m2 * m2)
                - 3.0 * (nf - 1.0) * (nf - 1.0) / ((nf - 2.0) * (nf - 3.0))
        }
    }

    /// Excess gains over excess losses; `NaN` without a loss.
    fn omega(&self) -> f64 {
        if self.below > 0.0 {
            self.above / self.below
        } else {
            f64::NAN
        }
    }
}

/// The 5% and 95% quantiles and the returns at or below the 5% one.
struct Tails {
    q05: f64,
    q95: f64,
    tail_n: usize,
    tail_sum: f64,
}

impl Tails {
    /// Selects in place (reordering `finite`), then sums the left tail in the resulting order.
    fn select(finite: &mut [f64]) -> Self {
        let q05 = quantile_select(finite, 0.05);
        let q95 = quantile_select(finite, 0.95);
        let (tail_n, tail_sum) = finite
            .iter()
            .filter(|v| **v <= q05)
            .fold((0usize, 0.0), |(c, s), v| (c + 1, s + v));
        Tails {
            q05,
            q95,
            tail_n,
            tail_sum,
        }
    }

    fn tail_ratio(&self) -> f64 {
        if self.q05 == 0.0 {
            f64::NAN
        } else {
            (self.q95 / self.q05).abs()
        }
    }

    /// Historical CVaR: mean of the returns at or below the 5% quantile.
    fn cvar(&self) -> f64 {
        if self.tail_n == 0 {
            f64::NAN
        } else {
            self.tail_sum / self.tail_n as f64
        }
    }
}

/// Gaussian VaR and CVaR at 95%; a flat (or undefined) volatility leaves the CVaR at the mean.
fn parametric_var_cvar(mu: f64, sd: f64) -> (f64, f64) {
    let alpha = 0.05;
    let var = mu + sd * norm_ppf(alpha);
    let cvar = if sd == 0.0 || sd.is_nan() {
        mu
    } else {
        mu - sd * norm_pdf(norm_ppf(alpha)) / alpha
    };
    (var, cvar)
}

/// Annualised excess mean over downside deviation; `NaN` without downside.
fn sortino(excess_mean: f64, downside: f64, periods: f64) -> f64 {
    if downside > 0.0 {
        excess_mean / downside * periods.sqrt()
    } else {
        f64::NAN
    }
}

/// CAGR over the depth of the maximum drawdown; `NaN` without a drawdown.
fn calmar(cagr: f64, max_drawdown: f64) -> f64 {
    if max_drawdown < 0.0 {
        cagr / max_drawdown.abs()
    } else {
        f64::NAN
    }
}

/// Mean depth of the drawdown episodes; 0 without any.
fn mean_episode_depth(eps: &[Episode]) -> f64 {
    if eps.is_empty() {
        0.0
    } else {
        eps.iter().map(|e| e.max_drawdown).sum::<f64>() / eps.len() as f64
    }
}
