//! Evaluation report: the last step of the ML flow, after a model has been
//! evaluated. [`ReportData`] gathers what a reader needs to judge a model
//! version — metrics, ROC / precision-recall curves ([`crate::curves`]),
//! residuals, confusion matrix, feature importance, parameters and where the
//! model came from — in a serde form small enough to store as JSON with the
//! version. [`render_html`] turns it into one standalone HTML page with
//! hand-drawn inline SVG charts (no scripts, no external assets), which is
//! what `lakeforge models show NAME --report out.html` writes.
//!
//! Everything is deterministic: the same data renders to the same bytes, so
//! reports can be diffed and cached.

use std::fmt::Write as _;

use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Deserializer, Serialize};

use crate::curves::{self, Histogram};
use crate::error::{MlError, Result};
use crate::gbdt::ImportanceType;
use crate::metrics::{self, BinaryConfusion};
use crate::model::{Estimator, Model, Task, encode_target};

/// One curve of a chart: its legend label, its exact area (AUC for ROC,
/// average precision for PR, computed on all rows, not the thinned points)
/// and its points (`(fpr, tpr)` or `(recall, precision)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    pub label: String,
    pub area: f64,
    pub points: Vec<(f64, f64)>,
}

/// Regression residuals: a scatter sample and the distribution of all of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResidualData {
    /// `(predicted, actual)` pairs, at most `ReportOptions::max_residual_points`.
    pub points: Vec<(f64, f64)>,
    /// Rows with a finite prediction and label (what the histogram counts).
    pub rows: usize,
    /// Histogram of `actual - predicted`.
    pub histogram: Histogram,
}

/// Everything the report shows. Fields the computation cannot know (name,
/// version, lineage lines) are filled by the caller; missing fields
/// deserialize to their defaults so reports stored by older versions still load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportData {
    pub model_name: String,
    pub version: String,
    /// `Task::name()`: "binary", "multiclass", "regression" or "clustering".
    pub task: String,
    /// Rows evaluated.
    pub rows: usize,
    #[serde(deserialize_with = "pairs_null_as_nan")]
    pub metrics: Vec<(String, f64)>,
    /// Binary: one curve; multiclass: one-vs-rest per class (the best
    /// supported ones, see `ReportOptions::max_class_curves`).
    pub roc: Option<Vec<Curve>>,
    pub pr: Option<Vec<Curve>>,
    pub residuals: Option<ResidualData>,
    /// Class labels and `k × k` counts (rows = true, columns = predicted).
    pub confusion: Option<(Vec<String>, Vec<Vec<usize>>)>,
    #[serde(deserialize_with = "pairs_null_as_nan")]
    pub feature_importance: Vec<(String, f64)>,
    pub params: Vec<(String, String)>,
    /// Free-form provenance lines, e.g. "trained on main.customer_features @ Delta version 3".
    pub training_info: Vec<String>,
}

/// serde_json writes NaN and infinities as `null`; reading them back as NaN
/// keeps a stored report with an undefined metric loadable.
fn pairs_null_as_nan<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, f64)>, D::Error> {
    let pairs: Vec<(String, Option<f64>)> = Deserialize::deserialize(d)?;
    Ok(pairs
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
        .collect())
}

/// Sizes of the stored data; the defaults keep a report's JSON to tens of KB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportOptions {
    /// Points kept per ROC / PR curve.
    pub max_curve_points: usize,
    /// Points in the predicted-vs-actual scatter.
    pub max_residual_points: usize,
    /// Upper bound on residual histogram bins.
    pub histogram_bins: usize,
    /// Multiclass: one-vs-rest curves for at most this many classes.
    pub max_class_curves: usize,
    /// Which importance `from_model` records.
    pub importance: ImportanceType,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            max_curve_points: 200,
            max_residual_points: 500,
            histogram_bins: 30,
            max_class_curves: 10,
            importance: ImportanceType::Gain,
        }
    }
}

impl ReportData {
    /// Sets the model name and version shown in the heading.
    pub fn named(mut self, model_name: impl Into<String>, version: impl Into<String>) -> Self {
        self.model_name = model_name.into();
        self.version = version.into();
        self
    }

