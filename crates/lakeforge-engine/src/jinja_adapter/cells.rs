//! Arrow results as the values Jinja holds: each cell becomes a [`Cell`] and each column type
//! is spelled as Lakeforge's SQL accepts it back (`bigint`, `decimal(10,2)`), so a macro that
//! reads `column.data_type` can write it into a `cast(... as ...)` that plans.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Field, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use lakeforge_project::adapter::{Cell, Column};

/// Timestamps as ISO 8601 with a space, as dbt's agate tables print them; fractions only
/// when there are some.
const TIMESTAMP: &str = "%Y-%m-%d %H:%M:%S%.f";
const TIMESTAMP_TZ: &str = "%Y-%m-%d %H:%M:%S%.f%:z";

/// The type of `field` as Lakeforge's SQL spells it.
pub fn sql_type_name(t: &DataType) -> String {
    match t {
        DataType::Null => "null".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "integer".into(),
        DataType::Int64 => "bigint".into(),
        DataType::UInt8 => "tinyint unsigned".into(),
        DataType::UInt16 => "smallint unsigned".into(),
        DataType::UInt32 => "integer unsigned".into(),
        DataType::UInt64 => "bigint unsigned".into(),
        DataType::Float16 | DataType::Float32 => "real".into(),
        DataType::Float64 => "double".into(),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => format!("decimal({p},{s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "varchar".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "bytea".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Time32(_) | DataType::Time64(_) => "time".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        DataType::Timestamp(_, Some(_)) => "timestamp with time zone".into(),
        DataType::Interval(_) | DataType::Duration(_) => "interval".into(),
        DataType::Dictionary(_, v) => sql_type_name(v),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _) => format!("{}[]", sql_type_name(f.data_type())),
        // Nested types have no SQL spelling DataFusion parses back; Arrow's name says what
        // they are.
        other => other.to_string().to_ascii_lowercase(),
    }
}

/// The columns of a result, in order.
pub fn columns(fields: &[impl AsRef<Field>]) -> Vec<Column> {
    fields
        .iter()
        .map(|f| Column {
            name: f.as_ref().name().clone(),
            data_type: sql_type_name(f.as_ref().data_type()),
        })
        .collect()
}

/// Every row of `batches` as cells.
pub fn rows(batches: &[RecordBatch]) -> Result<Vec<Vec<Cell>>, arrow::error::ArrowError> {
    let options = FormatOptions::default()
        .with_timestamp_format(Some(TIMESTAMP))
        .with_timestamp_tz_format(Some(TIMESTAMP_TZ))
        .with_null("");
    let mut out = Vec::new();
    for batch in batches {
        let mut table: Vec<Vec<Cell>> =
            vec![Vec::with_capacity(batch.num_columns()); batch.num_rows()];
        for column in batch.columns() {
            let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
            for (i, row) in table.iter_mut().enumerate() {
                row.push(cell(column.as_ref(), i, &formatter));
            }
        }
        out.extend(table);
    }
    Ok(out)
}

