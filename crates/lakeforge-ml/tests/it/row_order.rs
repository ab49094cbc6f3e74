//! Training depends on the rows, not on the order they were stored in: the same table in
//! another row order (and other batch boundaries) splits, tunes and fits to the same model
//! bytes. Also: money kept as decimals trains exactly as its values.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Decimal128Array, Float64Array, StringArray, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use arrow::record_batch::RecordBatch;
use lakeforge_ml::rng::Rng;
use lakeforge_ml::split::{SplitStrategy, split_batches};
use lakeforge_ml::{FitSpec, SearchSpace, Task, TuneOptions, TuneStrategy, fit, tune};

use crate::common::load_csv;

/// `batch` with its rows shuffled by `seed`, cut into uneven batches.
fn reordered(batch: &RecordBatch, seed: u64) -> Vec<RecordBatch> {
    let mut order: Vec<u32> = (0..batch.num_rows() as u32).collect();
    Rng::new(seed).shuffle(&mut order);
    let shuffled = take_record_batch(batch, &UInt32Array::from(order)).unwrap();
    let n = shuffled.num_rows();
    let cuts = [0, n / 7, n / 2, n];
    cuts.windows(2)
        .map(|w| shuffled.slice(w[0], w[1] - w[0]))
        .collect()
}

/// Diabetes with a text column (so categorical values take part in the row order too).
fn diabetes() -> RecordBatch {
    let b = load_csv("diabetes_train.csv", false);
    let f0 = b
        .column_by_name("f0")
        .unwrap()
        .as_primitive::<Float64Type>();
    let band: StringArray = f0
        .iter()
        .map(|v| Some(if v.unwrap() > 0.0 { "older" } else { "younger" }))
        .collect();
    let mut fields: Vec<Field> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("band", DataType::Utf8, false));
    let mut columns = b.columns().to_vec();
    columns.push(Arc::new(band));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// The runner's flow: split, then fit on the training part; the model's bytes.
fn split_and_fit(batches: &[RecordBatch], split: &SplitStrategy, spec: &FitSpec) -> Vec<u8> {
    let (train, _) = split_batches(batches, split).unwrap();
    fit(std::slice::from_ref(&train), None, spec)
        .unwrap()
        .to_bytes()
        .unwrap()
}

fn regression_spec() -> FitSpec {
    // Bagging and feature sampling draw rows and columns by index: the order matters most.
    FitSpec::new(Task::Regression, Some("label"))
        .with_param("num_iterations", "30")
        .with_param("num_leaves", "7")
        .with_param("bagging_fraction", "0.7")
        .with_param("bagging_freq", "1")
        .with_param("feature_fraction", "0.8")
        .with_param("seed", "5")
}

#[test]
fn the_same_rows_in_another_order_train_to_the_same_bytes() {
    let table = diabetes();
    let split = SplitStrategy::Random {
        test_fraction: 0.2,
        seed: 42,
    };
    let spec = regression_spec();
    let want = split_and_fit(std::slice::from_ref(&table), &split, &spec);
    for seed in [1, 2, 3] {
        let other = reordered(&table, seed);
        assert_eq!(
            split_and_fit(&other, &split, &spec),
            want,
            "row order {seed} trained a different model"
        );
    }
    // Without the canonical order the two orders do give different models: the above is
    // not comparing things that could not differ.
    let other = reordered(&table, 1);
    let raw = |b: &[RecordBatch]| fit(b, None, &spec).unwrap().to_bytes().unwrap();
    assert_ne!(raw(std::slice::from_ref(&table)), raw(&other));
}