    /// Metrics, curves, confusion matrix and residuals from encoded labels and
    /// transformed predictions, shaped as in `Model::evaluate`: binary — label
    /// 0/1 and the positive-class probability per row; multiclass — class
    /// index and `classes.len()` probabilities per row (row-major); regression
    /// — value per row. `classes` names the classes (binary: `[negative,
    /// positive]`, defaults to "0"/"1" when not two). The metric names and
    /// values are those of `Model::evaluate`. Clustering has no labels, so
    /// only `rows` is set. Name, version, importance, params and info stay empty.
    pub fn from_predictions(
        task: Task,
        classes: &[String],
        labels: &[f64],
        predictions: &[f64],
        options: &ReportOptions,
    ) -> Result<ReportData> {
        let n = labels.len();
        let mut r = ReportData {
            task: task.name().to_string(),
            rows: n,
            ..ReportData::default()
        };
        let expect_len = |k: usize| -> Result<()> {
            if predictions.len() == n * k {
                Ok(())
            } else {
                Err(MlError::InvalidInput(format!(
                    "report: {} predictions for {n} labels; expected {} ({k} per row for the {} task)",
                    predictions.len(),
                    n * k,
                    task.name()
                )))
            }
        };
        match task {
            Task::Binary => {
                expect_len(1)?;
                let classes = if classes.len() == 2 {
                    classes.to_vec()
                } else {
                    vec!["0".to_string(), "1".to_string()]
                };
                let c = BinaryConfusion::new(labels, predictions, 0.5);
                let auc = metrics::auc(labels, predictions);
                let ap = metrics::average_precision(labels, predictions);
                r.metrics = vec![
                    ("auc".into(), auc),
                    ("pr_auc".into(), ap),
                    ("logloss".into(), metrics::log_loss(labels, predictions)),
                    ("accuracy".into(), c.accuracy()),
                    ("precision".into(), c.precision()),
                    ("recall".into(), c.recall()),
                    ("f1".into(), c.f1()),
                ];
                let label = classes[1].clone();
                r.roc = Some(vec![Curve {
                    label: label.clone(),
                    area: auc,
                    points: curves::roc_curve(labels, predictions, options.max_curve_points),
                }]);
                r.pr = Some(vec![Curve {
                    label,
                    area: ap,
                    points: curves::pr_curve(labels, predictions, options.max_curve_points),
                }]);
                r.confusion = Some((classes, vec![vec![c.tn, c.fp], vec![c.fn_, c.tp]]));
            }
            Task::Multiclass => {
                let k = classes.len();
                if k < 2 {
                    return Err(MlError::InvalidInput(format!(
                        "report: a multiclass report needs at least 2 class names, got {k}"
                    )));
                }
                expect_len(k)?;
                // metrics::confusion_matrix and multiclass_log_loss index by
                // label, so a stray label must become an error, not a panic.
                if let Some(bad) = labels
                    .iter()
                    .find(|&&y| !(y >= 0.0 && y.fract() == 0.0 && (y as usize) < k))
                {
                    return Err(MlError::InvalidInput(format!(
                        "report: label {bad} is not a class index in 0..{k}"
                    )));
                }
                r.metrics = vec![
                    (
                        "accuracy".into(),
                        metrics::multiclass_accuracy(labels, predictions, k),
                    ),
                    (
                        "logloss".into(),
                        metrics::multiclass_log_loss(labels, predictions, k),
                    ),
                ];
                r.confusion = Some((
                    classes.to_vec(),
                    metrics::confusion_matrix(labels, predictions, k),
                ));
                let (roc, pr) = one_vs_rest(classes, labels, predictions, options);
                if !roc.is_empty() {
                    r.roc = Some(roc);
                    r.pr = Some(pr);
                }
            }
            Task::Regression => {
                expect_len(1)?;
                r.metrics = vec![
                    ("rmse".into(), metrics::rmse(labels, predictions)),
                    ("mae".into(), metrics::mae(labels, predictions)),
                    ("r2".into(), metrics::r2(labels, predictions)),
                    ("mape".into(), metrics::mape(labels, predictions)),
                ];
                let histogram =
                    curves::residual_histogram(labels, predictions, options.histogram_bins);
                r.residuals = Some(ResidualData {
                    points: curves::residual_sample(
                        labels,
                        predictions,
                        options.max_residual_points,
                    ),
                    rows: histogram.total(),
                    histogram,
                });
            }
            Task::Clustering => {
                r.rows = predictions.len();
            }
        }
        Ok(r)
    }

