//! Canonical row order: the first step of training data preparation, before the split, the
//! binning and every other index-based choice. A table written by a parallel query lands its
//! rows in a different physical order on each write; training follows indices (which rows the
//! seeded shuffle holds out, which rows bin sampling and bagging draw, the order float sums
//! run in), so the same rows in another order would give another model. Sorting the rows by
//! their content first makes the model depend on the data, never on how it was written.
//!
//! The order is a hash of each row's values (one pass per column, no copy of the table), with
//! rows whose hashes are equal ordered by comparing their values: rows that still compare
//! equal are identical, so their relative order cannot change anything. The hash is our own
//! (no `std` hasher, no CPU-dependent hash), over the values' little-endian bytes, so the
//! order is the same on every machine and in every Lakeforge version that keeps this file's
//! rules; `lakeforge models reproduce` depends on that.

use std::cmp::Ordering;

use arrow::array::{Array, AsArray, UInt32Array, make_comparator};
use arrow::buffer::NullBuffer;
use arrow::compute::{SortOptions, concat_batches, take_record_batch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::error::{MlError, Result};

const MUL: u64 = 0x9E37_79B9_7F4A_7C15;
/// Stands for a null value; a value hashing to the same number only costs a comparison.
const NULL: u64 = 0x6E75_6C6C_6E75_6C6C;

/// One value (or column position) folded into a running hash.
#[inline]
fn mix(h: u64, v: u64) -> u64 {
    (h.rotate_left(26) ^ v).wrapping_mul(MUL)
}

/// The final avalanche (splitmix64's), so sorting by the hash is not sorting by the last
/// column's low bits.
#[inline]
fn finish(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A byte string's hash: its length, then its bytes eight at a time (little-endian words).
#[inline]
fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = mix(0, bytes.len() as u64);
    let (words, rest) = bytes.as_chunks::<8>();
    for w in words {
        h = mix(h, u64::from_le_bytes(*w));
    }
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = mix(h, u64::from_le_bytes(last));
    }
    h
}

/// Combines `value(i)` (or the null mark) with each row's hash.
#[inline]
fn fold(
    hashes: &mut [u64],
    nulls: Option<&NullBuffer>,
    combine: impl Fn(u64, u64) -> u64,
    value: impl Fn(usize) -> u64,
) {
    match nulls {
        Some(n) if n.null_count() > 0 => {
            for (i, h) in hashes.iter_mut().enumerate() {
                *h = combine(*h, if n.is_null(i) { NULL } else { value(i) });
            }
        }
        _ => {
            for (i, h) in hashes.iter_mut().enumerate() {
                *h = combine(*h, value(i));
            }
        }
    }
}

/// A value's hash as it is, for a dictionary's values (looked up by key later).
fn keep(_: u64, v: u64) -> u64 {
    v
}

/// Combines each row's value of `a` with `hashes` (one entry per row): folded in with
/// [`mix`] for a row, kept as is ([`keep`]) for a dictionary's values, so a dictionary
/// column hashes exactly as the plain column of its values.
fn hash_column<C: Fn(u64, u64) -> u64 + Copy>(
    a: &dyn Array,
    hashes: &mut [u64],
    combine: C,
) -> Result<()> {
    debug_assert_eq!(a.len(), hashes.len());
    let logical_nulls = a.logical_nulls();
    let nulls = logical_nulls.as_ref();
    let dt = a.data_type();
    match dt {
        DataType::Null => fold(hashes, nulls, combine, |_| NULL),
        DataType::Boolean => {
            let b = a.as_boolean();
            fold(hashes, nulls, combine, |i| u64::from(b.value(i)));
        }
        // Integers, floats (their bits), decimals, dates, times, timestamps, durations,
        // intervals: the value's fixed-width bytes.
        d if d.is_primitive() => {
            let width = d.primitive_width().unwrap_or(0);
            let data = a.to_data();
            let start = data.offset() * width;
            let bytes = &data.buffers()[0].as_slice()[start..start + data.len() * width];
            if width == 8 {
                let words = bytes.as_chunks::<8>().0;
                fold(hashes, nulls, combine, |i| u64::from_le_bytes(words[i]));
            } else {
                fold(hashes, nulls, combine, |i| {
                    hash_bytes(&bytes[i * width..(i + 1) * width])
                });
            }
        }
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            fold(hashes, nulls, combine, |i| {
                hash_bytes(s.value(i).as_bytes())
            });
        }
        DataType::LargeUtf8 => {
            let s = a.as_string::<i64>();
            fold(hashes, nulls, combine, |i| {
                hash_bytes(s.value(i).as_bytes())
            });
        }
        DataType::Utf8View => {
            let s = a.as_string_view();
            fold(hashes, nulls, combine, |i| {
                hash_bytes(s.value(i).as_bytes())
            });
        }
        DataType::Binary => {
            let s = a.as_binary::<i32>();
            fold(hashes, nulls, combine, |i| hash_bytes(s.value(i)));
        }
        DataType::LargeBinary => {
            let s = a.as_binary::<i64>();
            fold(hashes, nulls, combine, |i| hash_bytes(s.value(i)));
        }
        DataType::BinaryView => {
            let s = a.as_binary_view();
            fold(hashes, nulls, combine, |i| hash_bytes(s.value(i)));
        }
        DataType::FixedSizeBinary(_) => {
            let s = a.as_fixed_size_binary();
            fold(hashes, nulls, combine, |i| hash_bytes(s.value(i)));
        }
        // By value, never by key: two files may encode the same strings differently.
        DataType::Dictionary(_, _) => {
            let d = a.as_any_dictionary();
            let mut value_hashes = vec![0u64; d.values().len()];
            hash_column(d.values().as_ref(), &mut value_hashes, keep)?;
            let keys = d.normalized_keys();
            fold(hashes, nulls, combine, |i| {
                value_hashes.get(keys[i]).copied().unwrap_or(NULL)
            });
        }
        // Lists, structs, maps and the like: rare in training tables; their text is exact.
        _ => {
            let options = FormatOptions::default().with_null("\u{0}");
            let f = ArrayFormatter::try_new(a, &options)?;
            fold(hashes, nulls, combine, |i| {
                hash_bytes(f.value(i).to_string().as_bytes())
            });
        }
    }
    Ok(())
}

