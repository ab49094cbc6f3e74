//! Type drift between an incremental model's table and its query's new rows, the step of the
//! flow between reading a source whose columns changed and writing the next increment. New
//! and removed columns are the model's `on_schema_change` policy's business (materialize.rs);
//! a column whose type changed is cast only when every value of the old type has an exact
//! value in the new one (int32 → int64, float32 → float64, date → timestamp, anything → text).
//! Any other change (text → integer, float → integer, int64 → int32, ...) is an error naming
//! the column: casting it would fail halfway through a write, or worse, silently truncate.

use arrow::datatypes::{DataType, Schema, TimeUnit};

/// The common columns of `table` and `query` whose type changed in a way that loses values,
/// as messages (`column `x`: Int64 in the table, Utf8 in the query`). `sync` is
/// `on_schema_change: sync_all_columns`, where the table takes the query's types, so its old
/// rows are the ones cast; otherwise the new rows are cast to the table's types.
pub fn lossy_changes(table: &Schema, query: &Schema, sync: bool) -> Vec<String> {
    query
        .fields()
        .iter()
        .filter_map(|q| {
            let t = table.field_with_name(q.name()).ok()?;
            let (from, to) = if sync {
                (t.data_type(), q.data_type())
            } else {
                (q.data_type(), t.data_type())
            };
            (!lossless(from, to)).then(|| {
                format!(
                    "column `{}` is {} in the table and {} in the model's query",
                    q.name(),
                    t.data_type(),
                    q.data_type()
                )
            })
        })
        .collect()
}

/// Whether every value of type `from` has an exact value of type `to`.
pub fn lossless(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    if from == to {
        return true;
    }
    match (from, to) {
        (Null, _) => true,
        (Dictionary(_, v), to) => lossless(v, to),
        (from, Dictionary(_, v)) => lossless(from, v),
        (Utf8 | LargeUtf8 | Utf8View, Utf8 | LargeUtf8 | Utf8View) => true,
        (Binary | LargeBinary | BinaryView, Binary | LargeBinary | BinaryView) => true,
        // Numbers, booleans and dates have one exact text form.
        (f, Utf8 | LargeUtf8 | Utf8View) => {
            f.is_numeric() || matches!(f, Boolean | Date32 | Date64 | Timestamp(_, _))
        }
        (f, t) if int_bits(f).is_some() && int_bits(t).is_some() => {
            match (int_bits(f), int_bits(t)) {
                // Signed to unsigned loses negatives; unsigned to signed needs one more bit.
                (Some((true, _)), Some((false, _))) => false,
                (Some((false, fb)), Some((true, tb))) => tb > fb,
                (Some((_, fb)), Some((_, tb))) => tb >= fb,
                _ => false,
            }
        }
        (f, Float64) if int_bits(f).is_some_and(|(_, b)| b <= 32) => true,
        (f, Float32) if int_bits(f).is_some_and(|(_, b)| b <= 16) => true,
        (Float16, Float32 | Float64) | (Float32, Float64) => true,
        (f, Decimal128(p, s) | Decimal256(p, s)) if int_bits(f).is_some() => {
            let digits = match int_bits(f).map_or(64, |(_, bits)| bits) {
                8 => 3,
                16 => 5,
                32 => 10,
                _ => 20,
            };
            i16::from(*p) - i16::from(*s) >= digits
        }
        (Decimal128(p1, s1) | Decimal256(p1, s1), Decimal128(p2, s2) | Decimal256(p2, s2)) => {
            s2 >= s1 && i16::from(*p2) - i16::from(*s2) >= i16::from(*p1) - i16::from(*s1)
        }
        (Date32, Date64) => true,
        (Date32 | Date64, Timestamp(_, None)) => true,
        (Timestamp(u1, z1), Timestamp(u2, z2)) => z1 == z2 && unit_rank(u2) >= unit_rank(u1),
        _ => false,
    }
}

/// (signed, bits) of an integer type.
fn int_bits(t: &DataType) -> Option<(bool, u8)> {
    use DataType::*;
    Some(match t {
        Int8 => (true, 8),
        Int16 => (true, 16),
        Int32 => (true, 32),
        Int64 => (true, 64),
        UInt8 => (false, 8),
        UInt16 => (false, 16),
        UInt32 => (false, 32),
        UInt64 => (false, 64),
        _ => return None,
    })
}

fn unit_rank(u: &TimeUnit) -> u8 {
    match u {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 1,
        TimeUnit::Microsecond => 2,
        TimeUnit::Nanosecond => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;
    use std::sync::Arc;

    #[test]
    fn widening_is_lossless_and_narrowing_is_not() {
        use DataType::*;
        for (from, to) in [
            (Int32, Int64),
            (UInt32, Int64),
            (Float32, Float64),
            (Int32, Float64),
            (Int64, Utf8),
            (Date32, Timestamp(TimeUnit::Microsecond, None)),
            (Utf8View, Utf8),
            (Int32, Decimal128(12, 2)),
            (Decimal128(10, 2), Decimal128(12, 3)),
        ] {
            assert!(lossless(&from, &to), "{from} -> {to}");
        }
        for (from, to) in [
            (Int64, Int32),
            (Int32, UInt64),
            (Float64, Int64),
            (Utf8, Int64),
            (Int64, Float64),
            (Float64, Float32),
            (Decimal128(12, 3), Decimal128(12, 2)),
            (Int64, Decimal128(12, 2)),
            (Timestamp(TimeUnit::Microsecond, None), Date32),
        ] {
            assert!(!lossless(&from, &to), "{from} -> {to}");
        }
    }

    #[test]
    fn changes_are_named_by_column_and_direction_follows_the_policy() {
        let table = Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("amount", DataType::Int32, true),
        ]);
        let query = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("amount", DataType::Int64, true),
            Field::new("new", DataType::Utf8, true),
        ]));
        // New rows go into the table's types: id text → int64 loses, amount int64 → int32 too.
        assert_eq!(
            lossy_changes(&table, &query, false),
            vec![
                "column `id` is Int64 in the table and Utf8 in the model's query",
                "column `amount` is Int32 in the table and Int64 in the model's query",
            ]
        );
        // sync_all_columns moves the old rows to the new types: both widen.
        assert!(lossy_changes(&table, &query, true).is_empty());
    }
}
