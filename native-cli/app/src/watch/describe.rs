//! Events in words, for people: the terminal's lines and the monitor page's timeline.

use serde_json::Value;

/// What an event says, in a few words (the terminal's lines and the monitor page's timeline).
pub fn describe(e: &Value) -> String {
    let s = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    match s("kind").as_str() {
        "trigger" => format!("{} ({})", s("trigger"), evidence(&e["evidence"])),
        "gate" if s("stage") == "started" => format!(
            "A/B test started: version {} scores in shadow (alpha {}, at most {} bars)",
            e["version"], e["alpha"], e["max_bars"]
        ),
        "gate" => s("reason"),
        "promoted" => match e["previous"].as_u64() {
            Some(p) => format!("version {} (was {p})", e["version"]),
            None => format!("version {} (first champion)", e["version"]),
        },
        "rejected" => s("reason"),
        "rolled_back" => format!(
            "to version {} (live {} {:.3} < {} over {} bars)",
            e["to_version"],
            s("metric"),
            e["value"].as_f64().unwrap_or(f64::NAN),
            e["below"],
            e["bars"]
        ),
        "retrain" => format!("{} through {}", s("stage"), s("trained_through")),
        "error" => s("error"),
        "live" => live(e),
        _ => String::new(),
    }
}

/// A trigger's evidence in a few words.
fn evidence(v: &Value) -> String {
    let n = |k: &str| v[k].as_f64().map_or("-".into(), |x| format!("{x:.3}"));
    if let Some(drifted) = v["drifted"].as_array() {
        let names: Vec<&str> = drifted
            .iter()
            .filter_map(|d| d["feature"].as_str())
            .collect();
        return format!(
            "{} of features drifted: {}",
            n("share_drifted"),
            names.join(", ")
        );
    }
    match v["check"].as_str() {
        Some("prediction_psi") => return format!("prediction PSI {} >= {}", n("psi"), n("bound")),
        Some("loss_detector") => {
            let detector = v["detector"]["detector"].as_str().unwrap_or("detector");
            let on = v["changed_on"].as_str().unwrap_or("-");
            return format!("{detector} on the per-bar loss changed on {on}");
        }
        _ => {}
    }
    if v.get("metric").is_some() {
        let metric = v["metric"].as_str().unwrap_or("metric");
        return format!(
            "{metric} {} < {} over {} bars",
            n("value"),
            n("below"),
            v["window"]
        );
    }
    if let Some(r) = v["reason"].as_str() {
        return r.to_string();
    }
    v.to_string()
}

/// A `live` event's figures.
fn live(e: &Value) -> String {
    let n = |k: &str| e[k].as_f64().map_or("-".into(), |x| format!("{x:.3}"));
    format!(
        "champion {}: live Sharpe {}, hit rate {}, drawdown {}",
        e["champion"],
        n("sharpe"),
        n("hit_rate"),
        n("drawdown")
    )
}
