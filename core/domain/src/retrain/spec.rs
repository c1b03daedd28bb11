//! The `[retrain]` table: which model is kept healthy, what fires a retrain, how a challenger is
//! gated, and when a promotion is rolled back. Every window counts bars.

use serde::{Deserialize, Serialize};
use strider_drift::{DetectorSpec, DriftThresholds};

use crate::{Error, Result};

/// A live statistic of the champion's paper trading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LiveMetric {
    /// The annualised Sharpe ratio of the paper returns (net of costs).
    #[default]
    Sharpe,
    /// The share of bars whose position had the sign of the realised return.
    HitRate,
    /// Spearman's correlation of scores with realised forward returns (matured labels only).
    Ic,
}

/// Fire when a live statistic over the last `window` bars falls below `below`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerformanceTrigger {
    #[serde(default)]
    pub metric: LiveMetric,
    #[serde(default = "default_window")]
    pub window: usize,
    pub below: f64,
}

/// Fire on a calendar schedule (cron, evaluated on bar dates at midnight UTC; checked and
/// evaluated by the service) and/or every N bars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ScheduleTrigger {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_bars: Option<usize>,
}

/// Fire when the share of the champion's features that drifted (PSI / KS between its training
/// window and the latest `window` bars) reaches `thresholds.share`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataDriftTrigger {
    #[serde(default = "default_window")]
    pub window: usize,
    /// The champion's last this many training bars are the reference.
    #[serde(default = "default_reference")]
    pub reference_bars: usize,
    /// Checked every this many bars (each check is a KS test and a PSI per feature).
    #[serde(default = "default_every")]
    pub every: usize,
    #[serde(default, flatten)]
    pub thresholds: DriftThresholds,
}

/// Fire when the champion's predictions drift (PSI of the latest `window` scores against its
/// in-sample scores) or a stream detector reports a change in its per-bar loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDriftTrigger {
    #[serde(default = "default_window")]
    pub window: usize,
    /// The champion's in-sample scores on its last this many training bars are the reference.
    #[serde(default = "default_reference")]
    pub reference_bars: usize,
    /// Prediction PSI at or above this fires (`None`: not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psi: Option<f64>,
    /// ADWIN or Page-Hinkley on the per-bar loss, i.e. minus the paper return (`None`: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector: Option<DetectorSpec>,
}

/// Which test promotes a challenger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum GateKind {
    /// Both trade the recent `window` bars (the challenger fit before them); one-sided
    /// Diebold-Mariano.
    #[default]
    Dm,
    /// An A/B test from now on: the challenger (fit on every bar) scores each new bar in shadow
    /// beside the champion, and an always-valid sequential test (mSPRT) on the paired paper
    /// returns decides, at most `max_bars` later.
    Ab,
}

/// How a challenger must beat the champion before it is promoted: `[retrain.gate]`, or just
/// `gate = "dm"` / `gate = "ab"` with the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateSpec {
    pub kind: GateKind,
    /// DM: the recent bars both models trade, out of sample for the challenger (it is fit on the
    /// bars before them, purged by the label horizon).
    pub window: usize,
    /// The p-value the challenger must reach (DM: one-sided; A/B: always valid): a better number
    /// alone is not enough.
    pub alpha: f64,
    /// A/B: the most bars the shadow test runs; undecided by then, the champion stays.
    pub max_bars: usize,
    /// A/B: the mixing prior's standard deviation, in units of the returns' differences.
    pub tau: f64,
    /// A/B: bars before the first look.
    pub burn_in: usize,
}

impl Default for GateSpec {
    fn default() -> Self {
        Self {
            kind: GateKind::Dm,
            window: 120,
            alpha: 0.1,
            max_bars: 250,
            tau: 0.1,
            burn_in: 30,
        }
    }
}

impl GateSpec {
    /// The A/B gate's sequential test.
    pub fn msprt(&self) -> crate::stats::MsprtSpec {
        crate::stats::MsprtSpec {
            alpha: self.alpha,
            tau: self.tau,
            burn_in: self.burn_in,
        }
    }
}

/// `gate = "ab"` or a `[retrain.gate]` table.
fn gate_spec<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<GateSpec, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Input {
        Kind(GateKind),
        Table(GateSpec),
    }
    Ok(match Input::deserialize(d)? {
        Input::Kind(kind) => GateSpec {
            kind,
            ..GateSpec::default()
        },
        Input::Table(t) => t,
    })
}

/// After a promotion, return the alias to the previous version when the new champion's live
/// statistic over its first `window` bars falls below `below`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackSpec {
    #[serde(default = "default_window")]
    pub window: usize,
    #[serde(default)]
    pub metric: LiveMetric,
    pub below: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrainSpec {
    /// The config model kept healthy (default: the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The registered model's name (default: `<config name>-<model>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_name: Option<String>,
    /// The alias that names the champion.
    #[serde(default = "default_alias")]
    pub alias: String,
    /// The least number of bars between two retrains: inside it only manual requests act (the
    /// other triggers are not evaluated; the loss detector still sees every bar).
    #[serde(default = "default_spacing")]
    pub min_spacing: usize,
    /// The most bars a champion is trained on (`None`: every bar before the cut).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_bars: Option<usize>,
    /// A tuning budget per cycle: this many TPE trials (walk-forward Sharpe) choose the model's
    /// parameters on the challenger's training data before it is fit (`None` / 0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tune_trials: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance: Option<PerformanceTrigger>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleTrigger>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_drift: Option<DataDriftTrigger>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_drift: Option<ModelDriftTrigger>,
    #[serde(default, deserialize_with = "gate_spec")]
    pub gate: GateSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackSpec>,
}

