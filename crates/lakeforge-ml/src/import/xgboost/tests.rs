use super::*;
use crate::FeatureValue;
use crate::error::MlError;

/// A small model written for these tests: binary:logistic, base score 0.5 (margin 0),
/// features `a` and `b`.
///
/// tree 0 (class 0): a < 0.5 (missing right) ? 0.25 : (b < 2 (missing left) ? -0.125 : 0.5)
/// tree 1: a single leaf, 0.0625
fn model_json(objective: &str, base_score: &str, tree_info: &str) -> String {
    format!(
        r#"{{
  "learner": {{
    "attributes": {{}},
    "feature_names": ["a", "b"],
    "feature_types": ["float", "float"],
    "gradient_booster": {{
      "name": "gbtree",
      "model": {{
        "gbtree_model_param": {{"num_parallel_tree": "1", "num_trees": "2"}},
        "iteration_indptr": [0, 1, 2],
        "tree_info": {tree_info},
        "trees": [
          {{
            "id": 0,
            "left_children": [1, -1, 3, -1, -1],
            "right_children": [2, -1, 4, -1, -1],
            "parents": [2147483647, 0, 0, 2, 2],
            "split_indices": [0, 0, 1, 0, 0],
            "split_conditions": [0.5, 0.25, 2.0, -0.125, 0.5],
            "split_type": [0, 0, 0, 0, 0],
            "default_left": [0, 0, 1, 0, 0],
            "loss_changes": [3.0, 0.0, 1.0, 0.0, 0.0],
            "base_weights": [0, 0, 0, 0, 0],
            "sum_hessian": [5, 2, 3, 1, 2],
            "categories": [], "categories_nodes": [], "categories_segments": [], "categories_sizes": [],
            "tree_param": {{"num_deleted": "0", "num_feature": "2", "num_nodes": "5", "size_leaf_vector": "1"}}
          }},
          {{
            "id": 1,
            "left_children": [-1],
            "right_children": [-1],
            "parents": [2147483647],
            "split_indices": [0],
            "split_conditions": [0.0625],
            "split_type": [0],
            "default_left": [0],
            "loss_changes": [0.0],
            "base_weights": [0],
            "sum_hessian": [5],
            "categories": [], "categories_nodes": [], "categories_segments": [], "categories_sizes": [],
            "tree_param": {{"num_deleted": "0", "num_feature": "2", "num_nodes": "1", "size_leaf_vector": "1"}}
          }}
        ]
      }}
    }},
    "learner_model_param": {{"base_score": "{base_score}", "boost_from_average": "1", "num_class": "0", "num_feature": "2", "num_target": "1"}},
    "objective": {{"name": "{objective}", "reg_loss_param": {{"scale_pos_weight": "1"}}}}
  }},
  "version": [2, 1, 3]
}}"#
    )
}

fn predict(model: &Model, a: f64, b: f64) -> f64 {
    model
        .predict_row(&[FeatureValue::Float(a), FeatureValue::Float(b)])
        .unwrap()[0]
}

#[test]
fn reads_trees_and_routes_as_xgboost() {
    let model = read_xgboost(&model_json("reg:squarederror", "1E0", "[0, 0]"), "m.json").unwrap();
    assert_eq!(model.meta.task, Task::Regression);
    assert_eq!(model.meta.input_columns, ["a", "b"]);
    // Strict `<`: a = 0.5 goes right; the base score 1.0 is the starting margin.
    assert_eq!(predict(&model, 0.4, 0.0), 1.0 + 0.25 + 0.0625);
    assert_eq!(predict(&model, 0.5, 0.0), 1.0 - 0.125 + 0.0625);
    assert_eq!(predict(&model, 0.5, 2.0), 1.0 + 0.5 + 0.0625);
    // Missing: node 0 sends it right, node 2 left.
    assert_eq!(predict(&model, f64::NAN, f64::NAN), 1.0 - 0.125 + 0.0625);
    // A double just below 0.5 that rounds to 0.5 as a float goes where 0.5 goes.
    let just_below = 0.5f64.next_down();
    assert_eq!(just_below as f32, 0.5f32);
    assert_eq!(predict(&model, just_below, 0.0), 1.0 - 0.125 + 0.0625);
}

