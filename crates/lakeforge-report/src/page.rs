//! The whole report page: heading, provenance lines, metrics and parameters tables, and
//! the figures of [`crate::charts`] in the order a reader judges a model (curves, then
//! confusion, then importance).

use std::fmt::Write as _;

use lakeforge_ml::report::fmt_value;
use lakeforge_ml::{ReportData, Task};

use crate::charts::{
    confusion_table, histogram_svg, importance_svg, pr_svg, roc_svg, scatter_svg, top_importance,
};
use crate::text::esc;

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2937;background:#f9fafb;margin:0}
main{max-width:1010px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}
h1 .ver{font-weight:400;color:#6b7280;font-size:18px;margin-left:8px}
h2{font-size:16px;margin:28px 0 10px;color:#374151}
.sub{color:#6b7280;margin:0 0 12px}
ul.info{margin:0;padding-left:18px;color:#374151}
table{border-collapse:collapse;background:#fff;font-size:14px}
th,td{border:1px solid #e5e7eb;padding:5px 10px;text-align:left}
th{background:#f3f4f6;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0;background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:4px}
table.cm td{text-align:center;min-width:44px;font-variant-numeric:tabular-nums}
table.cm small{display:block;font-size:11px;opacity:.8}
.note{color:#6b7280;font-size:13px}
footer{color:#9ca3af;font-size:12px;margin-top:32px}
";

/// The report as one standalone HTML page (inline CSS and SVG only).
pub fn render_html(r: &ReportData) -> String {
    let mut h = String::with_capacity(32 * 1024);
    let name = if r.model_name.is_empty() {
        "Model"
    } else {
        &r.model_name
    };
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(h, "<title>{} — evaluation report</title>", esc(name));
    let _ = writeln!(h, "<style>\n{STYLE}</style>\n</head>\n<body>\n<main>");
    let _ = write!(h, "<h1>{}", esc(name));
    if !r.version.is_empty() {
        let _ = write!(h, "<span class=\"ver\">version {}</span>", esc(&r.version));
    }
    h.push_str("</h1>\n");
    let mut sub = Vec::new();
    if !r.task.is_empty() {
        sub.push(format!("{} model", esc(&r.task)));
    }
    sub.push(format!("evaluated on {} rows", r.rows));
    let _ = writeln!(h, "<p class=\"sub\">{}</p>", sub.join(" · "));
    if !r.training_info.is_empty() {
        h.push_str("<ul class=\"info\">\n");
        for line in &r.training_info {
            let _ = writeln!(h, "<li>{}</li>", esc(line));
        }
        h.push_str("</ul>\n");
    }

    if !r.metrics.is_empty() {
        h.push_str("<h2>Metrics</h2>\n<table>\n<tr><th>metric</th><th>value</th></tr>\n");
        for (k, v) in &r.metrics {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
                esc(k),
                fmt_value(*v)
            );
        }
        h.push_str("</table>\n");
    }

    let mut charts = Vec::new();
    if let Some(roc) = r.roc.as_deref().filter(|c| !c.is_empty()) {
        charts.push(roc_svg(roc));
    }
    if let Some(pr) = r.pr.as_deref().filter(|c| !c.is_empty()) {
        charts.push(pr_svg(pr));
    }
    if let Some(res) = &r.residuals {
        if !res.points.is_empty() {
            charts.push(scatter_svg(res));
        }
        if !res.histogram.counts.is_empty() {
            charts.push(histogram_svg(&res.histogram));
        }
    }
    if !charts.is_empty() {
        h.push_str("<h2>Charts</h2>\n<div class=\"charts\">\n");
        for c in charts {
            let _ = writeln!(h, "<figure>{c}</figure>");
        }
        h.push_str("</div>\n");
    }

    if let Some((classes, m)) = &r.confusion {
        h.push_str("<h2>Confusion matrix</h2>\n");
        let rule = if r.task == Task::Binary.name() {
            "probability above 0.5"
        } else {
            "most probable class"
        };
        let _ = writeln!(
            h,
            "<p class=\"note\">Rows: true class; columns: predicted class ({rule}). Shading: share of the true class.</p>"
        );
        h.push_str(&confusion_table(classes, m));
    }

    let shown = top_importance(&r.feature_importance);
    if !shown.is_empty() {
        h.push_str("<h2>Feature importance</h2>\n");
        if r.feature_importance.len() > shown.len() {
            let _ = writeln!(
                h,
                "<p class=\"note\">Top {} of {} features.</p>",
                shown.len(),
                r.feature_importance.len()
            );
        }
        let _ = writeln!(h, "<figure>{}</figure>", importance_svg(&shown));
    }

    if !r.params.is_empty() {
        h.push_str("<h2>Parameters</h2>\n<table>\n<tr><th>parameter</th><th>value</th></tr>\n");
        for (k, v) in &r.params {
            let _ = writeln!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(v));
        }
        h.push_str("</table>\n");
    }
    h.push_str("<footer>Generated by lakeforge-ml.</footer>\n</main>\n</body>\n</html>\n");
    h
}
