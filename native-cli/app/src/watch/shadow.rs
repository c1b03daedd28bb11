//! The A/B promotion gate (`[retrain] gate = "ab"`): the challenger, fit on every bar, is
//! registered and scores each new bar in shadow while the champion trades; an always-valid
//! sequential test (mSPRT) on the paired paper returns, looked at after every bar, decides. `b`
//! promotes it, `a` or `max_bars` without a decision keeps the champion; the result is recorded
//! on the registry version. The test's state is part of the committed state.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use strider_core::retrain::{Fired, GateResult};
use strider_core::stats::{Decision, Msprt};

use super::Watcher;
use super::cycle::{Promotion, fields, finite};
use super::paper::{aligned, window_returns};
use super::registry::tag_version;
use super::train::train;
use crate::Result;

/// A challenger on trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shadow {
    pub version: u64,
    pub cycle: String,
    /// It scores the bars after this one.
    pub after: NaiveDate,
    pub trained_through: NaiveDate,
    pub bundle_sha256: String,
    pub test: Msprt,
    pub fed_through: Option<NaiveDate>,
    pub bars: usize,
    /// What fired the cycle: (trigger, evidence).
    pub fired: Vec<(String, Value)>,
}

fn trigger_name(s: &str) -> &'static str {
    match s {
        "performance" => "performance",
        "schedule" => "schedule",
        "data_drift" => "data_drift",
        "model_drift" => "model_drift",
        _ => "manual",
    }
}

impl Watcher {
    /// Fits the challenger on every bar, registers it and starts its shadow trial.
    pub(super) fn start_shadow(&mut self, k: usize, cycle: &str, fired: &[Fired]) -> Result<()> {
        let now = self.calendar[k];
        let data = self.training_data(now);
        let (config, tuned) = self.tuned_config(&data)?;
        let run = self.training_run(cycle, "final");
        let refit = train(&config, self.model_index, &data, &self.progress, run)?;
        let e = json!({"cycle": cycle, "stage": "final", "trained_from": refit.first_bar.to_string(),
                       "trained_through": refit.last_bar.to_string(), "tuned": tuned,
                       "validation_sharpe": finite(refit.validation_sharpe),
                       "bundle_sha256": refit.bundle.sha256});
        self.log
            .append(now, "retrain", &self.model_name.clone(), fields(e))?;
        let tags = BTreeMap::from([("strider.gate".to_string(), "ab".to_string())]);
        let (version, scores) = self.register_refit(cycle, fired, &refit, tags)?;
        self.scores.insert(version, scores);
        let gate = self.spec.gate;
        self.state.shadow = Some(Shadow {
            version,
            cycle: cycle.to_string(),
            after: now,
            trained_through: refit.last_bar,
            bundle_sha256: refit.bundle.sha256.clone(),
            test: Msprt::new(gate.msprt()),
            fed_through: None,
            bars: 0,
            fired: fired
                .iter()
                .map(|f| (f.trigger.to_string(), f.evidence.clone()))
                .collect(),
        });
        let e = json!({"cycle": cycle, "test": "ab", "stage": "started", "version": version,
                       "alpha": gate.alpha, "max_bars": gate.max_bars});
        self.log
            .append(now, "gate", &self.model_name.clone(), fields(e))?;
        Ok(())
    }

    /// Feeds the shadow trial the paired returns realised since its last bar, and acts on a
    /// decision.
    pub(super) fn advance_shadow(&mut self, k: usize) -> Result<()> {
        let now = self.calendar[k];
        let Some(mut sh) = self.state.shadow.clone() else {
            return Ok(());
        };
        let strategy = &self.config.strategy;
        let window = (sh.after, now);
        let champion = window_returns(&self.instruments, &self.live(now), strategy, window, now);
        let theirs = aligned(
            &self.instruments,
            self.scores.get(&sh.version).unwrap_or(&Vec::new()),
        );
        let challenger = window_returns(&self.instruments, &theirs, strategy, window, now);
        for (d, a) in champion.range(
            sh.fed_through
                .map_or(sh.after, |f| f)
                .succ_opt()
                .unwrap_or(now)..,
        ) {
            let Some(b) = challenger.get(d) else { continue };
            sh.test.update(b - a);
            sh.bars += 1;
            sh.fed_through = Some(*d);
        }
        let gate = self.spec.gate;
        let decided = sh.test.p_value() <= gate.alpha;
        if !decided && sh.bars < gate.max_bars {
            self.state.shadow = Some(sh);
            return Ok(());
        }
        self.state.shadow = None;
        let decision = match (decided, sh.test.mean_difference() > 0.0) {
            (true, true) => Decision::B,
            (true, false) => Decision::A,
            (false, _) => Decision::Continue,
        };
        self.finish_shadow(now, &sh, decision)
    }

    fn finish_shadow(&mut self, now: NaiveDate, sh: &Shadow, decision: Decision) -> Result<()> {
        let gate = self.spec.gate;
        let p = sh.test.p_value();
        let reason = match decision {
            Decision::B => format!(
                "A/B: the challenger is better after {} bars (always-valid p = {p:.4})",
                sh.bars
            ),
            Decision::A => format!(
                "A/B: the champion is better after {} bars (always-valid p = {p:.4})",
                sh.bars
            ),
            Decision::Continue => format!(
                "A/B: no decision in {} bars (p = {p:.4} ≥ {})",
                sh.bars, gate.alpha
            ),
        };
        let e = json!({"cycle": sh.cycle, "test": "ab", "stage": "decided", "decision": decision,
                       "version": sh.version, "p_value": p, "n": sh.bars,
                       "mean_difference": sh.test.mean_difference(), "reason": reason});
        self.log
            .append(now, "gate", &self.model_name.clone(), fields(e))?;
        let tags = BTreeMap::from([
            (
                "strider.ab.decision".to_string(),
                serde_json::to_value(decision)?
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            ),
            ("strider.ab.p_value".to_string(), p.to_string()),
            ("strider.ab.n".to_string(), sh.bars.to_string()),
        ]);
        let uri = self.tracking_uri.clone();
        tag_version(uri.as_deref(), &self.registered, sh.version, &tags)?;
        let fired: Vec<Fired> = sh
            .fired
            .iter()
            .map(|(t, e)| Fired {
                trigger: trigger_name(t),
                evidence: e.clone(),
            })
            .collect();
        let result = GateResult {
            passed: decision == Decision::B,
            n: sh.bars,
            champion_sharpe: f64::NAN,
            challenger_sharpe: f64::NAN,
            mean_difference: sh.test.mean_difference(),
            dm_statistic: None,
            p_value: p,
            alpha: gate.alpha,
            reason: reason.clone(),
        };
        if decision != Decision::B {
            let e =
                json!({"cycle": sh.cycle, "version": sh.version, "reason": reason, "p_value": p});
            self.log
                .append(now, "rejected", &self.model_name.clone(), fields(e))?;
            return self.report_and_track(now, &sh.cycle, &fired, Some(&result), None);
        }
        let champion = self.state.champion().cloned();
        let to = Promotion {
            version: sh.version,
            trained_through: sh.trained_through,
            bundle_sha256: sh.bundle_sha256.clone(),
        };
        let scores = self.scores.get(&sh.version).cloned().unwrap_or_default();
        self.move_alias_to(now, &sh.cycle, &fired, &to, scores, champion.as_ref())?;
        self.report_and_track(now, &sh.cycle, &fired, Some(&result), Some(sh.version))
    }
}
