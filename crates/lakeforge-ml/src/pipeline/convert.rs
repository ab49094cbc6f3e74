//! Arrow columns read as the f64 values features are made of: numbers cast to
//! f64 (nulls as NaN), categories as text, dates and timestamps as calendar
//! parts. Batch and single-row paths both read through here.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Float64Type, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};

use crate::error::{MlError, Result};

pub(super) fn append_numeric(name: &str, a: &ArrayRef, out: &mut Vec<f64>) -> Result<()> {
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

pub(super) fn to_utf8(name: &str, a: &ArrayRef) -> Result<ArrayRef> {
    cast(a, &DataType::Utf8).map_err(|_| MlError::ColumnTypeMismatch {
        column: name.to_string(),
        expected: "a string/categorical type".into(),
        found: a.data_type().to_string(),
    })
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

/// Calendar parts (year, month, day, dayofweek, hour) of an epoch-seconds
/// time; all NaN when missing.
pub(super) fn temporal_values(secs: Option<i64>) -> [f64; 5] {
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

pub(super) fn append_temporal(name: &str, a: &ArrayRef, parts: &mut [Vec<f64>]) -> Result<()> {
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
