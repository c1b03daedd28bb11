//! The service's state as a monitor sees it: a fold over the event log. `strider watch`'s
//! `GET /status` and `GET /metrics` serve it live, and `strider monitor` folds a finished log
//! the same way, so the page and the endpoints never disagree.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{Map, Value};

/// What the events so far say.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MonitorStatus {
    pub model: Option<String>,
    pub last_bar: Option<String>,
    pub bars: u64,
    pub cycles: u64,
    pub errors: u64,
    pub events: u64,
    /// The registry version serving (the alias's target).
    pub champion: Option<u64>,
    pub in_office_since: Option<String>,
    /// The champion's paper trading since it took office (`sharpe`, `hit_rate`, `ic`,
    /// `total_return`, `drawdown`, `max_drawdown`, `days`).
    pub live: Map<String, Value>,
    /// The champion's walk-forward (backtest) Sharpe ratio when it was trained.
    pub backtest_sharpe: Option<f64>,
    /// The latest drift statistics, with the bar they were measured on.
    pub share_drifted: Option<f64>,
    pub share_drifted_on: Option<String>,
    pub prediction_psi: Option<f64>,
    pub prediction_psi_on: Option<String>,
    /// The latest trigger: `{date, trigger, evidence}`.
    pub last_trigger: Option<Value>,
    pub triggers: BTreeMap<String, u64>,
    pub promotions: u64,
    pub rejections: u64,
    pub rollbacks: u64,
    /// A challenger on an A/B trial: `{version, n, p_value, mean_difference}`.
    pub ab: Option<Value>,
    pub last_error: Option<Value>,
    /// `cycle` while a cycle trains (progress seen since the last bar), else `idle`.
    pub phase: &'static str,
    #[serde(skip)]
    backtest_by_sha: HashMap<String, f64>,
    #[serde(skip)]
    backtest_by_version: HashMap<u64, f64>,
}

fn text(e: &Value, key: &str) -> Option<String> {
    e.get(key).and_then(Value::as_str).map(str::to_string)
}

fn number(e: &Value, key: &str) -> Option<f64> {
    e.get(key).and_then(Value::as_f64)
}

impl MonitorStatus {
    pub fn new() -> Self {
        Self {
            phase: "idle",
            ..Self::default()
        }
    }

