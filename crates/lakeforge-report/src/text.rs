//! Text in the markup: escaping, SVG coordinates, and the short number formats of areas,
//! importances and labels (metric values use `lakeforge_ml::report::fmt_value`, the
//! format of the report's own info lines).

/// Escapes text for HTML element content and quoted attribute values (also the web UI's
/// escaping, as `lakeforge_report::escape_html`).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
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

/// SVG coordinate; non-finite values (only possible for absurd data ranges)
/// are pinned so the markup stays valid.
pub(crate) fn c(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}", v.clamp(-1e6, 1e6))
    } else {
        "0".into()
    }
}

pub(crate) fn fmt_area(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "n/a".into()
    }
}

/// About four significant digits: split counts stay whole, gains of any
/// scale stay short enough to sit beside their bar.
pub(crate) fn fmt_importance(v: f64) -> String {
    if v == 0.0 || v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    if !(1e-4..1e9).contains(&v.abs()) {
        return format!("{v:.3e}");
    }
    let decimals = (3.0 - v.abs().log10().floor()).clamp(0.0, 4.0) as usize;
    format!("{v:.decimals$}")
}

/// Shortens to `max` characters (not bytes) with an ellipsis.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
