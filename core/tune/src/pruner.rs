//! Pruners with Optuna 5.0's rules: median / percentile, successive halving (asynchronous),
//! hyperband (brackets by CRC32 of `"{study}_{number}"`, so runs are reproducible from the study
//! name), threshold and patient.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::trial::{Direction, FrozenTrial, TrialState};

/// A pruner's verdict, plus system attributes it wants recorded on the trial.
pub struct Verdict {
    pub prune: bool,
    pub attrs: BTreeMap<String, Value>,
}

impl Verdict {
    fn keep() -> Self {
        Verdict {
            prune: false,
            attrs: BTreeMap::new(),
        }
    }
    fn prune() -> Self {
        Verdict {
            prune: true,
            attrs: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PrunerSpec {
    None,
    Median {
        #[serde(default = "five")]
        n_startup_trials: usize,
        #[serde(default)]
        n_warmup_steps: i64,
        #[serde(default = "one")]
        interval_steps: i64,
        #[serde(default = "one_usize")]
        n_min_trials: usize,
    },
    Percentile {
        percentile: f64,
        #[serde(default = "five")]
        n_startup_trials: usize,
        #[serde(default)]
        n_warmup_steps: i64,
        #[serde(default = "one")]
        interval_steps: i64,
        #[serde(default = "one_usize")]
        n_min_trials: usize,
    },
    SuccessiveHalving {
        /// `None` = "auto".
        #[serde(default)]
        min_resource: Option<i64>,
        #[serde(default = "four")]
        reduction_factor: i64,
        #[serde(default)]
        min_early_stopping_rate: i64,
        #[serde(default)]
        bootstrap_count: usize,
    },
    Hyperband {
        #[serde(default = "one")]
        min_resource: i64,
        /// `None` = "auto".
        #[serde(default)]
        max_resource: Option<i64>,
        #[serde(default = "three")]
        reduction_factor: i64,
        #[serde(default)]
        bootstrap_count: usize,
    },
    Threshold {
        #[serde(default)]
        lower: Option<f64>,
        #[serde(default)]
        upper: Option<f64>,
        #[serde(default)]
        n_warmup_steps: i64,
        #[serde(default = "one")]
        interval_steps: i64,
    },
    Patient {
        patience: usize,
        #[serde(default)]
        min_delta: f64,
        /// Consulted when there is no improvement; without it, such a trial is pruned.
        #[serde(default)]
        wrapped: Option<Box<PrunerSpec>>,
    },
}

fn five() -> usize {
    5
}
fn one() -> i64 {
    1
}
fn one_usize() -> usize {
    1
}
fn three() -> i64 {
    3
}
fn four() -> i64 {
    4
}

impl PrunerSpec {
    /// Defaults of each pruner by name (the CLI's `--pruner NAME`).
    pub fn by_name(name: &str) -> Option<Self> {
        let v = serde_json::json!({"kind": name.replace('-', "_")});
        match name {
            "percentile" => Some(PrunerSpec::Percentile {
                percentile: 25.0,
                n_startup_trials: 5,
                n_warmup_steps: 0,
                interval_steps: 1,
                n_min_trials: 1,
            }),
            "patient" => Some(PrunerSpec::Patient {
                patience: 3,
                min_delta: 0.0,
                wrapped: None,
            }),
            "sha" => Self::by_name("successive_halving"),
            _ => serde_json::from_value(v).ok(),
        }
    }

    pub fn should_prune(
        &self,
        study_name: &str,
        direction: Direction,
        trials: &[Arc<FrozenTrial>],
        trial: &FrozenTrial,
    ) -> Verdict {
        // A trial that has reported nothing yet gives no pruner anything to judge.
        let Some(step) = trial.last_step() else {
            return Verdict::keep();
        };
        let ctx = Ctx {
            study_name,
            direction,
            trials,
            trial,
            step,
        };
        match self {
            PrunerSpec::None => Verdict::keep(),
            PrunerSpec::Median {
                n_startup_trials,
                n_warmup_steps,
                interval_steps,
                n_min_trials,
            } => percentile_rule(
                50.0,
                *n_startup_trials,
                *n_warmup_steps,
                *interval_steps,
                *n_min_trials,
                &ctx,
            ),
            PrunerSpec::Percentile {
                percentile,
                n_startup_trials,
                n_warmup_steps,
                interval_steps,
                n_min_trials,
            } => percentile_rule(
                *percentile,
                *n_startup_trials,
                *n_warmup_steps,
                *interval_steps,
                *n_min_trials,
                &ctx,
            ),
            PrunerSpec::SuccessiveHalving {
                min_resource,
                reduction_factor,
                min_early_stopping_rate,
                bootstrap_count,
            } => successive_halving_rule(
                *min_resource,
                *reduction_factor,
                *min_early_stopping_rate,
                *bootstrap_count,
                &ctx,
            ),
            PrunerSpec::Hyperband {
                min_resource,
                max_resource,
                reduction_factor,
                bootstrap_count,
            } => hyperband_rule(
                *min_resource,
                *max_resource,
                *reduction_factor,
                *bootstrap_count,
                &ctx,
            ),
            PrunerSpec::Threshold {
                lower,
                upper,
                n_warmup_steps,
                interval_steps,
            } => threshold_rule(*lower, *upper, *n_warmup_steps, *interval_steps, &ctx),
            PrunerSpec::Patient {
                patience,
                min_delta,
                wrapped,
            } => patient_rule(*patience, *min_delta, wrapped.as_deref(), &ctx),
        }
    }
}

/// What every rule looks at: the study, its trials, and the trial being judged at its latest
/// reported step.
struct Ctx<'a> {
    study_name: &'a str,
    direction: Direction,
    trials: &'a [Arc<FrozenTrial>],
    trial: &'a FrozenTrial,
    step: i64,
}

/// Optuna's `_is_first_in_interval_step`.
fn on_interval_step(trial: &FrozenTrial, step: i64, warmup: i64, interval: i64) -> bool {
    if step < warmup {
        return false;
    }
    let nearest_lower_pruning_step = (step - warmup) / interval * interval + warmup;
    let second_last = trial
        .intermediate
        .keys()
        .rev()
        .nth(1)
        .copied()
        .unwrap_or(-1);
    second_last < nearest_lower_pruning_step
}

/// Optuna's `MedianPruner` / `PercentilePruner`: prune when the trial's best value so far is
/// worse than the `q`-th percentile of the completed trials' values at the same step.
fn percentile_rule(
    q: f64,
    n_startup: usize,
    warmup: i64,
    interval: i64,
    n_min_trials: usize,
    ctx: &Ctx,
) -> Verdict {
    let (direction, trials, trial, step) = (ctx.direction, ctx.trials, ctx.trial, ctx.step);
    let complete: Vec<&FrozenTrial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .map(|t| &**t)
        .collect();
    if complete.len() < n_startup || !on_interval_step(trial, step, warmup, interval) {
        return Verdict::keep();
    }
    let own: Vec<f64> = trial
        .intermediate
        .values()
        .copied()
        .filter(|v| !v.is_nan())
        .collect();
    if own.is_empty() {
        return Verdict::prune();
    }
    let best = match direction {
        Direction::Minimize => own.iter().copied().fold(f64::INFINITY, f64::min),
        Direction::Maximize => own.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    };
    let mut at_step: Vec<f64> = complete
        .iter()
        .filter_map(|t| t.intermediate.get(&step).copied())
        .filter(|v| !v.is_nan())
        .collect();
    if at_step.len() < n_min_trials || at_step.is_empty() {
        return Verdict::keep();
    }
    let q = match direction {
        Direction::Minimize => q,
        Direction::Maximize => 100.0 - q,
    };
    at_step.sort_by(f64::total_cmp);
    let p = strider_base::quantile_sorted(&at_step, q / 100.0);
    let prune = match direction {
        Direction::Minimize => best > p,
        Direction::Maximize => best < p,
    };
    Verdict {
        prune,
        attrs: BTreeMap::new(),
    }
}

/// Successive halving's "auto" minimum resource: a hundredth of the longest completed trial's
/// last step (at least 1).
fn auto_min_resource(trials: &[Arc<FrozenTrial>]) -> Option<i64> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| t.last_step())
        .max()
        .map(|s| (s / 100).max(1))
}

