//! One row without arrow: [`FeaturePipeline::transform_row`] gives exactly the
//! features the batch path gives a one-row batch of the same values, for the
//! prediction server's single requests.

use arrow::array::{Array, ArrayRef, AsArray};

use super::convert::{append_numeric, append_temporal, temporal_values, to_utf8};
use super::{
    CategoricalEncoding, ColumnEncoding, FeaturePipeline, PipelineMode, scale, temporal_parts,
};
use crate::error::{MlError, Result};

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

impl FeaturePipeline {
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
                ColumnEncoding::Numeric | ColumnEncoding::Codes => {
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
                    let x = if c.encoding == ColumnEncoding::Codes {
                        x.trunc()
                    } else {
                        x
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
}
