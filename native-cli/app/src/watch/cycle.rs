//! One retraining cycle: train a challenger on the data as it stood before the gate window,
//! trade it on that window beside the champion, promote only on a significant improvement
//! (refit on everything, register, move the alias), otherwise record the rejection.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{Map, Value, json};
use strider_core::retrain::{Fired, GateResult, gate};

use super::paper::{aligned, score_all, window_returns};
use super::registry::{point_alias, register_once};
use super::state::Reign;
use super::train::{Trained, data_through, train};
use super::training_run::{TrainingRun, TrainingRunSpec};
use super::{Watcher, report};
use crate::{Result, bail};

/// A registered version about to become the champion.
pub(super) struct Promotion {
    pub version: u64,
    pub trained_through: NaiveDate,
    pub bundle_sha256: String,
}

pub(super) fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

impl Watcher {
    /// Runs a cycle for what fired at bar `k`.
    pub(super) fn cycle(&mut self, k: usize, fired: &[Fired]) -> Result<()> {
        let now = self.calendar[k];
        let model = self.model_name.clone();
        for f in fired {
            let mut e = Map::new();
            e.insert("trigger".into(), Value::from(f.trigger));
            e.insert("evidence".into(), f.evidence.clone());
            self.log.append(now, "trigger", &model, e)?;
        }
        if std::env::var("STRIDER_WATCH_FAIL_TRAINING").is_ok_and(|d| d == now.to_string()) {
            // Fault injection for the service's tests: this bar's cycle fails to train.
            bail!("training failed (injected by STRIDER_WATCH_FAIL_TRAINING)");
        }
        self.state.cycles += 1;
        self.state.last_retrain = Some(now);
        self.state.bars_since_retrain = Some(0);
        let cycle = format!("{}-{now}", self.registered);
        let champion = self.state.champion().cloned();
        let (gated, config) = match &champion {
            Some(_) if self.spec.gate.kind == strider_core::retrain::GateKind::Ab => {
                return self.start_shadow(k, &cycle, fired);
            }
            Some(_) => {
                let (g, config) = self.gate_challenger(k, &cycle)?;
                if !g.passed {
                    let e = json!({"cycle": cycle, "reason": g.reason, "p_value": g.p_value,
                                   "mean_difference": g.mean_difference});
                    self.log.append(now, "rejected", &model, fields(e))?;
                    return self.report_and_track(now, &cycle, fired, Some(&g), None);
                }
                (Some(g), config)
            }
            None => {
                let (config, tuned) = self.tuned_config(&self.training_data(now))?;
                if let Some(params) = tuned {
                    let e = json!({"cycle": cycle, "stage": "tune", "params": params});
                    self.log.append(now, "retrain", &model, fields(e))?;
                }
                (None, config)
            }
        };
        // A gated challenger's config (tuned, if at all, before the gate window) is refit on
        // every bar.
        let refit = train(
            &config,
            self.model_index,
            &self.training_data(now),
            &self.progress,
            self.training_run(&cycle, "final"),
        )?;
        let e = json!({"cycle": cycle, "stage": "final", "trained_from": refit.first_bar.to_string(),
                       "trained_through": refit.last_bar.to_string(),
                       "validation_sharpe": finite(refit.validation_sharpe),
                       "bundle_sha256": refit.bundle.sha256});
        self.log.append(now, "retrain", &model, fields(e))?;
        self.promote(now, &cycle, fired, refit, gated.as_ref(), champion.as_ref())
    }

    /// The live MLflow run a training of this cycle streams to (`None`: left untracked).
    pub(super) fn training_run(&self, cycle: &str, stage: &str) -> Option<TrainingRun> {
        TrainingRun::start(&TrainingRunSpec {
            tracking_uri: self.tracking_uri.as_deref(),
            state: &self.dir,
            registered: &self.registered,
            cycle,
            stage,
            instance: &self.state.instance,
        })
    }

    pub(super) fn training_data(&self, through: NaiveDate) -> Vec<strider_core::data::Instrument> {
        data_through(&self.instruments, through, self.spec.train_bars)
    }

    /// The config with the cycle's tuning budget spent on `data` (unchanged without one).
    pub(super) fn tuned_config(
        &self,
        data: &[strider_core::data::Instrument],
    ) -> Result<(
        strider_core::config::Config,
        Option<BTreeMap<String, Value>>,
    )> {
        match self.spec.tune_trials {
            Some(n) if n > 0 => super::tuning::tuned(&self.config, self.model_index, data, n),
            _ => Ok((self.config.clone(), None)),
        }
    }

