//! Linear models' categorical encodings (one-hot, ordinal, target) through
//! the public API: fit/predict, unseen categories, single-row parity with
//! batch prediction, old model files without the new fields, parameter
//! errors, leak-free cross-validation, and a high-cardinality column where
//! only target encoding can recover the signal.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, StringArray};
use arrow::record_batch::RecordBatch;
use lakeforge_ml::rng::Rng;
use lakeforge_ml::{
    Algorithm, CategoricalEncoding, FeatureValue, FitSpec, Metric, MlError, Model, Task,
    cross_validate, fit,
};

use crate::predict_row::{assert_rows_match, mixed};

const ENCODINGS: [CategoricalEncoding; 3] = [
    CategoricalEncoding::OneHot,
    CategoricalEncoding::Ordinal,
    CategoricalEncoding::Target,
];

fn linear(task: Task, target: &str, enc: CategoricalEncoding) -> FitSpec {
    FitSpec::new(task, Some(target))
        .with_algorithm(Algorithm::Linear)
        .with_categorical_encoding(enc)
}

/// `n_categories` categories `c0…`, each with a fixed effect in [-2, 2]
/// (drawn from `effect_seed`, so train and test agree); `y` is the effect
/// plus a little of `x` and noise. Rows draw categories uniformly.
fn high_cardinality(n: usize, n_categories: usize, row_seed: u64) -> RecordBatch {
    let mut er = Rng::new(99);
    let effects: Vec<f64> = (0..n_categories)
        .map(|_| er.next_f64() * 4.0 - 2.0)
        .collect();
    let mut r = Rng::new(row_seed);
    let (mut cat, mut x, mut y) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let k = r.below(n_categories);
        let xv = r.next_f64();
        let noise = r.next_f64() - 0.5;
        cat.push(format!("c{k}"));
        x.push(xv);
        y.push(effects[k] + 0.5 * xv + 0.5 * noise);
    }
    RecordBatch::try_from_iter(vec![
        ("cat", Arc::new(StringArray::from(cat)) as ArrayRef),
        ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
        ("y", Arc::new(Float64Array::from(y)) as ArrayRef),
    ])
    .unwrap()
}

/// The same rows with a binary label: P(1) = sigmoid(3 · effect).
fn high_cardinality_binary(n: usize, n_categories: usize, row_seed: u64) -> RecordBatch {
    let b = high_cardinality(n, n_categories, row_seed);
    let y = b
        .column_by_name("y")
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    let mut r = Rng::new(row_seed + 1000);
    let label: Vec<&str> = y
        .values()
        .iter()
        .map(|&v| {
            let p = 1.0 / (1.0 + (-3.0 * (v - 0.25)).exp());
            if r.next_f64() < p { "yes" } else { "no" }
        })
        .collect();
    RecordBatch::try_from_iter(vec![
        ("cat", b.column_by_name("cat").unwrap().clone()),
        ("x", b.column_by_name("x").unwrap().clone()),
        ("label", Arc::new(StringArray::from(label)) as ArrayRef),
    ])
    .unwrap()
}

#[test]
fn every_encoding_predicts_rows_like_batches_before_and_after_save() {
    let train = [mixed(2000, 0)];
    let test = mixed(300, 2000);
    for enc in ENCODINGS {
        let model = fit(&train, None, &linear(Task::Binary, "target", enc)).unwrap();
        assert_eq!(model.pipeline.categorical_encoding, enc);
        let auc = model
            .evaluate(std::slice::from_ref(&test))
            .unwrap()
            .get("auc")
            .unwrap();
        assert!(auc > 0.75, "{enc:?}: auc {auc}");
        assert_rows_match(&model, &test);
        let loaded = Model::from_bytes(&model.to_bytes().unwrap()).unwrap();
        assert_eq!(loaded, model, "{enc:?}");
        assert_rows_match(&loaded, &test);
    }
    // Ordinal and target give one feature per categorical column.
    let ordinal = fit(
        &train,
        None,
        &linear(Task::Binary, "target", CategoricalEncoding::Ordinal),
    )
    .unwrap();
    assert_eq!(ordinal.meta.feature_names[0], "city");
    assert_eq!(ordinal.meta.feature_names.len(), 1 + 1 + 4);
}

#[test]
fn regression_rows_equal_batches_for_every_encoding() {
    let train = [high_cardinality(1500, 30, 1)];
    let test = high_cardinality(200, 40, 2); // c30… are unseen in training
    for enc in ENCODINGS {
        let model = fit(&train, None, &linear(Task::Regression, "y", enc)).unwrap();
        assert_rows_match(&model, &test);
    }
}