    /// The full report of `model` on labelled `batches`: `from_predictions`
    /// on the model's own predictions and encoded labels (so the metrics are
    /// `Model::evaluate`'s), plus feature importance, the model's parameters
    /// and info lines about how it was trained. Name and version are left
    /// for the caller (see [`ReportData::named`]), who may also append
    /// provenance lines to `training_info`.
    pub fn from_model(
        model: &Model,
        batches: &[RecordBatch],
        options: &ReportOptions,
    ) -> Result<ReportData> {
        let meta = &model.meta;
        let mut r = if meta.task == Task::Clustering {
            let eval = model.evaluate(batches)?;
            ReportData {
                task: meta.task.name().to_string(),
                rows: eval.rows,
                metrics: eval.metrics,
                ..ReportData::default()
            }
        } else {
            let data = model.pipeline.transform(batches)?;
            let pred = model.estimator.predict(&data);
            let target = meta.target.clone().unwrap_or_default();
            let (y, _) = encode_target(batches, meta.task, &target, Some(&meta.classes))?;
            ReportData::from_predictions(meta.task, &meta.classes, &y, &pred, options)?
        };
        // k-means has no notion of feature importance (all zeros).
        if !matches!(model.estimator, Estimator::KMeans(_)) {
            r.feature_importance = model.feature_importance(options.importance);
        }
        r.params = meta
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut info = vec![format!(
            "{} {} model on {} features from {} input columns",
            meta.algorithm.name(),
            meta.task.name(),
            meta.feature_names.len(),
            meta.input_columns.len()
        )];
        if let Some(t) = &meta.target {
            info.push(format!("target column: {t}"));
        }
        info.push(format!(
            "trained on {} rows with lakeforge {}",
            meta.train_rows, meta.lakeforge_version
        ));
        if let Some((name, value)) = &meta.valid_metric {
            info.push(format!(
                "validation {name} at the end of training: {}",
                fmt_value(*value)
            ));
        }
        info.push(format!("evaluated on {} rows", r.rows));
        r.training_info = info;
        Ok(r)
    }
}

/// One-vs-rest ROC and PR curves for the classes with the most support
/// (ties to the lower index), in class order. Classes absent from the labels,
/// or the only class present, have no meaningful curve and are left out.
fn one_vs_rest(
    classes: &[String],
    labels: &[f64],
    probs: &[f64],
    options: &ReportOptions,
) -> (Vec<Curve>, Vec<Curve>) {
    let k = classes.len();
    let n = labels.len();
    let mut support = vec![0usize; k];
    for &y in labels {
        // Labels were checked to be indices below k.
        support[y as usize] += 1;
    }
    let mut chosen: Vec<usize> = (0..k)
        .filter(|&c| support[c] > 0 && support[c] < n)
        .collect();
    chosen.sort_by(|&a, &b| support[b].cmp(&support[a]).then(a.cmp(&b)));
    chosen.truncate(options.max_class_curves);
    chosen.sort_unstable();
    let mut roc = Vec::with_capacity(chosen.len());
    let mut pr = Vec::with_capacity(chosen.len());
    for c in chosen {
        let y: Vec<f64> = labels
            .iter()
            .map(|&l| if l as usize == c { 1.0 } else { 0.0 })
            .collect();
        let s: Vec<f64> = probs.chunks(k).map(|row| row[c]).collect();
        roc.push(Curve {
            label: classes[c].clone(),
            area: metrics::auc(&y, &s),
            points: curves::roc_curve(&y, &s, options.max_curve_points),
        });
        pr.push(Curve {
            label: classes[c].clone(),
            area: metrics::average_precision(&y, &s),
            points: curves::pr_curve(&y, &s, options.max_curve_points),
        });
    }
    (roc, pr)
}