    /// Trains on the bars before the gate window (tuned there, with a budget) and trades the
    /// window beside the champion. Returns the verdict and the challenger's config.
    fn gate_challenger(
        &mut self,
        k: usize,
        cycle: &str,
    ) -> Result<(GateResult, strider_core::config::Config)> {
        let now = self.calendar[k];
        let w = self.spec.gate.window;
        if k <= w {
            bail!("{k} bars are too few for a gate window of {w} bars");
        }
        let cut = self.calendar[k - w - 1];
        let data = self.training_data(cut);
        let (config, tuned) = self.tuned_config(&data)?;
        let run = self.training_run(cycle, "gate");
        let challenger = train(&config, self.model_index, &data, &self.progress, run)?;
        let e = json!({"stage": "gate", "trained_from": challenger.first_bar.to_string(),
                       "trained_through": cut.to_string(), "tuned": tuned,
                       "validation_sharpe": finite(challenger.validation_sharpe),
                       "bundle_sha256": challenger.bundle.sha256});
        self.log
            .append(now, "retrain", &self.model_name.clone(), fields(e))?;
        let theirs = aligned(
            &self.instruments,
            &score_all(&challenger.bundle, &self.instruments)?,
        );
        let ours = self.live(now);
        let strategy = &self.config.strategy;
        let a = window_returns(&self.instruments, &ours, strategy, (cut, now), now);
        let b = window_returns(&self.instruments, &theirs, strategy, (cut, now), now);
        let dates: Vec<NaiveDate> = a.keys().filter(|d| b.contains_key(d)).copied().collect();
        let champ: Vec<f64> = dates.iter().map(|d| a[d]).collect();
        let chal: Vec<f64> = dates.iter().map(|d| b[d]).collect();
        let g = gate(&champ, &chal, &self.spec.gate, &self.config.metrics);
        let mut e = fields(serde_json::to_value(&g)?);
        e.insert("window_from".into(), Value::from(cut.to_string()));
        self.log.append(now, "gate", &self.model_name.clone(), e)?;
        Ok((g, config))
    }

    /// Registers the refit challenger and points the alias at it.
    fn promote(
        &mut self,
        now: NaiveDate,
        cycle: &str,
        fired: &[Fired],
        refit: Trained,
        gated: Option<&GateResult>,
        champion: Option<&Reign>,
    ) -> Result<()> {
        let mut tags = BTreeMap::new();
        if let Some(g) = gated {
            tags.insert("strider.gate.p_value".into(), g.p_value.to_string());
            tags.insert("strider.gate.n".into(), g.n.to_string());
        }
        let (version, scores) = self.register_refit(cycle, fired, &refit, tags)?;
        let moved = Promotion {
            version,
            trained_through: refit.last_bar,
            bundle_sha256: refit.bundle.sha256.clone(),
        };
        self.move_alias_to(now, cycle, fired, &moved, scores, champion)?;
        self.report_and_track(now, cycle, fired, gated, Some(version))
    }

    /// Writes the refit's bundle folder and registers it (once), tagged with the triggers;
    /// returns the version and its scores on every bar.
    pub(super) fn register_refit(
        &mut self,
        cycle: &str,
        fired: &[Fired],
        refit: &Trained,
        mut tags: BTreeMap<String, String>,
    ) -> Result<(u64, super::paper::VersionScores)> {
        let dir = self.dir.join("bundles").join(cycle);
        if !dir.exists() {
            let files = crate::deploy::with_mlmodel(
                refit.files.clone(),
                &refit.bundle.manifest,
                "model",
                None,
                chrono::Utc::now(),
            );
            crate::deploy::write_bundle_dir(&dir, &files)?;
        }
        let triggers: Vec<&str> = fired.iter().map(|f| f.trigger).collect();
        tags.insert("strider.triggers".to_string(), triggers.join(","));
        // Everything that can fail without touching the registry comes first: once the alias
        // has moved, the step must not fail.
        let scores = score_all(&refit.bundle, &self.instruments)?;
        let uri = self.tracking_uri.clone();
        let id = format!("{cycle}@{}", self.state.instance);
        let version = register_once(uri.as_deref(), &self.registered, &id, &dir, &tags)?;
        Ok((version, scores))
    }