fn cell(a: &dyn Array, i: usize, text: &ArrayFormatter<'_>) -> Cell {
    if a.is_null(i) {
        return Cell::Null;
    }
    let as_text = || text.value(i).to_string();
    match a.data_type() {
        DataType::Boolean => Cell::Bool(a.as_boolean().value(i)),
        DataType::Int8 => Cell::Int(a.as_primitive::<Int8Type>().value(i).into()),
        DataType::Int16 => Cell::Int(a.as_primitive::<Int16Type>().value(i).into()),
        DataType::Int32 => Cell::Int(a.as_primitive::<Int32Type>().value(i).into()),
        DataType::Int64 => Cell::Int(a.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => Cell::Int(a.as_primitive::<UInt8Type>().value(i).into()),
        DataType::UInt16 => Cell::Int(a.as_primitive::<UInt16Type>().value(i).into()),
        DataType::UInt32 => Cell::Int(a.as_primitive::<UInt32Type>().value(i).into()),
        // Beyond i64 the digits are kept exactly, as a decimal.
        DataType::UInt64 => {
            let v = a.as_primitive::<UInt64Type>().value(i);
            i64::try_from(v).map_or_else(|_| Cell::Decimal(v.to_string()), Cell::Int)
        }
        DataType::Float16 => Cell::Float(a.as_primitive::<Float16Type>().value(i).to_f64()),
        DataType::Float32 => Cell::Float(a.as_primitive::<Float32Type>().value(i).into()),
        DataType::Float64 => Cell::Float(a.as_primitive::<Float64Type>().value(i)),
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => Cell::Decimal(as_text()),
        DataType::Date32 | DataType::Date64 => Cell::Date(as_text()),
        DataType::Timestamp(..) => Cell::Timestamp(as_text()),
        DataType::Utf8 => Cell::Text(a.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Cell::Text(a.as_string::<i64>().value(i).to_string()),
        DataType::Utf8View => Cell::Text(a.as_string_view().value(i).to_string()),
        DataType::Dictionary(..) => {
            let dict = a.as_any_dictionary();
            let key = dict.normalized_keys()[i];
            let values = dict.values();
            match ArrayFormatter::try_new(values.as_ref(), &FormatOptions::default()) {
                Ok(f) => cell(values.as_ref(), key, &f),
                Err(_) => Cell::Text(as_text()),
            }
        }
        _ => Cell::Text(as_text()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, Date32Array, Decimal128Array, Float64Array, Int32Array, StringArray,
        TimestampMicrosecondArray, UInt64Array,
    };
    use arrow::datatypes::{Schema, TimeUnit};

    use super::*;

    #[test]
    fn cells_keep_decimals_as_text_and_dates_as_iso() {
        let decimals: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(110), None, Some(-5)])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        );
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![Some(19753), Some(0), None]));
        let ts: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
            Some(1_706_702_400_000_000),
            Some(1_706_702_400_500_000),
            None,
        ]));
        let big: ArrayRef = Arc::new(UInt64Array::from(vec![1, u64::MAX, 3]));
        let text: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None, Some("")]));
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![7, 8, 9]));
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![0.5, 1.0, 2.25]));
        let batch = RecordBatch::try_from_iter(vec![
            ("d", decimals),
            ("day", dates),
            ("at", ts),
            ("big", big),
            ("s", text),
            ("i", ints),
            ("f", floats),
        ])
        .unwrap();
        let rows = rows(&[batch]).unwrap();
        assert_eq!(
            rows[0],
            vec![
                Cell::Decimal("1.10".into()),
                Cell::Date("2024-01-31".into()),
                Cell::Timestamp("2024-01-31 12:00:00".into()),
                Cell::Int(1),
                Cell::Text("a".into()),
                Cell::Int(7),
                Cell::Float(0.5),
            ]
        );
        assert_eq!(rows[1][0], Cell::Null);
        assert_eq!(
            rows[1][2],
            Cell::Timestamp("2024-01-31 12:00:00.500".into())
        );
        assert_eq!(rows[1][3], Cell::Decimal(u64::MAX.to_string()));
        assert_eq!(rows[1][4], Cell::Null);
        assert_eq!(rows[2][0], Cell::Decimal("-0.05".into()));
        assert_eq!(rows[2][4], Cell::Text(String::new()));
    }

    #[test]
    fn types_are_spelled_as_sql_that_parses_back() {
        let schema = Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Decimal128(10, 2), true),
            Field::new("c", DataType::Utf8View, true),
            Field::new("d", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Field::new(
                "e",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new("f", DataType::Float64, true),
        ]);
        let names: Vec<String> = columns(schema.fields())
            .into_iter()
            .map(|c| c.data_type)
            .collect();
        assert_eq!(
            names,
            [
                "bigint",
                "decimal(10,2)",
                "varchar",
                "timestamp",
                "timestamp with time zone",
                "double"
            ]
        );
    }
}
