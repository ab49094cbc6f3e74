//! dbt's type inference for seeds: each value is the narrowest of boolean, integer, float,
//! date, timestamp or text, and a column is the type that holds all its values. The date and
//! timestamp forms read here are the ones `columns` parses values with.

use arrow::datatypes::{DataType, TimeUnit};
use chrono::{NaiveDate, NaiveDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Inferred {
    Null,
    Bool,
    Int,
    Float,
    Date,
    Timestamp,
    Text,
}

pub(crate) fn infer_one(v: &str) -> Inferred {
    if v.is_empty() {
        Inferred::Null
    } else if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
        Inferred::Bool
    } else if v.parse::<i64>().is_ok() {
        Inferred::Int
    } else if v.parse::<f64>().is_ok() && v.chars().any(|c| c.is_ascii_digit()) {
        Inferred::Float
    } else if parse_date(v).is_some() {
        Inferred::Date
    } else if parse_timestamp(v).is_some() {
        Inferred::Timestamp
    } else {
        Inferred::Text
    }
}

/// The type that holds both `a` and `b`.
pub(crate) fn widen(a: Inferred, b: Inferred) -> Inferred {
    use Inferred::*;
    match (a, b) {
        (Null, x) | (x, Null) => x,
        (x, y) if x == y => x,
        (Int, Float) | (Float, Int) => Float,
        (Date, Timestamp) | (Timestamp, Date) => Timestamp,
        _ => Text,
    }
}

/// The Arrow type a column of inferred values is stored as (an all-empty column is text).
pub(crate) fn inferred_type(i: Inferred) -> DataType {
    match i {
        Inferred::Bool => DataType::Boolean,
        Inferred::Int => DataType::Int64,
        Inferred::Float => DataType::Float64,
        Inferred::Date => DataType::Date32,
        Inferred::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        Inferred::Null | Inferred::Text => DataType::Utf8,
    }
}

/// `YYYY-MM-DD`, exactly.
pub(crate) fn parse_date(v: &str) -> Option<NaiveDate> {
    if v.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()
}

/// A date with a time to the minute, second or fraction (`T` or a space between, a trailing
/// `Z` ignored), or a bare date at midnight.
pub(crate) fn parse_timestamp(v: &str) -> Option<NaiveDateTime> {
    let v = v.trim_end_matches('Z');
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
    .or_else(|| parse_date(v).and_then(|d| d.and_hms_opt(0, 0, 0)))
}
