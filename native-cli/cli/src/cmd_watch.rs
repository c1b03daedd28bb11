use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use chrono::NaiveDate;
use clap::Args;
use strider_app::watch::{Progress, WatchRequest, committed_events, describe, watch};
use strider_serve::MonitorServer;

#[derive(Args)]
#[command(after_help = "Examples:
  strider watch config.toml --state ops/              # follow the data files as bars arrive
  strider watch config.toml --replay --from 2019-01-01 --state replay/ --json
  strider watch config.toml --state ops/ --listen 127.0.0.1:9400   # GET /metrics /status /events")]
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
    /// Serve GET /metrics (Prometheus), /status (JSON) and /events (server-sent events) on
    /// HOST:PORT while the service runs (port 0 picks a free one; stderr says which).
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Print each event as a JSON line (and a JSON summary at the end).
    #[arg(long)]
    json: bool,
}

/// The monitoring endpoints, when asked for.
fn monitor(args: &WatchArgs) -> Result<Option<std::sync::Arc<MonitorServer>>> {
    let Some(listen) = &args.listen else {
        return Ok(None);
    };
    let Some((host, port)) = listen.rsplit_once(':') else {
        bail!("--listen {listen}: expected HOST:PORT, e.g. 127.0.0.1:9400");
    };
    let Ok(port) = port.parse::<u16>() else {
        bail!("--listen {listen}: `{port}` is not a port number");
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let events = committed_events(&args.state)?;
    Ok(Some(std::sync::Arc::new(MonitorServer::start(
        host, port, &events,
    )?)))
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
    let server = monitor(&args)?;
    let progress = match &server {
        Some(s) => {
            let s = s.clone();
            Progress::new(move |p| s.progress(p))
        }
        None => Progress::default(),
    };
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
        progress,
    };
    let json = args.json;
    let summary = watch(&req, &mut |event| {
        if let Some(s) = &server {
            s.event(event);
        }
        if json {
            println!("{event}");
        } else if event["kind"] != "live" {
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
    format!("{}  {:<11} {}", s("date"), s("kind"), describe(e))
}
