//! What the report tests share: a binary report with hostile text in it, and
//! checks on rendered markup.

use lakeforge_ml::{ReportData, ReportOptions, Task};

pub fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub fn binary_report() -> ReportData {
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
pub fn finite_markup(h: &str) -> bool {
    !h.contains("NaN")
        && !["\"inf\"", ",inf", "inf,", " inf ", "-inf", ">inf<"]
            .iter()
            .any(|p| h.contains(p))
}

pub fn count(h: &str, needle: &str) -> usize {
    h.matches(needle).count()
}

pub fn names_of(v: &[&str]) -> Vec<String> {
    names(v)
}