#[allow(clippy::too_many_arguments)]
fn successive_halving(
    min_resource: i64,
    eta: i64,
    min_early_stopping_rate: i64,
    bootstrap_count: usize,
    direction: Direction,
    trials: &[Arc<FrozenTrial>],
    trial: &FrozenTrial,
    step: i64,
    attr_prefix: &str,
) -> Verdict {
    let key = |r: i64| format!("{attr_prefix}completed_rung_{r}");
    let mut rung = 0;
    while trial.system_attrs.contains_key(&key(rung)) {
        rung += 1;
    }
    let mut attrs = BTreeMap::new();
    let value = trial.intermediate[&step];
    loop {
        let promotion_step = min_resource * eta.pow((min_early_stopping_rate + rung) as u32);
        if step < promotion_step {
            return Verdict {
                prune: false,
                attrs,
            };
        }
        if value.is_nan() {
            return Verdict { prune: true, attrs };
        }
        attrs.insert(key(rung), Value::from(value));
        let mut competing: Vec<f64> = trials
            .iter()
            .filter(|t| t.number != trial.number)
            .filter_map(|t| t.system_attrs.get(&key(rung)).and_then(Value::as_f64))
            .collect();
        competing.push(value);
        if competing.len() <= bootstrap_count {
            return Verdict { prune: true, attrs };
        }
        let k = (competing.len() as i64 / eta).max(1) as usize;
        let mut losses: Vec<f64> = competing.iter().map(|v| direction.loss(*v)).collect();
        losses.sort_by(f64::total_cmp);
        if direction.loss(value) > losses[k - 1] {
            return Verdict { prune: true, attrs };
        }
        rung += 1;
    }
}