    /// Folds a whole log.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut s = Self::new();
        for e in events {
            s.apply(e);
        }
        s
    }

    /// Training progress was seen: a cycle is running.
    pub fn progress(&mut self) {
        self.phase = "cycle";
    }

    /// Folds one committed event.
    pub fn apply(&mut self, e: &Value) {
        self.events += 1;
        if self.model.is_none() {
            self.model = text(e, "model");
        }
        let date = text(e, "date");
        match e.get("kind").and_then(Value::as_str).unwrap_or("") {
            "live" => self.apply_live(e, date),
            "trigger" => {
                let name = text(e, "trigger").unwrap_or_default();
                *self.triggers.entry(name.clone()).or_default() += 1;
                self.last_trigger = Some(serde_json::json!({
                    "date": date, "trigger": name, "evidence": e.get("evidence"),
                }));
            }
            "retrain" => {
                if let (Some(sha), Some(s)) =
                    (text(e, "bundle_sha256"), number(e, "validation_sharpe"))
                    && e.get("stage").and_then(Value::as_str) == Some("final")
                {
                    self.backtest_by_sha.insert(sha, s);
                }
            }
            "promoted" => {
                self.promotions += 1;
                let version = e.get("version").and_then(Value::as_u64);
                let sha = text(e, "bundle_sha256").unwrap_or_default();
                if let (Some(v), Some(s)) = (version, self.backtest_by_sha.get(&sha)) {
                    self.backtest_by_version.insert(v, *s);
                }
                self.set_champion(version, date);
            }
            "rolled_back" => {
                self.rollbacks += 1;
                self.set_champion(e.get("to_version").and_then(Value::as_u64), date);
            }
            "rejected" => self.rejections += 1,
            "gate" if e.get("stage").and_then(Value::as_str) == Some("decided") => {
                self.ab = None;
            }
            "error" => {
                self.errors += 1;
                self.last_error = Some(serde_json::json!({"date": date, "error": e.get("error")}));
            }
            _ => {}
        }
    }

    fn set_champion(&mut self, version: Option<u64>, date: Option<String>) {
        self.champion = version;
        self.in_office_since = date;
        self.backtest_sharpe = version.and_then(|v| self.backtest_by_version.get(&v).copied());
        self.live.clear();
    }

    fn apply_live(&mut self, e: &Value, date: Option<String>) {
        self.phase = "idle";
        self.last_bar = date.clone();
        let count = |k: &str| e.get(k).and_then(Value::as_u64).unwrap_or(0);
        (self.bars, self.cycles, self.errors) = (count("bars"), count("cycles"), count("errors"));
        let previous = self.champion;
        self.champion = e.get("champion").and_then(Value::as_u64);
        self.in_office_since = text(e, "in_office_since");
        self.backtest_sharpe = self
            .champion
            .and_then(|v| self.backtest_by_version.get(&v).copied());
        // A bar without paper figures (the champion's bundle not at hand) keeps the last ones.
        if e.get("total_return").is_some() || self.champion != previous {
            self.live = [
                "days",
                "sharpe",
                "hit_rate",
                "ic",
                "total_return",
                "drawdown",
                "max_drawdown",
            ]
            .iter()
            .filter_map(|k| e.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect();
        }
        if let Some(x) = number(e, "share_drifted") {
            (self.share_drifted, self.share_drifted_on) = (Some(x), date.clone());
        }
        if let Some(x) = number(e, "prediction_psi") {
            (self.prediction_psi, self.prediction_psi_on) = (Some(x), date);
        }
        self.ab = e.get("ab").filter(|v| !v.is_null()).cloned();
    }

    /// The backtest Sharpe ratio each version was trained with, where the log says.
    pub fn backtest_sharpe_of(&self, version: u64) -> Option<f64> {
        self.backtest_by_version.get(&version).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_fold_follows_promotions_rollbacks_and_live_bars() {
        let events = [
            json!({"date": "2020-01-02", "kind": "trigger", "model": "m", "trigger": "manual", "evidence": {}}),
            json!({"date": "2020-01-02", "kind": "retrain", "model": "m", "stage": "final", "validation_sharpe": 1.5, "bundle_sha256": "aa"}),
            json!({"date": "2020-01-02", "kind": "promoted", "model": "m", "version": 1, "bundle_sha256": "aa"}),
            json!({"date": "2020-01-02", "kind": "live", "model": "m", "bars": 1, "cycles": 1, "errors": 0, "champion": 1, "sharpe": null, "share_drifted": null}),
            json!({"date": "2020-01-03", "kind": "live", "model": "m", "bars": 2, "cycles": 1, "errors": 0, "champion": 1, "sharpe": 0.7, "share_drifted": 0.25}),
            json!({"date": "2020-01-06", "kind": "retrain", "model": "m", "stage": "final", "validation_sharpe": 0.9, "bundle_sha256": "bb"}),
            json!({"date": "2020-01-06", "kind": "promoted", "model": "m", "version": 2, "bundle_sha256": "bb"}),
            json!({"date": "2020-01-07", "kind": "rolled_back", "model": "m", "from_version": 2, "to_version": 1}),
            json!({"date": "2020-01-08", "kind": "error", "model": "m", "error": "bad bar"}),
        ];
        let s = MonitorStatus::from_events(&events);
        assert_eq!(s.events, 9);
        assert_eq!((s.promotions, s.rollbacks, s.errors), (2, 1, 1));
        assert_eq!(s.champion, Some(1));
        assert_eq!(s.backtest_sharpe, Some(1.5));
        assert_eq!(s.share_drifted, Some(0.25));
        assert_eq!(s.share_drifted_on.as_deref(), Some("2020-01-03"));
        assert_eq!(s.last_bar.as_deref(), Some("2020-01-03"));
        assert_eq!(s.triggers["manual"], 1);
        assert!(s.live.is_empty(), "a new reign starts without live figures");
        assert_eq!(s.backtest_sharpe_of(2), Some(0.9));
    }
}