    /// Points the alias at a registered version and makes it the champion from the next bar.
    pub(super) fn move_alias_to(
        &mut self,
        now: NaiveDate,
        cycle: &str,
        fired: &[Fired],
        to: &Promotion,
        scores: super::paper::VersionScores,
        champion: Option<&Reign>,
    ) -> Result<()> {
        let triggers: Vec<&str> = fired.iter().map(|f| f.trigger).collect();
        let reason = format!("strider watch: cycle {cycle} ({})", triggers.join(", "));
        let uri = self.tracking_uri.clone();
        point_alias(
            uri.as_deref(),
            &self.registered,
            &self.spec.alias,
            to.version,
            &reason,
        )?;
        self.state.reigns.push(Reign {
            version: to.version,
            after: now,
            trained_through: to.trained_through,
            probation_from: champion
                .filter(|_| self.spec.rollback.is_some())
                .map(|c| c.version),
        });
        self.reset_detector(now);
        self.scores.insert(to.version, scores);
        let e = json!({"cycle": cycle, "version": to.version,
                       "previous": champion.map(|c| c.version),
                       "alias": self.spec.alias, "bundle_sha256": to.bundle_sha256});
        self.log
            .append(now, "promoted", &self.model_name.clone(), fields(e))?;
        Ok(())
    }

    /// The cycle report and the tracking run, after the decision: a failure of either is an
    /// `error` event, and the decision stands.
    pub(super) fn report_and_track(
        &mut self,
        now: NaiveDate,
        cycle: &str,
        fired: &[Fired],
        gated: Option<&GateResult>,
        version: Option<u64>,
    ) -> Result<()> {
        let done = report::write(self, cycle, now, fired, gated, version)
            .and_then(|()| self.track(now, cycle, fired, gated, version));
        if let Err(e) = done {
            let mut f = Map::new();
            let message = format!("reporting cycle {cycle}: {}", e.chain());
            f.insert("error".into(), Value::from(message));
            self.log.append(now, "error", &self.model_name.clone(), f)?;
            self.state.errors += 1;
        }
        Ok(())
    }

    /// Logs the cycle to tracking as an MLflow run.
    fn track(
        &mut self,
        now: NaiveDate,
        cycle: &str,
        fired: &[Fired],
        gated: Option<&GateResult>,
        version: Option<u64>,
    ) -> Result<()> {
        let decision = if version.is_some() {
            "promoted"
        } else {
            "rejected"
        };
        let triggers: Vec<&str> = fired.iter().map(|f| f.trigger).collect();
        let mut params = BTreeMap::from([
            ("bar".to_string(), now.to_string()),
            ("model".to_string(), self.model_name.clone()),
            ("decision".to_string(), decision.to_string()),
            ("triggers".to_string(), triggers.join(",")),
        ]);
        if let Some(v) = version {
            params.insert("version".into(), v.to_string());
        }
        let mut metrics = BTreeMap::new();
        if let Some(g) = gated {
            metrics.insert("gate_p_value".to_string(), g.p_value);
            metrics.insert("gate_n".to_string(), g.n as f64);
            metrics.insert("champion_sharpe".to_string(), g.champion_sharpe);
            metrics.insert("challenger_sharpe".to_string(), g.challenger_sharpe);
            metrics.insert("mean_difference".to_string(), g.mean_difference);
        }
        let evidence: Vec<Value> = fired
            .iter()
            .map(|f| json!({"trigger": f.trigger, "evidence": f.evidence}))
            .collect();
        let report = std::fs::read(self.dir.join("cycles").join(format!("{cycle}.html")))?;
        let time_ms = now
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp_millis());
        let experiment = format!("{}-watch", self.registered);
        let run = super::tracking::CycleRun {
            experiment: &experiment,
            cycle,
            params,
            metrics,
            tags: BTreeMap::from([
                ("strider.cycle".to_string(), cycle.to_string()),
                (
                    "strider.registered_model".to_string(),
                    self.registered.clone(),
                ),
            ]),
            artifacts: vec![
                ("cycle.html".to_string(), report),
                (
                    "triggers.json".to_string(),
                    serde_json::to_vec_pretty(&evidence)?,
                ),
            ],
            time_ms,
        };
        let uri = self.tracking_uri.clone();
        super::tracking::log_cycle(uri.as_deref(), &self.dir, &self.state.instance, &run)
    }
}

/// JSON has no NaN: a missing statistic is null.
pub(super) fn finite(v: f64) -> Value {
    if v.is_finite() {
        Value::from(v)
    } else {
        Value::Null
    }
}
