//! Bar charts as inline SVG, drawn on the server: no script or front-end build, readable by
//! screen readers (a title and description, and every bar's value as text), and sized by the
//! page's CSS (`viewBox` only).

use std::fmt::Write as _;

/// One bar: its label, its length, and the value as written beside it.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub shown: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const ROW: f64 = 28.0;

/// Horizontal bars, one row each, labels on the left: for categories (stages, objections).
pub fn horizontal(id: &str, title: &str, bars: &[Bar]) -> String {
    // Narrow enough that text stays legible when a phone scales the chart down.
    let width = 480.0;
    let label_w = 150.0;
    let value_w = 90.0;
    let height = ROW * bars.len().max(1) as f64 + 8.0;
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    let mut svg = format!(
        r#"<svg id="{id}" class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{id}-title"><title id="{id}-title">{}</title>"#,
        escape(title)
    );
    for (i, b) in bars.iter().enumerate() {
        let y = 4.0 + ROW * i as f64;
        let len = if max > 0.0 {
            (width - label_w - value_w) * b.value / max
        } else {
            0.0
        };
        let _ = write!(
            svg,
            r#"<g class="bar"><text x="{lx}" y="{ty}" text-anchor="end" class="label">{label}</text><rect x="{label_w}" y="{ry}" width="{len:.1}" height="{h}" rx="3"></rect><text x="{vx:.1}" y="{ty}" class="value">{shown}</text></g>"#,
            lx = label_w - 8.0,
            ty = y + ROW / 2.0 + 4.0,
            ry = y + 4.0,
            h = ROW - 8.0,
            vx = label_w + len + 6.0,
            label = escape(&b.label),
            shown = escape(&b.shown),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Vertical bars along a time axis, labels below: for amounts by week.
pub fn vertical(id: &str, title: &str, bars: &[Bar]) -> String {
    let slot = 64.0;
    let width = (slot * bars.len().max(1) as f64).max(320.0);
    let (top, plot, bottom) = (24.0, 180.0, 44.0);
    let height = top + plot + bottom;
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    let mut svg = format!(
        r#"<svg id="{id}" class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{id}-title"><title id="{id}-title">{}</title><line x1="0" x2="{width}" y1="{base}" y2="{base}" class="axis"></line>"#,
        escape(title),
        base = top + plot
    );
    for (i, b) in bars.iter().enumerate() {
        let h = if max > 0.0 { plot * b.value / max } else { 0.0 };
        let x = slot * i as f64;
        let _ = write!(
            svg,
            r#"<g class="bar"><rect x="{rx:.1}" y="{ry:.1}" width="{w:.1}" height="{h:.1}" rx="3"></rect><text x="{cx:.1}" y="{vy:.1}" text-anchor="middle" class="value">{shown}</text><text x="{cx:.1}" y="{ly:.1}" text-anchor="middle" class="label">{label}</text></g>"#,
            rx = x + 10.0,
            ry = top + plot - h,
            w = slot - 20.0,
            cx = x + slot / 2.0,
            vy = top + plot - h - 6.0,
            ly = top + plot + 18.0,
            shown = escape(&b.shown),
            label = escape(&b.label),
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_text_is_escaped() {
        let bars = [
            Bar {
                label: "a<b".into(),
                value: 10.0,
                shown: "10".into(),
            },
            Bar {
                label: "c".into(),
                value: 5.0,
                shown: "5".into(),
            },
        ];
        let svg = horizontal("x", "T & U", &bars);
        assert!(
            svg.contains("<title id=\"x-title\">T &amp; U</title>"),
            "{svg}"
        );
        assert!(svg.contains(">a&lt;b<"));
        assert!(svg.contains(r#"width="240.0""#), "{svg}");
        assert!(svg.contains(r#"width="120.0""#), "{svg}");
        let v = vertical("w", "weeks", &bars);
        assert_eq!(v.matches("<rect").count(), 2);
        assert!(
            v.contains(r#"height="180.0""#) && v.contains(r#"height="90.0""#),
            "{v}"
        );
        // Nothing to draw is still a valid, empty chart.
        assert!(horizontal("e", "empty", &[]).ends_with("</svg>"));
    }
}
