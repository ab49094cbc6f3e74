//! Seeds: a CSV file becomes a Delta table. Column types are inferred from every value (boolean,
//! integer, float, date, timestamp, else text), `column_types` overrides them, an empty field
//! is NULL, and quoting follows RFC 4180. A malformed row stops the seed before anything is
//! written, with the file, line and column in the message.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{NaiveDate, NaiveDateTime};
use lakeforge_project::Node;

use crate::error::{EngineError, Result};
use crate::materialize::{WriteOutcome, replace};
use crate::session::Engine;

const BATCH_ROWS: usize = 64 * 1024;

/// Load the seed `node` from the CSV at `path` into the lake.
pub async fn load_seed(engine: &Engine, node: &Node, path: &Path) -> Result<WriteOutcome> {
    let delimiter = delimiter(&node.path, node.config.delimiter.as_deref())?;
    let (schema, batches) = read_csv(path, &node.path, delimiter, &node.config.column_types)?;
    let df = engine
        .context()
        .read_batches(if batches.is_empty() {
            vec![RecordBatch::new_empty(schema)]
        } else {
            batches
        })
        .map_err(|e| EngineError::sql(&node.path, e))?;
    // A seed replaces its table from the file: redone if another run committed meanwhile.
    replace(engine, &node.relation, df, "INSERT").await
}