#[test]
fn unseen_and_missing_categories_predict_like_each_other() {
    for enc in [CategoricalEncoding::Ordinal, CategoricalEncoding::Target] {
        let model = fit(
            &[high_cardinality(1000, 20, 3)],
            None,
            &linear(Task::Regression, "y", enc),
        )
        .unwrap();
        let unseen = model
            .predict_row(&["never-seen".into(), 0.5.into()])
            .unwrap();
        let missing = model
            .predict_row(&[FeatureValue::Null, 0.5.into()])
            .unwrap();
        assert!(unseen[0].is_finite(), "{enc:?}");
        assert_eq!(unseen, missing, "{enc:?}");
        let seen = model.predict_row(&["c3".into(), 0.5.into()]).unwrap();
        assert_ne!(seen, unseen, "{enc:?}");
        if enc == CategoricalEncoding::Target {
            // Unseen → prior → the scaled column is 0, leaving the mean level.
            let stats = model.pipeline.columns[0].target_stats.as_ref().unwrap();
            let y_mean = stats.prior;
            assert!((unseen[0] - y_mean).abs() < 0.3, "{unseen:?} vs {y_mean}");
        }
    }
}

#[test]
fn target_encoding_recovers_a_high_cardinality_effect() {
    let train = [high_cardinality(8000, 200, 10)];
    let test = high_cardinality(2000, 200, 11);
    let r2 = |enc| {
        fit(&train, None, &linear(Task::Regression, "y", enc))
            .unwrap()
            .evaluate(std::slice::from_ref(&test))
            .unwrap()
            .get("r2")
            .unwrap()
    };
    let target = r2(CategoricalEncoding::Target);
    let ordinal = r2(CategoricalEncoding::Ordinal);
    // The category carries ~95% of the variance; ordinal codes (frequency
    // order) are unrelated to the effect, so only target encoding gets it.
    assert!(target > 0.85, "target encoding r2 {target}");
    assert!(ordinal < 0.2, "ordinal r2 {ordinal}");

    let train = [high_cardinality_binary(8000, 200, 20)];
    let test = high_cardinality_binary(2000, 200, 21);
    let auc = |enc| {
        fit(&train, None, &linear(Task::Binary, "label", enc))
            .unwrap()
            .evaluate(std::slice::from_ref(&test))
            .unwrap()
            .get("auc")
            .unwrap()
    };
    let target = auc(CategoricalEncoding::Target);
    let ordinal = auc(CategoricalEncoding::Ordinal);
    assert!(target > 0.8, "target encoding auc {target}");
    assert!(ordinal < 0.65, "ordinal auc {ordinal}");
}

#[test]
fn models_without_the_new_fields_still_load() {
    let test = mixed(100, 2000);
    let model = fit(
        &[mixed(1000, 0)],
        None,
        &FitSpec::new(Task::Binary, Some("target")).with_algorithm(Algorithm::Linear),
    )
    .unwrap();
    // A one-hot model serialises exactly as before the encodings existed…
    let mut old = serde_json::to_value(&model).unwrap();
    let text = old.to_string();
    assert!(!text.contains("categorical_encoding"), "{text}");
    assert!(!text.contains("target_stats"));
    // …and a payload without them (explicitly stripped, in case that ever
    // changes) loads through the file format with the one-hot default.
    old["pipeline"]
        .as_object_mut()
        .unwrap()
        .remove("categorical_encoding");
    for c in old["pipeline"]["columns"].as_array_mut().unwrap() {
        c.as_object_mut().unwrap().remove("target_stats");
    }
    old["estimator"]["linear"]["params"]
        .as_object_mut()
        .unwrap()
        .remove("categorical_encoding");
    let bytes = lakeforge_ml::model_file::to_bytes(&old).unwrap();
    let loaded = Model::from_bytes(&bytes).unwrap();
    assert_eq!(loaded, model);
    assert_eq!(
        loaded.pipeline.categorical_encoding,
        CategoricalEncoding::OneHot
    );
    assert_eq!(
        loaded.predict(&test).unwrap(),
        model.predict(&test).unwrap()
    );

    // A target-encoded model stores its choice and the per-column means.
    let target = fit(
        &[mixed(1000, 0)],
        None,
        &linear(Task::Binary, "target", CategoricalEncoding::Target),
    )
    .unwrap();
    let v = serde_json::to_value(&target).unwrap();
    assert_eq!(v["pipeline"]["categorical_encoding"], "target");
    assert!(v["pipeline"]["columns"][0]["target_stats"]["prior"].is_number());
}

