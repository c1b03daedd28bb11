//! Inline SVG line charts for the monitor page: one y axis, gaps where a value is missing,
//! vertical markers for events. Self-contained (no script, no fonts), so the page opens offline.

use std::fmt::Write;

pub(crate) use crate::report::escape_html as escape;

pub struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub values: Vec<Option<f64>>,
    /// Dashed (a reference such as the backtest figure) rather than solid.
    pub dashed: bool,
    /// Dots at the measured points rather than a line (sparse measurements).
    pub dots: bool,
}

pub struct Marker {
    pub at: usize,
    pub color: &'static str,
    pub label: String,
}

const W: f64 = 860.0;
const H: f64 = 220.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// The value range shown: every finite value, the `floor` lines, a little padding.
fn range(series: &[Series], floor: &[f64]) -> (f64, f64) {
    let values = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .chain(floor)
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(*v), hi.max(*v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-9);
    (lo - pad, hi + pad)
}

/// A chart over `dates` (the x axis, one point per date); `hlines` are labelled reference levels.
pub fn chart(
    id: &str,
    dates: &[String],
    series: &[Series],
    markers: &[Marker],
    hlines: &[(f64, &str)],
) -> String {
    let levels: Vec<f64> = hlines.iter().map(|(v, _)| *v).collect();
    let (lo, hi) = range(series, &levels);
    let n = dates.len().max(2) as f64 - 1.0;
    let x = |i: usize| LEFT + (W - LEFT - RIGHT) * i as f64 / n;
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (hi - v) / (hi - lo);
    let mut svg = format!(
        r#"<svg id="{}" class="chart" viewBox="0 0 {W} {H}" role="img" xmlns="http://www.w3.org/2000/svg">"#,
        escape(id)
    );
    for k in 0..=3 {
        let v = lo + (hi - lo) * k as f64 / 3.0;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            W - RIGHT,
            LEFT - 4.0,
            y(v) + 4.0,
            tick(v),
            y = y(v)
        );
    }
    for (i, anchor) in [
        (0, "start"),
        (dates.len() / 2, "middle"),
        (dates.len().saturating_sub(1), "end"),
    ] {
        if let Some(d) = dates.get(i) {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{}" text-anchor="{anchor}" class="tick">{}</text>"#,
                x(i),
                H - 8.0,
                escape(d)
            );
        }
    }
    for (v, label) in hlines {
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#999" stroke-dasharray="2 3"><title>{}</title></line>"##,
            W - RIGHT,
            escape(label),
            y = y(*v)
        );
    }
    for m in markers {
        let _ = write!(
            svg,
            r#"<line class="marker" x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="{}" stroke-width="1.5" opacity="0.7"><title>{}</title></line>"#,
            H - BOTTOM,
            m.color,
            escape(&m.label),
            x = x(m.at)
        );
    }
    for s in series {
        svg.push_str(&path(s, &x, &y));
    }
    svg.push_str("</svg>");
    svg
}

/// One series: a path with a gap at every missing value, or dots.
fn path(s: &Series, x: &dyn Fn(usize) -> f64, y: &dyn Fn(f64) -> f64) -> String {
    let points = s
        .values
        .iter()
        .filter(|v| v.is_some_and(f64::is_finite))
        .count();
    let name = escape(s.name);
    if s.dots {
        let mut g = format!(
            r#"<g data-series="{name}" data-points="{points}" fill="{}">"#,
            s.color
        );
        for (i, v) in s.values.iter().enumerate() {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                let _ = write!(g, r#"<circle cx="{:.1}" cy="{:.1}" r="2.5"/>"#, x(i), y(v));
            }
        }
        g.push_str("</g>");
        return g;
    }
    let mut d = String::new();
    let mut pen_down = false;
    for (i, v) in s.values.iter().enumerate() {
        match v.filter(|v| v.is_finite()) {
            Some(v) => {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1}",
                    if pen_down { "L" } else { "M" },
                    x(i),
                    y(v)
                );
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    let dash = if s.dashed {
        r#" stroke-dasharray="6 4""#
    } else {
        ""
    };
    format!(
        r#"<path data-series="{name}" data-points="{points}" d="{d}" fill="none" stroke="{}" stroke-width="1.5"{dash}/>"#,
        s.color
    )
}

fn tick(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_break_the_line_and_points_are_counted() {
        let s = Series {
            name: "a<b",
            color: "#000",
            values: vec![Some(1.0), None, Some(2.0), Some(f64::NAN), Some(3.0)],
            dashed: false,
            dots: false,
        };
        let dates: Vec<String> = (0..5).map(|i| format!("d{i}")).collect();
        let svg = chart("c", &dates, &[s], &[], &[]);
        assert!(svg.contains(r#"data-series="a&lt;b" data-points="3""#));
        assert_eq!(svg.matches('M').count(), 3, "three separate runs: {svg}");
        assert!(!svg.contains("NaN"));
    }
}
