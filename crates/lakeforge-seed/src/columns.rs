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

/// The builder of one column, of the type its field says. Keeping the type in the variant means
/// a value is always appended to a builder of the type it was parsed for.
pub(crate) enum ColumnBuilder {
    Boolean(BooleanBuilder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Date32(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Decimal128 {
        builder: Decimal128Builder,
        precision: u8,
        scale: i8,
    },
    Text(StringBuilder),
}

/// One empty builder per field of `schema` (the seed at `path`, for errors).
pub(crate) fn new_builders(path: &str, schema: &Schema) -> Result<Vec<ColumnBuilder>> {
    schema
        .fields()
        .iter()
        .map(|f| -> Result<ColumnBuilder> {
            Ok(match f.data_type() {
                DataType::Boolean => ColumnBuilder::Boolean(BooleanBuilder::new()),
                DataType::Int16 => ColumnBuilder::Int16(Int16Builder::new()),
                DataType::Int32 => ColumnBuilder::Int32(Int32Builder::new()),
                DataType::Int64 => ColumnBuilder::Int64(Int64Builder::new()),
                DataType::Float32 => ColumnBuilder::Float32(Float32Builder::new()),
                DataType::Float64 => ColumnBuilder::Float64(Float64Builder::new()),
                DataType::Date32 => ColumnBuilder::Date32(Date32Builder::new()),
                DataType::Decimal128(p, s) => ColumnBuilder::Decimal128 {
                    builder: Decimal128Builder::new()
                        .with_precision_and_scale(*p, *s)
                        .map_err(|source| SeedError::Arrow {
                            path: format!("{path} (column `{}`)", f.name()),
                            source,
                        })?,
                    precision: *p,
                    scale: *s,
                },
                DataType::Timestamp(_, tz) => ColumnBuilder::Timestamp(
                    TimestampMicrosecondBuilder::new().with_timezone_opt(tz.clone()),
                ),
                _ => ColumnBuilder::Text(StringBuilder::new()),
            })
        })
        .collect()
}

/// The rows appended so far as one batch; the builders are left empty for the next.
pub(crate) fn finish_batch(
    path: &str,
    schema: &SchemaRef,
    builders: &mut [ColumnBuilder],
) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = builders
        .iter_mut()
        .map(|b| b.as_builder().finish())
        .collect();
    RecordBatch::try_new(schema.clone(), columns).map_err(|source| SeedError::Arrow {
        path: path.into(),
        source,
    })
}

/// Why a CSV value does not fit its column's type. The reader adds the file, line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error(
        "`{value}` is not a valid {what}\nhint: fix the value, or change the column's type in column_types"
    )]
    Invalid { value: String, what: &'static str },

    /// Digits the integer type cannot hold: said apart from a typo, since the fix differs.
    #[error(
        "`{value}` is out of range for {what} ({range})\nhint: declare a wider type in column_types, e.g. bigint or decimal(38,0)"
    )]
    OutOfRange {
        value: String,
        what: &'static str,
        range: &'static str,
    },

    #[error(
        "`{value}` does not fit decimal({precision},{scale}): it allows {} digit(s) before the point\nhint: declare a wider decimal in column_types (precision up to {MAX_DECIMAL_PRECISION})",
        i16::from(*precision) - i16::from(*scale)
    )]
    DecimalDigits {
        value: String,
        precision: u8,
        scale: i8,
    },

    #[error(
        "`{value}` does not fit decimal({precision},{scale}): it has more than {scale} digit(s) after the point\nhint: round the value, or declare a larger scale in column_types"
    )]
    DecimalScale {
        value: String,
        precision: u8,
        scale: i8,
    },
}

