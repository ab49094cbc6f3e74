//! The report's data as `lakeforge_ml::report` computes it: metrics and curves
//! that agree with `Model::evaluate`, and JSON that stores and reloads it.

use lakeforge_ml::{ReportData, ReportOptions, Task, curves, metrics};
use lakeforge_report::render_html;

use crate::common::{binary_report, count, names_of};

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
fn report_from_a_trained_model_matches_evaluate() {
    use arrow::array::{ArrayRef, Float64Array, StringArray};
    use std::sync::Arc;

    use lakeforge_ml::{FitSpec, fit};

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