/// Optuna's `SuccessiveHalvingPruner`; `min_resource: None` ("auto") waits for a completed trial
/// to size the first rung from.
fn successive_halving_rule(
    min_resource: Option<i64>,
    reduction_factor: i64,
    min_early_stopping_rate: i64,
    bootstrap_count: usize,
    ctx: &Ctx,
) -> Verdict {
    let Some(min_r) = min_resource.or_else(|| auto_min_resource(ctx.trials)) else {
        return Verdict::keep();
    };
    successive_halving(
        min_r,
        reduction_factor,
        min_early_stopping_rate,
        bootstrap_count,
        ctx.direction,
        ctx.trials,
        ctx.trial,
        ctx.step,
        "",
    )
}

/// Optuna's `HyperbandPruner`: successive halving within the trial's bracket, against the trials
/// of the same bracket only, with rung attributes prefixed by the bracket id.
fn hyperband_rule(
    min_resource: i64,
    max_resource: Option<i64>,
    reduction_factor: i64,
    bootstrap_count: usize,
    ctx: &Ctx,
) -> Verdict {
    let Some(max_r) = max_resource.or_else(|| auto_max_resource(ctx.trials)) else {
        return Verdict::keep();
    };
    let budgets = hyperband_budgets(min_resource, max_r, reduction_factor);
    let bracket = |number: usize| bracket_of(ctx.study_name, number, &budgets);
    let mine = bracket(ctx.trial.number);
    let same: Vec<Arc<FrozenTrial>> = ctx
        .trials
        .iter()
        .filter(|t| bracket(t.number) == mine)
        .cloned()
        .collect();
    successive_halving(
        min_resource,
        reduction_factor,
        mine,
        bootstrap_count,
        ctx.direction,
        &same,
        ctx.trial,
        ctx.step,
        &format!("{mine}_"),
    )
}

/// Hyperband's "auto" maximum resource: one past the last step of the longest completed trial.
fn auto_max_resource(trials: &[Arc<FrozenTrial>]) -> Option<i64> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| t.last_step())
        .max()
        .map(|s| s + 1)
}

/// Trial budget of each Hyperband bracket (at least one bracket), as Optuna sizes them.
fn hyperband_budgets(min_resource: i64, max_resource: i64, reduction_factor: i64) -> Vec<i64> {
    let eta = reduction_factor as f64;
    let n_brackets =
        ((max_resource as f64 / min_resource as f64).ln() / eta.ln()).floor() as i64 + 1;
    let n_brackets = n_brackets.max(1);
    (0..n_brackets)
        .map(|b| {
            let s = n_brackets - 1 - b;
            (n_brackets as f64 * eta.powi(s as i32) / (s + 1) as f64).ceil() as i64
        })
        .collect()
}

/// The bracket of trial `number`: CRC32 of `"{study}_{number}"` modulo the total budget, located
/// among the cumulative budgets (so brackets are reproducible from the study name).
fn bracket_of(study_name: &str, number: usize, budgets: &[i64]) -> i64 {
    let total: i64 = budgets.iter().sum();
    let mut h = (crc32(format!("{study_name}_{number}").as_bytes()) as i64) % total;
    for (b, budget) in budgets.iter().enumerate() {
        if h < *budget {
            return b as i64;
        }
        h -= budget;
    }
    budgets.len() as i64 - 1
}

/// Optuna's `ThresholdPruner`: prune a value outside `[lower, upper]`, or `NaN`, on the steps the
/// warm-up and interval allow.
fn threshold_rule(
    lower: Option<f64>,
    upper: Option<f64>,
    warmup: i64,
    interval: i64,
    ctx: &Ctx,
) -> Verdict {
    if !on_interval_step(ctx.trial, ctx.step, warmup, interval) {
        return Verdict::keep();
    }
    let v = ctx.trial.intermediate[&ctx.step];
    let prune = v.is_nan() || lower.is_some_and(|l| v < l) || upper.is_some_and(|u| v > u);
    Verdict {
        prune,
        attrs: BTreeMap::new(),
    }
}