#[test]
fn multiclass_target_encoding_is_rejected_by_name() {
    let wine = [crate::common::load_csv("wine_train.csv", true)];
    let err = fit(
        &wine,
        None,
        &linear(Task::Multiclass, "label", CategoricalEncoding::Target),
    )
    .unwrap_err();
    assert!(matches!(err, MlError::InvalidParam { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("'categorical_encoding'"), "{msg}");
    assert!(msg.contains("multiclass"), "{msg}");
    assert!(msg.contains("onehot or ordinal"), "{msg}");
    // Ordinal is fine for multiclass.
    let m = fit(
        &wine,
        None,
        &linear(Task::Multiclass, "label", CategoricalEncoding::Ordinal),
    )
    .unwrap();
    assert_eq!(m.num_outputs(), 3);
}

#[test]
fn encoding_param_is_validated_and_linear_only() {
    let train = [mixed(300, 0)];
    let err = fit(
        &train,
        None,
        &FitSpec::new(Task::Binary, Some("target"))
            .with_algorithm(Algorithm::Linear)
            .with_param("categorical_encoding", "hashing"),
    )
    .unwrap_err();
    assert!(matches!(err, MlError::InvalidParam { .. }), "{err}");
    assert!(err.to_string().contains("onehot, ordinal, target"), "{err}");
    // The alias and the CLI spelling work.
    let m = fit(
        &train,
        None,
        &FitSpec::new(Task::Binary, Some("target"))
            .with_algorithm(Algorithm::Linear)
            .with_param("cat_encoding", "one_hot"),
    )
    .unwrap();
    assert_eq!(m.pipeline.categorical_encoding, CategoricalEncoding::OneHot);

    let err = fit(
        &train,
        None,
        &FitSpec::new(Task::Binary, Some("target")).with_param("categorical_encoding", "target"),
    )
    .unwrap_err();
    assert!(matches!(err, MlError::InvalidParam { .. }), "{err}");
    assert!(err.to_string().contains("'categorical_encoding'"), "{err}");
    assert!(
        err.to_string().contains("native categorical splits"),
        "{err}"
    );
}

#[test]
fn cross_validation_fits_target_encoding_per_fold() {
    // Every row has its own category and the label is pure noise: the only
    // way to score above zero is to encode validation rows with their own
    // labels, i.e. to fit the encoding on data that includes the fold.
    let n = 200;
    let mut r = Rng::new(5);
    let id: Vec<String> = (0..n).map(|i| format!("row{i}")).collect();
    let y: Vec<f64> = (0..n).map(|_| r.next_f64()).collect();
    let b = RecordBatch::try_from_iter(vec![
        ("id", Arc::new(StringArray::from(id)) as ArrayRef),
        ("y", Arc::new(Float64Array::from(y)) as ArrayRef),
    ])
    .unwrap();
    let spec = linear(Task::Regression, "y", CategoricalEncoding::Target);
    let cv = cross_validate(&[b], &spec, 5, Some(Metric::R2), 1).unwrap();
    assert!(
        cv.mean < 0.05,
        "validation rows leaked into the encoding: {cv:?}"
    );
}

#[test]
fn tuning_can_search_the_encoding() {
    let train = [high_cardinality(3000, 100, 30)];
    let spec = FitSpec::new(Task::Regression, Some("y")).with_algorithm(Algorithm::Linear);
    let space = lakeforge_ml::SearchSpace::parse(&[
        "categorical_encoding=choice:onehot,ordinal,target",
        "lambda_l2=float:0:0.01",
    ])
    .unwrap();
    let opts = lakeforge_ml::TuneOptions {
        strategy: lakeforge_ml::TuneStrategy::Random { n_trials: 9 },
        folds: 3,
        seed: 2,
        ..Default::default()
    };
    let r = lakeforge_ml::tune(&train, &spec, &space, &opts).unwrap();
    let score = |e: &str| {
        r.trials
            .iter()
            .filter(|t| t.params["categorical_encoding"] == e)
            .map(|t| t.score)
            .fold(f64::NAN, f64::min)
    };
    // RMSE: ordinal cannot use the category; the other two can.
    assert!(score("ordinal") > 1.5 * score("target"), "{r:?}");
    assert_ne!(r.best_params["categorical_encoding"], "ordinal");
    // The winner trains directly.
    let mut best = spec.clone();
    best.params = r.best_params.clone();
    fit(&train, None, &best).unwrap();
}