// ---------------------------------------------------------------------------
// HTML rendering

const CHART_W: f64 = 480.0;
const CHART_H: f64 = 360.0;
const MAX_IMPORTANCE_BARS: usize = 20;
const PALETTE: [&str; 10] = [
    "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#db2777", "#65a30d",
    "#4f46e5", "#a16207",
];

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

/// Escapes text for HTML element content and quoted attribute values.
fn esc(s: &str) -> String {
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

/// Metric values: 4 decimals, scientific outside a readable range, and a
/// word instead of NaN so the page never shows a meaningless number.
fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e9).contains(&a) {
        format!("{v:.4e}")
    } else {
        format!("{v:.4}")
    }
}

/// SVG coordinate; non-finite values (only possible for absurd data ranges)
/// are pinned so the markup stays valid.
fn c(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}", v.clamp(-1e6, 1e6))
    } else {
        "0".into()
    }
}

/// "Nice" tick values (multiples of 1, 2 or 5 × 10^k) covering `[lo, hi]`;
/// the first and last ticks become the axis range, so data never touches a
/// ragged edge. Always at least two distinct finite ticks.
fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let (mut lo, mut hi) = if lo.is_finite() && hi.is_finite() {
        (lo.min(hi), lo.max(hi))
    } else {
        (0.0, 1.0)
    };
    if hi - lo <= 0.0 {
        let pad = (lo.abs() * 0.1).max(1.0);
        lo -= pad;
        hi += pad;
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let step = mag
        * if norm < 1.5 {
            1.0
        } else if norm < 3.0 {
            2.0
        } else if norm < 7.0 {
            5.0
        } else {
            10.0
        };
    let (first, last) = ((lo / step).floor(), (hi / step).ceil());
    if !step.is_finite() || step <= 0.0 || !(last - first).is_finite() || last - first > 50.0 {
        return vec![lo, hi];
    }
    // Integer multiples keep 0 exactly 0 (no "-0.0" labels from drift).
    (first as i64..=last as i64)
        .map(|k| k as f64 * step)
        .collect()
}

/// Tick label with as many decimals as the tick spacing needs.
fn fmt_tick(v: f64, step: f64) -> String {
    let v = v + 0.0; // turns -0.0 into 0.0
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e6).contains(&a) {
        return format!("{v:.1e}");
    }
    let decimals = if step > 0.0 && step.is_finite() {
        (-step.log10().floor()).clamp(0.0, 6.0) as usize
    } else {
        2
    };
    format!("{v:.decimals$}")
}

/// Plot area of one chart, mapping data coordinates to SVG pixels.
struct Frame {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    fn new(xticks: &[f64], yticks: &[f64]) -> Frame {
        Frame {
            left: 62.0,
            top: 38.0,
            width: CHART_W - 62.0 - 20.0,
            height: CHART_H - 38.0 - 52.0,
            x: range_of(xticks),
            y: range_of(yticks),
        }
    }

    fn px(&self, x: f64) -> f64 {
        self.left + (x - self.x.0) / (self.x.1 - self.x.0) * self.width
    }

    fn py(&self, y: f64) -> f64 {
        self.top + self.height - (y - self.y.0) / (self.y.1 - self.y.0) * self.height
    }

    fn bottom(&self) -> f64 {
        self.top + self.height
    }

    fn right(&self) -> f64 {
        self.left + self.width
    }
}

fn range_of(ticks: &[f64]) -> (f64, f64) {
    match (ticks.first(), ticks.last()) {
        (Some(&a), Some(&b)) if b > a => (a, b),
        _ => (0.0, 1.0),
    }
}

