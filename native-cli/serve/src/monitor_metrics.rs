//! The watch service's status as Prometheus metrics (prometheus-client's text encoding), built
//! afresh at each scrape from the fold of the event log. A figure not measured yet (no champion,
//! too few bars) is left out rather than reported as zero.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use strider_app::watch::monitor::MonitorStatus;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TriggerLabels {
    trigger: String,
}

fn counter(r: &mut Registry, name: &str, help: &str, value: u64) {
    let c: Counter = Counter::default();
    c.inc_by(value);
    r.register(name, help, c);
}

fn gauge(r: &mut Registry, name: &str, help: &str, value: Option<f64>) {
    let Some(v) = value.filter(|v| v.is_finite()) else {
        return;
    };
    let g = Gauge::<f64, AtomicU64>::default();
    g.set(v);
    r.register(name, help, g);
}

/// Seconds since the Unix epoch of a bar's date (midnight UTC).
fn date_seconds(date: Option<&str>) -> Option<f64> {
    let d = chrono::NaiveDate::parse_from_str(date?, "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp() as f64)
}

pub fn render(s: &MonitorStatus, uptime: Duration) -> String {
    let mut r = Registry::with_prefix("strider_watch");
    gauge(&mut r, "up", "1 while the watch service runs", Some(1.0));
    gauge(
        &mut r,
        "uptime_seconds",
        "Seconds since the service started",
        Some(uptime.as_secs_f64()),
    );
    counts(&mut r, s);
    figures(&mut r, s);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &r);
    out
}

/// What happened: bars, cycles, errors, events and decisions, triggers by name.
fn counts(r: &mut Registry, s: &MonitorStatus) {
    counter(r, "bars", "Bars processed", s.bars);
    counter(r, "cycles", "Retraining cycles run", s.cycles);
    counter(r, "errors", "Errors recorded", s.errors);
    counter(r, "events", "Events in the log", s.events);
    counter(r, "promotions", "Challengers promoted", s.promotions);
    counter(r, "rejections", "Challengers rejected", s.rejections);
    counter(r, "rollbacks", "Promotions rolled back", s.rollbacks);
    let triggers = Family::<TriggerLabels, Counter>::default();
    for (name, n) in &s.triggers {
        triggers
            .get_or_create(&TriggerLabels {
                trigger: name.clone(),
            })
            .inc_by(*n);
    }
    r.register(
        "triggers",
        "Retraining triggers fired, by trigger",
        triggers,
    );
}

/// Where things stand: the serving version, live against backtest, drift, the A/B trial.
fn figures(r: &mut Registry, s: &MonitorStatus) {
    gauge(
        r,
        "serving_version",
        "Registry version the alias points at",
        s.champion.map(|v| v as f64),
    );
    let live = |k: &str| s.live.get(k).and_then(|v| v.as_f64());
    for (key, help) in [
        (
            "sharpe",
            "Live annualised Sharpe ratio of the champion's paper trading",
        ),
        (
            "hit_rate",
            "Live share of matured positions on the right side",
        ),
        (
            "ic",
            "Live correlation of scores with matured forward returns",
        ),
        (
            "total_return",
            "Live compounded return since the champion took office",
        ),
        (
            "drawdown",
            "Live drawdown from the peak (0 at a high, negative below)",
        ),
        (
            "max_drawdown",
            "Live maximum drawdown since the champion took office",
        ),
        ("days", "Paper-trading days since the champion took office"),
    ] {
        gauge(r, &format!("live_{key}"), help, live(key));
    }
    gauge(
        r,
        "backtest_sharpe",
        "Walk-forward Sharpe ratio of the champion when it was trained",
        s.backtest_sharpe,
    );
    gauge(
        r,
        "data_drift_share",
        "Share of the model's features drifted at the last measurement",
        s.share_drifted,
    );
    gauge(
        r,
        "prediction_psi",
        "PSI of the champion's latest scores against its in-sample scores",
        s.prediction_psi,
    );
    gauge(
        r,
        "last_bar_timestamp_seconds",
        "Date of the last bar processed",
        date_seconds(s.last_bar.as_deref()),
    );
    let last_trigger = s.last_trigger.as_ref().and_then(|t| t["date"].as_str());
    gauge(
        r,
        "last_trigger_timestamp_seconds",
        "Date of the bar of the last trigger",
        date_seconds(last_trigger),
    );
    let ab = |k: &str| s.ab.as_ref().and_then(|a| a[k].as_f64());
    gauge(r, "ab_bars", "Bars an A/B trial has compared", ab("n"));
    gauge(
        r,
        "ab_p_value",
        "Always-valid p-value of the A/B trial",
        ab("p_value"),
    );
    gauge(
        r,
        "cycle_running",
        "1 while a retraining cycle trains",
        Some(if s.phase == "cycle" { 1.0 } else { 0.0 }),
    );
}
