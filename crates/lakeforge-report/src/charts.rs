//! One figure of the report each: ROC and precision-recall curves, the residual scatter
//! and histogram, feature importance bars (SVG), and the confusion matrix (an HTML table).
//! Each takes the part of `ReportData` it draws and returns markup that stands alone.

use std::fmt::Write as _;

use lakeforge_ml::curves::Histogram;
use lakeforge_ml::report::fmt_value;
use lakeforge_ml::{Curve, ReportData, ResidualData, Task};

use crate::svg::{
    CHART_W, Frame, PALETTE, chart_open, dashed_line, fmt_tick, legend, nice_ticks, polyline,
    range_of, tick_step, unit_ticks,
};
use crate::text::{c, esc, fmt_area, fmt_importance, truncate};

/// How many features [`top_importance`] keeps.
pub const MAX_IMPORTANCE_BARS: usize = 20;

/// The figures a page can embed one at a time, each drawn from its part of a [`ReportData`]
/// (the confusion matrix, a table, is not one of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Roc,
    PrecisionRecall,
    Residuals,
    ResidualHistogram,
    Importance,
}

impl Figure {
    pub const ALL: [Figure; 5] = [
        Figure::Roc,
        Figure::PrecisionRecall,
        Figure::Residuals,
        Figure::ResidualHistogram,
        Figure::Importance,
    ];

    /// Its name in URLs (`roc`, `pr`, `residuals`, `residual-histogram`, `importance`).
    pub fn name(self) -> &'static str {
        match self {
            Figure::Roc => "roc",
            Figure::PrecisionRecall => "pr",
            Figure::Residuals => "residuals",
            Figure::ResidualHistogram => "residual-histogram",
            Figure::Importance => "importance",
        }
    }

    pub fn from_name(name: &str) -> Option<Figure> {
        Figure::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The figures a model of `task` (`Task::name()`) can have; whether one is drawn still
    /// depends on its data ([`Figure::draw`]).
    pub fn for_task(task: &str) -> &'static [Figure] {
        match Task::parse(task) {
            Some((Task::Binary | Task::Multiclass, _)) => {
                &[Figure::Roc, Figure::PrecisionRecall, Figure::Importance]
            }
            Some((Task::Regression, _)) => &[
                Figure::Residuals,
                Figure::ResidualHistogram,
                Figure::Importance,
            ],
            Some((Task::Clustering, _)) | None => &[],
        }
    }

    /// The figure as standalone SVG, or None when `report` has nothing for it to show.
    pub fn draw(self, report: &ReportData) -> Option<String> {
        match self {
            Figure::Roc => report.roc.as_deref().filter(|c| !c.is_empty()).map(roc_svg),
            Figure::PrecisionRecall => report.pr.as_deref().filter(|c| !c.is_empty()).map(pr_svg),
            Figure::Residuals => report
                .residuals
                .as_ref()
                .filter(|r| !r.points.is_empty())
                .map(scatter_svg),
            Figure::ResidualHistogram => report
                .residuals
                .as_ref()
                .filter(|r| !r.histogram.counts.is_empty())
                .map(|r| histogram_svg(&r.histogram)),
            Figure::Importance => {
                let shown = top_importance(&report.feature_importance);
                (!shown.is_empty()).then(|| importance_svg(&shown))
            }
        }
    }
}

/// ROC curve(s): one for a binary model, one-vs-rest per class with a legend otherwise;
/// the diagonal is what a random ranking achieves.
pub fn roc_svg(curves: &[Curve]) -> String {
    let ticks = unit_ticks();
    let f = Frame::new(&ticks, &ticks);
    let title = match curves {
        [one] => format!("ROC curve (AUC = {})", fmt_area(one.area)),
        _ => "ROC curves, one-vs-rest".to_string(),
    };
    let mut s = chart_open(
        &title,
        "False positive rate",
        "True positive rate",
        &f,
        &ticks,
        &ticks,
    );
    s.push_str(&dashed_line(&f, (0.0, 0.0), (1.0, 1.0)));
    for (i, curve) in curves.iter().enumerate() {
        s.push_str(&polyline(&curve.points, &f, PALETTE[i % PALETTE.len()]));
    }
    if curves.len() > 1 {
        s.push_str(&legend(curves, &f, "AUC", false));
    }
    s.push_str("</svg>");
    s
}

