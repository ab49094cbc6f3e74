//! Fitting: learns a [`FeaturePipeline`] from the training batches — which
//! columns are features and how each is read (numeric, categorical with its
//! categories, temporal), and in linear mode the scalers and target-encoding
//! statistics — and returns it with the transformed training data.

use std::collections::HashMap;

use arrow::array::AsArray;
use arrow::compute::can_cast_types;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;

use super::convert::to_utf8;
use super::{
    CategoricalEncoding, ColumnEncoding, ColumnTransform, FeaturePipeline, PipelineMode,
    PipelineOptions, Scaler, TARGET_SMOOTHING, TargetStats, code_of, field_names,
};
use crate::dataset::Dataset;
use crate::error::{MlError, Result};

impl FeaturePipeline {
    /// Learns encodings (and scalers in linear mode) from the training batches
    /// and returns the pipeline together with the transformed training data.
    /// Target encoding needs the labels: use
    /// [`fit_with_labels`](FeaturePipeline::fit_with_labels) for it.
    pub fn fit(
        batches: &[RecordBatch],
        target: Option<&str>,
        opts: &PipelineOptions,
    ) -> Result<(FeaturePipeline, Dataset)> {
        Self::fit_inner(batches, target, opts, None)
    }

    /// Like [`fit`](FeaturePipeline::fit), with the encoded training labels
    /// (one per row: class index 0/1 for binary, the value for regression)
    /// that target encoding averages per category. Other encodings ignore
    /// them.
    pub fn fit_with_labels(
        batches: &[RecordBatch],
        target: Option<&str>,
        opts: &PipelineOptions,
        labels: &[f64],
    ) -> Result<(FeaturePipeline, Dataset)> {
        Self::fit_inner(batches, target, opts, Some(labels))
    }

    fn fit_inner(
        batches: &[RecordBatch],
        target: Option<&str>,
        opts: &PipelineOptions,
        labels: Option<&[f64]>,
    ) -> Result<(FeaturePipeline, Dataset)> {
        let schema = batches
            .first()
            .map(|b| b.schema())
            .ok_or_else(|| MlError::EmptyData("the input has no record batches".into()))?;
        let names: Vec<String> = match &opts.features {
            Some(list) => {
                for c in list {
                    if schema.index_of(c).is_err() {
                        return Err(MlError::MissingColumn {
                            column: c.clone(),
                            expected: field_names(batches),
                        });
                    }
                }
                list.clone()
            }
            None => schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|n| Some(n.as_str()) != target && !opts.exclude.contains(n))
                .collect(),
        };
        if names.is_empty() {
            return Err(MlError::NoFeatures(target.unwrap_or("").to_string()));
        }
        let mut columns = Vec::with_capacity(names.len());
        for name in names {
            let field = schema
                .field_with_name(&name)
                .map_err(|_| MlError::MissingColumn {
                    column: name.clone(),
                    expected: field_names(batches),
                })?;
            let forced = opts.categorical.contains(&name);
            let encoding = match classify(&name, field.data_type(), forced)? {
                Kind::Numeric => ColumnEncoding::Numeric,
                Kind::Temporal { with_hour } => ColumnEncoding::Temporal { with_hour },
                Kind::Categorical => ColumnEncoding::Categorical {
                    categories: learn_categories(batches, &name, opts.max_categories)?,
                },
            };
            columns.push(ColumnTransform {
                name,
                encoding,
                scalers: Vec::new(),
                target_stats: None,
            });
        }
        let linear = opts.mode == PipelineMode::Linear;
        let mut pipeline = FeaturePipeline {
            mode: opts.mode,
            columns,
            categorical_encoding: if linear {
                opts.categorical_encoding
            } else {
                CategoricalEncoding::OneHot
            },
        };
        let raw = pipeline.raw_features(batches)?;
        if linear {
            let enc = pipeline.categorical_encoding;
            // Scalers are learned on the raw (unimputed) values, then applied;
            // ordinal/target columns are scaled on their encoded values.
            for (transform, feats) in pipeline.columns.iter_mut().zip(&raw) {
                match (&transform.encoding, enc) {
                    (ColumnEncoding::Categorical { .. }, CategoricalEncoding::OneHot) => {}
                    (ColumnEncoding::Categorical { categories }, _) => {
                        let codes = &feats[0].values;
                        if enc == CategoricalEncoding::Target {
                            let labels = check_labels(&transform.name, labels, codes.len())?;
                            transform.target_stats =
                                Some(fit_target_stats(codes, labels, categories.len()));
                        }
                        let values: Vec<f64> = codes
                            .iter()
                            .map(|&v| transform.categorical_value(enc, code_of(v)))
                            .collect();
                        transform.scalers = vec![fit_scaler(&values)];
                    }
                    _ => transform.scalers = feats.iter().map(|f| fit_scaler(&f.values)).collect(),
                }
            }
        }
        let dataset = pipeline.assemble(raw);
        Ok((pipeline, dataset))
    }
}

