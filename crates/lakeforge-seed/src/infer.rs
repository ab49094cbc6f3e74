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
    // Nearly every date in a CSV is four, two and two digits: read them straight (chrono
    // re-reads the format string for every value, a quarter of a large seed's load). Any other
    // shape keeps chrono's reading of `%Y-%m-%d`.
    if let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = v.as_bytes()
        && let (Some(y), Some(m), Some(d)) = (
            digits(&[*y0, *y1, *y2, *y3]),
            digits(&[*m0, *m1]),
            digits(&[*d0, *d1]),
        )
    {
        return NaiveDate::from_ymd_opt(y as i32, m, d);
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()
}

/// The number `bytes` spell when they are all ASCII digits.
fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

/// A date with a time to the minute, second or fraction (`T` or a space between, a trailing
/// `Z` ignored), or a bare date at midnight.
pub(crate) fn parse_timestamp(v: &str) -> Option<NaiveDateTime> {
    let v = v.trim_end_matches('Z');
    if let Some(t) = plain_timestamp(v) {
        return Some(t);
    }
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

/// `YYYY-MM-DD HH:MM:SS` (or with `T`), with up to nine digits of fraction, read without
/// chrono's format parser; `None` for any other shape (and for a leap second), which the
/// formats above then read as before.
fn plain_timestamp(v: &str) -> Option<NaiveDateTime> {
    let b = v.as_bytes();
    if b.len() < 19 || !matches!(b[10], b' ' | b'T') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let date = parse_date(v.get(..10)?)?;
    let h = digits(&b[11..13])?;
    let m = digits(&b[14..16])?;
    let s = digits(&b[17..19])?;
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            digits(fraction)? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    if s > 59 {
        return None;
    }
    date.and_hms_nano_opt(h, m, s, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct readings agree with chrono's formats on every shape they take, and leave
    /// the rest to them.
    #[test]
    fn dates_and_timestamps_read_directly_agree_with_chrono() {
        for d in ["2024-01-02", "1999-12-31", "2024-02-29", "0001-01-01"] {
            assert_eq!(
                parse_date(d),
                NaiveDate::parse_from_str(d, "%Y-%m-%d").ok(),
                "{d}"
            );
            assert!(parse_date(d).is_some(), "{d}");
        }
        for d in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-01-32",
            "2024-1-011",
            "20x4-01-01",
            // The same shape with a signed year: chrono's to read.
            "+123-01-01",
        ] {
            assert_eq!(
                parse_date(d),
                NaiveDate::parse_from_str(d, "%Y-%m-%d").ok(),
                "{d}"
            );
        }
        let chrono_reads = |v: &str| {
            ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
        };
        for t in [
            "2024-01-02 10:00:00",
            "2024-01-02T23:59:59",
            "2024-01-02 10:00:00.5",
            "2024-01-02 10:00:00.123456",
            "2024-01-02 10:00:00.123456789",
        ] {
            assert_eq!(plain_timestamp(t), chrono_reads(t), "{t}");
            assert!(plain_timestamp(t).is_some(), "{t}");
        }
        for t in [
            "2024-01-02 24:00:00",
            "2024-01-02 10:60:00",
            "2024-01-02 10:00:00.",
        ] {
            assert_eq!(plain_timestamp(t), chrono_reads(t), "{t}");
        }
        // Shapes the direct reading leaves to chrono: a leap second, ten fraction digits,
        // minutes only.
        for t in [
            "2016-12-31 23:59:60",
            "2024-01-02 10:00:00.1234567891",
            "2024-01-02 10:00",
        ] {
            assert_eq!(plain_timestamp(t), None, "{t}");
            assert!(parse_timestamp(t).is_some(), "{t}");
        }
        assert_eq!(
            parse_timestamp("2024-01-02T10:00:00Z"),
            NaiveDate::from_ymd_opt(2024, 1, 2).and_then(|d| d.and_hms_opt(10, 0, 0))
        );
    }
}
