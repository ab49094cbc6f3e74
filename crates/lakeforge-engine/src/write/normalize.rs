//! Types Delta Lake cannot store (unsigned integers, nanosecond timestamps, view strings, the
//! untyped NULL) are cast to the nearest type it can, so any query a user writes can become a
//! table that Spark, DuckDB or the `deltalake` package read back the same.

use arrow::datatypes::{DataType, TimeUnit};
use datafusion::logical_expr::{cast, ident};
use datafusion::prelude::DataFrame;

use crate::error::{EngineError, Result};

pub fn delta_type(t: &DataType) -> Option<DataType> {
    Some(match t {
        DataType::UInt8 => DataType::Int16,
        DataType::UInt16 => DataType::Int32,
        DataType::UInt32 | DataType::UInt64 => DataType::Int64,
        DataType::Float16 => DataType::Float32,
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary | DataType::FixedSizeBinary(_) => {
            DataType::Binary
        }
        DataType::Null => DataType::Utf8,
        DataType::Date64 => DataType::Date32,
        DataType::Timestamp(
            TimeUnit::Second | TimeUnit::Millisecond | TimeUnit::Nanosecond,
            tz,
        ) => DataType::Timestamp(TimeUnit::Microsecond, tz.as_ref().map(|_| "UTC".into())),
        DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if tz.as_ref() != "UTC" => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        DataType::Dictionary(_, v) => {
            return Some(delta_type(v).unwrap_or_else(|| v.as_ref().clone()));
        }
        _ => return None,
    })
}

/// Wrap `df` in a projection that casts every column Delta cannot store.
pub fn for_delta(df: DataFrame, context: &str) -> Result<DataFrame> {
    let fields: Vec<_> = df.schema().fields().iter().cloned().collect();
    if fields.iter().all(|f| delta_type(f.data_type()).is_none()) {
        return Ok(df);
    }
    let exprs: Vec<_> = fields
        .iter()
        .map(|f| match delta_type(f.data_type()) {
            Some(t) => cast(ident(f.name()), t).alias(f.name()),
            None => ident(f.name()),
        })
        .collect();
    df.select(exprs).map_err(|e| EngineError::sql(context, e))
}
