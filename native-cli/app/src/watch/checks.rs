//! What a bar checks before any cycle: the rollback of a champion on probation, and the
//! triggers (manual requests, performance, schedule, data drift, model drift).

use chrono::NaiveDate;
use serde_json::{Map, Value, json};
use strider_core::backtest::PortfolioDay;
use strider_core::dataset::Dataset;
use strider_core::retrain::{Fired, live_metric, triggers};

use super::Watcher;
use super::paper::{masked, matured, paper_days};
use super::registry::point_alias;
use super::state::Reign;
use crate::Result;

/// A manual request: `STATE/requests/<name>.json`, written by `strider retrain`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ManualRequest {
    pub model: String,
    pub reason: String,
}

impl Watcher {
    /// The champion's realised paper days since it took office: only its own signals (the
    /// first days after a promotion still carry its predecessor's positions).
    pub(super) fn reign_days(&self, now: NaiveDate, reign: &Reign) -> Vec<PortfolioDay> {
        let live = self.live(now);
        let own = masked(&self.instruments, &live, (reign.after, now));
        paper_days(&self.instruments, &own, &self.config.strategy, now)
    }

    /// A champion on probation whose live statistic breaches the rollback bound (checked once
    /// half its probation window has passed) hands the alias back to the version it replaced.
    pub(super) fn check_rollback(&mut self, k: usize) -> Result<bool> {
        let now = self.calendar[k];
        let (Some(rb), Some(reign)) = (self.spec.rollback, self.state.champion().cloned()) else {
            return Ok(false);
        };
        let Some(previous) = reign.probation_from else {
            return Ok(false);
        };
        let days = self.reign_days(now, &reign);
        if days.len() < (rb.window / 2).max(5) {
            return Ok(false);
        }
        let live = self.live(now);
        let horizon = self.config.label.horizon;
        let m = matured(
            &self.instruments,
            &live,
            &self.config.strategy,
            horizon,
            (reign.after, now),
            now,
        );
        let value = live_metric(rb.metric, &days, &m, &self.config.metrics);
        let Some(value) = value.filter(|v| *v < rb.below) else {
            // Probation ends once the whole window passed without a breach.
            if days.len() >= rb.window
                && let Some(r) = self.state.reigns.last_mut()
            {
                r.probation_from = None;
            }
            return Ok(false);
        };
        let reason = format!(
            "strider watch: rollback, live {:?} {value:.3} < {} over {} bars",
            rb.metric,
            rb.below,
            days.len()
        );
        let uri = self.tracking_uri.clone();
        point_alias(
            uri.as_deref(),
            &self.registered,
            &self.spec.alias,
            previous,
            &reason,
        )?;
        let trained_through = self
            .state
            .reigns
            .iter()
            .rev()
            .find(|r| r.version == previous)
            .map_or(reign.trained_through, |r| r.trained_through);
        self.state.reigns.push(Reign {
            version: previous,
            after: now,
            trained_through,
            probation_from: None,
        });
        self.reset_detector(now);
        let e = json!({"from_version": reign.version, "to_version": previous,
                       "metric": rb.metric, "value": value, "below": rb.below,
                       "bars": days.len(), "window": rb.window});
        self.log
            .append(now, "rolled_back", &self.model_name.clone(), obj(e))?;
        Ok(true)
    }

    /// Every trigger that fires on bar `k`. Within `min_spacing` bars of the last retrain only
    /// manual requests act (the detector still sees every bar).
    pub(super) fn triggers(&mut self, k: usize) -> Result<Vec<Fired>> {
        let now = self.calendar[k];
        let Some(reign) = self.state.champion().cloned() else {
            return Ok(Vec::new());
        };
        let days = self.reign_days(now, &reign);
        let detector = self.feed_detector(&days);
        let mut fired = self.manual_requests(now)?;
        let spaced = self
            .state
            .bars_since_retrain
            .is_none_or(|b| b >= self.spec.min_spacing);
        if !spaced {
            return Ok(fired);
        }
        let prev = k.checked_sub(1).map(|i| self.calendar[i]);
        let ms = self.config.metrics.clone();
        if let Some(p) = self.spec.performance {
            let from = self.calendar[k.saturating_sub(p.window)];
            let live = self.live(now);
            let horizon = self.config.label.horizon;
            let m = matured(
                &self.instruments,
                &live,
                &self.config.strategy,
                horizon,
                (from.max(reign.after), now),
                now,
            );
            fired.extend(triggers::performance(&p, &days, &m, &ms));
        }
        if let Some(s) = &self.spec.schedule {
            let cron = s
                .cron
                .as_deref()
                .and_then(|c| super::schedule::parse_cron(c).ok());
            let due = match (cron, prev) {
                (Some(c), Some(p)) => super::schedule::cron_due(&c, p, now),
                _ => false,
            };
            fired.extend(triggers::schedule(
                s,
                now,
                self.state.bars_since_retrain,
                due,
            ));
        }
        if let Some(d) = self.spec.data_drift
            && self.state.bars.is_multiple_of(d.every as u64)
        {
            let (reference, current) =
                self.feature_windows(&reign, k, d.reference_bars, d.window)?;
            // Measured for the monitor whether or not it fires.
            self.gauges.share_drifted =
                strider_drift::table_drift(&reference, &current, &d.thresholds)
                    .ok()
                    .map(|t| t.share_drifted);
            fired.extend(triggers::data_drift(&d, &reference, &current));
        }
        if let Some(m) = self.spec.model_drift {
            fired.extend(self.prediction_drift(&m, &reign, k));
        }
        fired.extend(detector);
        Ok(fired)
    }