/// Optuna's `PatientPruner`: when the last `patience + 1` values improve on none of the earlier
/// ones by more than `min_delta`, defer to the wrapped pruner (or prune without one).
fn patient_rule(
    patience: usize,
    min_delta: f64,
    wrapped: Option<&PrunerSpec>,
    ctx: &Ctx,
) -> Verdict {
    let vals: Vec<f64> = ctx.trial.intermediate.values().copied().collect();
    if vals.len() <= patience + 1 {
        return Verdict::keep();
    }
    let (before, after) = vals.split_at(vals.len() - (patience + 1));
    let best = |xs: &[f64]| {
        xs.iter()
            .filter(|x| !x.is_nan())
            .map(|x| ctx.direction.loss(*x))
            .fold(f64::INFINITY, f64::min)
    };
    let no_improvement = best(before) + min_delta < best(after);
    if !no_improvement {
        return Verdict::keep();
    }
    match wrapped {
        Some(w) => w.should_prune(ctx.study_name, ctx.direction, ctx.trials, ctx.trial),
        None => Verdict::prune(),
    }
}

/// CRC-32 (IEEE), as Python's `binascii.crc32`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(number: usize, state: TrialState, curve: &[f64]) -> FrozenTrial {
        let mut t = FrozenTrial::new(number as i64, number);
        t.state = state;
        for (s, v) in curve.iter().enumerate() {
            t.intermediate.insert(s as i64, *v);
        }
        t
    }

    #[test]
    fn crc32_matches_python() {
        // binascii.crc32(b"study_3") == 0x5a5e1a8b is not memorised; use the standard check value.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn median_prunes_a_trial_worse_than_the_median_at_its_step() {
        let mut trials: Vec<Arc<FrozenTrial>> = (0..5)
            .map(|i| Arc::new(trial(i, TrialState::Complete, &[1.0 + i as f64, 0.5])))
            .collect();
        let bad = trial(5, TrialState::Running, &[10.0]);
        let good = trial(6, TrialState::Running, &[1.5]);
        trials.push(Arc::new(bad.clone()));
        let p = PrunerSpec::by_name("median").unwrap();
        assert!(
            p.should_prune("s", Direction::Minimize, &trials, &bad)
                .prune
        );
        assert!(
            !p.should_prune("s", Direction::Minimize, &trials, &good)
                .prune
        );
        // Fewer than 5 complete trials: never.
        assert!(
            !p.should_prune("s", Direction::Minimize, &trials[2..], &bad)
                .prune
        );
        assert!(
            p.should_prune("s", Direction::Maximize, &trials, &good)
                .prune
        );
    }

    #[test]
    fn threshold_and_patient() {
        let t = trial(0, TrialState::Running, &[1.0, 0.9, 0.95, 0.96, 0.97]);
        let th = PrunerSpec::Threshold {
            lower: None,
            upper: Some(0.96),
            n_warmup_steps: 0,
            interval_steps: 1,
        };
        assert!(th.should_prune("s", Direction::Minimize, &[], &t).prune);
        let pat = PrunerSpec::Patient {
            patience: 2,
            min_delta: 0.0,
            wrapped: None,
        };
        assert!(pat.should_prune("s", Direction::Minimize, &[], &t).prune);
        let t2 = trial(1, TrialState::Running, &[1.0, 0.9, 0.95, 0.8]);
        assert!(!pat.should_prune("s", Direction::Minimize, &[], &t2).prune);
    }

    #[test]
    fn successive_halving_keeps_the_top_fraction_of_each_rung() {
        let p = PrunerSpec::SuccessiveHalving {
            min_resource: Some(1),
            reduction_factor: 2,
            min_early_stopping_rate: 0,
            bootstrap_count: 0,
        };
        let mut trials = Vec::new();
        for (i, v) in [0.1, 0.2, 0.3].iter().enumerate() {
            let mut t = trial(i, TrialState::Complete, &[*v, *v]);
            t.system_attrs
                .insert("completed_rung_0".into(), Value::from(*v));
            trials.push(Arc::new(t));
        }
        let worse = trial(3, TrialState::Running, &[0.9, 0.9]);
        assert!(
            p.should_prune("s", Direction::Minimize, &trials, &worse)
                .prune
        );
        let better = trial(4, TrialState::Running, &[0.05, 0.05]);
        let v = p.should_prune("s", Direction::Minimize, &trials, &better);
        assert!(!v.prune);
        assert!(v.attrs.contains_key("completed_rung_0"));
    }
}