/// The seed's `delimiter:` as the one byte the CSV reader splits on (`,` when unset).
fn delimiter(path: &str, configured: Option<&str>) -> Result<u8> {
    match configured {
        None => Ok(b','),
        Some(d) if d.len() == 1 && d.is_ascii() => Ok(d.as_bytes()[0]),
        Some("\\t") => Ok(b'\t'),
        Some(d) => Err(EngineError::Seed {
            path: path.into(),
            line: 0,
            column: None,
            message: format!(
                "the seed's delimiter `{d}` is not one ASCII character\nhint: set `delimiter:` in the seed's config to e.g. \",\", \";\", \"|\" or \"\\t\""
            ),
        }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Inferred {
    Null,
    Bool,
    Int,
    Float,
    Date,
    Timestamp,
    Text,
}

fn infer_one(v: &str) -> Inferred {
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
fn widen(a: Inferred, b: Inferred) -> Inferred {
    use Inferred::*;
    match (a, b) {
        (Null, x) | (x, Null) => x,
        (x, y) if x == y => x,
        (Int, Float) | (Float, Int) => Float,
        (Date, Timestamp) | (Timestamp, Date) => Timestamp,
        _ => Text,
    }
}

fn parse_date(v: &str) -> Option<NaiveDate> {
    if v.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()
}

fn parse_timestamp(v: &str) -> Option<NaiveDateTime> {
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

fn inferred_type(i: Inferred) -> DataType {
    match i {
        Inferred::Bool => DataType::Boolean,
        Inferred::Int => DataType::Int64,
        Inferred::Float => DataType::Float64,
        Inferred::Date => DataType::Date32,
        Inferred::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        Inferred::Null | Inferred::Text => DataType::Utf8,
    }
}

fn reader(path: &Path, rel: &str, delimiter: u8) -> Result<csv::Reader<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|e| EngineError::Seed {
        path: rel.into(),
        line: 0,
        column: None,
        message: format!("cannot open: {e}"),
    })?;
    Ok(csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(file))
}

fn csv_error(rel: &str, e: csv::Error) -> EngineError {
    let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!(
                "row has {len} fields but the header has {expected_len}\nhint: quote values that contain the delimiter, e.g. \"a, b\""
            )
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8\nhint: save the file as UTF-8".to_string(),
        _ => e.to_string(),
    };
    EngineError::Seed {
        path: rel.into(),
        line,
        column: None,
        message,
    }
}

/// Read a CSV into batches: one pass to infer types, one to build columns.
pub fn read_csv(
    path: &Path,
    rel: &str,
    delimiter: u8,
    column_types: &std::collections::BTreeMap<String, String>,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let mut rdr = reader(path, rel, delimiter)?;
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_error(rel, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if headers.is_empty() || headers.iter().all(|h| h.is_empty()) {
        return Err(EngineError::Seed {
            path: rel.into(),
            line: 1,
            column: None,
            message: "no header row\nhint: the first line must name the columns".into(),
        });
    }
    if let Some((i, _)) = headers.iter().enumerate().find(|(_, h)| h.is_empty()) {
        return Err(EngineError::Seed {
            path: rel.into(),
            line: 1,
            column: Some(format!("#{}", i + 1)),
            message: "empty column name in the header".into(),
        });
    }
    for name in column_types.keys() {
        if !headers.contains(name) {
            return Err(EngineError::Seed {
                path: rel.into(),
                line: 1,
                column: Some(name.clone()),
                message: format!(
                    "column_types names a column the file does not have (it has: {})",
                    headers.join(", ")
                ),
            });
        }
    }
    let mut inferred = vec![Inferred::Null; headers.len()];
    let mut record = csv::StringRecord::new();
    while rdr
        .read_record(&mut record)
        .map_err(|e| csv_error(rel, e))?
    {
        for (i, v) in record.iter().enumerate() {
            if inferred[i] != Inferred::Text {
                inferred[i] = widen(inferred[i], infer_one(v));
            }
        }
    }
    let mut fields = Vec::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        let t = match column_types.get(h) {
            Some(t) => sql_type(t).map_err(|message| EngineError::Seed {
                path: rel.into(),
                line: 1,
                column: Some(h.clone()),
                message,
            })?,
            None => inferred_type(inferred[i]),
        };
        fields.push(Field::new(h, t, true));
    }
    let schema: SchemaRef = Arc::new(Schema::new(fields));

    let mut rdr = reader(path, rel, delimiter)?;
    rdr.headers().map_err(|e| csv_error(rel, e))?;
    let mut batches = Vec::new();
    let mut builders = new_builders(&schema)?;
    while rdr
        .read_record(&mut record)
        .map_err(|e| csv_error(rel, e))?
    {
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        for (i, v) in record.iter().enumerate() {
            append_value(builders[i].as_mut(), schema.field(i).data_type(), v).map_err(
                |message| EngineError::Seed {
                    path: rel.into(),
                    line,
                    column: Some(headers[i].clone()),
                    message,
                },
            )?;
        }
        if builders[0].len() == BATCH_ROWS {
            batches.push(finish_batch(&schema, &mut builders)?);
        }
    }
    if !builders[0].is_empty() {
        batches.push(finish_batch(&schema, &mut builders)?);
    }
    Ok((schema, batches))
}

fn new_builders(schema: &Schema) -> Result<Vec<Box<dyn ArrayBuilder>>> {
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
                        .map_err(|e| {
                            EngineError::Internal(format!("seed column {}: {e}", f.name()))
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

fn finish_batch(schema: &SchemaRef, builders: &mut [Box<dyn ArrayBuilder>]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = builders.iter_mut().map(|b| b.finish()).collect();
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| EngineError::Internal(e.to_string()))
}

fn downcast<T: 'static>(b: &mut dyn ArrayBuilder) -> &mut T {
    // Cannot fail: `new_builders` made every builder from the same schema field whose type
    // `append_value` matches on, so the concrete type is the one asked for.
    b.as_any_mut()
        .downcast_mut::<T>()
        .expect("builder matches its field type")
}

fn append_value(
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

    fn write(content: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), content).unwrap();
        f
    }

    #[test]
    fn infers_types_quoting_and_nulls() {
        let f = write(
            "id,name,amount,day,ok,ts\n1,\"Smith, J\",1.5,2024-01-02,true,2024-01-02 10:00:00\n2,,2,,false,\n",
        );
        let (schema, batches) =
            read_csv(f.path(), "seeds/x.csv", b',', &Default::default()).unwrap();
        let types: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        assert_eq!(
            types,
            vec![
                DataType::Int64,
                DataType::Utf8,
                DataType::Float64,
                DataType::Date32,
                DataType::Boolean,
                DataType::Timestamp(TimeUnit::Microsecond, None)
            ]
        );
        assert_eq!(batches[0].num_rows(), 2);
        assert_eq!(batches[0].column(1).null_count(), 1);
    }

    #[test]
    fn ragged_row_names_file_and_line() {
        let f = write("a,b\n1,2\n3\n");
        let e = read_csv(f.path(), "seeds/x.csv", b',', &Default::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("seeds/x.csv:3: row has 1 fields but the header has 2"),
            "{e}"
        );
    }

    #[test]
    fn column_types_override_and_bad_value_names_column() {
        let f = write("a,b\n1,0.10\nx,2\n");
        let types = [("a".to_string(), "integer".to_string())].into();
        let e = read_csv(f.path(), "seeds/x.csv", b',', &types)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("seeds/x.csv:3 (column `a`): `x` is not a valid integer"),
            "{e}"
        );
        let types = [("b".to_string(), "decimal(10,2)".to_string())].into();
        let (schema, _) = read_csv(f.path(), "seeds/x.csv", b',', &types).unwrap();
        assert_eq!(schema.field(1).data_type(), &DataType::Decimal128(10, 2));
        assert_eq!(parse_decimal("0.10", 10, 2), Ok(10));
        assert_eq!(parse_decimal("-12.5", 10, 2), Ok(-1250));
    }
    fn seed_error(content: &str, column: &str, t: &str) -> String {
        let f = write(content);
        let types = [(column.to_string(), t.to_string())].into();
        read_csv(f.path(), "seeds/prices.csv", b',', &types)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn decimal_precision_and_scale_are_checked_naming_file_and_column() {
        let e = seed_error("x\n1.50\n", "x", "decimal(50,2)");
        assert!(
            e.starts_with("seeds/prices.csv:1 (column `x`): the precision of `decimal(50,2)` is 50, outside 1 to 38"),
            "{e}"
        );
        assert!(e.contains("hint: precision must be 1 to 38"), "{e}");
        // 300 does not fit a byte: it used to become decimal(2,0) without a word.
        let e = seed_error("x\n1.50\n", "x", "decimal(300,2)");
        assert!(
            e.contains("the precision of `decimal(300,2)` is 300"),
            "{e}"
        );
        let e = seed_error("x\n1.50\n", "x", "numeric(0)");
        assert!(e.contains("is 0, outside 1 to 38"), "{e}");
        let e = seed_error("x\n1.50\n", "x", "decimal(5,7)");
        assert!(
            e.contains("the scale of `decimal(5,7)` (7) is larger than its precision (5)"),
            "{e}"
        );
        let e = seed_error("x\n1.50\n", "x", "decimal(10,two)");
        assert!(
            e.contains("the scale of `decimal(10,two)` is not a whole number"),
            "{e}"
        );
        let e = seed_error("x\n1.50\n", "x", "decimal(10,2,1)");
        assert!(e.contains("has 3 arguments"), "{e}");
        let e = seed_error("x\n1.50\n", "x", "decimal(10,2");
        assert!(e.contains("no closing parenthesis"), "{e}");
        let e = seed_error("x\n1.50\n", "x", "money");
        assert!(
            e.starts_with("seeds/prices.csv:1 (column `x`): unknown type `money`"),
            "{e}"
        );

        assert_eq!(
            sql_type("decimal(38, 38)"),
            Ok(DataType::Decimal128(38, 38))
        );
        assert_eq!(sql_type("NUMERIC(9)"), Ok(DataType::Decimal128(9, 0)));
        assert_eq!(sql_type("decimal"), Ok(DataType::Decimal128(38, 0)));
    }

    #[test]
    fn a_value_that_does_not_fit_its_declared_type_names_file_line_and_column() {
        let e = seed_error("id,x\n1,123.45\n2,1234.5\n", "x", "decimal(5,2)");
        assert!(
            e.starts_with("seeds/prices.csv:3 (column `x`): `1234.5` does not fit decimal(5,2): it allows 3 digit(s) before the point"),
            "{e}"
        );
        let e = seed_error("id,x\n1,1.005\n", "x", "decimal(5,2)");
        assert!(
            e.starts_with("seeds/prices.csv:2 (column `x`): `1.005` does not fit decimal(5,2): it has more than 2 digit(s) after the point"),
            "{e}"
        );
        let e = seed_error("id,x\n1,99999999999\n", "x", "integer");
        assert!(
            e.starts_with(
                "seeds/prices.csv:2 (column `x`): `99999999999` is out of range for integer"
            ),
            "{e}"
        );
        let e = seed_error("id,x\n1,40000\n", "x", "smallint");
        assert!(e.contains("out of range for smallint"), "{e}");

        // The widest decimal takes 38 digits, leading zeros and trailing zeros past the scale
        // included without complaint.
        let f = write("x\n99999999999999999999999999999999999999\n-00012.3400\n");
        let types = [("x".to_string(), "decimal(38,0)".to_string())].into();
        assert!(read_csv(f.path(), "s.csv", b',', &types).is_err());
        let types = [("x".to_string(), "decimal(38,2)".to_string())].into();
        assert!(read_csv(f.path(), "s.csv", b',', &types).is_err());
        assert_eq!(
            parse_decimal("99999999999999999999999999999999999999", 38, 0),
            Ok(99_999_999_999_999_999_999_999_999_999_999_999_999)
        );
        assert_eq!(parse_decimal("-00012.3400", 5, 2), Ok(-1234));
        assert_eq!(parse_decimal("1e5", 10, 2), Err(DecimalMisfit::NotANumber));
        assert_eq!(parse_decimal(".", 10, 2), Err(DecimalMisfit::NotANumber));
    }

    #[test]
    fn the_delimiter_must_be_one_character() {
        assert_eq!(delimiter("seeds/a.csv", None).unwrap(), b',');
        assert_eq!(delimiter("seeds/a.csv", Some("|")).unwrap(), b'|');
        assert_eq!(delimiter("seeds/a.csv", Some("\\t")).unwrap(), b'\t');
        let e = delimiter("seeds/a.csv", Some(";;"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("seeds/a.csv") && e.contains("delimiter `;;` is not one ASCII character"),
            "{e}"
        );
        assert!(delimiter("seeds/a.csv", Some("é")).is_err());
    }
}
