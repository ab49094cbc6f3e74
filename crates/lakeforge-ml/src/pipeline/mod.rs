//! Feature pipeline: fitted once on the training RecordBatches, stored inside
//! the model, and re-applied to every batch at prediction time. It maps arrow
//! columns BY NAME to the dense [`Dataset`](crate::Dataset) the learners use, so column order
//! and extra columns in prediction input do not matter.
//!
//! Tree mode keeps missing values as NaN and encodes categories as integer
//! codes (native categorical splits); linear mode imputes the training mean,
//! standardises numeric features and encodes categories as chosen by
//! [`CategoricalEncoding`] (one-hot by default, or one ordinal / smoothed
//! target-mean column per categorical input).
//!
//! The files follow the pipeline's life: `fit.rs` learns it from training
//! batches, `apply.rs` turns batches into a [`Dataset`](crate::Dataset) with it, `row.rs` does
//! the same for one row given as [`FeatureValue`]s (serving), and `convert.rs`
//! reads arrow columns as the numbers all of them use. This file holds the
//! fitted pipeline's data (what a model file stores) and the encoding rules the
//! batch and row paths share, so both produce the same bits.

use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

mod apply;
mod convert;
mod fit;
mod row;
#[cfg(test)]
mod tests;

pub use row::FeatureValue;

/// Which learner family the pipeline prepares features for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineMode {
    Tree,
    Linear,
}

/// How linear mode turns a categorical column into numbers (tree mode always
/// uses native categorical splits and ignores this).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoricalEncoding {
    /// One 0/1 column per category; unseen/missing rows are all zeros.
    #[default]
    OneHot,
    /// One column holding the category's code (its position in the fitted
    /// category list, most frequent first); unseen/missing rows are imputed
    /// like missing numeric values. Then standardised.
    Ordinal,
    /// One column holding the category's smoothed training-label mean
    /// `(n·mean + m·prior) / (n + m)` with `m` = [`TARGET_SMOOTHING`] and
    /// `prior` the overall label mean; unseen/missing rows get the prior.
    /// Then standardised. Needs the labels at fit time
    /// ([`FeaturePipeline::fit_with_labels`]).
    Target,
}

impl CategoricalEncoding {
    /// Parses `onehot` / `one_hot` / `one-hot`, `ordinal` or `target`.
    pub fn parse(s: &str) -> Option<CategoricalEncoding> {
        Some(
            match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
                "onehot" | "one_hot" => CategoricalEncoding::OneHot,
                "ordinal" => CategoricalEncoding::Ordinal,
                "target" => CategoricalEncoding::Target,
                _ => return None,
            },
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            CategoricalEncoding::OneHot => "onehot",
            CategoricalEncoding::Ordinal => "ordinal",
            CategoricalEncoding::Target => "target",
        }
    }

    /// For `skip_serializing_if`: one-hot models serialise exactly as they
    /// did before the other encodings existed.
    pub fn is_one_hot(&self) -> bool {
        *self == CategoricalEncoding::OneHot
    }
}

/// Pseudo-count `m` pulling a category's target mean towards the prior: a
/// category seen `m` times lands halfway, so rare categories cannot claim an
/// extreme mean from a handful of rows.
pub const TARGET_SMOOTHING: f64 = 10.0;

/// Options for fitting a pipeline.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    pub mode: PipelineMode,
    /// Input columns to use; `None` = every column except the target/excluded ones.
    pub features: Option<Vec<String>>,
    /// Columns never used as features (e.g. ids, the time column of a time split).
    pub exclude: Vec<String>,
    /// Columns to treat as categorical even though they are numeric (e.g. integer ids).
    pub categorical: Vec<String>,
    /// Keep at most this many most-frequent categories per column; rarer ones
    /// are treated like unseen categories (missing for trees, all-zero one-hot).
    pub max_categories: usize,
    /// Linear mode only; ignored (stored as one-hot) in tree mode.
    pub categorical_encoding: CategoricalEncoding,
}

impl PipelineOptions {
    pub fn new(mode: PipelineMode) -> Self {
        PipelineOptions {
            mode,
            features: None,
            exclude: Vec::new(),
            categorical: Vec::new(),
            max_categories: 256,
            categorical_encoding: CategoricalEncoding::OneHot,
        }
    }
}

