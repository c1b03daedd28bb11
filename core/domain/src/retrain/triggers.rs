//! Each trigger as a pure test of what the service has seen, returning the evidence it fired on
//! (logged with the event) or `None`.

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::live::{Matured, live_metric};
use super::spec::{DataDriftTrigger, ModelDriftTrigger, PerformanceTrigger, ScheduleTrigger};
use crate::backtest::PortfolioDay;
use crate::metrics::MetricsSpec;

/// What fired, with its evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    /// `performance`, `schedule`, `data_drift`, `model_drift` or `manual`.
    pub trigger: &'static str,
    pub evidence: Value,
}

/// The live statistic over the last `window` days (and the matured predictions of those days)
/// is below the bound. Needs a full window.
pub fn performance(
    t: &PerformanceTrigger,
    days: &[PortfolioDay],
    matured: &[Matured],
    spec: &MetricsSpec,
) -> Option<Fired> {
    if days.len() < t.window {
        return None;
    }
    let value = live_metric(t.metric, &days[days.len() - t.window..], matured, spec)?;
    (value < t.below).then(|| Fired {
        trigger: "performance",
        evidence: json!({"metric": t.metric, "window": t.window, "value": value, "below": t.below}),
    })
}

/// `every_bars` bars passed since the last retrain, or (as the caller found) a cron time passed
/// since the previous bar.
pub fn schedule(
    s: &ScheduleTrigger,
    date: NaiveDate,
    bars_since_retrain: Option<usize>,
    cron_due: bool,
) -> Option<Fired> {
    if let (Some(every), Some(since)) = (s.every_bars, bars_since_retrain)
        && since >= every
    {
        return Some(Fired {
            trigger: "schedule",
            evidence: json!({"every_bars": every, "bars_since_retrain": since}),
        });
    }
    cron_due.then(|| Fired {
        trigger: "schedule",
        evidence: json!({"cron": s.cron, "due_by": date.to_string()}),
    })
}

/// The share of drifted features (training window against the latest window) reaches the bound.
pub fn data_drift(
    d: &DataDriftTrigger,
    reference: &[(String, Vec<f64>)],
    current: &[(String, Vec<f64>)],
) -> Option<Fired> {
    let drift = strider_drift::table_drift(reference, current, &d.thresholds).ok()?;
    if !drift.drift {
        return None;
    }
    let drifted: Vec<Value> = drift
        .columns
        .iter()
        .filter(|(_, c)| c.drifted)
        .map(|(name, c)| {
            json!({"feature": name, "psi": c.psi, "ks_statistic": c.ks_statistic, "ks_pvalue": c.ks_pvalue})
        })
        .collect();
    Some(Fired {
        trigger: "data_drift",
        evidence: json!({
            "share_drifted": drift.share_drifted,
            "share": d.thresholds.share,
            "window": d.window,
            "drifted": drifted,
        }),
    })
}

/// The champion's latest scores drifted from its in-sample scores (PSI at or above the bound).
pub fn prediction_drift(m: &ModelDriftTrigger, in_sample: &[f64], latest: &[f64]) -> Option<Fired> {
    let bound = m.psi?;
    let psi = strider_drift::psi(in_sample, latest)?;
    (psi >= bound).then(|| Fired {
        trigger: "model_drift",
        evidence: json!({"check": "prediction_psi", "psi": psi, "bound": bound, "window": m.window}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retrain::spec::LiveMetric;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn schedule_by_bars_and_by_cron() {
        let s = ScheduleTrigger {
            cron: Some("0 0 * * MON".into()),
            every_bars: Some(10),
        };
        assert!(schedule(&s, d("2024-01-03"), Some(10), false).is_some());
        assert!(schedule(&s, d("2024-01-03"), Some(3), false).is_none());
        let cron = schedule(&s, d("2024-01-09"), Some(3), true).unwrap();
        assert_eq!(cron.evidence["due_by"], "2024-01-09");
    }

    #[test]
    fn performance_needs_a_full_window_below_the_bound() {
        let t = PerformanceTrigger {
            metric: LiveMetric::Sharpe,
            window: 5,
            below: 0.0,
        };
        let day = |r: f64| PortfolioDay {
            date: d("2024-01-01"),
            strategy: r,
            gross: r,
            cost: 0.0,
            benchmark: 0.0,
            exposure: 1.0,
            turnover: 0.0,
        };
        let losing: Vec<PortfolioDay> = [-0.01, -0.02, 0.005, -0.01, -0.003]
            .into_iter()
            .map(day)
            .collect();
        let ms = MetricsSpec::default();
        assert!(performance(&t, &losing[..4], &[], &ms).is_none());
        let fired = performance(&t, &losing, &[], &ms).unwrap();
        assert!(fired.evidence["value"].as_f64().unwrap() < 0.0);
    }

    #[test]
    fn a_shifted_feature_is_data_drift() {
        let t = DataDriftTrigger {
            window: 60,
            reference_bars: 250,
            every: 1,
            thresholds: Default::default(),
        };
        let base: Vec<f64> = (0..200).map(|i| ((i * 37) % 101) as f64).collect();
        let reference = vec![("ret".to_string(), base.clone())];
        let same = vec![("ret".to_string(), base[..60].to_vec())];
        let shifted = vec![(
            "ret".to_string(),
            base[..60].iter().map(|x| x + 80.0).collect(),
        )];
        assert!(data_drift(&t, &reference, &same).is_none());
        assert!(data_drift(&t, &reference, &shifted).is_some());
    }
}
