//! Unit tests of the feature pipeline: fitting, batch and row application,
//! each categorical encoding, temporal parts.

use super::convert::to_utf8;
use super::fit::fit_scaler;
use super::*;
use crate::dataset::FeatureKind;
use crate::error::MlError;
use arrow::array::{Array, ArrayRef, AsArray};
use arrow::array::{
    BooleanArray, Date32Array, DictionaryArray, Float32Array, Int64Array, StringArray,
    TimestampSecondArray,
};
use arrow::datatypes::DataType;
use arrow::datatypes::Int32Type;
use arrow::record_batch::RecordBatch;
use std::sync::Arc;

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(cols).unwrap()
}

fn sample() -> RecordBatch {
    let dict: DictionaryArray<Int32Type> = vec![Some("x"), Some("y"), None, Some("x")]
        .into_iter()
        .collect();
    batch(vec![
        (
            "a",
            Arc::new(Int64Array::from(vec![Some(1), None, Some(3), Some(4)])) as ArrayRef,
        ),
        (
            "b",
            Arc::new(Float32Array::from(vec![0.5, 1.5, f32::NAN, 2.5])) as ArrayRef,
        ),
        (
            "c",
            Arc::new(StringArray::from(vec![
                Some("red"),
                Some("blue"),
                Some("red"),
                None,
            ])) as ArrayRef,
        ),
        ("d", Arc::new(dict) as ArrayRef),
        (
            "e",
            Arc::new(BooleanArray::from(vec![true, false, true, false])) as ArrayRef,
        ),
        (
            "y",
            Arc::new(Int64Array::from(vec![0, 1, 0, 1])) as ArrayRef,
        ),
    ])
}

#[test]
fn tree_mode_keeps_missing_and_codes_categories() {
    let (p, d) = FeaturePipeline::fit(
        &[sample()],
        Some("y"),
        &PipelineOptions::new(PipelineMode::Tree),
    )
    .unwrap();
    assert_eq!(d.names(), &["a", "b", "c", "d", "e"]);
    assert!(d.value(1, 0).is_nan());
    assert!(d.value(2, 1).is_nan());
    // "red" is most frequent → code 0.
    assert_eq!(d.column(2)[..3], [0.0, 1.0, 0.0]);
    assert!(d.value(3, 2).is_nan());
    assert_eq!(d.kinds()[2], FeatureKind::Categorical { n_categories: 2 });
    assert_eq!(d.column(3)[0], 0.0);
    assert!(d.value(2, 3).is_nan());
    assert_eq!(d.column(4), &[1.0, 0.0, 1.0, 0.0]);

    // Columns are matched by name; unseen category → missing.
    let other = batch(vec![
        ("e", Arc::new(BooleanArray::from(vec![true])) as ArrayRef),
        ("d", Arc::new(StringArray::from(vec!["y"])) as ArrayRef),
        ("c", Arc::new(StringArray::from(vec!["green"])) as ArrayRef),
        ("b", Arc::new(Float32Array::from(vec![1.0])) as ArrayRef),
        ("a", Arc::new(Int64Array::from(vec![9])) as ArrayRef),
    ]);
    let t = p.transform(&[other]).unwrap();
    assert_eq!(t.value(0, 0), 9.0);
    assert!(t.value(0, 2).is_nan());
    assert_eq!(t.value(0, 3), 1.0);
}

#[test]
fn missing_feature_column_is_named() {
    let (p, _) = FeaturePipeline::fit(
        &[sample()],
        Some("y"),
        &PipelineOptions::new(PipelineMode::Tree),
    )
    .unwrap();
    let other = batch(vec![("a", Arc::new(Int64Array::from(vec![1])) as ArrayRef)]);
    let err = p.transform(&[other]).unwrap_err();
    assert!(
        matches!(&err, MlError::MissingColumn { column, .. } if column == "b"),
        "{err}"
    );
}

#[test]
fn linear_mode_imputes_scales_and_one_hots() {
    let (p, d) = FeaturePipeline::fit(
        &[sample()],
        Some("y"),
        &PipelineOptions::new(PipelineMode::Linear),
    )
    .unwrap();
    let names = p.output_names();
    assert_eq!(names, d.names());
    assert!(names.contains(&"c=red".to_string()));
    // Column a: mean of {1,3,4} imputed → 0 after scaling; all finite.
    assert_eq!(d.value(1, 0), 0.0);
    let a = d.column(0);
    let mean: f64 = [a[0], a[2], a[3]].iter().sum::<f64>() / 3.0;
    assert!(mean.abs() < 1e-12);
    for j in 0..d.n_features() {
        assert!(d.column(j).iter().all(|v| v.is_finite()));
    }
    let red = names.iter().position(|n| n == "c=red").unwrap();
    assert_eq!(d.column(red), &[1.0, 0.0, 1.0, 0.0]);
}