fn default_window() -> usize {
    60
}
fn default_reference() -> usize {
    250
}
fn default_every() -> usize {
    5
}
fn default_alias() -> String {
    "champion".into()
}
fn default_spacing() -> usize {
    20
}

fn window_ok(key: &str, w: usize) -> Result<()> {
    if !(5..=100_000).contains(&w) {
        return Err(Error::config(
            key,
            format!("must be 5..=100000 bars, got {w}"),
        ));
    }
    Ok(())
}

impl RetrainSpec {
    pub fn validate(&self) -> Result<()> {
        crate::names::check_name("retrain.alias", &self.alias)?;
        if let Some(name) = &self.registered_name {
            crate::names::check_name("retrain.registered_name", name)?;
        }
        window_ok("retrain.gate.window", self.gate.window)?;
        if let Some(n) = self.train_bars {
            window_ok("retrain.train_bars", n)?;
        }
        if self.tune_trials.is_some_and(|n| n > 1000) {
            return Err(Error::config(
                "retrain.tune_trials",
                "at most 1000 trials per cycle",
            ));
        }
        if !(self.gate.alpha > 0.0 && self.gate.alpha < 1.0) {
            return Err(Error::config("retrain.gate.alpha", "must be in (0, 1)"));
        }
        if self.gate.kind == GateKind::Ab {
            window_ok("retrain.gate.max_bars", self.gate.max_bars)?;
            self.gate
                .msprt()
                .validate()
                .map_err(|e| Error::config("retrain.gate", e.to_string()))?;
        }
        if let Some(p) = &self.performance {
            window_ok("retrain.performance.window", p.window)?;
            finite("retrain.performance.below", p.below)?;
        }
        if self
            .schedule
            .as_ref()
            .is_some_and(|s| s.every_bars == Some(0))
        {
            return Err(Error::config("retrain.schedule.every_bars", "must be ≥ 1"));
        }
        if let Some(d) = &self.data_drift {
            window_ok("retrain.data_drift.window", d.window)?;
            window_ok("retrain.data_drift.reference_bars", d.reference_bars)?;
            if !(1..=10_000).contains(&d.every) {
                return Err(Error::config(
                    "retrain.data_drift.every",
                    "must be 1..=10000",
                ));
            }
            d.thresholds
                .validate()
                .map_err(|e| Error::config("retrain.data_drift", e))?;
        }
        if let Some(m) = &self.model_drift {
            window_ok("retrain.model_drift.window", m.window)?;
            window_ok("retrain.model_drift.reference_bars", m.reference_bars)?;
            if let Some(d) = &m.detector {
                d.validate()
                    .map_err(|e| Error::config("retrain.model_drift.detector", e))?;
            }
        }
        if let Some(r) = &self.rollback {
            window_ok("retrain.rollback.window", r.window)?;
            finite("retrain.rollback.below", r.below)?;
        }
        Ok(())
    }
}

fn finite(key: &str, v: f64) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(Error::config(key, "must be a finite number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<RetrainSpec> {
        let spec: RetrainSpec =
            toml::from_str(toml_text).map_err(|e| Error::config("retrain", e.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    #[test]
    fn every_trigger_parses_and_bad_values_name_their_key() {
        let spec = parse(
            "min_spacing = 5\n[performance]\nmetric = \"ic\"\nbelow = 0.0\n\
             [schedule]\ncron = \"0 0 1 * *\"\n[data_drift]\npsi = 0.2\n\
             [model_drift]\npsi = 0.3\ndetector = { detector = \"adwin\", delta = 0.01 }\n\
             [rollback]\nbelow = -1.0\n",
        )
        .unwrap();
        assert_eq!(spec.performance.unwrap().metric, LiveMetric::Ic);
        assert_eq!(spec.data_drift.unwrap().thresholds.psi, 0.2);
        assert!(matches!(
            spec.model_drift.unwrap().detector,
            Some(DetectorSpec::Adwin(_))
        ));
        for (text, key) in [
            ("[gate]\nalpha = 1.5\n", "retrain.gate.alpha"),
            ("[gate]\nwindow = 2\n", "retrain.gate.window"),
            (
                "[schedule]\nevery_bars = 0\n",
                "retrain.schedule.every_bars",
            ),
            ("[data_drift]\nevery = 0\n", "retrain.data_drift.every"),
            ("[data_drift]\nshare = 2.0\n", "retrain.data_drift"),
            ("[performance]\nbelow = nan\n", "retrain.performance.below"),
            (
                "[model_drift]\ndetector = { detector = \"adwin\", delta = 2.0 }\n",
                "retrain.model_drift.detector",
            ),
            ("alias = \"a b\"\n", "retrain.alias"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
        assert!(
            parse("[performance]\nwindow = 10\n").is_err(),
            "below is required"
        );
        assert!(parse("unknown = 1\n").is_err());
        let ab = parse("gate = \"ab\"\n").unwrap();
        assert_eq!((ab.gate.kind, ab.gate.max_bars), (GateKind::Ab, 250));
        let table = parse("[gate]\nkind = \"ab\"\nmax_bars = 100\nalpha = 0.05\n").unwrap();
        assert_eq!((table.gate.kind, table.gate.max_bars), (GateKind::Ab, 100));
        assert!(parse("gate = \"coin\"\n").is_err());
        assert!(parse("[gate]\nkind = \"ab\"\nburn_in = 1\n").is_err());
    }
}
