//! `strider monitor`: one self-contained HTML page over a watch service's event log: live
//! against backtest performance, the paper equity and its drawdown, drift statistics over time,
//! every trigger, promotion, rejection, rollback and error on one timeline, and each A/B trial's
//! path to its decision. The figures are the fold `GET /status` serves ([`MonitorStatus`]).

use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::monitor::MonitorStatus;
use super::svg::{Marker, Series, chart, escape};
use super::{committed_events, describe};
use crate::{Context, Result, bail};

/// Days in office before the live Sharpe ratio is plotted.
const MIN_SHARPE_DAYS: u64 = 20;

/// One processed bar as the page plots it.
struct Bar {
    date: String,
    sharpe: Option<f64>,
    backtest: Option<f64>,
    equity: f64,
    drawdown: f64,
    share_drifted: Option<f64>,
    psi: Option<f64>,
}

/// Per-bar series: each `live` event with the fold as it stood then. The paper equity chains
/// each champion's own returns (its `total_return` since taking office, differenced).
fn bars(events: &[Value]) -> (Vec<Bar>, Vec<Marker>) {
    let mut fold = MonitorStatus::new();
    let (mut out, mut markers) = (Vec::new(), Vec::new());
    let (mut equity, mut peak) = (1.0f64, 1.0f64);
    let mut reign: Option<(Value, f64)> = None;
    for e in events {
        fold.apply(e);
        let kind = e["kind"].as_str().unwrap_or("");
        let color = match kind {
            "promoted" => "#2a9d8f",
            "rolled_back" => "#d62828",
            "rejected" => "#999999",
            _ => "",
        };
        if !color.is_empty() {
            markers.push(Marker {
                at: out.len(),
                color,
                label: format!(
                    "{} {kind}: {}",
                    e["date"].as_str().unwrap_or(""),
                    describe(e)
                ),
            });
        }
        if kind != "live" {
            continue;
        }
        let since = e["in_office_since"].clone();
        // A bar without paper figures (the bundle not at hand) moves nothing.
        let day = match (e["total_return"].as_f64(), &reign) {
            (None, _) => 0.0,
            (Some(total), Some((s, prev))) if *s == since => (1.0 + total) / (1.0 + prev) - 1.0,
            (Some(total), _) => total,
        };
        if let Some(total) = e["total_return"].as_f64() {
            reign = Some((since, total));
        }
        equity *= 1.0 + if day.is_finite() { day } else { 0.0 };
        peak = peak.max(equity);
        out.push(Bar {
            date: e["date"].as_str().unwrap_or("").to_string(),
            // A Sharpe ratio over a few days is noise: plotted from a month in office.
            sharpe: e["sharpe"]
                .as_f64()
                .filter(|_| e["days"].as_u64().is_some_and(|d| d >= MIN_SHARPE_DAYS)),
            backtest: fold.backtest_sharpe,
            equity,
            drawdown: equity / peak - 1.0,
            share_drifted: e["share_drifted"].as_f64(),
            psi: e["prediction_psi"].as_f64(),
        });
    }
    // A marker after the last bar belongs to it.
    for m in &mut markers {
        m.at = m.at.min(out.len().saturating_sub(1));
    }
    (out, markers)
}

fn card(key: &str, label: &str, value: Option<f64>, format: fn(f64) -> String) -> String {
    let (text, data) = match value.filter(|v| v.is_finite()) {
        Some(v) => (format(v), v.to_string()),
        None => ("-".to_string(), String::new()),
    };
    format!(
        r#"<div class="card"><div class="label">{}</div><div class="value" data-key="{key}" data-value="{data}">{}</div></div>"#,
        escape(label),
        escape(&text)
    )
}

fn fixed(v: f64) -> String {
    format!("{v:.3}")
}