#[test]
fn stratified_split_and_tuning_follow_the_rows_not_their_order() {
    let table = load_csv("breast_cancer_train.csv", true);
    let split = SplitStrategy::Stratified {
        column: "label".into(),
        test_fraction: 0.25,
        seed: 7,
    };
    let spec = FitSpec::new(Task::Binary, Some("label"))
        .with_param("num_iterations", "15")
        .with_param("seed", "7");
    let space =
        SearchSpace::parse(&["num_leaves=int:3:15", "bagging_fraction=float:0.5:1.0"]).unwrap();
    let opts = TuneOptions {
        strategy: TuneStrategy::Random { n_trials: 3 },
        folds: 3,
        seed: 7,
        ..Default::default()
    };
    let tuned_bytes = |batches: &[RecordBatch]| {
        let (train, test) = split_batches(batches, &split).unwrap();
        let tuned = tune(std::slice::from_ref(&train), &spec, &space, &opts).unwrap();
        let mut best = spec.clone();
        best.params = tuned.best_params.clone();
        let model = fit(std::slice::from_ref(&train), None, &best).unwrap();
        let report = model.evaluate(std::slice::from_ref(&test)).unwrap();
        (tuned, model.to_bytes().unwrap(), report.metrics)
    };
    let want = tuned_bytes(std::slice::from_ref(&table));
    let got = tuned_bytes(&reordered(&table, 9));
    assert_eq!(got.0, want.0, "tuning trials differ");
    assert_eq!(got.1, want.1, "model bytes differ");
    assert_eq!(got.2, want.2, "held-out metrics differ");
}

/// Diabetes with the target and feature `f1` as decimal(26, 2) money, and the same table
/// with the doubles parsed from the decimals' text (what a user would compare with).
fn money() -> (RecordBatch, RecordBatch) {
    let table = diabetes();
    let cents = |name: &str, scale: f64| -> Vec<i128> {
        table
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Float64Type>()
            .values()
            .iter()
            .map(|v| (v * scale).round() as i128)
            .collect()
    };
    let (label, f1) = (cents("label", 137.0), cents("f1", 10_000.0));
    let decimal = |c: &[i128]| -> ArrayRef {
        Arc::new(
            Decimal128Array::from(c.to_vec())
                .with_precision_and_scale(26, 2)
                .unwrap(),
        )
    };
    let double = |c: &[i128]| -> ArrayRef {
        let text = |v: i128| {
            let sign = if v < 0 { "-" } else { "" };
            format!("{sign}{}.{:02}", v.abs() / 100, v.abs() % 100)
        };
        Arc::new(Float64Array::from(
            c.iter()
                .map(|&v| text(v).parse::<f64>().unwrap())
                .collect::<Vec<_>>(),
        ))
    };
    // Every column as it is, but `f1` and `label` replaced.
    let with = |f1: ArrayRef, label: ArrayRef| {
        let (mut fields, mut columns) = (Vec::new(), Vec::new());
        for (field, column) in table.schema().fields().iter().zip(table.columns()) {
            let column = match field.name().as_str() {
                "f1" => f1.clone(),
                "label" => label.clone(),
                _ => column.clone(),
            };
            fields.push(Field::new(field.name(), column.data_type().clone(), false));
            columns.push(column);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    };
    (
        with(decimal(&f1), decimal(&label)),
        with(double(&f1), double(&label)),
    )
}

fn predictions(model: &lakeforge_ml::Model, batch: &RecordBatch) -> Vec<u64> {
    model
        .predict(batch)
        .unwrap()
        .column_by_name("prediction")
        .unwrap()
        .as_primitive::<Float64Type>()
        .values()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

#[test]
fn decimal_money_trains_exactly_as_its_values() {
    let (decimals, doubles) = money();
    // Each decimal target becomes the double nearest to its value.
    let bits = |b: &RecordBatch| -> Vec<u64> {
        lakeforge_ml::target::values(std::slice::from_ref(b), "label")
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect()
    };
    assert_eq!(bits(&decimals), bits(&doubles));

    // Decimal features and target learn the same trees as their doubles (same rows, same
    // order), and score either kind of input the same.
    let spec = regression_spec();
    let on_decimals = fit(std::slice::from_ref(&decimals), None, &spec).unwrap();
    let on_doubles = fit(std::slice::from_ref(&doubles), None, &spec).unwrap();
    let want = predictions(&on_doubles, &doubles);
    assert_eq!(predictions(&on_decimals, &decimals), want);
    assert_eq!(predictions(&on_decimals, &doubles), want);
    let r2 = on_decimals
        .evaluate(std::slice::from_ref(&decimals))
        .unwrap();
    assert!(
        r2.metrics.iter().any(|(n, v)| n == "r2" && *v > 0.3),
        "{r2:?}"
    );

    // And the same decimals in another order split and fit to the same bytes.
    let split = SplitStrategy::Random {
        test_fraction: 0.2,
        seed: 42,
    };
    assert_eq!(
        split_and_fit(&reordered(&decimals, 4), &split, &spec),
        split_and_fit(std::slice::from_ref(&decimals), &split, &spec)
    );
}