#[test]
fn logistic_base_score_is_a_margin() {
    let model = read_xgboost(&model_json("binary:logistic", "[8E-1]", "[0, 0]"), "m.json").unwrap();
    let margin = (0.8f64 / 0.2).ln() + 0.25 + 0.0625;
    let expected = 1.0 / (1.0 + (-margin).exp());
    assert!((predict(&model, 0.0, 0.0) - expected).abs() < 1e-15);
}

#[test]
fn float_thresholds_become_exact_double_thresholds() {
    // For thresholds and inputs around them, `(x as f32) < t` ⇔ `x <= below_float(t)`.
    let mut rng = crate::rng::Rng::new(7);
    let mut ts: Vec<f32> = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        3.0e-39,
        -3.0e-39,
        f32::MIN,
        f32::MAX,
        f32::MIN_POSITIVE,
    ];
    for _ in 0..2000 {
        ts.push(f32::from_bits(rng.next_u64() as u32));
    }
    for t in ts.into_iter().filter(|t| t.is_finite()) {
        let limit = below_float(t);
        let prev = t.next_down();
        let mut xs = vec![
            t as f64,
            prev as f64,
            limit,
            limit.next_up(),
            limit.next_down(),
        ];
        if prev.is_finite() {
            let mid = (prev as f64 + t as f64) / 2.0;
            xs.extend([mid, mid.next_up(), mid.next_down()]);
        }
        for x in xs {
            assert_eq!((x as f32) < t, x <= limit, "t = {t:e}, x = {x:e}");
        }
    }
}

#[test]
fn multiclass_trees_are_dealt_out_per_class() {
    let text = model_json("multi:softprob", "5E-1", "[0, 1]")
        .replace(r#""num_class": "0""#, r#""num_class": "2""#);
    let model = read_xgboost(&text, "m.json").unwrap();
    assert_eq!(model.meta.task, Task::Multiclass);
    let p = model
        .predict_row(&[FeatureValue::Float(0.0), FeatureValue::Float(0.0)])
        .unwrap();
    let (m0, m1): (f64, f64) = (0.5 + 0.25, 0.5 + 0.0625);
    let e1 = m1.exp() / (m0.exp() + m1.exp());
    assert!((p[1] - e1).abs() < 1e-12, "{p:?}");
}

fn refusal(text: &str) -> String {
    match read_xgboost(text, "m.json") {
        Err(e @ MlError::Import { .. }) => e.to_string(),
        other => panic!("expected an import error, got {other:?}"),
    }
}

#[test]
fn refuses_what_it_cannot_import_exactly_by_name() {
    let e = refusal(&model_json("rank:pairwise", "5E-1", "[0, 0]"));
    assert!(e.contains("`rank:pairwise`") && e.contains("m.json"), "{e}");
    let e = refusal(
        &model_json("reg:squarederror", "5E-1", "[0, 0]")
            .replace(r#""name": "gbtree""#, r#""name": "dart""#),
    );
    assert!(e.contains("`dart`"), "{e}");
    let e = refusal(&model_json("reg:squarederror", "5E-1", "[0, 0]").replace(
        r#""split_type": [0, 0, 0, 0, 0]"#,
        r#""split_type": [0, 0, 1, 0, 0]"#,
    ));
    assert!(e.contains("tree 0") && e.contains("categorical"), "{e}");
    let e = refusal(
        &model_json("reg:squarederror", "5E-1", "[0, 0]")
            .replace("[1, -1, 3, -1, -1]", "[1, -1, 9, -1, -1]"),
    );
    assert!(e.contains("child 9"), "{e}");
    assert!(refusal("tree\nversion=v4").contains("not JSON"));
    assert!(refusal("{}").contains("learner"));
}
