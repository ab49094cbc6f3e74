//! Pipeline behaviour through the public API: columns matched by name,
//! missing feature columns named in the error, categorical/string and
//! missing-value handling, temporal features, early stopping, importance.

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use lakeforge_ml::{Estimator, FitSpec, ImportanceType, MlError, Task, fit};

use crate::common::load_csv;

fn reordered(b: &RecordBatch) -> RecordBatch {
    let schema = b.schema();
    let mut cols: Vec<(String, ArrayRef)> = schema
        .fields()
        .iter()
        .zip(b.columns())
        .map(|(f, c)| (f.name().clone(), c.clone()))
        .collect();
    cols.reverse();
    RecordBatch::try_from_iter(cols).unwrap()
}

#[test]
fn prediction_matches_columns_by_name() {
    let train = [load_csv("breast_cancer_train.csv", true)];
    let test = load_csv("breast_cancer_test.csv", true);
    let model = fit(
        &train,
        None,
        &FitSpec::new(Task::Binary, Some("label")).with_param("num_iterations", "20"),
    )
    .unwrap();
    let a = model.predict(&test).unwrap();
    let b = model.predict(&reordered(&test)).unwrap();
    assert_eq!(a, b);
    // The label column is not needed to predict.
    let no_label = test
        .project(&(0..test.num_columns() - 1).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(model.predict(&no_label).unwrap(), a);

    let missing = test
        .project(&(1..test.num_columns()).collect::<Vec<_>>())
        .unwrap();
    let err = model.predict(&missing).unwrap_err();
    assert!(
        matches!(&err, MlError::MissingColumn { column, .. } if column == "f0"),
        "{err}"
    );
    assert!(err.to_string().contains("'f0'"));
}

/// Label depends on a string category, a numeric column with nulls (null ⇒
/// positive) and the month of a date.
fn mixed(n: usize, offset: usize) -> RecordBatch {
    let cats = ["red", "green", "blue", "cyan", "pink", "gray", "teal"];
    let mut city = Vec::new();
    let mut x = Vec::new();
    let mut day = Vec::new();
    let mut y = Vec::new();
    for i in offset..offset + n {
        let c = cats[(i * 7 + i / 3) % cats.len()];
        let xv = if i % 5 == 0 {
            None
        } else {
            Some(((i * 37) % 100) as f64 / 100.0)
        };
        let d = (i * 13 % 365) as i32;
        let pos = matches!(c, "red" | "blue" | "teal") as i32
            + xv.is_none_or(|v| v > 0.7) as i32
            + (d < 180) as i32;
        city.push(Some(c));
        x.push(xv);
        day.push(Some(d));
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
fn categorical_missing_and_dates_are_learned() {
    let train = mixed(3000, 0);
    let test = mixed(1000, 3000);
    let spec = FitSpec::new(Task::Binary, Some("target"))
        .with_param("num_iterations", "60")
        .with_param("min_data_per_group", "10");
    let model = fit(&[train], None, &spec).unwrap();
    assert_eq!(model.meta.classes, ["no", "yes"]);
    assert_eq!(
        model.meta.feature_names,
        [
            "city",
            "x",
            "day_year",
            "day_month",
            "day_day",
            "day_dayofweek"
        ]
    );
    let rep = model.evaluate(std::slice::from_ref(&test)).unwrap();
    assert!(rep.get("accuracy").unwrap() > 0.97, "{rep:?}");
    // Uses a categorical split on "city".
    let Estimator::Gbdt(g) = &model.estimator else {
        panic!()
    };
    assert!(
        g.trees
            .iter()
            .flat_map(|t| &t.nodes)
            .any(|n| matches!(n.rule, lakeforge_ml::tree::SplitRule::Categorical { .. }))
    );
    let gain = model.feature_importance(ImportanceType::Gain);
    assert!(gain.iter().find(|(n, _)| n == "city").unwrap().1 > 0.0);

    // Unseen category at prediction time is treated as missing, not an error.
    let unseen = RecordBatch::try_from_iter(vec![
        (
            "city",
            Arc::new(StringArray::from(vec!["mauve"])) as ArrayRef,
        ),
        ("x", Arc::new(Float64Array::from(vec![0.9])) as ArrayRef),
        ("day", Arc::new(Date32Array::from(vec![10])) as ArrayRef),
    ])
    .unwrap();
    let p = model.predict(&unseen).unwrap();
    assert_eq!(p.num_rows(), 1);
    // Linear mode handles the same data with one-hot + imputation.
    let lin = fit(
        &[mixed(3000, 0)],
        None,
        &FitSpec::new(Task::Binary, Some("target")).with_algorithm(lakeforge_ml::Algorithm::Linear),
    )
    .unwrap();
    assert!(lin.evaluate(&[test]).unwrap().get("auc").unwrap() > 0.8);
}

#[test]
fn early_stopping_uses_validation_set() {
    let train = [load_csv("breast_cancer_train.csv", true)];
    let valid = [load_csv("breast_cancer_test.csv", true)];
    let spec = FitSpec::new(Task::Binary, Some("label"))
        .with_param("num_iterations", "1000")
        .with_param("learning_rate", "0.3")
        .with_param("early_stopping_round", "10")
        .with_param("metric", "binary_logloss");
    let model = fit(&train, Some(&valid), &spec).unwrap();
    let Estimator::Gbdt(g) = &model.estimator else {
        panic!()
    };
    let best = g.best_iteration.unwrap();
    assert!(best < 200, "best iteration {best}");
    assert_eq!(g.trees.len(), best);
    let (name, v) = model.meta.valid_metric.clone().unwrap();
    assert_eq!(name, "binary_logloss");
    assert!(v < 0.3);
}

#[test]
fn unknown_param_and_bad_target_are_clear() {
    let train = [load_csv("wine_train.csv", true)];
    let err = fit(
        &train,
        None,
        &FitSpec::new(Task::Multiclass, Some("label")).with_param("num_leafs", "3"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("num_leafs"), "{err}");
    let err = fit(&train, None, &FitSpec::new(Task::Binary, Some("label"))).unwrap_err();
    assert!(err.to_string().contains("multiclass"), "{err}");
    let err = fit(&train, None, &FitSpec::new(Task::Binary, Some("nope"))).unwrap_err();
    assert!(matches!(err, MlError::MissingTarget { .. }), "{err}");
    let ints = RecordBatch::try_from_iter(vec![(
        "a",
        Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef,
    )])
    .unwrap();
    let err = fit(&[ints], None, &FitSpec::new(Task::Regression, Some("a"))).unwrap_err();
    assert!(matches!(err, MlError::NoFeatures(_)), "{err}");
}