/// Precision-recall curve(s), drawn as the steps average precision sums, with the
/// positive rate as baseline when there is one curve.
pub fn pr_svg(curves: &[Curve]) -> String {
    let ticks = unit_ticks();
    let f = Frame::new(&ticks, &ticks);
    let title = match curves {
        [one] => format!("Precision-recall (AP = {})", fmt_area(one.area)),
        _ => "Precision-recall, one-vs-rest".to_string(),
    };
    let mut s = chart_open(&title, "Recall", "Precision", &f, &ticks, &ticks);
    if let [one] = curves {
        // At recall 1 every row is predicted positive, so the last point's
        // precision is the positive rate: what a random ranking achieves.
        if let Some(&(_, base)) = one.points.last() {
            s.push_str(&dashed_line(&f, (0.0, base), (1.0, base)));
        }
    }
    for (i, curve) in curves.iter().enumerate() {
        // Past the first point at full recall only negatives are added: a
        // vertical drop to the positive rate that adds no area and would hide
        // the baseline, so the drawing stops there (as scikit-learn's curve).
        let full = curve.points.last().map_or(1.0, |p| p.0);
        let end = curve
            .points
            .iter()
            .position(|p| p.0 >= full)
            .map_or(curve.points.len(), |j| j + 1);
        let points = &curve.points[..end];
        // Average precision holds each precision over the recall interval
        // ending at its point; drawing the same steps keeps picture and AP in
        // agreement (straight lines would overstate the area).
        let mut steps = Vec::with_capacity(points.len() * 2);
        for (j, &p) in points.iter().enumerate() {
            if j > 0 {
                steps.push((points[j - 1].0, p.1));
            }
            steps.push(p);
        }
        s.push_str(&polyline(&steps, &f, PALETTE[i % PALETTE.len()]));
    }
    if curves.len() > 1 {
        s.push_str(&legend(curves, &f, "AP", true));
    }
    s.push_str("</svg>");
    s
}

/// Predicted against actual values of a regression (a sample of the rows), on one
/// shared range so the y = x line is the diagonal.
pub fn scatter_svg(res: &ResidualData) -> String {
    // One shared range for both axes so the y = x line is the diagonal.
    let (lo, hi) = res
        .points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(p, y)| {
            (lo.min(p).min(y), hi.max(p).max(y))
        });
    let ticks = nice_ticks(lo, hi, 5);
    let f = Frame::new(&ticks, &ticks);
    let title = if res.points.len() < res.rows {
        format!(
            "Predicted vs actual ({} of {} rows)",
            res.points.len(),
            res.rows
        )
    } else {
        format!("Predicted vs actual ({} rows)", res.points.len())
    };
    let mut s = chart_open(&title, "Predicted", "Actual", &f, &ticks, &ticks);
    let (a, b) = range_of(&ticks);
    s.push_str(&dashed_line(&f, (a, a), (b, b)));
    s.push_str("<g fill=\"#2563eb\" fill-opacity=\"0.45\">");
    for &(p, y) in &res.points {
        let _ = write!(
            s,
            "<circle cx=\"{}\" cy=\"{}\" r=\"2.5\"/>",
            c(f.px(p)),
            c(f.py(y))
        );
    }
    s.push_str("</g></svg>");
    s
}

/// Distribution of the residuals `actual - predicted`, with a line at zero.
pub fn histogram_svg(hist: &Histogram) -> String {
    let lo = hist.edges.first().copied().unwrap_or(0.0);
    let hi = hist.edges.last().copied().unwrap_or(1.0);
    let xticks = nice_ticks(lo, hi, 6);
    let max_count = hist.counts.iter().copied().max().unwrap_or(0);
    // Row counts are whole numbers: small ones get one tick per row rather
    // than "0.5 rows"; above 5 the nice step is already at least 1.
    let yticks: Vec<f64> = if max_count <= 5 {
        (0..=max_count.max(1)).map(|k| k as f64).collect()
    } else {
        nice_ticks(0.0, max_count as f64, 5)
            .into_iter()
            .filter(|&t| t >= 0.0)
            .collect()
    };
    let f = Frame::new(&xticks, &yticks);
    let mut s = chart_open(
        "Residuals (actual − predicted)",
        "Residual",
        "Rows",
        &f,
        &xticks,
        &yticks,
    );
    s.push_str("<g fill=\"#60a5fa\" stroke=\"#2563eb\" stroke-width=\"0.5\">");
    for (i, &count) in hist.counts.iter().enumerate() {
        let (Some(&a), Some(&b)) = (hist.edges.get(i), hist.edges.get(i + 1)) else {
            break;
        };
        let (x0, x1) = (f.px(a), f.px(b));
        let (y0, y1) = (f.py(count as f64), f.py(0.0));
        let _ = write!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{} to {}: {count}</title></rect>",
            c(x0),
            c(y0),
            c((x1 - x0).max(0.0)),
            c((y1 - y0).max(0.0)),
            fmt_value(a),
            fmt_value(b)
        );
    }
    s.push_str("</g>");
    let (a, b) = range_of(&xticks);
    if a < 0.0 && b > 0.0 {
        let (_, top) = range_of(&yticks);
        let _ = write!(
            s,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#dc2626\" stroke-dasharray=\"4 4\"/>",
            c(f.py(top)),
            c(f.py(0.0)),
            x = c(f.px(0.0))
        );
    }
    s.push_str("</svg>");
    s
}

