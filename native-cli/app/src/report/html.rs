//! Fill the page template. Scripts are inlined and allowed by their SHA-256 in the
//! Content-Security-Policy (no 'unsafe-inline'); data travels gzipped and base64-encoded inside
//! non-executing script elements, so nothing from the data is ever parsed as HTML.

use std::io::Write;

use crate::bail;
use crate::error::Result;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};
use strider_core::report::ReportPayload;

use super::assets;

fn csp_hash(text: &str) -> String {
    format!("'sha256-{}'", B64.encode(Sha256::digest(text.as_bytes())))
}

/// Text for an element whose content is raw text (`<script>`, `<style>`): it must not be able to
/// close the element early.
fn raw_text<'a>(what: &str, text: &'a str) -> Result<&'a str> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("</script") || lower.contains("</style") || lower.contains("<!--") {
        bail!("{what} cannot be inlined: it contains `</script`, `</style` or `<!--`");
    }
    Ok(text)
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn gzip_base64(bytes: &[u8]) -> Result<String> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes)?;
    Ok(B64.encode(gz.finish()?))
}

/// The whole report for a payload.
pub fn render(payload: &ReportPayload) -> Result<String> {
    let name = payload
        .summary
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or("run");
    let title = escape_html(&format!("{name}: Strider report"));
    let style = format!("{}\n{}", assets::UPLOT_CSS, assets::STYLE);
    let worker = format!("{}\n{}", assets::GLUE_JS, assets::WORKER_JS);
    let scripts = [assets::GLUE_JS, assets::UPLOT_JS, assets::APP_JS];
    for (what, text) in [
        ("the wasm glue", assets::GLUE_JS),
        ("uPlot", assets::UPLOT_JS),
        ("the report script", assets::APP_JS),
        ("the worker script", assets::WORKER_JS),
        ("the style sheet", style.as_str()),
    ] {
        raw_text(what, text)?;
    }
    let csp = format!(
        "default-src 'none'; script-src {} 'wasm-unsafe-eval'; style-src {}; img-src data:; \
         worker-src blob:; base-uri 'none'; form-action 'none'",
        scripts.map(csp_hash).join(" "),
        csp_hash(&style)
    );
    let payload_json = serde_json::to_vec(payload)?;
    let values = [
        ("CSP", csp),
        ("VERSION", escape_html(env!("CARGO_PKG_VERSION"))),
        ("WASM_SOURCES", escape_html(assets::SOURCES_SHA256.trim())),
        ("TITLE", title),
        ("STYLE", style),
        ("PAYLOAD", gzip_base64(&payload_json)?),
        ("WASM", B64.encode(assets::WASM_GZ)),
        ("WORKER", worker),
        ("GLUE", assets::GLUE_JS.to_string()),
        ("UPLOT", assets::UPLOT_JS.to_string()),
        ("APP", assets::APP_JS.to_string()),
    ];
    // One pass over the template: an inserted value is never scanned for placeholders again.
    let mut out = String::with_capacity(assets::TEMPLATE.len() + (4 << 20));
    let mut rest = assets::TEMPLATE;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .map(|e| start + e)
            .unwrap_or(rest.len());
        let key = &rest[start + 2..end];
        match values.iter().find(|(k, _)| *k == key) {
            Some((_, v)) => out.push_str(v),
            None => bail!("report template: unknown placeholder {{{{{key}}}}}"),
        }
        rest = &rest[(end + 2).min(rest.len())..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_refuses_early_closing_scripts() {
        assert_eq!(
            escape_html("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        assert!(raw_text("x", "let a = '</SCRIPT>';").is_err());
        assert!(raw_text("x", "let a = 1 < 2;").is_ok());
    }
}
