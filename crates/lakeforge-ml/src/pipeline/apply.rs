//! Applying a fitted pipeline to batches (prediction, evaluation, and the
//! training data right after fitting): columns found by name, read as raw
//! values, then scaled, one-hot or target encoded into a [`Dataset`].

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::record_batch::RecordBatch;

use super::convert::{append_numeric, append_temporal, to_utf8};
use super::{ColumnEncoding, FeaturePipeline, PipelineMode, code_of, scale, temporal_parts};
use crate::dataset::{Dataset, FeatureKind};
use crate::error::{MlError, Result};

impl FeaturePipeline {
    /// Applies the fitted pipeline to new batches (prediction / evaluation).
    pub fn transform(&self, batches: &[RecordBatch]) -> Result<Dataset> {
        let raw = self.raw_features(batches)?;
        Ok(self.assemble(raw))
    }

    /// Per-column features before scaling / one-hot: NaN for missing,
    /// category codes for categorical columns.
    pub(super) fn raw_features(&self, batches: &[RecordBatch]) -> Result<Vec<Vec<RawFeature>>> {
        let n_rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        let mut out = Vec::with_capacity(self.columns.len());
        // Name → position per batch, built once (wide batches would otherwise
        // cost a linear name search per column).
        let positions: Vec<HashMap<&str, usize>> = batches
            .iter()
            .map(|b| {
                b.schema_ref()
                    .fields()
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.name().as_str(), i))
                    .collect()
            })
            .collect();
        for c in &self.columns {
            let arrays = column_arrays(batches, &positions, &c.name, self)?;
            let feats = match &c.encoding {
                ColumnEncoding::Numeric | ColumnEncoding::Codes => {
                    let mut values = Vec::with_capacity(n_rows);
                    for a in &arrays {
                        append_numeric(&c.name, a, &mut values)?;
                    }
                    if c.encoding == ColumnEncoding::Codes {
                        values.iter_mut().for_each(|v| *v = v.trunc());
                    }
                    vec![RawFeature {
                        values,
                        categories: None,
                    }]
                }
                ColumnEncoding::Categorical { categories } => {
                    let lookup: HashMap<&str, usize> = categories
                        .iter()
                        .enumerate()
                        .map(|(i, s)| (s.as_str(), i))
                        .collect();
                    let mut values = Vec::with_capacity(n_rows);
                    for a in &arrays {
                        let s = to_utf8(&c.name, a)?;
                        let s = s.as_string::<i32>();
                        values.extend((0..s.len()).map(|i| {
                            if s.is_null(i) {
                                f64::NAN
                            } else {
                                lookup.get(s.value(i)).map_or(f64::NAN, |&code| code as f64)
                            }
                        }));
                    }
                    vec![RawFeature {
                        values,
                        categories: Some(categories.len()),
                    }]
                }
                ColumnEncoding::Temporal { with_hour } => {
                    let n_parts = temporal_parts(*with_hour).len();
                    let mut parts: Vec<Vec<f64>> =
                        (0..n_parts).map(|_| Vec::with_capacity(n_rows)).collect();
                    for a in &arrays {
                        append_temporal(&c.name, a, &mut parts)?;
                    }
                    parts
                        .into_iter()
                        .map(|values| RawFeature {
                            values,
                            categories: None,
                        })
                        .collect()
                }
            };
            out.push(feats);
        }
        Ok(out)
    }

    pub(super) fn assemble(&self, raw: Vec<Vec<RawFeature>>) -> Dataset {
        let n_rows = raw
            .first()
            .and_then(|f| f.first())
            .map_or(0, |f| f.values.len());
        let mut names = Vec::new();
        let mut kinds = Vec::new();
        let mut cols = Vec::new();
        let out_names = self.output_names();
        let mut name_iter = out_names.into_iter();
        for (transform, feats) in self.columns.iter().zip(raw) {
            for (k, feat) in feats.into_iter().enumerate() {
                match (feat.categories, self.mode) {
                    (Some(n), PipelineMode::Tree) => {
                        names.push(name_iter.next().unwrap_or_default());
                        kinds.push(FeatureKind::Categorical { n_categories: n });
                        cols.push(feat.values);
                    }
                    (Some(_), PipelineMode::Linear) if !self.categorical_encoding.is_one_hot() => {
                        let (enc, s) = (self.categorical_encoding, transform.scalers[0]);
                        let col = feat
                            .values
                            .iter()
                            .map(|&v| scale(transform.categorical_value(enc, code_of(v)), s))
                            .collect();
                        names.push(name_iter.next().unwrap_or_default());
                        kinds.push(FeatureKind::Numeric);
                        cols.push(col);
                    }
                    (Some(n), PipelineMode::Linear) => {
                        // One-hot; unseen/missing rows get all zeros.
                        let mut onehot: Vec<Vec<f64>> = vec![vec![0.0; n_rows]; n];
                        for (r, &v) in feat.values.iter().enumerate() {
                            if !v.is_nan() {
                                onehot[v as usize][r] = 1.0;
                            }
                        }
                        for col in onehot {
                            names.push(name_iter.next().unwrap_or_default());
                            kinds.push(FeatureKind::Numeric);
                            cols.push(col);
                        }
                    }
                    (None, PipelineMode::Tree) => {
                        names.push(name_iter.next().unwrap_or_default());
                        kinds.push(FeatureKind::Numeric);
                        cols.push(feat.values);
                    }
                    (None, PipelineMode::Linear) => {
                        let s = transform.scalers[k];
                        let col = feat.values.iter().map(|&v| scale(v, s)).collect();
                        names.push(name_iter.next().unwrap_or_default());
                        kinds.push(FeatureKind::Numeric);
                        cols.push(col);
                    }
                }
            }
        }
        Dataset::from_columns(n_rows, names, kinds, cols)
    }
}

pub(super) struct RawFeature {
    pub(super) values: Vec<f64>,
    pub(super) categories: Option<usize>,
}

fn column_arrays(
    batches: &[RecordBatch],
    positions: &[HashMap<&str, usize>],
    name: &str,
    pipeline: &FeaturePipeline,
) -> Result<Vec<ArrayRef>> {
    batches
        .iter()
        .zip(positions)
        .map(|(b, pos)| {
            pos.get(name)
                .map(|&i| b.column(i).clone())
                .ok_or_else(|| MlError::MissingColumn {
                    column: name.to_string(),
                    expected: pipeline.input_columns().join(", "),
                })
        })
        .collect()
}