fn linear_opts(enc: CategoricalEncoding) -> PipelineOptions {
    PipelineOptions {
        categorical_encoding: enc,
        ..PipelineOptions::new(PipelineMode::Linear)
    }
}

/// Every row of `batch` through `transform_row` equals the batch transform.
fn assert_row_path_matches(p: &FeaturePipeline, batch: &RecordBatch) {
    let d = p.transform(std::slice::from_ref(batch)).unwrap();
    let mut out = Vec::new();
    for i in 0..batch.num_rows() {
        let cols: Vec<&ArrayRef> = p
            .input_columns()
            .iter()
            .map(|name| batch.column_by_name(name).unwrap())
            .collect();
        // Dictionary strings are given as plain text, owned here.
        let text: Vec<Option<String>> = cols
            .iter()
            .map(|a| match a.data_type() {
                DataType::Dictionary(_, _) if a.is_valid(i) => Some(
                    to_utf8("d", &a.slice(i, 1))
                        .unwrap()
                        .as_string::<i32>()
                        .value(0)
                        .into(),
                ),
                _ => None,
            })
            .collect();
        let values: Vec<FeatureValue<'_>> = cols
            .iter()
            .zip(&text)
            .map(|(a, t)| {
                if a.is_null(i) {
                    return FeatureValue::Null;
                }
                match a.data_type() {
                    DataType::Utf8 => FeatureValue::Str(a.as_string::<i32>().value(i)),
                    DataType::Int64 => {
                        FeatureValue::Int(a.as_primitive::<arrow::datatypes::Int64Type>().value(i))
                    }
                    DataType::Float32 => FeatureValue::Float(
                        a.as_primitive::<arrow::datatypes::Float32Type>().value(i) as f64,
                    ),
                    DataType::Boolean => FeatureValue::Bool(a.as_boolean().value(i)),
                    _ => FeatureValue::Str(t.as_deref().unwrap()),
                }
            })
            .collect();
        p.transform_row(&values, &mut out).unwrap();
        let want: Vec<u64> = (0..d.n_features())
            .map(|j| d.value(i, j).to_bits())
            .collect();
        let got: Vec<u64> = out.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want, "row {i}");
    }
}