/// The largest importances, highest first (stable, so ties keep the model's
/// feature order). NaN counts as 0; all-zero importances show nothing.
pub fn top_importance(all: &[(String, f64)]) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = all
        .iter()
        .map(|(n, x)| (n.clone(), if x.is_finite() { *x } else { 0.0 }))
        .collect();
    if !v.iter().any(|(_, x)| *x > 0.0) {
        return Vec::new();
    }
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v.truncate(MAX_IMPORTANCE_BARS);
    v
}

/// Horizontal bars of the importances [`top_importance`] picked.
pub fn importance_svg(bars: &[(String, f64)]) -> String {
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max);
    let ticks: Vec<f64> = nice_ticks(0.0, max, 5)
        .into_iter()
        .filter(|&t| t >= 0.0)
        .collect();
    let (_, top) = range_of(&ticks);
    let row = 20.0;
    let (left, right, top_pad, bottom_pad) = (184.0, 56.0, 14.0, 34.0);
    let height = top_pad + row * bars.len() as f64 + bottom_pad;
    let plot_w = CHART_W - left - right;
    let px = |v: f64| left + (v.max(0.0) / top) * plot_w;
    let plot_bottom = top_pad + row * bars.len() as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"Feature importance\" font-family=\"system-ui,sans-serif\" font-size=\"11\">",
        w = CHART_W,
        h = c(height)
    );
    let step = tick_step(&ticks);
    for &t in &ticks {
        let x = c(px(t));
        let _ = write!(
            s,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#eef0f3\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" fill=\"#4b5563\">{}</text>",
            c(top_pad),
            c(plot_bottom),
            c(plot_bottom + 16.0),
            fmt_tick(t, step)
        );
    }
    for (i, (name, v)) in bars.iter().enumerate() {
        let y = top_pad + row * i as f64;
        let w = px(*v) - left;
        let _ = write!(
            s,
            "<g><title>{full}: {val}</title><text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#374151\">{}</text><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#2563eb\" fill-opacity=\"0.8\"/><text x=\"{}\" y=\"{}\" fill=\"#4b5563\">{val}</text></g>",
            c(left - 8.0),
            c(y + row / 2.0 + 4.0),
            esc(&truncate(name, 24)),
            c(left),
            c(y + 3.0),
            c(w.max(0.0)),
            c(row - 6.0),
            c(left + w.max(0.0) + 4.0),
            c(y + row / 2.0 + 4.0),
            full = esc(name),
            val = fmt_importance(*v),
        );
    }
    let _ = write!(
        s,
        "<path d=\"M{l} {t} V{b}\" fill=\"none\" stroke=\"#6b7280\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#374151\">Importance</text></svg>",
        c(left + plot_w / 2.0),
        c(height - 4.0),
        l = c(left),
        t = c(top_pad),
        b = c(plot_bottom)
    );
    s
}

/// Counts with each row shaded by its share of the true class, so a strong
/// diagonal reads at a glance whatever the class sizes.
pub fn confusion_table(classes: &[String], m: &[Vec<usize>]) -> String {
    let mut s = String::from("<table class=\"cm\">\n<tr><th>true \\ predicted</th>");
    let name = |i: usize| classes.get(i).map_or_else(|| i.to_string(), |n| n.clone());
    let cols = m.iter().map(Vec::len).max().unwrap_or(0);
    for j in 0..cols {
        let _ = write!(s, "<th>{}</th>", esc(&name(j)));
    }
    s.push_str("</tr>\n");
    for (i, row) in m.iter().enumerate() {
        let total: usize = row.iter().sum();
        let _ = write!(s, "<tr><th>{}</th>", esc(&name(i)));
        for j in 0..cols {
            let count = row.get(j).copied().unwrap_or(0);
            let share = if total == 0 {
                0.0
            } else {
                count as f64 / total as f64
            };
            let alpha = 0.08 + 0.8 * share;
            let color = if alpha > 0.5 { "#ffffff" } else { "#111827" };
            let _ = write!(
                s,
                "<td style=\"background:rgba(37,99,235,{alpha:.3});color:{color}\">{count}<small>{:.0}%</small></td>",
                share * 100.0
            );
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    s
}
