//! `tuning.json`: what the report draws for a study (history, parallel coordinates, importance,
//! intermediate values, Pareto front). The format is in ARCHITECTURE.md.

use std::sync::Arc;

use serde_json::{Value, json};

use super::importance::param_importance;
use super::pareto::pareto_front;
use super::trial::{FrozenTrial, StudyInfo, TrialState};

pub fn study_summary(info: &StudyInfo, trials: &[Arc<FrozenTrial>], seed: u64) -> Value {
    let count = |s: TrialState| trials.iter().filter(|t| t.state == s).count();
    let complete: Vec<&FrozenTrial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.values.is_some())
        .map(|t| &**t)
        .collect();
    let losses: Vec<Vec<f64>> = complete
        .iter()
        .map(|t| t.losses(&info.directions))
        .collect();
    let front: Vec<usize> = pareto_front(&losses)
        .into_iter()
        .map(|i| complete[i].number)
        .collect();
    let best = if info.directions.len() == 1 {
        complete
            .iter()
            .min_by(|a, b| losses_of(a, info).total_cmp(&losses_of(b, info)))
            .map(|t| json!({"number": t.number, "value": t.value(), "params": t.external_params()}))
    } else {
        None
    };
    json!({
        "study": info.name,
        "direction": format!("{:?}", info.directions[0]).to_lowercase(),
        "directions": info.directions.iter().map(|d| format!("{d:?}").to_lowercase()).collect::<Vec<_>>(),
        "n_trials": trials.len(),
        "states": {
            "complete": count(TrialState::Complete),
            "pruned": count(TrialState::Pruned),
            "fail": count(TrialState::Fail),
            "running": count(TrialState::Running),
        },
        "best": best,
        "pareto_front": if info.directions.len() > 1 { json!(front) } else { Value::Null },
        "importance": param_importance(trials, 0, seed),
        "trials": trials.iter().map(|t| json!({
            "number": t.number,
            "state": t.state.name(),
            "value": t.value(),
            "values": t.values,
            "params": t.external_params(),
            "intermediate": t.intermediate.iter().map(|(s, v)| json!([s, v])).collect::<Vec<_>>(),
            "datetime_start": t.datetime_start,
            "datetime_complete": t.datetime_complete,
        })).collect::<Vec<_>>(),
    })
}

fn losses_of(t: &FrozenTrial, info: &StudyInfo) -> f64 {
    info.directions[0].loss(t.value().unwrap_or(f64::NAN))
}