#[test]
fn ordinal_encoding_is_one_scaled_code_column() {
    let (p, d) = FeaturePipeline::fit(
        &[sample()],
        Some("y"),
        &linear_opts(CategoricalEncoding::Ordinal),
    )
    .unwrap();
    assert_eq!(p.categorical_encoding, CategoricalEncoding::Ordinal);
    assert_eq!(d.names(), &["a", "b", "c", "d", "e"]);
    assert_eq!(p.output_names(), d.names());
    // c: red=0, blue=1, missing → imputed mean → 0 after scaling.
    let s = p.columns[2].scalers[0];
    assert_eq!((s.mean, s.std), (1.0 / 3.0, (2.0f64 / 9.0).sqrt()));
    assert_eq!(d.value(0, 2), scale(0.0, s));
    assert_eq!(d.value(1, 2), scale(1.0, s));
    assert_eq!(d.value(3, 2), 0.0);
    assert!(p.columns[2].target_stats.is_none());
    assert_row_path_matches(&p, &sample());
    // Unseen category → same as missing.
    let other = batch(vec![
        ("a", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
        ("b", Arc::new(Float32Array::from(vec![1.0])) as ArrayRef),
        ("c", Arc::new(StringArray::from(vec!["green"])) as ArrayRef),
        ("d", Arc::new(StringArray::from(vec!["x"])) as ArrayRef),
        ("e", Arc::new(BooleanArray::from(vec![true])) as ArrayRef),
    ]);
    assert_eq!(p.transform(&[other]).unwrap().value(0, 2), 0.0);
}

#[test]
fn target_encoding_uses_smoothed_label_means() {
    let labels = [0.0, 1.0, 0.0, 1.0];
    let (p, d) = FeaturePipeline::fit_with_labels(
        &[sample()],
        Some("y"),
        &linear_opts(CategoricalEncoding::Target),
        &labels,
    )
    .unwrap();
    let m = TARGET_SMOOTHING;
    // c: red rows 0,2 (labels 0,0), blue row 1 (label 1), prior 0.5.
    let stats = p.columns[2].target_stats.as_ref().unwrap();
    assert_eq!(stats.prior, 0.5);
    assert_eq!(
        stats.means,
        [(0.0 + m * 0.5) / (2.0 + m), (1.0 + m * 0.5) / (1.0 + m)]
    );
    let enc = [stats.means[0], stats.means[1], stats.means[0], 0.5];
    let s = fit_scaler(&enc);
    assert_eq!(p.columns[2].scalers, [s]);
    for (r, &e) in enc.iter().enumerate() {
        assert_eq!(d.value(r, 2), scale(e, s), "row {r}");
    }
    // Red is mostly 0-labelled, so it encodes below blue.
    assert!(d.value(0, 2) < d.value(1, 2));
    assert_row_path_matches(&p, &sample());
    // Unseen category → the prior.
    let other = batch(vec![
        ("a", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
        ("b", Arc::new(Float32Array::from(vec![1.0])) as ArrayRef),
        ("c", Arc::new(StringArray::from(vec!["green"])) as ArrayRef),
        ("d", Arc::new(StringArray::from(vec!["x"])) as ArrayRef),
        ("e", Arc::new(BooleanArray::from(vec![true])) as ArrayRef),
    ]);
    assert_eq!(p.transform(&[other]).unwrap().value(0, 2), scale(0.5, s));
}

#[test]
fn target_encoding_without_labels_names_the_column() {
    let opts = linear_opts(CategoricalEncoding::Target);
    let err = FeaturePipeline::fit(&[sample()], Some("y"), &opts).unwrap_err();
    assert!(err.to_string().contains("'c'"), "{err}");
    assert!(err.to_string().contains("fit_with_labels"), "{err}");
    let err = FeaturePipeline::fit_with_labels(&[sample()], Some("y"), &opts, &[1.0]).unwrap_err();
    assert!(err.to_string().contains("1 labels for 4 rows"), "{err}");
}

#[test]
fn tree_mode_ignores_the_linear_encoding() {
    let opts = PipelineOptions {
        categorical_encoding: CategoricalEncoding::Target,
        ..PipelineOptions::new(PipelineMode::Tree)
    };
    let (p, d) = FeaturePipeline::fit(&[sample()], Some("y"), &opts).unwrap();
    assert_eq!(p.categorical_encoding, CategoricalEncoding::OneHot);
    assert_eq!(d.kinds()[2], FeatureKind::Categorical { n_categories: 2 });
}

#[test]
fn encoding_names_parse() {
    for (s, e) in [
        ("onehot", CategoricalEncoding::OneHot),
        ("one_hot", CategoricalEncoding::OneHot),
        ("One-Hot", CategoricalEncoding::OneHot),
        ("ordinal", CategoricalEncoding::Ordinal),
        (" target ", CategoricalEncoding::Target),
    ] {
        assert_eq!(CategoricalEncoding::parse(s), Some(e), "{s}");
        assert_eq!(CategoricalEncoding::parse(e.name()), Some(e));
    }
    assert_eq!(CategoricalEncoding::parse("hash"), None);
}

#[test]
fn temporal_parts() {
    // 2024-03-15 is a Friday (dayofweek 4).
    let days = 19_797;
    let b = batch(vec![
        (
            "d",
            Arc::new(Date32Array::from(vec![Some(days), None])) as ArrayRef,
        ),
        (
            "t",
            Arc::new(TimestampSecondArray::from(vec![
                days as i64 * 86_400 + 13 * 3600,
                0,
            ])) as ArrayRef,
        ),
    ]);
    let (p, ds) =
        FeaturePipeline::fit(&[b], None, &PipelineOptions::new(PipelineMode::Tree)).unwrap();
    assert_eq!(
        p.output_names(),
        [
            "d_year",
            "d_month",
            "d_day",
            "d_dayofweek",
            "t_year",
            "t_month",
            "t_day",
            "t_dayofweek",
            "t_hour"
        ]
    );
    assert_eq!(
        (0..9).map(|j| ds.value(0, j)).collect::<Vec<_>>(),
        [2024.0, 3.0, 15.0, 4.0, 2024.0, 3.0, 15.0, 4.0, 13.0]
    );
    assert!(ds.value(1, 0).is_nan());
    assert_eq!(ds.value(1, 4), 1970.0);
    assert_eq!(ds.value(1, 7), 3.0);
}

#[test]
fn unsupported_type_is_named() {
    let list =
        arrow::array::ListArray::from_iter_primitive::<arrow::datatypes::Int32Type, _, _>(vec![
            Some(vec![Some(1)]),
        ]);
    let b = batch(vec![("l", Arc::new(list) as ArrayRef)]);
    let err =
        FeaturePipeline::fit(&[b], None, &PipelineOptions::new(PipelineMode::Tree)).unwrap_err();
    assert!(err.to_string().contains("'l'"), "{err}");
}
