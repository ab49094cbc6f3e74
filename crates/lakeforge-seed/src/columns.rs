//! Arrow columns of a seed: one builder per field of the seed's schema, each CSV value parsed
//! into its column's type (an empty field is NULL), and the messages when a value does not fit.

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use chrono::NaiveDate;

use crate::infer::{parse_date, parse_timestamp};
use crate::{MAX_DECIMAL_PRECISION, Result, SeedError};

/// One empty builder per field of `schema` (the seed at `path`, for errors).
pub(crate) fn new_builders(path: &str, schema: &Schema) -> Result<Vec<Box<dyn ArrayBuilder>>> {
    schema
        .fields()
        .iter()
        .map(|f| -> Result<Box<dyn ArrayBuilder>> {
            Ok(match f.data_type() {
                DataType::Boolean => Box::new(BooleanBuilder::new()),
                DataType::Int16 => Box::new(Int16Builder::new()),
                DataType::Int32 => Box::new(Int32Builder::new()),
                DataType::Int64 => Box::new(Int64Builder::new()),
                DataType::Float32 => Box::new(Float32Builder::new()),
                DataType::Float64 => Box::new(Float64Builder::new()),
                DataType::Date32 => Box::new(Date32Builder::new()),
                DataType::Decimal128(p, s) => Box::new(
                    Decimal128Builder::new()
                        .with_precision_and_scale(*p, *s)
                        .map_err(|source| SeedError::Arrow {
                            path: format!("{path} (column `{}`)", f.name()),
                            source,
                        })?,
                ),
                DataType::Timestamp(_, tz) => {
                    Box::new(TimestampMicrosecondBuilder::new().with_timezone_opt(tz.clone()))
                }
                _ => Box::new(StringBuilder::new()),
            })
        })
        .collect()
}

/// The rows appended so far as one batch; the builders are left empty for the next.
pub(crate) fn finish_batch(
    path: &str,
    schema: &SchemaRef,
    builders: &mut [Box<dyn ArrayBuilder>],
) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = builders.iter_mut().map(|b| b.finish()).collect();
    RecordBatch::try_new(schema.clone(), columns).map_err(|source| SeedError::Arrow {
        path: path.into(),
        source,
    })
}

fn downcast<T: 'static>(b: &mut dyn ArrayBuilder) -> &mut T {
    // Cannot fail: `new_builders` made every builder from the same schema field whose type
    // `append_value` matches on, so the concrete type is the one asked for.
    b.as_any_mut()
        .downcast_mut::<T>()
        .expect("builder matches its field type")
}

