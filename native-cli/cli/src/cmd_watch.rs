use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Result, bail};
use chrono::NaiveDate;
use clap::Args;
use strider_app::watch::pg::LeaseSpec;
use strider_app::watch::store::is_postgres;
use strider_app::watch::{
    PgOptions, Progress, WatchRequest, committed_events_for, describe, watch,
};
use strider_serve::MonitorServer;

#[derive(Args)]
#[command(after_help = "EXAMPLES:
  strider watch config.toml --state ops/              # follow the data files as bars arrive
  strider watch config.toml --replay --from 2019-01-01 --state replay/ --json
  strider watch config.toml --state ops/ --listen 127.0.0.1:9400   # GET /metrics /status /events
  strider watch config.toml --state postgresql://u:p@db/strider --tracking-uri http://mlflow:5000
                                                      # run it on several machines: one leads")]
pub struct WatchArgs {
    /// The config, with a `[retrain]` table (its data files are followed for new bars).
    config: PathBuf,
    /// Directory of the service's state, events.jsonl, cycle reports and (by default) registry;
    /// or a postgresql:// URL whose state several processes share, one leading at a time.
    #[arg(long, default_value = "strider-watch")]
    state: String,
    /// With a PostgreSQL --state: this process's own directory (cycle reports, bundles, the
    /// tracking buffer).
    #[arg(long, default_value = "strider-watch")]
    work: PathBuf,
    /// With a PostgreSQL --state: seconds a leader's lease lasts unless renewed (a standby takes
    /// over at most this long after the leader died).
    #[arg(long, default_value_t = 10.0)]
    lease_seconds: f64,
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
    /// Seconds a registry or tracking call may take, retries included, before the step records
    /// the failure and the service goes on; live, cycles then wait twice this long before the
    /// registry is tried again (bars are processed meanwhile).
    #[arg(long, default_value_t = 5.0)]
    registry_timeout: f64,
    /// Serve GET /metrics (Prometheus), /status (JSON) and /events (server-sent events) on
    /// HOST:PORT while the service runs (port 0 picks a free one; stderr says which).
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Print each event as a JSON line (and a JSON summary at the end).
    #[arg(long)]
    json: bool,
}

/// The monitoring endpoints, when asked for.
fn monitor(args: &WatchArgs, req: &WatchRequest) -> Result<Option<std::sync::Arc<MonitorServer>>> {
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
    let events = committed_events_for(req)?;
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
    if !(args.registry_timeout.is_finite() && (0.1..=600.0).contains(&args.registry_timeout)) {
        bail!(
            "--registry-timeout must be in [0.1, 600] seconds, got {}",
            args.registry_timeout
        );
    }
    strider_mlflow::rest::set_default_budget(Duration::from_secs_f64(args.registry_timeout));
    if !(args.lease_seconds.is_finite() && (1.0..=3600.0).contains(&args.lease_seconds)) {
        bail!(
            "--lease-seconds must be in [1, 3600], got {}",
            args.lease_seconds
        );
    }
    let postgres = is_postgres(&args.state).then(|| PgOptions {
        url: args.state.clone(),
        lease: LeaseSpec {
            holder: holder_id(),
            ttl: Duration::from_secs_f64(args.lease_seconds),
        },
    });
    if postgres.is_some() && args.tracking_uri.is_none() {
        bail!("a PostgreSQL --state needs --tracking-uri: the registry every process shares");
    }
    let mut req = WatchRequest {
        config: args.config.clone(),
        state: match &postgres {
            Some(_) => args.work.clone(),
            None => PathBuf::from(&args.state),
        },
        tracking_uri: args.tracking_uri.clone(),
        replay: args
            .replay
            .then_some(())
            .and(args.from.map(|f| (f, args.to))),
        poll: Duration::from_secs_f64(args.poll),
        idle_polls: args.idle_polls,
        wall_time: true,
        progress: Progress::default(),
        // Live, a registry that is down is not called on every bar; a replay stays a pure
        // function of its data (each bar tries).
        stop: Some(stop_on_signal()),
        registry_cooldown: match args.replay {
            true => Duration::ZERO,
            false => Duration::from_secs_f64(2.0 * args.registry_timeout),
        },
        postgres,
    };
    let server = monitor(&args, &req)?;
    let sink = server.clone();
    let shared = req.clone();
    req.progress = Progress::new(move |p| {
        let Some(role) = p.get("role").and_then(|r| r.as_str()) else {
            if let Some(s) = &sink {
                s.progress(p);
            }
            return;
        };
        // A role change (leading, standby): a log line of its own; a new leader's monitor
        // catches up with what the others committed.
        eprintln!("{p}");
        if let Some(s) = &sink {
            s.set_role(role);
            if role == "leading"
                && let Ok(events) = committed_events_for(&shared)
            {
                s.reset(&events);
            }
        }
    });
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
            summary.events
        );
    }
    Ok(())
}

/// Set by SIGTERM or SIGINT: the service finishes the bar in hand, commits and exits normally.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_: libc::c_int) {
    // An atomic store is async-signal-safe.
    STOP.store(true, Ordering::SeqCst);
}

/// Installs the SIGTERM / SIGINT handlers; returns the flag they set.
fn stop_on_signal() -> &'static AtomicBool {
    #[cfg(unix)]
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        let handler = on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGINT, handler);
    }
    &STOP
}

/// This process among the ones sharing a PostgreSQL state: host, pid and a random part.
fn holder_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{host}-{}-{nanos:08x}", std::process::id())
}

/// One event as a line for people.
fn human(e: &serde_json::Value) -> String {
    let s = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    format!("{}  {:<11} {}", s("date"), s("kind"), describe(e))
}
