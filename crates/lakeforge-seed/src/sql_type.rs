//! `column_types` (and other `data_type`s: contracts, external partitions, unit-test inputs)
//! as Arrow types: the SQL type names dbt projects write, decimals checked against what a
//! Delta table stores.

use arrow::datatypes::{DataType, TimeUnit};

/// The widest decimal a Delta table stores: Delta's `decimal(p, s)` allows 1 <= p <= 38.
pub const MAX_DECIMAL_PRECISION: u8 = 38;

const TYPE_HINT: &str =
    "hint: use e.g. bigint, integer, double, decimal(10,2), varchar, boolean, date, timestamp";

/// What is wrong with a type name. The caller adds where it was written (the seed's file and
/// column, the contract's column...), so each message is only about the name itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlTypeError {
    #[error("type `{0}` has no closing parenthesis\n{TYPE_HINT}")]
    Unclosed(String),

    #[error("unknown type `{0}`\n{TYPE_HINT}")]
    Unknown(String),

    #[error(
        "type `{ty}` has {count} arguments; a decimal takes precision and scale\n{}",
        range_hint()
    )]
    DecimalArity { ty: String, count: usize },

    /// `what` is `precision` or `scale`; `text` is the argument as written.
    #[error(
        "the {what} of `{ty}` is not a whole number (`{text}`)\n{}",
        range_hint()
    )]
    NotWhole {
        what: &'static str,
        ty: String,
        text: String,
    },

    #[error(
        "the precision of `{ty}` is {precision}, outside 1 to {MAX_DECIMAL_PRECISION}\n{}",
        range_hint()
    )]
    Precision { ty: String, precision: u64 },

    #[error(
        "the scale of `{ty}` ({scale}) is larger than its precision ({precision})\n{}",
        range_hint()
    )]
    Scale {
        ty: String,
        scale: u64,
        precision: u64,
    },
}

fn range_hint() -> String {
    format!(
        "hint: precision must be 1 to {MAX_DECIMAL_PRECISION} (the widest decimal a Delta table stores) and scale 0 to the precision, e.g. decimal(18,2)"
    )
}

/// Map a SQL type name from `column_types` to an Arrow type. The error says what is wrong with
/// the name (the caller adds the file and column).
pub fn sql_type(t: &str) -> std::result::Result<DataType, SqlTypeError> {
    let lower = t.trim().to_ascii_lowercase();
    let (base, args) = match lower.split_once('(') {
        Some((base, rest)) => {
            let Some(args) = rest.trim_end().strip_suffix(')') else {
                return Err(SqlTypeError::Unclosed(t.to_string()));
            };
            (base.trim(), Some(args))
        }
        None => (lower.as_str(), None),
    };
    Ok(match base {
        "boolean" | "bool" => DataType::Boolean,
        "smallint" | "int2" => DataType::Int16,
        "int" | "integer" | "int4" => DataType::Int32,
        "bigint" | "int8" | "long" => DataType::Int64,
        "real" | "float4" => DataType::Float32,
        "float" | "float8" | "double" | "double precision" => DataType::Float64,
        "decimal" | "numeric" => decimal_type(t, args)?,
        "varchar" | "text" | "string" | "char" | "character varying" => DataType::Utf8,
        "date" => DataType::Date32,
        "timestamp" | "datetime" | "timestamp_ntz" => {
            DataType::Timestamp(TimeUnit::Microsecond, None)
        }
        "timestamptz" | "timestamp with time zone" => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        _ => return Err(SqlTypeError::Unknown(t.to_string())),
    })
}

/// `decimal`, `decimal(p)` or `decimal(p, s)`: precision 1..=38 (what Delta stores, so
/// Decimal128; Decimal256 would not survive the write) and scale 0..=precision. Without
/// arguments it is decimal(38, 0), as before.
fn decimal_type(t: &str, args: Option<&str>) -> std::result::Result<DataType, SqlTypeError> {
    let max = MAX_DECIMAL_PRECISION;
    let parts: Vec<&str> = match args {
        None => return Ok(DataType::Decimal128(max, 0)),
        Some(a) => a.split(',').map(str::trim).collect(),
    };
    if parts.len() > 2 {
        return Err(SqlTypeError::DecimalArity {
            ty: t.to_string(),
            count: parts.len(),
        });
    }
    let number = |what: &'static str, s: &str| {
        s.parse::<u64>().map_err(|_| SqlTypeError::NotWhole {
            what,
            ty: t.to_string(),
            text: s.to_string(),
        })
    };
    let precision = number("precision", parts[0])?;
    let scale = match parts.get(1) {
        Some(s) => number("scale", s)?,
        None => 0,
    };
    if precision == 0 || precision > u64::from(max) {
        return Err(SqlTypeError::Precision {
            ty: t.to_string(),
            precision,
        });
    }
    if scale > precision {
        return Err(SqlTypeError::Scale {
            ty: t.to_string(),
            scale,
            precision,
        });
    }
    // Both were checked to be at most 38 above, so neither conversion truncates.
    Ok(DataType::Decimal128(precision as u8, scale as i8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_default_to_the_widest_and_take_precision_and_scale() {
        assert_eq!(
            sql_type("decimal(38, 38)"),
            Ok(DataType::Decimal128(38, 38))
        );
        assert_eq!(sql_type("NUMERIC(9)"), Ok(DataType::Decimal128(9, 0)));
        assert_eq!(sql_type("decimal"), Ok(DataType::Decimal128(38, 0)));
    }
}
