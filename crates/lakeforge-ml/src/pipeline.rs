//! Feature pipeline: fitted once on the training RecordBatches, stored inside
//! the model, and re-applied to every batch at prediction time. It maps arrow
//! columns BY NAME to the dense [`Dataset`] the learners use, so column order
//! and extra columns in prediction input do not matter.
//!
//! Tree mode keeps missing values as NaN and encodes categories as integer
//! codes (native categorical splits); linear mode imputes the training mean,
//! standardises numeric features and encodes categories as chosen by
//! [`CategoricalEncoding`] (one-hot by default, or one ordinal / smoothed
//! target-mean column per categorical input).

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::{can_cast_types, cast};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Float64Type, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, FeatureKind};
use crate::error::{MlError, Result};

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

/// One input value of a single row, for [`FeaturePipeline::transform_row`]
/// and [`Model::predict_row`](crate::Model::predict_row). Values are given
/// in [`FeaturePipeline::input_columns`] order and interpreted exactly like
/// the equivalent one-row arrow column would be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeatureValue<'a> {
    /// Missing (an arrow null).
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    /// A date/time as seconds since 1970-01-01 UTC (a date is its midnight),
    /// for date/timestamp input columns.
    EpochSeconds(i64),
}

impl From<f64> for FeatureValue<'_> {
    fn from(v: f64) -> Self {
        FeatureValue::Float(v)
    }
}

impl From<i64> for FeatureValue<'_> {
    fn from(v: i64) -> Self {
        FeatureValue::Int(v)
    }
}

impl<'a> From<&'a str> for FeatureValue<'a> {
    fn from(v: &'a str) -> Self {
        FeatureValue::Str(v)
    }
}

impl<T: Into<FeatureValue<'static>>> From<Option<T>> for FeatureValue<'static> {
    fn from(v: Option<T>) -> Self {
        v.map_or(FeatureValue::Null, Into::into)
    }
}

