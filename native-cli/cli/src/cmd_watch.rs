use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use chrono::NaiveDate;
use clap::Args;
use strider_app::watch::{WatchRequest, watch};

#[derive(Args)]
#[command(after_help = "Examples:
  strider watch config.toml --state ops/              # follow the data files as bars arrive
  strider watch config.toml --replay --from 2019-01-01 --state replay/ --json")]
pub struct WatchArgs {
    /// The config, with a `[retrain]` table (its data files are followed for new bars).
    config: PathBuf,
    /// Directory of the service's state, events.jsonl, cycle reports and (by default) registry.
    #[arg(long, default_value = "strider-watch")]
    state: PathBuf,
    /// Feed the existing data one bar at a time, as if live (needs --from).
    #[arg(long, requires = "from")]
    replay: bool,
    /// First bar of the replay.
    #[arg(long, requires = "replay")]
    from: Option<NaiveDate>,
    /// Last bar of the replay (default: the last bar there is).
    #[arg(long, requires = "replay")]
    to: Option<NaiveDate>,
    /// Registry / tracking store (default: STATE/mlruns).
    #[arg(long)]
    tracking_uri: Option<String>,
    /// Seconds between reads of the data files (live mode).
    #[arg(long, default_value_t = 5.0)]
    poll: f64,
    /// Live mode: stop after this many polls bring no new bar (default: run until stopped).
    #[arg(long)]
    idle_polls: Option<u64>,
    /// Print each event as a JSON line (and a JSON summary at the end).
    #[arg(long)]
    json: bool,
}

pub fn run(args: WatchArgs) -> Result<()> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && to < from
    {
        bail!("--to {to} is before --from {from}");
    }
    if !(args.poll.is_finite() && args.poll > 0.0 && args.poll <= 86_400.0) {
        bail!("--poll must be in (0, 86400] seconds, got {}", args.poll);
    }
    let req = WatchRequest {
        config: args.config.clone(),
        state: args.state.clone(),
        tracking_uri: args.tracking_uri.clone(),
        replay: args
            .replay
            .then_some(())
            .and(args.from.map(|f| (f, args.to))),
        poll: Duration::from_secs_f64(args.poll),
        idle_polls: args.idle_polls,
        wall_time: true,
    };
    let json = args.json;
    let summary = watch(&req, &mut |event| {
        if json {
            println!("{event}");
        } else {
            println!("{}", human(event));
        }
    })?;
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "{} bars, {} cycles, {} errors; champion: {}; events: {}",
            summary.bars,
            summary.cycles,
            summary.errors,
            summary
                .champion
                .map_or("none".into(), |v| format!("version {v}")),
            summary.events.display()
        );
    }
    Ok(())
}

/// One event as a line for people.
fn human(e: &serde_json::Value) -> String {
    let s = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let detail = match s("kind").as_str() {
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
        _ => String::new(),
    };
    format!("{}  {:<11} {}", s("date"), s("kind"), detail)
}

/// A trigger's evidence in a few words.
fn evidence(v: &serde_json::Value) -> String {
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