/// Opens a chart: title, light grid, tick labels, axes and axis titles.
/// The caller adds the data marks and closes the `<svg>`.
fn chart_open(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    f: &Frame,
    xticks: &[f64],
    yticks: &[f64],
) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\" font-family=\"system-ui,sans-serif\" font-size=\"11\">",
        w = CHART_W,
        h = CHART_H,
        t = esc(title)
    );
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"600\" fill=\"#111827\">{}</text>",
        c(CHART_W / 2.0),
        esc(title)
    );
    let xstep = tick_step(xticks);
    for &t in xticks {
        let x = c(f.px(t));
        let _ = write!(
            s,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#eef0f3\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" fill=\"#4b5563\">{}</text>",
            c(f.top),
            c(f.bottom()),
            c(f.bottom() + 16.0),
            fmt_tick(t, xstep)
        );
    }
    let ystep = tick_step(yticks);
    for &t in yticks {
        let y = c(f.py(t));
        let _ = write!(
            s,
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#eef0f3\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#4b5563\">{}</text>",
            c(f.left),
            c(f.right()),
            c(f.left - 6.0),
            c(f.py(t) + 4.0),
            fmt_tick(t, ystep)
        );
    }
    let _ = write!(
        s,
        "<path d=\"M{l} {t} V{b} H{r}\" fill=\"none\" stroke=\"#6b7280\"/>",
        l = c(f.left),
        t = c(f.top),
        b = c(f.bottom()),
        r = c(f.right())
    );
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#374151\">{}</text>",
        c(f.left + f.width / 2.0),
        c(CHART_H - 12.0),
        esc(xlabel)
    );
    let (yx, yy) = (c(16.0), c(f.top + f.height / 2.0));
    let _ = write!(
        s,
        "<text x=\"{yx}\" y=\"{yy}\" transform=\"rotate(-90 {yx} {yy})\" text-anchor=\"middle\" fill=\"#374151\">{}</text>",
        esc(ylabel)
    );
    s
}

fn tick_step(ticks: &[f64]) -> f64 {
    match ticks {
        [a, b, ..] => b - a,
        _ => 1.0,
    }
}

fn unit_ticks() -> Vec<f64> {
    (0..=5).map(|i| f64::from(i) / 5.0).collect()
}

fn polyline(points: &[(f64, f64)], f: &Frame, color: &str) -> String {
    let pts: Vec<String> = points
        .iter()
        .map(|&(x, y)| format!("{},{}", c(f.px(x)), c(f.py(y))))
        .collect();
    format!(
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" stroke-linejoin=\"round\"/>",
        pts.join(" ")
    )
}

fn dashed_line(f: &Frame, from: (f64, f64), to: (f64, f64)) -> String {
    format!(
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#9ca3af\" stroke-dasharray=\"4 4\"/>",
        c(f.px(from.0)),
        c(f.py(from.1)),
        c(f.px(to.0)),
        c(f.py(to.1))
    )
}

/// Legend box in a corner of the plot area; one entry per curve.
fn legend(curves: &[Curve], f: &Frame, area_name: &str, bottom_left: bool) -> String {
    let mut s = String::new();
    let row = 15.0;
    let h = row * curves.len() as f64 + 8.0;
    let w = 190.0;
    let x = if bottom_left {
        f.left + 8.0
    } else {
        f.right() - w - 8.0
    };
    let y = f.bottom() - h - 8.0;
    let _ = write!(
        s,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#ffffff\" fill-opacity=\"0.9\" stroke=\"#e5e7eb\"/>",
        c(x),
        c(y),
        c(w),
        c(h)
    );
    for (i, curve) in curves.iter().enumerate() {
        let ly = y + 4.0 + row * i as f64 + row / 2.0;
        let _ = write!(
            s,
            "<line x1=\"{}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{}\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\" fill=\"#374151\">{} ({area_name} {})</text>",
            c(x + 6.0),
            c(x + 22.0),
            PALETTE[i % PALETTE.len()],
            c(x + 28.0),
            c(ly + 4.0),
            esc(&truncate(&curve.label, 16)),
            fmt_area(curve.area),
            ly = c(ly)
        );
    }
    s
}

fn fmt_area(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "n/a".into()
    }
}