impl ColumnBuilder {
    fn as_builder(&mut self) -> &mut dyn ArrayBuilder {
        match self {
            ColumnBuilder::Boolean(b) => b,
            ColumnBuilder::Int16(b) => b,
            ColumnBuilder::Int32(b) => b,
            ColumnBuilder::Int64(b) => b,
            ColumnBuilder::Float32(b) => b,
            ColumnBuilder::Float64(b) => b,
            ColumnBuilder::Date32(b) => b,
            ColumnBuilder::Timestamp(b) => b,
            ColumnBuilder::Decimal128 { builder, .. } => builder,
            ColumnBuilder::Text(b) => b,
        }
    }

    /// Rows appended since the last batch.
    pub(crate) fn len(&mut self) -> usize {
        self.as_builder().len()
    }

    /// Append the CSV value `v`, parsed into the column's type.
    pub(crate) fn append(&mut self, v: &str) -> std::result::Result<(), ValueError> {
        let bad = |what: &'static str| ValueError::Invalid {
            value: v.to_string(),
            what,
        };
        // An integer the type cannot hold parses as digits but fails `parse`: say it is too big.
        let int = |what: &'static str, range: &'static str| {
            let digits = v.trim().trim_start_matches(['-', '+']);
            if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
                ValueError::OutOfRange {
                    value: v.to_string(),
                    what,
                    range,
                }
            } else {
                bad(what)
            }
        };
        let null = v.is_empty();
        match self {
            ColumnBuilder::Boolean(b) => {
                let x = if null {
                    None
                } else if v.eq_ignore_ascii_case("true") || v == "1" {
                    Some(true)
                } else if v.eq_ignore_ascii_case("false") || v == "0" {
                    Some(false)
                } else {
                    return Err(bad("boolean"));
                };
                b.append_option(x)
            }
            ColumnBuilder::Int16(b) => b.append_option(if null {
                None
            } else {
                Some(
                    v.trim()
                        .parse()
                        .map_err(|_| int("smallint", "-32768 to 32767"))?,
                )
            }),
            ColumnBuilder::Int32(b) => b.append_option(if null {
                None
            } else {
                Some(
                    v.trim()
                        .parse()
                        .map_err(|_| int("integer", "-2147483648 to 2147483647"))?,
                )
            }),
            ColumnBuilder::Int64(b) => b.append_option(if null {
                None
            } else {
                Some(
                    v.trim()
                        .parse()
                        .map_err(|_| int("bigint", "about ±9.2e18"))?,
                )
            }),
            ColumnBuilder::Float32(b) => b.append_option(if null {
                None
            } else {
                Some(v.trim().parse().map_err(|_| bad("real"))?)
            }),
            ColumnBuilder::Float64(b) => b.append_option(if null {
                None
            } else {
                Some(v.trim().parse().map_err(|_| bad("double"))?)
            }),
            ColumnBuilder::Date32(b) => {
                let x = if null {
                    None
                } else {
                    let d = parse_date(v.trim()).ok_or_else(|| bad("date (YYYY-MM-DD)"))?;
                    // chrono dates span ±262,143 years, under 10^8 days: the count fits i32.
                    Some((d - NaiveDate::default()).num_days() as i32)
                };
                b.append_option(x)
            }
            ColumnBuilder::Timestamp(b) => {
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
                b.append_option(x)
            }
            ColumnBuilder::Decimal128 {
                builder,
                precision: p,
                scale: s,
            } => {
                let x = if null {
                    None
                } else {
                    Some(parse_decimal(v.trim(), *p, *s).map_err(|why| match why {
                        DecimalMisfit::NotANumber => bad("decimal"),
                        DecimalMisfit::TooManyDigits => ValueError::DecimalDigits {
                            value: v.to_string(),
                            precision: *p,
                            scale: *s,
                        },
                        DecimalMisfit::TooPrecise => ValueError::DecimalScale {
                            value: v.to_string(),
                            precision: *p,
                            scale: *s,
                        },
                    })?)
                };
                builder.append_option(x)
            }
            ColumnBuilder::Text(b) => b.append_option(if null { None } else { Some(v) }),
        }
        Ok(())
    }
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
