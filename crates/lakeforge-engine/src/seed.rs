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
use crate::materialize::{WriteOutcome, overwrite};
use crate::session::Engine;

const BATCH_ROWS: usize = 64 * 1024;

/// Load the seed `node` from the CSV at `path` into the lake.
pub async fn load_seed(engine: &Engine, node: &Node, path: &Path) -> Result<WriteOutcome> {
    let delimiter = node
        .config
        .delimiter
        .as_deref()
        .and_then(|d| d.bytes().next())
        .unwrap_or(b',');
    let (schema, batches) = read_csv(path, &node.path, delimiter, &node.config.column_types)?;
    let df = engine
        .context()
        .read_batches(if batches.is_empty() {
            vec![RecordBatch::new_empty(schema)]
        } else {
            batches
        })
        .map_err(|e| EngineError::sql(&node.path, e))?;
    overwrite(engine, &node.relation, df, "INSERT").await
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
    .or_else(|| parse_date(v).map(|d| d.and_hms_opt(0, 0, 0).expect("midnight")))
}

/// Map a SQL type name from `column_types` to an Arrow type.
pub fn sql_type(t: &str) -> Option<DataType> {
    let lower = t.trim().to_ascii_lowercase();
    let base = lower.split('(').next().unwrap_or("").trim();
    Some(match base {
        "boolean" | "bool" => DataType::Boolean,
        "smallint" | "int2" => DataType::Int16,
        "int" | "integer" | "int4" => DataType::Int32,
        "bigint" | "int8" | "long" => DataType::Int64,
        "real" | "float4" => DataType::Float32,
        "float" | "float8" | "double" | "double precision" => DataType::Float64,
        "decimal" | "numeric" => {
            let args: Vec<u8> = lower
                .split_once('(')
                .map(|(_, a)| {
                    a.trim_end_matches(')')
                        .split(',')
                        .filter_map(|x| x.trim().parse().ok())
                        .collect()
                })
                .unwrap_or_default();
            let precision = *args.first().unwrap_or(&38);
            let scale = *args.get(1).unwrap_or(&0) as i8;
            DataType::Decimal128(precision, scale)
        }
        "varchar" | "text" | "string" | "char" | "character varying" => DataType::Utf8,
        "date" => DataType::Date32,
        "timestamp" | "datetime" | "timestamp_ntz" => {
            DataType::Timestamp(TimeUnit::Microsecond, None)
        }
        "timestamptz" | "timestamp with time zone" => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        _ => return None,
    })
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
            Some(t) => sql_type(t).ok_or_else(|| EngineError::Seed {
                path: rel.into(),
                line: 1,
                column: Some(h.clone()),
                message: format!("unknown type `{t}` in column_types\nhint: use e.g. bigint, integer, double, decimal(10,2), varchar, boolean, date, timestamp"),
            })?,
            None => inferred_type(inferred[i]),
        };
        fields.push(Field::new(h, t, true));
    }
    let schema: SchemaRef = Arc::new(Schema::new(fields));

    let mut rdr = reader(path, rel, delimiter)?;
    rdr.headers().map_err(|e| csv_error(rel, e))?;
    let mut batches = Vec::new();
    let mut builders = new_builders(&schema);
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

fn new_builders(schema: &Schema) -> Vec<Box<dyn ArrayBuilder>> {
    schema
        .fields()
        .iter()
        .map(|f| -> Box<dyn ArrayBuilder> {
            match f.data_type() {
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
                        .expect("valid decimal"),
                ),
                DataType::Timestamp(_, tz) => {
                    Box::new(TimestampMicrosecondBuilder::new().with_timezone_opt(tz.clone()))
                }
                _ => Box::new(StringBuilder::new()),
            }
        })
        .collect()
}

fn finish_batch(schema: &SchemaRef, builders: &mut [Box<dyn ArrayBuilder>]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = builders.iter_mut().map(|b| b.finish()).collect();
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| EngineError::Internal(e.to_string()))
}

fn downcast<T: 'static>(b: &mut dyn ArrayBuilder) -> &mut T {
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
            Some(v.trim().parse().map_err(|_| bad("smallint"))?)
        }),
        DataType::Int32 => downcast::<Int32Builder>(b).append_option(if null {
            None
        } else {
            Some(v.trim().parse().map_err(|_| bad("integer"))?)
        }),
        DataType::Int64 => downcast::<Int64Builder>(b).append_option(if null {
            None
        } else {
            Some(v.trim().parse().map_err(|_| bad("bigint"))?)
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
                Some((d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32)
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
        DataType::Decimal128(_, s) => {
            let x = if null {
                None
            } else {
                Some(parse_decimal(v.trim(), *s).ok_or_else(|| bad("decimal"))?)
            };
            downcast::<Decimal128Builder>(b).append_option(x)
        }
        _ => downcast::<StringBuilder>(b).append_option(if null { None } else { Some(v) }),
    }
    Ok(())
}

fn parse_decimal(v: &str, scale: i8) -> Option<i128> {
    let (neg, v) = match v.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let scale = scale.max(0) as usize;
    if frac.len() > scale && frac[scale..].chars().any(|c| c != '0') {
        return None;
    }
    let mut digits = String::from(if int.is_empty() { "0" } else { int });
    let f: String = frac
        .chars()
        .chain(std::iter::repeat('0'))
        .take(scale)
        .collect();
    digits.push_str(&f);
    let n: i128 = digits.parse().ok()?;
    Some(if neg { -n } else { n })
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
        assert_eq!(parse_decimal("0.10", 2), Some(10));
        assert_eq!(parse_decimal("-12.5", 2), Some(-1250));
    }
}
