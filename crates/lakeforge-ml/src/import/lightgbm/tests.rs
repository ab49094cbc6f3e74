use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use super::*;
use crate::FeatureValue;
use crate::error::MlError;

/// A small model written for these tests: binary, features `x` (numeric), `color`
/// (categorical, codes {1, 3} go left) and `z` (numeric, NaN goes left).
///
/// tree 0: x <= 1.5 (missing type None) ? 0.1 : (color in {1,3} ? 0.2 : 0.3)
/// tree 1: z <= -0.5 (missing type NaN, default left) ? -0.05 : 0.05
fn model_text(objective: &str, pandas: &str) -> String {
    format!(
        "tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=2
objective={objective}
feature_names=x color z
feature_infos=[-3:4] 0:1:2:3 [-2:2]
tree_sizes=1 1

Tree=0
num_leaves=3
num_cat=1
split_feature=0 1
split_gain=5 2
threshold=1.5 0
decision_type=2 1
left_child=-1 -2
right_child=1 -3
leaf_value=0.1 0.2 0.29999999999999999
leaf_weight=1 1 1
leaf_count=1 1 1
internal_value=0 0
internal_weight=0 0
internal_count=3 2
cat_boundaries=0 1
cat_threshold=10
is_linear=0
shrinkage=1


Tree=1
num_leaves=2
num_cat=0
split_feature=2
split_gain=1
threshold=-0.5
decision_type=10
left_child=-1
right_child=-2
leaf_value=-0.05 0.05
leaf_weight=1 1
leaf_count=1 1
internal_value=0
internal_weight=0
internal_count=2
is_linear=0
shrinkage=0.1


end of trees

feature_importances:
x=1
color=1
z=1

parameters:
[boosting: gbdt]
end of parameters

pandas_categorical:{pandas}
"
    )
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn raw(model: &Model, x: f64, color: f64, z: f64) -> f64 {
    let p = model
        .predict_row(&[
            FeatureValue::Float(x),
            FeatureValue::Float(color),
            FeatureValue::Float(z),
        ])
        .unwrap()[0];
    (p / (1.0 - p)).ln()
}

#[test]
fn reads_trees_and_routes_as_lightgbm() {
    let model = read_lightgbm(&model_text("binary sigmoid:1", "null"), "m.txt").unwrap();
    assert_eq!(model.meta.task, Task::Binary);
    assert_eq!(model.meta.input_columns, ["x", "color", "z"]);
    assert_eq!(model.pipeline.columns[1].encoding, ColumnEncoding::Codes);
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    close(raw(&model, 1.0, 3.0, 0.0), 0.1 + 0.05);
    // Missing type None reads NaN as 0.0 (left of 1.5); missing type NaN takes the default.
    close(raw(&model, f64::NAN, 1.0, f64::NAN), 0.1 - 0.05);
    // Codes are truncated toward zero: 3.7 is 3, -0.5 is 0.
    close(raw(&model, 2.0, 3.7, -1.0), 0.2 - 0.05);
    close(raw(&model, 2.0, 2.0, -1.0), 0.3 - 0.05);
    close(raw(&model, 2.0, -0.5, -1.0), 0.3 - 0.05);
    close(raw(&model, 2.0, f64::NAN, -1.0), 0.3 - 0.05);

    // The batch path gives the same bits as the row path.
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("color", DataType::Float64, true),
        Field::new("z", DataType::Float64, true),
    ]));
    let col = |v: Vec<f64>| Arc::new(Float64Array::from(v)) as ArrayRef;
    let batch = RecordBatch::try_new(
        schema,
        vec![
            col(vec![1.0, f64::NAN, 2.0]),
            col(vec![3.0, 1.0, 3.7]),
            col(vec![0.0, f64::NAN, -1.0]),
        ],
    )
    .unwrap();
    let batch_out = model.predict_values(&[batch]).unwrap();
    let rows = [(1.0, 3.0, 0.0), (f64::NAN, 1.0, f64::NAN), (2.0, 3.7, -1.0)];
    for (i, (x, c, z)) in rows.into_iter().enumerate() {
        let one = model
            .predict_row(&[
                FeatureValue::Float(x),
                FeatureValue::Float(c),
                FeatureValue::Float(z),
            ])
            .unwrap()[0];
        assert_eq!(one.to_bits(), batch_out[i].to_bits());
    }
}

