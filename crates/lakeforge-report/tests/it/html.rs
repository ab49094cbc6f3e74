//! The rendered page: escaped text, one polyline per curve, no NaN in the
//! markup, deterministic bytes, whatever the task or the shape of the data.

use lakeforge_ml::{ReportData, ReportOptions, Task};
use lakeforge_report::render_html;

use crate::common::{binary_report, count, finite_markup, names};

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
    assert!(!outside.contains("http") && !outside.contains("src=") && !outside.contains("<link"));
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
    let r = ReportData::from_predictions(Task::Regression, &[], &[2.0; 5], &[2.0; 5], &o).unwrap();
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
    let r = ReportData::from_predictions(Task::Regression, &[], &y, &p, &ReportOptions::default())
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
fn importance_shows_top_twenty() {
    let mut r = binary_report();
    r.feature_importance = (0..30).map(|i| (format!("f{i}"), f64::from(i))).collect();
    let h = render_html(&r);
    assert!(h.contains("Top 20 of 30 features."));
    assert!(h.contains(">f29<") && h.contains(">f10<") && !h.contains(">f9<"));
}
