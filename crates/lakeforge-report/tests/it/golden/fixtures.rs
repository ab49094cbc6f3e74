//! Fixed report data covering every part of the page: each task, curves with and without a
//! legend, residual charts, truncated importance, text that needs escaping, undefined
//! metrics and empty reports. Only `lakeforge_ml`'s data API is used, so the same data can
//! be rendered by any version of the renderer and the pages compared byte for byte.

use lakeforge_ml::{ReportData, ReportOptions, Task};

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A score that ranks the positives mostly, not perfectly, above the negatives.
fn binary_rows(n: usize) -> (Vec<f64>, Vec<f64>) {
    let labels: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
    let scores = labels
        .iter()
        .enumerate()
        .map(|(i, y)| (0.25 + 0.5 * y + ((i * 37) % 11) as f64 / 25.0).min(0.99))
        .collect();
    (labels, scores)
}

fn binary() -> ReportData {
    let (y, p) = binary_rows(60);
    let mut r = ReportData::from_predictions(
        Task::Binary,
        &strings(&["stayed", "churned"]),
        &y,
        &p,
        &ReportOptions::default(),
    )
    .unwrap()
    .named("churn <v2> & \"friends\"", "7");
    r.metrics.push(("mape".into(), f64::NAN));
    r.metrics.push(("tiny".into(), 1.5e-7));
    r.feature_importance = vec![
        ("tenure".into(), 12.0),
        ("<script>alert(1)</script>".into(), 30.5),
        ("monthly_charges".into(), 0.123_456),
        ("plan".into(), 0.0),
        ("a_feature_name_that_is_far_too_long_to_fit".into(), 2.5e9),
    ];
    r.params = vec![
        ("num_leaves".into(), "31".into()),
        ("objective".into(), "binary's <own>".into()),
    ];
    r.training_info = strings(&[
        "trained on main.customer_features @ Delta version 3",
        "quality gate: passed (auc >= 0.7)",
    ]);
    r
}

fn multiclass() -> ReportData {
    let classes = strings(&["a<b", "b", "c", "d"]);
    let k = classes.len();
    let n = 48;
    let labels: Vec<f64> = (0..n).map(|i| ((i * 7) % k) as f64).collect();
    let mut probs = Vec::with_capacity(n * k);
    for (i, &y) in labels.iter().enumerate() {
        let raw: Vec<f64> = (0..k)
            .map(|c| 1.0 + if c == y as usize { 2.0 } else { 0.0 } + ((i + 3 * c) % 5) as f64)
            .collect();
        let total: f64 = raw.iter().sum();
        probs.extend(raw.iter().map(|v| v / total));
    }
    ReportData::from_predictions(
        Task::Multiclass,
        &classes,
        &labels,
        &probs,
        &ReportOptions::default(),
    )
    .unwrap()
    .named("segment", "2")
}

fn regression() -> ReportData {
    let labels: Vec<f64> = (0..700).map(|i| f64::from(i) * 0.75 - 40.0).collect();
    let predictions = labels
        .iter()
        .enumerate()
        .map(|(i, v)| v + ((i * 13) % 17) as f64 - 8.0)
        .collect::<Vec<_>>();
    let mut r = ReportData::from_predictions(
        Task::Regression,
        &[],
        &labels,
        &predictions,
        &ReportOptions::default(),
    )
    .unwrap()
    .named("ltv", "12");
    r.feature_importance = (0..30)
        .map(|i| (format!("feature_{i}"), f64::from(i % 7) * 3.25))
        .collect();
    r
}

/// Constant labels and predictions: every range of the charts is degenerate.
fn constant_regression() -> ReportData {
    ReportData::from_predictions(
        Task::Regression,
        &[],
        &[2.0; 5],
        &[2.0; 5],
        &ReportOptions::default(),
    )
    .unwrap()
}

/// Only positives: the curves have nothing to rank.
fn one_class() -> ReportData {
    ReportData::from_predictions(
        Task::Binary,
        &[],
        &[1.0, 1.0, 1.0],
        &[0.9, 0.2, 0.9],
        &ReportOptions::default(),
    )
    .unwrap()
}

fn clustering() -> ReportData {
    ReportData {
        task: "clustering".into(),
        rows: 50,
        metrics: vec![("inertia".into(), 1234.5678), ("silhouette".into(), 0.4321)],
        params: vec![("n_clusters".into(), "4".into())],
        ..ReportData::default()
    }
    .named("groups", "1")
}

/// Every fixture with the file name of its page.
pub fn all() -> Vec<(&'static str, ReportData)> {
    vec![
        ("binary", binary()),
        ("multiclass", multiclass()),
        ("regression", regression()),
        ("constant_regression", constant_regression()),
        ("one_class", one_class()),
        ("clustering", clustering()),
        ("empty", ReportData::default()),
    ]
}
