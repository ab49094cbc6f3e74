//! `column_types` (and other `data_type`s: contracts, external partitions, unit-test inputs)
//! as Arrow types: the SQL type names dbt projects write, decimals checked against what a
//! Delta table stores.

use arrow::datatypes::{DataType, TimeUnit};

/// The widest decimal a Delta table stores: Delta's `decimal(p, s)` allows 1 <= p <= 38.
pub const MAX_DECIMAL_PRECISION: u8 = 38;

const TYPE_HINT: &str =
    "hint: use e.g. bigint, integer, double, decimal(10,2), varchar, boolean, date, timestamp";

/// Map a SQL type name from `column_types` to an Arrow type. The error says what is wrong with
/// the name (the caller adds the file and column).
pub fn sql_type(t: &str) -> std::result::Result<DataType, String> {
    let lower = t.trim().to_ascii_lowercase();
    let (base, args) = match lower.split_once('(') {
        Some((base, rest)) => {
            let Some(args) = rest.trim_end().strip_suffix(')') else {
                return Err(format!(
                    "type `{t}` has no closing parenthesis\n{TYPE_HINT}"
                ));
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
        _ => return Err(format!("unknown type `{t}`\n{TYPE_HINT}")),
    })
}

/// `decimal`, `decimal(p)` or `decimal(p, s)`: precision 1..=38 (what Delta stores, so
/// Decimal128; Decimal256 would not survive the write) and scale 0..=precision. Without
/// arguments it is decimal(38, 0), as before.
fn decimal_type(t: &str, args: Option<&str>) -> std::result::Result<DataType, String> {
    let max = MAX_DECIMAL_PRECISION;
    let range_hint = format!(
        "hint: precision must be 1 to {max} (the widest decimal a Delta table stores) and scale 0 to the precision, e.g. decimal(18,2)"
    );
    let parts: Vec<&str> = match args {
        None => return Ok(DataType::Decimal128(max, 0)),
        Some(a) => a.split(',').map(str::trim).collect(),
    };
    if parts.len() > 2 {
        return Err(format!(
            "type `{t}` has {} arguments; a decimal takes precision and scale\n{range_hint}",
            parts.len()
        ));
    }
    let number = |what: &str, s: &str| -> std::result::Result<u64, String> {
        s.parse::<u64>()
            .map_err(|_| format!("the {what} of `{t}` is not a whole number (`{s}`)\n{range_hint}"))
    };
    let precision = number("precision", parts[0])?;
    let scale = match parts.get(1) {
        Some(s) => number("scale", s)?,
        None => 0,
    };
    if precision == 0 || precision > u64::from(max) {
        return Err(format!(
            "the precision of `{t}` is {precision}, outside 1 to {max}\n{range_hint}"
        ));
    }
    if scale > precision {
        return Err(format!(
            "the scale of `{t}` ({scale}) is larger than its precision ({precision})\n{range_hint}"
        ));
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