/// How one input column is interpreted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ColumnEncoding {
    /// Any integer/float/decimal/boolean column; cast to f64.
    Numeric,
    /// String/dictionary column (or one forced categorical); `categories[i]` has code `i`.
    Categorical { categories: Vec<String> },
    /// Date/timestamp column expanded into calendar parts.
    Temporal { with_hour: bool },
    /// Category codes the caller computed (a categorical feature of a model imported from
    /// LightGBM without pandas' category lists): numbers truncated toward zero, as LightGBM
    /// reads a categorical feature, so `2.7` is code 2 and `-0.5` code 0; negative codes and
    /// missing values match no category.
    Codes,
}

/// Mean/std learned on the training data for one output feature (linear mode).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    pub mean: f64,
    pub std: f64,
}

/// Per-category smoothed label means of one column (target encoding).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetStats {
    /// `means[i]` belongs to category code `i`.
    pub means: Vec<f64>,
    /// Overall training label mean: the value of unseen/missing categories.
    pub prior: f64,
}

impl TargetStats {
    fn value(&self, code: Option<usize>) -> f64 {
        code.and_then(|c| self.means.get(c).copied())
            .unwrap_or(self.prior)
    }
}

/// Fitted transform of one input column into one or more output features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnTransform {
    pub name: String,
    pub encoding: ColumnEncoding,
    /// One per numeric output feature in linear mode (including the single
    /// ordinal / target column of a categorical input); empty in tree mode.
    pub scalers: Vec<Scaler>,
    /// Target-encoded categorical columns only. Defaulted so model files
    /// written before target encoding existed still load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_stats: Option<TargetStats>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeaturePipeline {
    pub mode: PipelineMode,
    pub columns: Vec<ColumnTransform>,
    /// Linear mode's categorical encoding. Defaulted (one-hot) so model
    /// files written before the other encodings existed still load.
    #[serde(default, skip_serializing_if = "CategoricalEncoding::is_one_hot")]
    pub categorical_encoding: CategoricalEncoding,
}

const TEMPORAL_PARTS: [&str; 5] = ["year", "month", "day", "dayofweek", "hour"];

impl FeaturePipeline {
    /// Input column names the pipeline reads.
    pub fn input_columns(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// Names of the features produced (what feature importance refers to).
    pub fn output_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.columns {
            match (&c.encoding, self.mode) {
                (ColumnEncoding::Numeric | ColumnEncoding::Codes, _) => out.push(c.name.clone()),
                (ColumnEncoding::Categorical { .. }, PipelineMode::Tree) => {
                    out.push(c.name.clone())
                }
                (ColumnEncoding::Categorical { categories }, PipelineMode::Linear) => {
                    if self.categorical_encoding.is_one_hot() {
                        out.extend(categories.iter().map(|cat| format!("{}={}", c.name, cat)))
                    } else {
                        out.push(c.name.clone())
                    }
                }
                (ColumnEncoding::Temporal { with_hour }, _) => out.extend(
                    temporal_parts(*with_hour)
                        .iter()
                        .map(|p| format!("{}_{}", c.name, p)),
                ),
            }
        }
        out
    }
}

impl ColumnTransform {
    /// The single pre-scaling value of category `code` (`None` = missing or
    /// unseen) under ordinal or target encoding. Shared by the batch and
    /// single-row paths so both produce the same bits.
    pub(super) fn categorical_value(&self, enc: CategoricalEncoding, code: Option<usize>) -> f64 {
        match (enc, &self.target_stats) {
            (CategoricalEncoding::Target, Some(stats)) => stats.value(code),
            // NaN is imputed (scaled to 0) like a missing numeric value. A
            // target-encoded column without stats only comes from a damaged
            // file; treating it as missing beats panicking mid-prediction.
            _ => code.map_or(f64::NAN, |c| c as f64),
        }
    }
}

/// Category code from the raw feature value (NaN = missing/unseen).
pub(super) fn code_of(v: f64) -> Option<usize> {
    (!v.is_nan()).then_some(v as usize)
}

/// Linear-mode standardisation; missing/non-finite values become 0 (the mean).
pub(super) fn scale(v: f64, s: Scaler) -> f64 {
    if v.is_finite() {
        (v - s.mean) / s.std
    } else {
        0.0
    }
}

pub(crate) fn temporal_parts(with_hour: bool) -> &'static [&'static str] {
    if with_hour {
        &TEMPORAL_PARTS
    } else {
        &TEMPORAL_PARTS[..4]
    }
}

/// The column names of the batches, for error messages that list what is there.
pub(crate) fn field_names(batches: &[RecordBatch]) -> String {
    batches
        .first()
        .map(|b| {
            b.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}