/// The labels target encoding needs, checked against the row count.
fn check_labels<'a>(column: &str, labels: Option<&'a [f64]>, n_rows: usize) -> Result<&'a [f64]> {
    match labels {
        None => Err(MlError::InvalidInput(format!(
            "target encoding of column '{column}' needs the training labels; \
             fit the pipeline with FeaturePipeline::fit_with_labels"
        ))),
        Some(l) if l.len() != n_rows => Err(MlError::InvalidInput(format!(
            "target encoding of column '{column}': got {} labels for {n_rows} rows",
            l.len()
        ))),
        Some(l) => Ok(l),
    }
}

/// Smoothed per-category label means (see [`CategoricalEncoding::Target`]).
fn fit_target_stats(codes: &[f64], labels: &[f64], n_categories: usize) -> TargetStats {
    // The prior covers every row, including missing/unseen ones, because
    // those rows are predicted with it.
    let prior = labels.iter().sum::<f64>() / labels.len().max(1) as f64;
    let mut sums = vec![0.0; n_categories];
    let mut counts = vec![0usize; n_categories];
    for (&v, &y) in codes.iter().zip(labels) {
        if let Some(c) = code_of(v) {
            sums[c] += y;
            counts[c] += 1;
        }
    }
    let means = sums
        .iter()
        .zip(&counts)
        .map(|(&s, &n)| (s + TARGET_SMOOTHING * prior) / (n as f64 + TARGET_SMOOTHING))
        .collect();
    TargetStats { means, prior }
}

enum Kind {
    Numeric,
    Categorical,
    Temporal { with_hour: bool },
}

fn is_string(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

fn classify(name: &str, dt: &DataType, forced_categorical: bool) -> Result<Kind> {
    let unsupported = || MlError::UnsupportedColumnType {
        column: name.to_string(),
        data_type: dt.to_string(),
    };
    if forced_categorical {
        return if can_cast_types(dt, &DataType::Utf8) {
            Ok(Kind::Categorical)
        } else {
            Err(unsupported())
        };
    }
    Ok(match dt {
        d if is_string(d) => Kind::Categorical,
        DataType::Dictionary(_, v) if is_string(v) => Kind::Categorical,
        DataType::Dictionary(_, v) if v.is_numeric() => Kind::Numeric,
        DataType::Boolean => Kind::Numeric,
        d if d.is_numeric() => Kind::Numeric,
        DataType::Date32 | DataType::Date64 => Kind::Temporal { with_hour: false },
        DataType::Timestamp(_, _) => Kind::Temporal { with_hour: true },
        _ => return Err(unsupported()),
    })
}

fn learn_categories(batches: &[RecordBatch], name: &str, max: usize) -> Result<Vec<String>> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for b in batches {
        let a = b
            .column_by_name(name)
            .ok_or_else(|| MlError::MissingColumn {
                column: name.to_string(),
                expected: field_names(batches),
            })?;
        let s = to_utf8(name, a)?;
        let s = s.as_string::<i32>();
        for v in s.iter().flatten() {
            if let Some(c) = counts.get_mut(v) {
                *c += 1;
            } else {
                counts.insert(v.to_string(), 1);
            }
        }
    }
    let mut cats: Vec<(String, usize)> = counts.into_iter().collect();
    // Most frequent first so truncation keeps the informative categories; ties
    // by value so codes are deterministic regardless of hash order.
    cats.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    cats.truncate(max.max(1));
    Ok(cats.into_iter().map(|(s, _)| s).collect())
}

pub(super) fn fit_scaler(values: &[f64]) -> Scaler {
    let (mut n, mut sum) = (0usize, 0.0);
    for &v in values {
        if v.is_finite() {
            n += 1;
            sum += v;
        }
    }
    if n == 0 {
        return Scaler {
            mean: 0.0,
            std: 1.0,
        };
    }
    let mean = sum / n as f64;
    let var = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|&v| (v - mean) * (v - mean))
        .sum::<f64>()
        / n as f64;
    let std = var.sqrt();
    Scaler {
        mean,
        // A constant column would divide by zero; leave it centred at 0 instead.
        std: if std > 1e-12 && std.is_finite() {
            std
        } else {
            1.0
        },
    }
}