impl FeatureValue<'_> {
    /// The value as a one-element arrow array (the slow, general path that
    /// reuses the batch conversions for unusual type combinations).
    fn to_array(self) -> ArrayRef {
        use arrow::array::{
            BooleanArray, Float64Array, Int64Array, NullArray, StringArray, TimestampSecondArray,
        };
        use std::sync::Arc;
        match self {
            FeatureValue::Null => Arc::new(NullArray::new(1)),
            FeatureValue::Bool(b) => Arc::new(BooleanArray::from(vec![b])),
            FeatureValue::Int(i) => Arc::new(Int64Array::from(vec![i])),
            FeatureValue::Float(f) => Arc::new(Float64Array::from(vec![f])),
            FeatureValue::Str(s) => Arc::new(StringArray::from(vec![s])),
            FeatureValue::EpochSeconds(t) => Arc::new(TimestampSecondArray::from(vec![t])),
        }
    }
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

    /// Applies the fitted pipeline to new batches (prediction / evaluation).
    pub fn transform(&self, batches: &[RecordBatch]) -> Result<Dataset> {
        let raw = self.raw_features(batches)?;
        Ok(self.assemble(raw))
    }

    /// Applies the fitted pipeline to one row given as `values` in
    /// [`FeaturePipeline::input_columns`] order, writing the features to
    /// `out` (cleared first). Produces exactly the row [`transform`] would
    /// for a one-row batch holding the same values, without arrow overhead
    /// for the common cases (numbers for numeric columns, strings for
    /// categorical ones, epoch seconds for temporal ones).
    ///
    /// [`transform`]: FeaturePipeline::transform
    pub fn transform_row(&self, values: &[FeatureValue<'_>], out: &mut Vec<f64>) -> Result<()> {
        if values.len() != self.columns.len() {
            return Err(MlError::InvalidInput(format!(
                "expected {} values ({}), got {}",
                self.columns.len(),
                self.input_columns().join(", "),
                values.len()
            )));
        }
        out.clear();
        let linear = self.mode == PipelineMode::Linear;
        for (c, &v) in self.columns.iter().zip(values) {
            match &c.encoding {
                ColumnEncoding::Numeric => {
                    let x = match v {
                        FeatureValue::Null => f64::NAN,
                        FeatureValue::Bool(b) => f64::from(u8::from(b)),
                        FeatureValue::Int(i) => i as f64,
                        FeatureValue::Float(f) => f,
                        other => {
                            let mut one = Vec::with_capacity(1);
                            append_numeric(&c.name, &other.to_array(), &mut one)?;
                            one[0]
                        }
                    };
                    out.push(if linear { scale(x, c.scalers[0]) } else { x });
                }
                ColumnEncoding::Categorical { categories } => {
                    let code = match v {
                        FeatureValue::Null => None,
                        FeatureValue::Str(s) => categories.iter().position(|c| c == s),
                        other => {
                            let a = to_utf8(&c.name, &other.to_array())?;
                            let a = a.as_string::<i32>();
                            if a.is_null(0) {
                                None
                            } else {
                                categories.iter().position(|c| c == a.value(0))
                            }
                        }
                    };
                    match (linear, self.categorical_encoding) {
                        (false, _) => out.push(code.map_or(f64::NAN, |code| code as f64)),
                        (true, CategoricalEncoding::OneHot) => {
                            let at = out.len();
                            out.resize(at + categories.len(), 0.0);
                            if let Some(code) = code {
                                out[at + code] = 1.0;
                            }
                        }
                        (true, enc) => {
                            out.push(scale(c.categorical_value(enc, code), c.scalers[0]))
                        }
                    }
                }
                ColumnEncoding::Temporal { with_hour } => {
                    let n_parts = temporal_parts(*with_hour).len();
                    let parts: Vec<f64> = match v {
                        FeatureValue::Null => vec![f64::NAN; n_parts],
                        FeatureValue::EpochSeconds(secs) => {
                            temporal_values(Some(secs))[..n_parts].to_vec()
                        }
                        other => {
                            let mut cols = vec![Vec::with_capacity(1); n_parts];
                            append_temporal(&c.name, &other.to_array(), &mut cols)?;
                            cols.into_iter().map(|p| p[0]).collect()
                        }
                    };
                    for (k, x) in parts.into_iter().enumerate() {
                        out.push(if linear { scale(x, c.scalers[k]) } else { x });
                    }
                }
            }
        }
        Ok(())
    }

    /// Input column names the pipeline reads.
    pub fn input_columns(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// Names of the features produced (what feature importance refers to).
    pub fn output_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.columns {
            match (&c.encoding, self.mode) {
                (ColumnEncoding::Numeric, _) => out.push(c.name.clone()),
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

    /// Per-column features before scaling / one-hot: NaN for missing,
    /// category codes for categorical columns.
    fn raw_features(&self, batches: &[RecordBatch]) -> Result<Vec<Vec<RawFeature>>> {
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
                ColumnEncoding::Numeric => {
                    let mut values = Vec::with_capacity(n_rows);
                    for a in &arrays {
                        append_numeric(&c.name, a, &mut values)?;
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

    fn assemble(&self, raw: Vec<Vec<RawFeature>>) -> Dataset {
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

impl ColumnTransform {
    /// The single pre-scaling value of category `code` (`None` = missing or
    /// unseen) under ordinal or target encoding. Shared by the batch and
    /// single-row paths so both produce the same bits.
    fn categorical_value(&self, enc: CategoricalEncoding, code: Option<usize>) -> f64 {
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
fn code_of(v: f64) -> Option<usize> {
    (!v.is_nan()).then_some(v as usize)
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

struct RawFeature {
    values: Vec<f64>,
    categories: Option<usize>,
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

fn append_numeric(name: &str, a: &ArrayRef, out: &mut Vec<f64>) -> Result<()> {
    let casted = cast(a, &DataType::Float64).map_err(|_| MlError::ColumnTypeMismatch {
        column: name.to_string(),
        expected: "a numeric type".into(),
        found: a.data_type().to_string(),
    })?;
    let f = casted.as_primitive::<Float64Type>();
    if f.null_count() == 0 {
        out.extend_from_slice(f.values());
    } else {
        out.extend(f.iter().map(|v| v.unwrap_or(f64::NAN)));
    }
    Ok(())
}

fn to_utf8(name: &str, a: &ArrayRef) -> Result<ArrayRef> {
    cast(a, &DataType::Utf8).map_err(|_| MlError::ColumnTypeMismatch {
        column: name.to_string(),
        expected: "a string/categorical type".into(),
        found: a.data_type().to_string(),
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

fn fit_scaler(values: &[f64]) -> Scaler {
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

/// Days since 1970-01-01 → (year, month, day); Howard Hinnant's civil_from_days.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Linear-mode standardisation; missing/non-finite values become 0 (the mean).
fn scale(v: f64, s: Scaler) -> f64 {
    if v.is_finite() {
        (v - s.mean) / s.std
    } else {
        0.0
    }
}

/// Calendar parts (year, month, day, dayofweek, hour) of an epoch-seconds
/// time; all NaN when missing.
fn temporal_values(secs: Option<i64>) -> [f64; 5] {
    match secs {
        None => [f64::NAN; 5],
        Some(s) => {
            let days = s.div_euclid(86_400);
            let (y, m, d) = civil_from_days(days);
            // 1970-01-01 was a Thursday; Monday = 0 like pandas' dayofweek.
            let dow = (days + 3).rem_euclid(7);
            let hour = s.rem_euclid(86_400) / 3600;
            [y as f64, m as f64, d as f64, dow as f64, hour as f64]
        }
    }
}

fn push_parts(parts: &mut [Vec<f64>], secs: Option<i64>) {
    let values = temporal_values(secs);
    for (p, v) in parts.iter_mut().zip(values) {
        p.push(v);
    }
}

fn append_temporal(name: &str, a: &ArrayRef, parts: &mut [Vec<f64>]) -> Result<()> {
    macro_rules! each {
        ($ty:ty, $to_secs:expr) => {{
            let arr = a.as_primitive::<$ty>();
            for v in arr.iter() {
                push_parts(parts, v.map(|x| $to_secs(x as i64)));
            }
        }};
    }
    match a.data_type() {
        DataType::Date32 => each!(Date32Type, |d: i64| d * 86_400),
        DataType::Date64 => each!(Date64Type, |ms: i64| ms.div_euclid(1000)),
        DataType::Timestamp(TimeUnit::Second, _) => each!(TimestampSecondType, |s: i64| s),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            each!(TimestampMillisecondType, |v: i64| v.div_euclid(1_000))
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            each!(TimestampMicrosecondType, |v: i64| v.div_euclid(1_000_000))
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            each!(TimestampNanosecondType, |v: i64| v
                .div_euclid(1_000_000_000))
        }
        other => {
            return Err(MlError::ColumnTypeMismatch {
                column: name.to_string(),
                expected: "a date or timestamp".into(),
                found: other.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        BooleanArray, Date32Array, DictionaryArray, Float32Array, Int64Array, StringArray,
        TimestampSecondArray,
    };
    use arrow::datatypes::Int32Type;
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
                        DataType::Int64 => FeatureValue::Int(
                            a.as_primitive::<arrow::datatypes::Int64Type>().value(i),
                        ),
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
        let err =
            FeaturePipeline::fit_with_labels(&[sample()], Some("y"), &opts, &[1.0]).unwrap_err();
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
        let list = arrow::array::ListArray::from_iter_primitive::<arrow::datatypes::Int32Type, _, _>(
            vec![Some(vec![Some(1)])],
        );
        let b = batch(vec![("l", Arc::new(list) as ArrayRef)]);
        let err = FeaturePipeline::fit(&[b], None, &PipelineOptions::new(PipelineMode::Tree))
            .unwrap_err();
        assert!(err.to_string().contains("'l'"), "{err}");
    }
}
