//! `unique` and `unique_combination_of_columns` tests counted without SQL: the key columns are
//! scanned once (in parallel, through DataFusion), and, when they are integers, dates or
//! timestamps, sorted as plain 64-bit values, where equal keys sit side by side. On tables of
//! millions of distinct keys this is several times faster than a hash aggregation, whose hash
//! table outgrows the CPU caches. Other key types return `None`, and the caller runs the
//! test's SQL instead.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use futures::StreamExt;
use rayon::slice::ParallelSliceMut;

use crate::error::{EngineError, Result};
use crate::session::Engine;

/// Duplicate keys found: how many key values occur more than once, and a few of them shaped
/// like the test's SQL result (the key columns, then `n_records`).
#[derive(Debug, Clone)]
pub struct DuplicateOutcome {
    pub failures: u64,
    pub sample: Vec<RecordBatch>,
}

/// Count the key values of `columns` in `from` that occur more than once. `skip_nulls`
/// leaves out rows with a null key (as `unique` does); otherwise a null key makes the native
/// path step aside (SQL groups nulls together, and so does the fallback).
pub async fn count_duplicates(
    engine: &Engine,
    context: &str,
    from: &str,
    columns: &[String],
    skip_nulls: bool,
    sample_rows: usize,
) -> Result<Option<DuplicateOutcome>> {
    if columns.is_empty() || columns.len() > 2 {
        return Ok(None);
    }
    let mut sql = format!("select {} from {from}", columns.join(", "));
    if skip_nulls {
        let not_null: Vec<String> = columns.iter().map(|c| format!("{c} is not null")).collect();
        sql.push_str(&format!(" where {}", not_null.join(" and ")));
    }
    let df = engine.dataframe(context, &sql).await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    if !schema
        .fields()
        .iter()
        .all(|f| is_integer_like(f.data_type()))
    {
        return Ok(None);
    }
    let mut stream = df
        .execute_stream()
        .await
        .map_err(|e| EngineError::sql(context, e))?;
    let mut one: Vec<i64> = Vec::new();
    let mut two: Vec<(i64, i64)> = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| EngineError::sql(context, e))?;
        let mut keys = Vec::with_capacity(columns.len());
        for c in batch.columns() {
            if c.null_count() > 0 {
                return Ok(None);
            }
            let Ok(k) = cast(c, &DataType::Int64) else {
                return Ok(None);
            };
            keys.push(k);
        }
        // `cast` to Int64 above gives Int64Arrays; anything else takes the general path.
        let as_int = |k: &ArrayRef| k.as_any().downcast_ref::<Int64Array>().cloned();
        let Some(a) = keys.first().and_then(as_int) else {
            return Ok(None);
        };
        match keys.get(1) {
            None => one.extend_from_slice(a.values()),
            Some(b) => {
                let Some(b) = as_int(b) else {
                    return Ok(None);
                };
                two.extend(a.values().iter().copied().zip(b.values().iter().copied()));
            }
        }
    }
    let (failures, dups): (u64, Vec<(Vec<i64>, i64)>) = if columns.len() == 1 {
        one.par_sort_unstable();
        let (n, d) = duplicate_runs(&one, sample_rows);
        (n, d.into_iter().map(|(k, c)| (vec![k], c)).collect())
    } else {
        two.par_sort_unstable();
        let (n, d) = duplicate_runs(&two, sample_rows);
        (
            n,
            d.into_iter().map(|((a, b), c)| (vec![a, b], c)).collect(),
        )
    };
    let sample = if dups.is_empty() {
        Vec::new()
    } else {
        vec![
            sample_batch(&schema, columns.len(), &dups)
                .map_err(|e| EngineError::sql(context, e))?,
        ]
    };
    Ok(Some(DuplicateOutcome { failures, sample }))
}

fn is_integer_like(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(_, _)
    )
}

/// In sorted keys, the number of values occurring more than once, and the first `keep` of
/// them with their counts.
fn duplicate_runs<T: PartialEq + Copy>(sorted: &[T], keep: usize) -> (u64, Vec<(T, i64)>) {
    let mut n = 0u64;
    let mut kept = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i + 1;
        while j < sorted.len() && sorted[j] == sorted[i] {
            j += 1;
        }
        if j - i > 1 {
            n += 1;
            if kept.len() < keep {
                kept.push((sorted[i], (j - i) as i64));
            }
        }
        i = j;
    }
    (n, kept)
}

/// The test's result shape: `unique_field` (or the key columns) and `n_records`, with the key
/// values back in their own types.
fn sample_batch(
    schema: &Schema,
    keys: usize,
    dups: &[(Vec<i64>, i64)],
) -> arrow::error::Result<RecordBatch> {
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for k in 0..keys {
        let f = schema.field(k);
        let raw = Int64Array::from_iter_values(dups.iter().map(|d| d.0[k]));
        arrays.push(cast(&raw, f.data_type())?);
        let name = if keys == 1 {
            "unique_field"
        } else {
            f.name().as_str()
        };
        fields.push(Field::new(name, f.data_type().clone(), true));
    }
    arrays.push(Arc::new(Int64Array::from_iter_values(
        dups.iter().map(|d| d.1),
    )));
    fields.push(Field::new("n_records", DataType::Int64, false));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_equal_keys_are_counted_once_each() {
        let keys = [1, 2, 2, 3, 4, 4, 4, 5];
        assert_eq!(duplicate_runs(&keys, 1), (2, vec![(2, 2)]));
        assert_eq!(duplicate_runs(&keys, 5), (2, vec![(2, 2), (4, 3)]));
        assert_eq!(duplicate_runs::<i64>(&[], 5), (0, vec![]));
        let pairs = [(1, 1), (1, 2), (1, 2)];
        assert_eq!(duplicate_runs(&pairs, 5), (1, vec![((1, 2), 2)]));
    }
}
