//! Single-row prediction (`Model::predict_row`) applies the same fitted
//! pipeline and gives bit-for-bit the same values as batch prediction, for
//! GBDT, linear and k-means models, before and after save/load.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Date32Array, Float64Array, StringArray};
use arrow::datatypes::{DataType, Date32Type, Float64Type};
use arrow::record_batch::RecordBatch;
use lakeforge_ml::{Algorithm, FeatureValue, FitSpec, MlError, Model, Task, fit};

use crate::common::load_csv;

/// Row `i` of `batch` as feature values in the model's input column order.
fn row_values<'a>(model: &Model, batch: &'a RecordBatch, i: usize) -> Vec<FeatureValue<'a>> {
    model
        .pipeline
        .input_columns()
        .iter()
        .map(|name| {
            let a = batch.column_by_name(name).expect("column");
            if a.is_null(i) {
                return FeatureValue::Null;
            }
            match a.data_type() {
                DataType::Utf8 => FeatureValue::Str(a.as_string::<i32>().value(i)),
                DataType::Float64 => FeatureValue::Float(a.as_primitive::<Float64Type>().value(i)),
                DataType::Int64 => {
                    FeatureValue::Int(a.as_primitive::<arrow::datatypes::Int64Type>().value(i))
                }
                DataType::Date32 => FeatureValue::EpochSeconds(
                    a.as_primitive::<Date32Type>().value(i) as i64 * 86_400,
                ),
                other => panic!("unexpected type {other}"),
            }
        })
        .collect()
}

pub(crate) fn assert_rows_match(model: &Model, batch: &RecordBatch) {
    let k = model.num_outputs();
    let all = model.predict_values(std::slice::from_ref(batch)).unwrap();
    for i in 0..batch.num_rows() {
        let one = model.predict_row(&row_values(model, batch, i)).unwrap();
        assert_eq!(one.len(), k);
        let want = &all[i * k..(i + 1) * k];
        assert!(
            one.iter()
                .zip(want)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "row {i}: {one:?} vs {want:?}"
        );
    }
    // And a one-row batch through the arrow path.
    let first = model.predict_values(&[batch.slice(0, 1)]).unwrap();
    assert_eq!(first, all[..k]);
}

/// Strings, a nullable float and a date (same shape as the pipeline tests).
pub(crate) fn mixed(n: usize, offset: usize) -> RecordBatch {
    let cats = ["red", "green", "blue", "cyan", "pink", "gray", "teal"];
    let (mut city, mut x, mut day, mut y) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in offset..offset + n {
        let c = cats[(i * 7 + i / 3) % cats.len()];
        let xv = (i % 5 != 0).then(|| ((i * 37) % 100) as f64 / 100.0);
        let d = (i * 13 % 365) as i32;
        let pos = matches!(c, "red" | "blue" | "teal") as i32
            + xv.is_none_or(|v| v > 0.7) as i32
            + (d < 180) as i32;
        city.push((i % 11 != 0).then_some(if i % 17 == 0 { "mauve" } else { c }));
        x.push(xv);
        day.push((i % 13 != 0).then_some(d));
        y.push(if pos >= 2 { "yes" } else { "no" });
    }
    RecordBatch::try_from_iter(vec![
        ("city", Arc::new(StringArray::from(city)) as ArrayRef),
        ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
        ("day", Arc::new(Date32Array::from(day)) as ArrayRef),
        ("target", Arc::new(StringArray::from(y)) as ArrayRef),
    ])
    .unwrap()
}

#[test]
fn gbdt_row_equals_batch_with_categories_nulls_and_dates() {
    let train = mixed(3000, 0);
    let test = mixed(500, 3000);
    let spec = FitSpec::new(Task::Binary, Some("target"))
        .with_param("num_iterations", "40")
        .with_param("min_data_per_group", "10");
    let model = fit(&[train], None, &spec).unwrap();
    assert_rows_match(&model, &test);
    // Loaded models predict rows identically too.
    let loaded = Model::from_bytes(&model.to_bytes().unwrap()).unwrap();
    assert_eq!(loaded, model);
    assert_rows_match(&loaded, &test);
    let row = row_values(&model, &test, 3);
    assert_eq!(
        loaded.predict_row(&row).unwrap(),
        model.predict_row(&row).unwrap()
    );
}

#[test]
fn linear_row_equals_batch_with_one_hot_and_scaling() {
    let model = fit(
        &[mixed(2000, 0)],
        None,
        &FitSpec::new(Task::Binary, Some("target")).with_algorithm(Algorithm::Linear),
    )
    .unwrap();
    assert_rows_match(&model, &mixed(300, 2000));
}

#[test]
fn multiclass_and_kmeans_rows_equal_batch() {
    let train = [load_csv("wine_train.csv", true)];
    let test = load_csv("wine_test.csv", true);
    let gbdt = fit(
        &train,
        None,
        &FitSpec::new(Task::Multiclass, Some("label")).with_param("num_iterations", "30"),
    )
    .unwrap();
    assert_eq!(gbdt.num_outputs(), 3);
    assert_rows_match(&gbdt, &test);
    // Clustering uses every column; the label is just another feature here.
    let km = fit(
        &train,
        None,
        &FitSpec::new(Task::Clustering, None).with_param("k", "3"),
    )
    .unwrap();
    assert_rows_match(&km, &test);
}

#[test]
fn unusual_value_types_follow_the_batch_conversions() {
    let model = fit(
        &[mixed(2000, 0)],
        None,
        &FitSpec::new(Task::Binary, Some("target")).with_param("num_iterations", "20"),
    )
    .unwrap();
    // A numeric column given as a string is parsed like arrow's cast does.
    let as_text = RecordBatch::try_from_iter(vec![
        ("city", Arc::new(StringArray::from(vec!["red"])) as ArrayRef),
        ("x", Arc::new(StringArray::from(vec!["0.9"])) as ArrayRef),
        ("day", Arc::new(Date32Array::from(vec![40])) as ArrayRef),
    ])
    .unwrap();
    let want = model.predict_values(&[as_text]).unwrap();
    let got = model
        .predict_row(&[
            FeatureValue::Str("red"),
            FeatureValue::Str("0.9"),
            FeatureValue::EpochSeconds(40 * 86_400),
        ])
        .unwrap();
    assert_eq!(got, want);
    assert_eq!(
        got,
        model
            .predict_row(&[
                "red".into(),
                0.9.into(),
                FeatureValue::EpochSeconds(40 * 86_400)
            ])
            .unwrap()
    );
    // Wrong arity is a typed error naming the expected columns.
    let err = model.predict_row(&[FeatureValue::Null]).unwrap_err();
    assert!(matches!(err, MlError::InvalidInput(_)), "{err}");
    assert!(err.to_string().contains("city, x, day"), "{err}");
    // A date column cannot take a string.
    assert!(
        model
            .predict_row(&["red".into(), 0.5.into(), "2020-01-01".into()])
            .is_err()
    );
}