/// Each row's content hash: equal rows hash equal, whatever batch or position they are in.
pub fn row_hashes(batch: &RecordBatch) -> Result<Vec<u64>> {
    let mut hashes = vec![0u64; batch.num_rows()];
    for (j, column) in batch.columns().iter().enumerate() {
        // The column's position enters too, so (a, b) and (b, a) differ.
        hashes.iter_mut().for_each(|h| *h = mix(*h, j as u64));
        hash_column(column.as_ref(), &mut hashes, mix)?;
    }
    Ok(hashes.into_iter().map(finish).collect())
}

/// The row indices of `batch` in canonical order (see the module doc).
pub fn canonical_indices(batch: &RecordBatch) -> Result<Vec<u32>> {
    let n = batch.num_rows();
    if n > u32::MAX as usize {
        return Err(MlError::InvalidInput(format!(
            "{n} rows are more than one training run holds ({}); sample the training table down",
            u32::MAX
        )));
    }
    let hashes = row_hashes(batch)?;
    let mut keyed: Vec<(u64, u32)> = hashes.into_iter().zip(0..n as u32).collect();
    keyed.sort_unstable();
    // Equal hashes: almost always duplicate rows, rarely a collision. Order them by value so
    // the physical position (the pair's second half) decides nothing.
    let mut compare: Option<Vec<_>> = None;
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && keyed[end].0 == keyed[start].0 {
            end += 1;
        }
        if end - start > 1 {
            // Built at the first run of equal hashes, then kept for the next ones.
            let columns = match compare.take() {
                Some(columns) => columns,
                None => batch
                    .columns()
                    .iter()
                    .map(|c| make_comparator(c.as_ref(), c.as_ref(), SortOptions::default()))
                    .collect::<std::result::Result<Vec<_>, _>>()?,
            };
            keyed[start..end].sort_by(|a, b| {
                columns
                    .iter()
                    .map(|cmp| cmp(a.1 as usize, b.1 as usize))
                    .find(|o| *o != Ordering::Equal)
                    .unwrap_or(Ordering::Equal)
            });
            compare = Some(columns);
        }
        start = end;
    }
    Ok(keyed.into_iter().map(|(_, i)| i).collect())
}