#[test]
fn survives_a_model_file_round_trip() {
    let model = read_lightgbm(&model_text("binary sigmoid:1", "null"), "m.txt").unwrap();
    let back = Model::from_bytes(&model.to_bytes().unwrap()).unwrap();
    assert_eq!(back, model);
}

#[test]
fn pandas_categories_map_input_text_to_codes() {
    let model = read_lightgbm(
        &model_text("binary sigmoid:1", r#"[["blue", "green", "red", "teal"]]"#),
        "m.txt",
    )
    .unwrap();
    let p = |color: &str| {
        model
            .predict_row(&[
                FeatureValue::Float(2.0),
                FeatureValue::Str(color),
                FeatureValue::Float(-1.0),
            ])
            .unwrap()[0]
    };
    // Codes 1 (green) and 3 (teal) go left; an unseen colour goes right.
    assert!((p("green") - sigmoid(0.2 - 0.05)).abs() < 1e-15);
    assert!((p("teal") - sigmoid(0.2 - 0.05)).abs() < 1e-15);
    assert!((p("red") - sigmoid(0.3 - 0.05)).abs() < 1e-15);
    assert!((p("purple") - sigmoid(0.3 - 0.05)).abs() < 1e-15);
}

#[test]
fn sigmoid_scale_is_folded_into_the_leaves() {
    let model = read_lightgbm(&model_text("binary sigmoid:2", "null"), "m.txt").unwrap();
    let expected = sigmoid(2.0 * (0.1 + 0.05));
    let p = model
        .predict_row(&[
            FeatureValue::Float(1.0),
            FeatureValue::Float(3.0),
            FeatureValue::Float(0.0),
        ])
        .unwrap()[0];
    assert!((p - expected).abs() < 1e-15);
}

fn refusal(text: &str) -> String {
    match read_lightgbm(text, "m.txt") {
        Err(e @ MlError::Import { .. }) => e.to_string(),
        other => panic!("expected an import error, got {other:?}"),
    }
}

#[test]
fn refuses_what_it_cannot_import_exactly_by_name() {
    let e = refusal(&model_text("lambdarank", "null"));
    assert!(e.contains("`lambdarank`") && e.contains("m.txt"), "{e}");
    let e = refusal(&model_text("regression sqrt", "null"));
    assert!(e.contains("reg_sqrt"), "{e}");
    // zero_as_missing sending zero left while the threshold compares it right.
    let text =
        model_text("binary sigmoid:1", "null").replace("decision_type=10", "decision_type=6");
    let e = refusal(&text);
    assert!(e.contains("tree 1") && e.contains("zero_as_missing"), "{e}");
    let text = model_text("binary sigmoid:1", "null")
        .replace("is_linear=0\nshrinkage=0.1", "is_linear=1\nshrinkage=0.1");
    assert!(refusal(&text).contains("linear tree"));
    let text = model_text("binary sigmoid:1", "null").replace("end of trees", "");
    assert!(refusal(&text).contains("truncated"));
    assert!(refusal("{\"learner\": {}}").contains("LightGBM text model"));
    let text =
        model_text("binary sigmoid:1", "null").replace("left_child=-1 -2", "left_child=-1 7");
    assert!(matches!(
        read_lightgbm(&text, "m.txt"),
        Err(MlError::CorruptModel { .. })
    ));
    let e = refusal(&model_text("binary sigmoid:1", r#"[["a"], ["b"]]"#));
    assert!(e.contains("pandas"), "{e}");
}

#[test]
fn zero_as_missing_agreeing_with_the_threshold_imports() {
    // Default right, threshold below zero: zero and NaN go right either way.
    let text =
        model_text("binary sigmoid:1", "null").replace("decision_type=10", "decision_type=4");
    let model = read_lightgbm(&text, "m.txt").unwrap();
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    close(raw(&model, 1.0, 3.0, f64::NAN), 0.1 + 0.05);
    close(raw(&model, 1.0, 3.0, 0.0), 0.1 + 0.05);
    close(raw(&model, 1.0, 3.0, -1.0), 0.1 - 0.05);
}