/// Append the CSV value `v` to `b`, a builder `new_builders` made for type `t`. The error says
/// what is wrong with the value (the caller adds the file, line and column).
pub(crate) fn append_value(
    b: &mut dyn ArrayBuilder,
    t: &DataType,
    v: &str,
) -> std::result::Result<(), String> {
    let bad = |what: &str| {
        format!(
            "`{v}` is not a valid {what}\nhint: fix the value, or change the column's type in column_types"
        )
    };
    // An integer the type cannot hold parses as digits but fails `parse`: say it is too big.
    let int = |what: &str, range: &str| {
        let digits = v.trim().trim_start_matches(['-', '+']);
        if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
            format!(
                "`{v}` is out of range for {what} ({range})\nhint: declare a wider type in column_types, e.g. bigint or decimal(38,0)"
            )
        } else {
            bad(what)
        }
    };
    let null = v.is_empty();
    match t {
        DataType::Boolean => {
            let x = if null {
                None
            } else if v.eq_ignore_ascii_case("true") || v == "1" {
                Some(true)
            } else if v.eq_ignore_ascii_case("false") || v == "0" {
                Some(false)
            } else {
                return Err(bad("boolean"));
            };
            downcast::<BooleanBuilder>(b).append_option(x)
        }
        DataType::Int16 => downcast::<Int16Builder>(b).append_option(if null {
            None
        } else {
            Some(
                v.trim()
                    .parse()
                    .map_err(|_| int("smallint", "-32768 to 32767"))?,
            )
        }),
        DataType::Int32 => downcast::<Int32Builder>(b).append_option(if null {
            None
        } else {
            Some(
                v.trim()
                    .parse()
                    .map_err(|_| int("integer", "-2147483648 to 2147483647"))?,
            )
        }),
        DataType::Int64 => downcast::<Int64Builder>(b).append_option(if null {
            None
        } else {
            Some(
                v.trim()
                    .parse()
                    .map_err(|_| int("bigint", "about ±9.2e18"))?,
            )
        }),
        DataType::Float32 => downcast::<Float32Builder>(b).append_option(if null {
            None
        } else {
            Some(v.trim().parse().map_err(|_| bad("real"))?)
        }),
        DataType::Float64 => downcast::<Float64Builder>(b).append_option(if null {
            None
        } else {
            Some(v.trim().parse().map_err(|_| bad("double"))?)
        }),
        DataType::Date32 => {
            let x = if null {
                None
            } else {
                let d = parse_date(v.trim()).ok_or_else(|| bad("date (YYYY-MM-DD)"))?;
                // chrono dates span ±262,143 years, under 10^8 days: the count fits i32.
                Some((d - NaiveDate::default()).num_days() as i32)
            };
            downcast::<Date32Builder>(b).append_option(x)
        }
        DataType::Timestamp(_, _) => {
            let x = if null {
                None
            } else {
                Some(
                    parse_timestamp(v.trim())
                        .ok_or_else(|| bad("timestamp"))?
                        .and_utc()
                        .timestamp_micros(),
                )
            };
            downcast::<TimestampMicrosecondBuilder>(b).append_option(x)
        }
        DataType::Decimal128(p, s) => {
            let x = if null {
                None
            } else {
                Some(parse_decimal(v.trim(), *p, *s).map_err(|why| match why {
                    DecimalMisfit::NotANumber => bad("decimal"),
                    DecimalMisfit::TooManyDigits => format!(
                        "`{v}` does not fit decimal({p},{s}): it allows {} digit(s) before the point\nhint: declare a wider decimal in column_types (precision up to {MAX_DECIMAL_PRECISION})",
                        i16::from(*p) - i16::from(*s)
                    ),
                    DecimalMisfit::TooPrecise => format!(
                        "`{v}` does not fit decimal({p},{s}): it has more than {s} digit(s) after the point\nhint: round the value, or declare a larger scale in column_types"
                    ),
                })?)
            };
            downcast::<Decimal128Builder>(b).append_option(x)
        }
        _ => downcast::<StringBuilder>(b).append_option(if null { None } else { Some(v) }),
    }
    Ok(())
}

/// Why a CSV value is not a decimal of the column's type.
#[derive(Debug, PartialEq, Eq)]
enum DecimalMisfit {
    NotANumber,
    /// More digits before the point than precision - scale allows.
    TooManyDigits,
    /// Non-zero digits past the scale (we never round a seed value silently).
    TooPrecise,
}

/// `v` as the unscaled integer of a decimal(precision, scale).
fn parse_decimal(v: &str, precision: u8, scale: i8) -> std::result::Result<i128, DecimalMisfit> {
    let (neg, v) = match v.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
    {
        return Err(DecimalMisfit::NotANumber);
    }
    let scale = usize::try_from(scale).unwrap_or(0);
    // All ASCII digits (checked above), so byte offsets are character offsets.
    if frac.len() > scale && frac.as_bytes()[scale..].iter().any(|&c| c != b'0') {
        return Err(DecimalMisfit::TooPrecise);
    }
    let int = int.trim_start_matches('0');
    if int.len() + scale > usize::from(precision) {
        return Err(DecimalMisfit::TooManyDigits);
    }
    let mut digits = String::from(if int.is_empty() { "0" } else { int });
    digits.extend(frac.chars().chain(std::iter::repeat('0')).take(scale));
    // At most 38 digits (precision is checked against MAX_DECIMAL_PRECISION), within i128.
    let n: i128 = digits.parse().map_err(|_| DecimalMisfit::TooManyDigits)?;
    Ok(if neg { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_to_their_unscaled_integer() {
        assert_eq!(parse_decimal("0.10", 10, 2), Ok(10));
        assert_eq!(parse_decimal("-12.5", 10, 2), Ok(-1250));
        // The widest decimal takes 38 digits, leading zeros and trailing zeros past the scale
        // included without complaint.
        assert_eq!(
            parse_decimal("99999999999999999999999999999999999999", 38, 0),
            Ok(99_999_999_999_999_999_999_999_999_999_999_999_999)
        );
        assert_eq!(parse_decimal("-00012.3400", 5, 2), Ok(-1234));
        assert_eq!(parse_decimal("1e5", 10, 2), Err(DecimalMisfit::NotANumber));
        assert_eq!(parse_decimal(".", 10, 2), Err(DecimalMisfit::NotANumber));
    }
}
