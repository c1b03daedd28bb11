//! The cycle report: one self-contained HTML page per cycle (`STATE/cycles/<cycle>.html`) with
//! what fired and its evidence, champion against challenger on the gate window, and the decision.

use chrono::NaiveDate;
use strider_core::retrain::{Fired, GateResult};

use super::Watcher;
use crate::Result;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn row(k: &str, v: &str) -> String {
    format!("<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v))
}

pub(super) fn write(
    w: &Watcher,
    cycle: &str,
    date: NaiveDate,
    fired: &[Fired],
    gate: Option<&GateResult>,
    promoted: Option<u64>,
) -> Result<()> {
    let decision = match (promoted, gate) {
        (Some(v), Some(_)) => format!("promoted: version {v} is now @{}", w.spec.alias),
        (Some(v), None) => format!("first champion: version {v} is now @{}", w.spec.alias),
        (None, _) => "rejected: the champion stays".to_string(),
    };
    let triggers: String = fired
        .iter()
        .map(|f| {
            let evidence = serde_json::to_string_pretty(&f.evidence).unwrap_or_default();
            format!(
                "<h3>{}</h3><pre>{}</pre>",
                escape(f.trigger),
                escape(&evidence)
            )
        })
        .collect();
    let gate_rows = match gate {
        None => row("gate", "none (no champion to compare with)"),
        Some(g) => [
            row("bars compared", &g.n.to_string()),
            row("champion Sharpe", &format!("{:.3}", g.champion_sharpe)),
            row("challenger Sharpe", &format!("{:.3}", g.challenger_sharpe)),
            row(
                "mean difference per bar",
                &format!("{:+.3e}", g.mean_difference),
            ),
            row(
                "Diebold-Mariano statistic",
                &g.dm_statistic.map_or("-".into(), |s| format!("{s:.3}")),
            ),
            row(
                "one-sided p-value",
                &format!("{:.4} (alpha {})", g.p_value, g.alpha),
            ),
            row("verdict", &g.reason),
        ]
        .concat(),
    };
    let champion = w
        .state
        .champion()
        .map_or("-".into(), |r| r.version.to_string());
    let html = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Cycle {cycle}</title>
<style>body{{font:14px system-ui,sans-serif;max-width:860px;margin:2em auto;color:#222}}
th{{text-align:left;padding:2px 12px 2px 0;color:#555}}pre{{background:#f5f5f5;padding:8px}}
.decision{{font-size:18px;font-weight:600}}</style></head><body>
<h1>Retraining cycle {cycle_e}</h1>
<table>{model}{date}{registered}{champion_row}</table>
<p class="decision" id="decision">{decision}</p>
<h2>What fired</h2>{triggers}
<h2>Champion against challenger on the gate window</h2><table id="gate">{gate_rows}</table>
</body></html>
"#,
        cycle = escape(cycle),
        cycle_e = escape(cycle),
        model = row("model", &w.model_name),
        date = row("bar", &date.to_string()),
        registered = row("registered model", &w.registered),
        champion_row = row("champion after the cycle", &champion),
        decision = escape(&decision),
    );
    let dir = w.dir.join("cycles");
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!("{cycle}.html.tmp"));
    std::fs::write(&tmp, html)?;
    std::fs::rename(&tmp, dir.join(format!("{cycle}.html")))?;
    Ok(())
}