    fn prediction_drift(
        &mut self,
        m: &strider_core::retrain::ModelDriftTrigger,
        reign: &Reign,
        k: usize,
    ) -> Option<Fired> {
        let now = self.calendar[k];
        let scores = self.scores.get(&reign.version)?;
        let trained = self
            .calendar
            .partition_point(|d| *d <= reign.trained_through);
        let ref_from = self.calendar[trained.saturating_sub(m.reference_bars + 1)];
        let cur_from = self.calendar[k.saturating_sub(m.window)];
        let pick = |from: NaiveDate, to: NaiveDate| -> Vec<f64> {
            scores
                .iter()
                .flat_map(|s| {
                    s.range(from..=to)
                        .filter(|(d, _)| **d > from)
                        .map(|(_, v)| *v)
                })
                .collect()
        };
        if k < m.window || now <= reign.after {
            return None;
        }
        let finite = |v: Vec<f64>| v.into_iter().filter(|x| x.is_finite()).collect::<Vec<_>>();
        let in_sample = finite(pick(ref_from, reign.trained_through));
        let latest = finite(pick(cur_from.max(reign.after), now));
        // Measured for the monitor whether or not it fires.
        self.gauges.prediction_psi = strider_drift::psi(&in_sample, &latest);
        triggers::prediction_drift(m, &in_sample, &latest)
    }

    /// Feeds the loss stream (minus each new paper day's return) to the detector.
    fn feed_detector(&mut self, days: &[PortfolioDay]) -> Option<Fired> {
        let fed = self.state.detector_fed_through;
        let detector = self.state.detector.as_mut()?;
        let mut hit = None;
        for d in days.iter().filter(|d| fed.is_none_or(|f| d.date > f)) {
            if detector.update(-d.strategy) {
                hit = Some(d.date);
            }
        }
        if let Some(last) = days.last() {
            self.state.detector_fed_through = Some(last.date);
        }
        let spec = self.spec.model_drift.and_then(|m| m.detector)?;
        hit.map(|date| Fired {
            trigger: "model_drift",
            evidence: json!({"check": "loss_detector", "detector": spec, "changed_on": date.to_string()}),
        })
    }

    /// Pending `strider retrain` requests for this model, each acted on once.
    fn manual_requests(&mut self, now: NaiveDate) -> Result<Vec<Fired>> {
        let requests = self.store.requests()?;
        let mut fired = Vec::new();
        for (name, at, body) in requests {
            if self.state.manual_done.contains(&name) {
                continue;
            }
            self.state.manual_done.push(name);
            let Ok(req) = serde_json::from_str::<ManualRequest>(&body) else {
                let message = format!("{at}: not a retrain request; ignored");
                let e = json!({ "error": message });
                self.log
                    .append(now, "error", &self.model_name.clone(), obj(e))?;
                self.state.errors += 1;
                continue;
            };
            if req.model == self.model_name {
                // The reason only: the request's name holds the wall-clock time.
                fired.push(Fired {
                    trigger: "manual",
                    evidence: json!({ "reason": req.reason }),
                });
            }
        }
        Ok(fired)
    }

    /// The model's features on the champion's last `reference_bars` training bars and on the
    /// latest `window` bars.
    #[allow(clippy::type_complexity)]
    fn feature_windows(
        &mut self,
        reign: &Reign,
        k: usize,
        reference_bars: usize,
        window: usize,
    ) -> Result<(Vec<(String, Vec<f64>)>, Vec<(String, Vec<f64>)>)> {
        if self.features.is_none() {
            let all = Dataset::build_for_scoring(
                &self.instruments,
                &self.config.features,
                &self.config.label,
            )?;
            let view = self.config.models[self.model_index]
                .view(&all)?
                .into_owned();
            self.features = Some(view);
        }
        let Some(data) = &self.features else {
            return Ok((Vec::new(), Vec::new()));
        };
        let trained = self
            .calendar
            .partition_point(|d| *d <= reign.trained_through);
        let ref_from = self.calendar[trained.saturating_sub(reference_bars + 1)];
        let cur_from = self.calendar[k.saturating_sub(window)];
        let now = self.calendar[k];
        Ok((
            columns(data, ref_from, reign.trained_through),
            columns(data, cur_from, now),
        ))
    }
}

/// Every feature's values on the rows dated in (`from`, `to`].
fn columns(data: &Dataset, from: NaiveDate, to: NaiveDate) -> Vec<(String, Vec<f64>)> {
    let rows: Vec<usize> = (0..data.rows.len())
        .filter(|&r| {
            let d = data.calendar[data.rows[r].time];
            d > from && d <= to
        })
        .collect();
    data.feature_names
        .iter()
        .enumerate()
        .map(|(j, name)| (name.clone(), rows.iter().map(|&r| data.row(r)[j]).collect()))
        .collect()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
