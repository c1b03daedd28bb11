//! The `live` event written after every bar: the champion's paper trading since it took office,
//! the drift statistics measured on the bar, and an A/B trial's progress. It is what the
//! monitor (`GET /metrics`, `GET /status`, `strider monitor`) shows, and, being in the event
//! log, it survives restarts like every other decision.

use chrono::NaiveDate;
use serde_json::{Map, Value, json};
use strider_core::metrics::{drawdown_series, max_drawdown};
use strider_core::retrain::{LiveMetric, live_metric};

use super::Watcher;
use super::paper::matured;

/// Drift statistics measured on the current bar (whether or not a trigger fired).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Gauges {
    pub share_drifted: Option<f64>,
    pub prediction_psi: Option<f64>,
}

fn num(x: Option<f64>) -> Value {
    x.filter(|v| v.is_finite()).map_or(Value::Null, Value::from)
}

impl Watcher {
    /// The fields of bar `now`'s `live` event.
    pub(super) fn live_fields(&self, now: NaiveDate) -> Map<String, Value> {
        let mut f = Map::new();
        f.insert("bars".into(), Value::from(self.state.bars));
        f.insert("cycles".into(), Value::from(self.state.cycles));
        f.insert("errors".into(), Value::from(self.state.errors));
        let champion = self.state.champion().cloned();
        f.insert(
            "champion".into(),
            champion.as_ref().map_or(Value::Null, |r| r.version.into()),
        );
        if let Some(reign) = &champion {
            f.insert("in_office_since".into(), reign.after.to_string().into());
            // Without the champion's scores (its bundle not loaded yet) the figures are left out
            // rather than reported as a flat book.
            if self.scores.contains_key(&reign.version) {
                f.extend(self.paper_stats(now, reign));
            }
        }
        f.insert("share_drifted".into(), num(self.gauges.share_drifted));
        f.insert("prediction_psi".into(), num(self.gauges.prediction_psi));
        let ab = self.state.shadow.as_ref().map_or(Value::Null, |sh| {
            json!({"version": sh.version, "n": sh.bars, "p_value": num(Some(sh.test.p_value())),
                   "mean_difference": num(Some(sh.test.mean_difference()))})
        });
        f.insert("ab".into(), ab);
        f
    }

    /// The champion's paper trading since it took office.
    fn paper_stats(&self, now: NaiveDate, reign: &super::state::Reign) -> Map<String, Value> {
        let days = self.reign_days(now, reign);
        let returns: Vec<f64> = days.iter().map(|d| d.strategy).collect();
        let live = self.live(now);
        let horizon = self.config.label.horizon;
        let window = (reign.after, now);
        let m = matured(
            &self.instruments,
            &live,
            &self.config.strategy,
            horizon,
            window,
            now,
        );
        let ms = &self.config.metrics;
        let total = returns.iter().fold(1.0, |w, r| w * (1.0 + r)) - 1.0;
        let stats = json!({
            "days": days.len(),
            "sharpe": num(live_metric(LiveMetric::Sharpe, &days, &m, ms)),
            "hit_rate": num(live_metric(LiveMetric::HitRate, &days, &m, ms)),
            "ic": num(live_metric(LiveMetric::Ic, &days, &m, ms)),
            "total_return": num(Some(total)),
            "drawdown": num(Some(drawdown_series(&returns).last().copied().unwrap_or(0.0))),
            "max_drawdown": num(Some(max_drawdown(&returns))),
        });
        match stats {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }
}