fn percent(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

fn cards(s: &MonitorStatus) -> String {
    let live = |k: &str| s.live.get(k).and_then(Value::as_f64);
    [
        card(
            "champion",
            "serving version",
            s.champion.map(|v| v as f64),
            |v| format!("{v:.0}"),
        ),
        card("live_sharpe", "live Sharpe", live("sharpe"), fixed),
        card(
            "backtest_sharpe",
            "backtest Sharpe",
            s.backtest_sharpe,
            fixed,
        ),
        card("hit_rate", "live hit rate", live("hit_rate"), percent),
        card("drawdown", "drawdown", live("drawdown"), percent),
        card(
            "share_drifted",
            "features drifted",
            s.share_drifted,
            percent,
        ),
        card("prediction_psi", "prediction PSI", s.prediction_psi, fixed),
        card("bars", "bars", Some(s.bars as f64), |v| format!("{v:.0}")),
        card("cycles", "cycles", Some(s.cycles as f64), |v| {
            format!("{v:.0}")
        }),
        card("errors", "errors", Some(s.errors as f64), |v| {
            format!("{v:.0}")
        }),
    ]
    .concat()
}

fn timeline(events: &[Value]) -> String {
    let mut rows = String::new();
    for e in events.iter().filter(|e| e["kind"] != "live") {
        let kind = e["kind"].as_str().unwrap_or("");
        let _ = write!(
            rows,
            r#"<tr data-kind="{k}"><td>{}</td><td class="kind {k}">{k}</td><td>{}</td></tr>"#,
            escape(e["date"].as_str().unwrap_or("")),
            escape(&describe(e)),
            k = escape(kind),
        );
    }
    format!(
        r#"<table id="timeline"><thead><tr><th>bar</th><th>event</th><th>what</th></tr></thead><tbody>{rows}</tbody></table>"#
    )
}

/// Each A/B trial: the always-valid p-value after every bar it compared, to its decision.
fn ab_trials(events: &[Value]) -> String {
    let mut out = String::new();
    let started = events
        .iter()
        .filter(|e| e["kind"] == "gate" && e["stage"] == "started");
    for (t, s) in started.enumerate() {
        let version = s["version"].as_u64();
        let alpha = s["alpha"].as_f64().unwrap_or(0.05);
        let decided = events
            .iter()
            .find(|e| e["kind"] == "gate" && e["stage"] == "decided" && e["cycle"] == s["cycle"]);
        // The p-value after each bar in shadow, ending with the one the decision was taken on.
        let path: Vec<(String, f64)> = events
            .iter()
            .filter(|e| e["kind"] == "live" && e["ab"]["version"].as_u64() == version)
            .map(|e| (e, &e["ab"]))
            .chain(decided.map(|d| (d, d)))
            .filter_map(|(e, ab)| Some((e["date"].as_str()?.to_string(), ab["p_value"].as_f64()?)))
            .collect();
        let outcome = decided.map_or("still running".to_string(), describe);
        let dates: Vec<String> = path.iter().map(|(d, _)| d.clone()).collect();
        let series = Series {
            name: "p_value",
            color: "#264653",
            values: path.iter().map(|(_, p)| Some(*p)).collect(),
            dashed: false,
            dots: false,
        };
        let _ = write!(
            out,
            r#"<div class="ab" data-version="{}" data-decision="{}"><h3>Version {} in shadow from {}</h3><p>{}</p>{}</div>"#,
            version.map_or(String::new(), |v| v.to_string()),
            escape(
                decided
                    .and_then(|d| d["decision"].as_str())
                    .unwrap_or("continue")
            ),
            version.map_or("?".into(), |v| v.to_string()),
            escape(s["date"].as_str().unwrap_or("")),
            escape(&outcome),
            chart(
                &format!("ab-{t}"),
                &dates,
                &[series],
                &[],
                &[(alpha, "alpha")]
            ),
        );
    }
    if out.is_empty() {
        out.push_str(r#"<p class="none">No A/B trial in this log.</p>"#);
    }
    out
}

fn charts(bars: &[Bar], markers: &[Marker]) -> String {
    let dates: Vec<String> = bars.iter().map(|b| b.date.clone()).collect();
    let s = |name, color, values: Vec<Option<f64>>, dashed, dots| Series {
        name,
        color,
        values,
        dashed,
        dots,
    };
    let perf = [
        s(
            "live_sharpe",
            "#264653",
            bars.iter().map(|b| b.sharpe).collect(),
            false,
            false,
        ),
        s(
            "backtest_sharpe",
            "#e76f51",
            bars.iter().map(|b| b.backtest).collect(),
            true,
            false,
        ),
    ];
    let equity = [s(
        "equity",
        "#264653",
        bars.iter().map(|b| Some(b.equity)).collect(),
        false,
        false,
    )];
    let drawdown = [s(
        "drawdown",
        "#d62828",
        bars.iter().map(|b| Some(b.drawdown)).collect(),
        false,
        false,
    )];
    let drift = [
        s(
            "share_drifted",
            "#8338ec",
            bars.iter().map(|b| b.share_drifted).collect(),
            false,
            true,
        ),
        s(
            "prediction_psi",
            "#fb8500",
            bars.iter().map(|b| b.psi).collect(),
            false,
            true,
        ),
    ];
    format!(
        "<h2>Live against backtest</h2><p class=\"legend\"><span style=\"color:#264653\">live Sharpe since the champion took office (from its 20th day)</span> · <span style=\"color:#e76f51\">its walk-forward Sharpe when trained</span> · markers: <span style=\"color:#2a9d8f\">promoted</span>, <span style=\"color:#d62828\">rolled back</span>, <span style=\"color:#999\">rejected</span></p>{}\
         <h2>Paper equity and drawdown</h2>{}{}\
         <h2>Drift</h2><p class=\"legend\"><span style=\"color:#8338ec\">share of features drifted</span> · <span style=\"color:#fb8500\">prediction PSI</span>, on the bars they were measured</p>{}",
        chart("performance", &dates, &perf, markers, &[]),
        chart("equity", &dates, &equity, markers, &[(1.0, "start")]),
        chart("drawdown", &dates, &drawdown, &[], &[(0.0, "peak")]),
        chart("drift", &dates, &drift, markers, &[]),
    )
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;max-width:900px;margin:2em auto;color:#222}\
h2{margin-top:1.6em}.cards{display:flex;flex-wrap:wrap;gap:8px}.card{border:1px solid #ddd;border-radius:6px;padding:6px 10px;min-width:120px}\
.card .label{color:#666;font-size:12px}.card .value{font-size:18px;font-weight:600}.chart{width:100%;height:auto}\
.tick{font-size:10px;fill:#666}.legend{color:#555;font-size:12px}table{border-collapse:collapse;width:100%}\
td,th{padding:2px 8px;white-space:normal;border-bottom:1px solid #eee;text-align:left;vertical-align:top}.kind{font-weight:600}td:first-child{white-space:nowrap}\
.promoted{color:#2a9d8f}.rolled_back,.error{color:#d62828}.rejected{color:#777}#filters label{margin-right:10px}";

/// Shows or hides the timeline's rows by kind (the page works without it).
const SCRIPT: &str = "for(const b of document.querySelectorAll('#filters input')){b.addEventListener('change',()=>{\
for(const r of document.querySelectorAll('#timeline tr[data-kind=\"'+b.value+'\"]'))r.hidden=!b.checked})}\
document.body.dataset.status='ready';";

fn filters(events: &[Value]) -> String {
    let mut kinds: Vec<&str> = events
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .filter(|k| *k != "live")
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds
        .iter()
        .map(|k| {
            format!(
                r#"<label><input type="checkbox" value="{k}" checked>{k}</label>"#,
                k = escape(k)
            )
        })
        .collect()
}

/// The page over `events` (a watch's committed log).
pub fn render(title: &str, events: &[Value]) -> (String, MonitorStatus) {
    let status = MonitorStatus::from_events(events);
    let (bars, markers) = bars(events);
    let period = match (bars.first(), bars.last()) {
        (Some(a), Some(b)) => format!("{} to {}", a.date, b.date),
        _ => "no bar yet".to_string(),
    };
    let html = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Monitor: {t}</title><style>{STYLE}</style></head>
<body data-status="loading"><h1>Monitor: {t}</h1><p id="period">{m} · {period} · {n} events</p>
<div class="cards" id="cards">{cards}</div>{charts}
<h2>A/B trials</h2><div id="ab">{ab}</div>
<h2>Timeline</h2><div id="filters">{filters}</div>{timeline}
<script>{SCRIPT}</script></body></html>
"#,
        t = escape(title),
        m = escape(status.model.as_deref().unwrap_or("-")),
        period = escape(&period),
        n = events.len(),
        cards = cards(&status),
        charts = charts(&bars, &markers),
        ab = ab_trials(events),
        filters = filters(events),
        timeline = timeline(events),
    );
    (html, status)
}

/// Writes the page for the watch state at `state` (a directory, or a PostgreSQL URL with the
/// watch's registered `name`, needed only when the database holds several) to `out` (default
/// `STATE/monitor.html`, or `monitor.html` for a database).
pub fn write_monitor(
    state: &str,
    name: Option<&str>,
    out: Option<&Path>,
) -> Result<(PathBuf, MonitorStatus)> {
    let (title, events, default_out) = if super::store::is_postgres(state) {
        let name = match name {
            Some(n) => n.to_string(),
            None => super::pg::only_watch(state)?,
        };
        let lease = super::pg::LeaseSpec {
            holder: String::new(),
            ttl: std::time::Duration::from_secs(1),
        };
        let events = super::pg::PgStore::open(state, &name, lease, false)?.committed_events()?;
        (name, events, PathBuf::from("monitor.html"))
    } else {
        let dir = Path::new(state);
        if !dir.join("state.json").is_file() {
            bail!("{state}: not a strider watch state directory (no state.json)");
        }
        let title = std::fs::canonicalize(dir)
            .unwrap_or_else(|_| dir.to_path_buf())
            .file_name()
            .map_or("watch".into(), |n| n.to_string_lossy().into_owned());
        (title, committed_events(dir)?, dir.join("monitor.html"))
    };
    let (html, status) = render(&title, &events);
    let out = out.map_or(default_out, Path::to_path_buf);
    let tmp = out.with_extension("html.tmp");
    std::fs::write(&tmp, html).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &out).with_context(|| format!("writing {}", out.display()))?;
    Ok((out, status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hostile_names_and_messages_are_text() {
        let model = "<script>alert(1)</script>";
        let events = [
            json!({"date": "2020-01-02", "kind": "error", "model": model, "error": "<img src=x onerror=alert(2)>"}),
            json!({"date": "2020-01-02", "kind": "live", "model": model, "bars": 1, "cycles": 0, "errors": 1, "champion": null}),
            json!({"date": "2020-01-03", "kind": "<b>odd</b>", "model": model}),
        ];
        let (html, status) = render("<t>", &events);
        assert_eq!(
            html.matches("<script>").count(),
            1,
            "only the page's own script"
        );
        assert!(!html.contains("<img") && !html.contains("<b>odd") && !html.contains("<t>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert_eq!(status.errors, 1);
        assert_eq!(html.matches("<tr data-kind=").count(), 2);
    }

    #[test]
    fn an_empty_log_is_a_page_without_figures() {
        let (html, status) = render("empty", &[]);
        assert_eq!(status.bars, 0);
        assert!(html.contains("no bar yet") && html.contains("No A/B trial"));
    }
}