/// `batches` as one batch in canonical order: the same rows give the same batch whatever
/// order, or batching, they came in.
pub fn canonical_order(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch> {
    let all = concat_batches(schema, batches)?;
    let order = canonical_indices(&all)?;
    if order.iter().enumerate().all(|(pos, &i)| pos == i as usize) {
        return Ok(all);
    }
    Ok(take_record_batch(&all, &UInt32Array::from(order))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        ArrayRef, BooleanArray, Decimal128Array, DictionaryArray, Float64Array, Int32Array,
        Int64Array, StringArray,
    };
    use arrow::datatypes::Int8Type;
    use std::sync::Arc;

    fn batch(ids: Vec<i64>, x: Vec<Option<f64>>, s: Vec<Option<&str>>) -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
            ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
            ("s", Arc::new(StringArray::from(s)) as ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn the_same_rows_in_any_order_or_batching_give_the_same_batch() {
        let a = batch(
            vec![1, 2, 3, 4, 5, 2],
            vec![Some(0.5), None, Some(-1.0), Some(2.25), Some(0.0), None],
            vec![Some("a"), Some("b"), None, Some("d"), Some("e"), Some("b")],
        );
        let reversed: Vec<u32> = (0..6).rev().collect();
        let b = take_record_batch(&a, &UInt32Array::from(reversed)).unwrap();
        let schema = a.schema();
        let one = canonical_order(&schema, std::slice::from_ref(&a)).unwrap();
        let other = canonical_order(&schema, &[b.slice(0, 2), b.slice(2, 4)]).unwrap();
        assert_eq!(one, other);
        assert_eq!(one.num_rows(), 6);
        // Canonical order is a fixed point.
        assert_eq!(
            canonical_order(&schema, std::slice::from_ref(&one)).unwrap(),
            one
        );
    }

    #[test]
    fn a_different_value_anywhere_changes_the_hash() {
        let base = batch(
            vec![1, 1],
            vec![Some(1.0), Some(1.0)],
            vec![Some("a"), Some("a")],
        );
        let h = row_hashes(&base).unwrap();
        assert_eq!(h[0], h[1]);
        for other in [
            batch(vec![2], vec![Some(1.0)], vec![Some("a")]),
            batch(vec![1], vec![Some(-1.0)], vec![Some("a")]),
            batch(vec![1], vec![None], vec![Some("a")]),
            batch(vec![1], vec![Some(1.0)], vec![Some("b")]),
            batch(vec![1], vec![Some(1.0)], vec![None]),
            batch(vec![1], vec![Some(1.0)], vec![Some("")]),
        ] {
            assert_ne!(row_hashes(&other).unwrap()[0], h[0], "{other:?}");
        }
    }

    #[test]
    fn null_slots_hash_as_null_whatever_lies_beneath() {
        // Two arrays with a null in row 0 over different buffer values.
        let a = Int32Array::from(vec![Some(1), Some(5)]);
        let b = Int32Array::from(vec![Some(9), Some(5)]);
        let nulls = arrow::buffer::NullBuffer::from(vec![false, true]);
        let a = Int32Array::new(a.values().clone(), Some(nulls.clone()));
        let b = Int32Array::new(b.values().clone(), Some(nulls));
        let ha = row_hashes(&RecordBatch::try_from_iter([("v", Arc::new(a) as ArrayRef)]).unwrap());
        let hb = row_hashes(&RecordBatch::try_from_iter([("v", Arc::new(b) as ArrayRef)]).unwrap());
        assert_eq!(ha.unwrap(), hb.unwrap());
    }

    #[test]
    fn dictionaries_hash_by_value_and_decimals_and_booleans_are_hashed() {
        let plain = StringArray::from(vec!["x", "y", "x"]);
        let dict: DictionaryArray<Int8Type> = vec!["x", "y", "x"].into_iter().collect();
        // Another encoding of the same strings: keys differ.
        let dict2: DictionaryArray<Int8Type> = DictionaryArray::try_new(
            arrow::array::Int8Array::from(vec![1, 0, 1]),
            Arc::new(StringArray::from(vec!["y", "x"])),
        )
        .unwrap();
        let h = |a: ArrayRef| row_hashes(&RecordBatch::try_from_iter([("c", a)]).unwrap()).unwrap();
        assert_eq!(h(Arc::new(plain)), h(Arc::new(dict.clone())));
        assert_eq!(h(Arc::new(dict)), h(Arc::new(dict2)));

        let money = Decimal128Array::from(vec![364628, 364628, 364629])
            .with_precision_and_scale(26, 2)
            .unwrap();
        let hm = h(Arc::new(money));
        assert_eq!(hm[0], hm[1]);
        assert_ne!(hm[0], hm[2]);
        let hb = h(Arc::new(BooleanArray::from(vec![true, false])));
        assert_ne!(hb[0], hb[1]);
    }

    #[test]
    fn duplicate_rows_and_hash_ties_are_ordered_by_value() {
        // Many duplicates: the result still does not depend on where they were.
        let ids: Vec<i64> = (0..200).map(|i| i % 3).collect();
        let a = batch(
            ids.clone(),
            ids.iter().map(|&i| Some(i as f64)).collect(),
            ids.iter().map(|_| Some("same")).collect(),
        );
        let mut order: Vec<u32> = (0..200).collect();
        crate::rng::Rng::new(3).shuffle(&mut order);
        let b = take_record_batch(&a, &UInt32Array::from(order)).unwrap();
        let schema = a.schema();
        assert_eq!(
            canonical_order(&schema, &[a]).unwrap(),
            canonical_order(&schema, &[b]).unwrap()
        );
    }
}