fn roc_svg(curves: &[Curve]) -> String {
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

fn pr_svg(curves: &[Curve]) -> String {
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

fn scatter_svg(res: &ResidualData) -> String {
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

fn histogram_svg(hist: &Histogram) -> String {
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
fn top_importance(all: &[(String, f64)]) -> Vec<(String, f64)> {
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

fn importance_svg(bars: &[(String, f64)]) -> String {
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

/// About four significant digits: split counts stay whole, gains of any
/// scale stay short enough to sit beside their bar.
fn fmt_importance(v: f64) -> String {
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
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Counts with each row shaded by its share of the true class, so a strong
/// diagonal reads at a glance whatever the class sizes.
fn confusion_table(classes: &[String], m: &[Vec<usize>]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn binary_report() -> ReportData {
        let y = [0.0, 0.0, 1.0, 1.0, 1.0, 0.0];
        let p = [0.1, 0.4, 0.35, 0.8, 0.9, 0.7];
        let mut r = ReportData::from_predictions(
            Task::Binary,
            &names(&["no", "yes"]),
            &y,
            &p,
            &ReportOptions::default(),
        )
        .unwrap()
        .named("churn", "3");
        r.feature_importance = vec![
            ("tenure".into(), 12.0),
            ("<script>alert(1)</script>".into(), 30.5),
            ("plan".into(), 0.0),
        ];
        r.params = vec![("num_leaves".into(), "31".into())];
        r.training_info = vec!["trained on main.customer_features @ Delta version 3".into()];
        r
    }

    /// No NaN or infinity leaked into text or coordinates.
    fn finite_markup(h: &str) -> bool {
        !h.contains("NaN")
            && !["\"inf\"", ",inf", "inf,", " inf ", "-inf", ">inf<"]
                .iter()
                .any(|p| h.contains(p))
    }

    fn count(h: &str, needle: &str) -> usize {
        h.matches(needle).count()
    }

    #[test]
    fn binary_report_matches_metrics() {
        let r = binary_report();
        let roc = &r.roc.as_ref().unwrap()[0];
        let y = [0.0, 0.0, 1.0, 1.0, 1.0, 0.0];
        let p = [0.1, 0.4, 0.35, 0.8, 0.9, 0.7];
        assert!((curves::trapezoid_area(&roc.points) - metrics::auc(&y, &p)).abs() < 1e-9);
        assert_eq!(roc.area, metrics::auc(&y, &p));
        assert_eq!(roc.label, "yes");
        let names: Vec<&str> = r.metrics.iter().map(|m| m.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "auc",
                "pr_auc",
                "logloss",
                "accuracy",
                "precision",
                "recall",
                "f1"
            ]
        );
        let (classes, m) = r.confusion.as_ref().unwrap();
        assert_eq!(classes, &names_of(&["no", "yes"]));
        // threshold 0.5: tn=2 (0.1, 0.4), fp=1 (0.7), fn=1 (0.35), tp=2.
        assert_eq!(m, &vec![vec![2, 1], vec![1, 2]]);
    }

    fn names_of(v: &[&str]) -> Vec<String> {
        names(v)
    }

    #[test]
    fn html_escapes_text_and_draws_one_polyline_per_curve() {
        let h = render_html(&binary_report());
        assert!(!h.contains("<script"), "unescaped script tag");
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert_eq!(count(&h, "<polyline"), 2);
        assert_eq!(count(&h, "<svg"), 3); // ROC, PR, importance
        assert!(h.contains("ROC curve (AUC = "));
        assert!(h.contains("trained on main.customer_features @ Delta version 3"));
        assert!(finite_markup(&h));
        assert!(h.starts_with("<!DOCTYPE html>"));
        // Standalone: nothing fetched, nothing run.
        let outside = h.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !outside.contains("http") && !outside.contains("src=") && !outside.contains("<link")
        );
    }

    #[test]
    fn rendering_is_deterministic() {
        let a = render_html(&binary_report());
        let b = render_html(&binary_report());
        assert_eq!(a, b);
    }

    #[test]
    fn multiclass_has_one_vs_rest_curves_and_heatmap() {
        let y = [0.0, 1.0, 2.0, 2.0, 1.0, 0.0];
        let p = [
            0.7, 0.2, 0.1, //
            0.2, 0.5, 0.3, //
            0.1, 0.3, 0.6, //
            0.3, 0.4, 0.3, //
            0.1, 0.8, 0.1, //
            0.5, 0.4, 0.1,
        ];
        let classes = names(&["a<b", "b", "c"]);
        let r = ReportData::from_predictions(
            Task::Multiclass,
            &classes,
            &y,
            &p,
            &ReportOptions::default(),
        )
        .unwrap();
        assert_eq!(r.roc.as_ref().unwrap().len(), 3);
        assert_eq!(r.pr.as_ref().unwrap().len(), 3);
        assert_eq!(r.confusion.as_ref().unwrap().1[2][1], 1);
        let h = render_html(&r);
        assert_eq!(count(&h, "<polyline"), 6);
        assert!(h.contains("<table class=\"cm\">"));
        assert!(h.contains("a&lt;b") && !h.contains("a<b"));

        // Only the best-supported classes get curves when capped.
        let opts = ReportOptions {
            max_class_curves: 1,
            ..ReportOptions::default()
        };
        let y = [0.0, 1.0, 1.0, 2.0, 2.0, 2.0];
        let r = ReportData::from_predictions(Task::Multiclass, &classes, &y, &p, &opts).unwrap();
        let labels: Vec<&str> = r
            .roc
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.label.as_str())
            .collect();
        assert_eq!(labels, ["c"]);
    }

    #[test]
    fn bad_shapes_are_errors_not_panics() {
        let o = ReportOptions::default();
        let classes = names(&["a", "b", "c"]);
        assert!(ReportData::from_predictions(Task::Binary, &[], &[1.0], &[0.1, 0.2], &o).is_err());
        assert!(
            ReportData::from_predictions(Task::Multiclass, &classes, &[0.0], &[0.5, 0.5], &o)
                .is_err()
        );
        assert!(
            ReportData::from_predictions(Task::Multiclass, &classes, &[3.0], &[0.2, 0.3, 0.5], &o)
                .is_err()
        );
        assert!(
            ReportData::from_predictions(Task::Multiclass, &classes, &[0.5], &[0.2, 0.3, 0.5], &o)
                .is_err()
        );
        assert!(ReportData::from_predictions(Task::Multiclass, &[], &[], &[], &o).is_err());
        assert!(
            ReportData::from_predictions(Task::Regression, &[], &[1.0, 2.0], &[1.0], &o).is_err()
        );
    }

    #[test]
    fn one_class_and_empty_inputs_render_without_nan() {
        let o = ReportOptions::default();
        for (y, p) in [
            (vec![1.0, 1.0, 1.0], vec![0.9, 0.2, 0.9]),
            (vec![0.0, 0.0], vec![0.1, 0.6]),
            (vec![], vec![]),
        ] {
            let r = ReportData::from_predictions(Task::Binary, &[], &y, &p, &o).unwrap();
            let h = render_html(&r);
            assert!(finite_markup(&h), "{h}");
            assert_eq!(count(&h, "<polyline"), 2);
        }
        let r = ReportData::from_predictions(Task::Regression, &[], &[], &[], &o).unwrap();
        assert!(finite_markup(&render_html(&r)));
        // Constant predictions and labels: degenerate ranges still draw.
        let r =
            ReportData::from_predictions(Task::Regression, &[], &[2.0; 5], &[2.0; 5], &o).unwrap();
        let h = render_html(&r);
        assert!(finite_markup(&h));
        assert_eq!(count(&h, "<svg"), 2);
    }

    #[test]
    fn regression_report_has_residuals() {
        let y: Vec<f64> = (0..1000).map(|i| f64::from(i) * 0.5).collect();
        let p: Vec<f64> = y
            .iter()
            .enumerate()
            .map(|(i, v)| v + if i % 2 == 0 { 1.5 } else { -1.0 })
            .collect();
        let r =
            ReportData::from_predictions(Task::Regression, &[], &y, &p, &ReportOptions::default())
                .unwrap();
        let res = r.residuals.as_ref().unwrap();
        assert_eq!(res.points.len(), 500);
        assert_eq!(res.rows, 1000);
        assert_eq!(res.histogram.total(), 1000);
        assert!(r.roc.is_none() && r.confusion.is_none());
        let h = render_html(&r);
        assert_eq!(count(&h, "<polyline"), 0);
        assert_eq!(count(&h, "<circle"), 500);
        assert!(h.contains("Predicted vs actual (500 of 1000 rows)"));
        assert!(h.contains("Residuals (actual − predicted)"));
    }

    #[test]
    fn json_round_trip_keeps_undefined_metrics() {
        let mut r = binary_report();
        let json = serde_json::to_string(&r).unwrap();
        let back: ReportData = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        r.metrics.push(("mape".into(), f64::NAN));
        let json = serde_json::to_string(&r).unwrap();
        let back: ReportData = serde_json::from_str(&json).unwrap();
        assert!(back.metrics.last().unwrap().1.is_nan());
        // Older or partial documents load with defaults.
        let back: ReportData = serde_json::from_str(r#"{"model_name":"m"}"#).unwrap();
        assert_eq!(back.model_name, "m");
        assert!(back.metrics.is_empty());
    }

    #[test]
    fn importance_shows_top_twenty() {
        let mut r = binary_report();
        r.feature_importance = (0..30).map(|i| (format!("f{i}"), f64::from(i))).collect();
        let h = render_html(&r);
        assert!(h.contains("Top 20 of 30 features."));
        assert!(h.contains(">f29<") && h.contains(">f10<") && !h.contains(">f9<"));
    }

    #[test]
    fn ticks_are_nice_and_cover_the_range() {
        assert_eq!(
            nice_ticks(0.0, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        let t = nice_ticks(-3.2, 17.9, 5);
        assert!(t[0] <= -3.2 && *t.last().unwrap() >= 17.9);
        let t = nice_ticks(5.0, 5.0, 5);
        assert!(t.len() >= 2 && t[0] < 5.0 && *t.last().unwrap() > 5.0);
        assert_eq!(
            nice_ticks(f64::NAN, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(fmt_tick(-0.0, 0.2), "0.0");
        assert_eq!(fmt_tick(0.6000000000000001, 0.2), "0.6");
        assert_eq!(fmt_tick(20.0, 5.0), "20");
    }

    #[test]
    fn report_from_a_trained_model_matches_evaluate() {
        use arrow::array::{ArrayRef, Float64Array, StringArray};
        use std::sync::Arc;

        use crate::model::{FitSpec, fit};

        let n = 200;
        let x: Vec<f64> = (0..n).map(|i| f64::from(i % 37) / 37.0).collect();
        let z: Vec<f64> = (0..n).map(|i| f64::from((i * 7) % 11)).collect();
        let label: Vec<&str> = x
            .iter()
            .zip(&z)
            .map(|(a, b)| if a + b / 20.0 > 0.7 { "yes" } else { "no" })
            .collect();
        let batch = arrow::record_batch::RecordBatch::try_from_iter(vec![
            ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
            ("z", Arc::new(Float64Array::from(z)) as ArrayRef),
            ("label", Arc::new(StringArray::from(label)) as ArrayRef),
        ])
        .unwrap();
        let spec = FitSpec::new(Task::Binary, Some("label"))
            .with_param("num_iterations", "10")
            .with_param("min_data_in_leaf", "5");
        let model = fit(std::slice::from_ref(&batch), None, &spec).unwrap();
        let eval = model.evaluate(std::slice::from_ref(&batch)).unwrap();
        let r = ReportData::from_model(
            &model,
            std::slice::from_ref(&batch),
            &ReportOptions::default(),
        )
        .unwrap()
        .named("m", "1");
        assert_eq!(r.metrics, eval.metrics);
        assert_eq!(r.confusion, eval.confusion);
        assert_eq!(r.rows, 200);
        assert_eq!(r.feature_importance.len(), 2);
        assert!(
            r.params
                .iter()
                .any(|(k, v)| k == "num_iterations" && v == "10")
        );
        assert!(
            r.training_info
                .iter()
                .any(|l| l.contains("trained on 200 rows"))
        );
        let h = render_html(&r);
        assert_eq!(count(&h, "<polyline"), 2);
    }
}
