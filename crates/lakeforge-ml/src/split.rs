//! Train/test splitting (random, stratified, time-ordered), k-fold index
//! generation and cross-validation. Index-level functions are shared by
//! tuning; [`split_batches`] applies a split to arrow RecordBatches.

use arrow::array::{Array, AsArray, UInt32Array};
use arrow::compute::{cast, take_record_batch};
use arrow::datatypes::{DataType, Float64Type};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::error::{MlError, Result};
use crate::model::FitSpec;
use crate::params::Metric;
use crate::rng::Rng;
use crate::tuning::{Prepared, score_params};

/// How to carve a test set out of the data.
#[derive(Debug, Clone, PartialEq)]
pub enum SplitStrategy {
    Random {
        test_fraction: f64,
        seed: u64,
    },
    /// Keeps each class's share equal in both parts (by the `column` labels).
    Stratified {
        column: String,
        test_fraction: f64,
        seed: u64,
    },
    /// The latest `test_fraction` of rows by `column` (date/timestamp/number) form the test set.
    TimeOrdered {
        column: String,
        test_fraction: f64,
    },
}

fn check_fraction(f: f64) -> Result<()> {
    if f > 0.0 && f < 1.0 {
        Ok(())
    } else {
        Err(MlError::invalid_param(
            "test_fraction",
            f.to_string(),
            "must be in (0, 1)",
        ))
    }
}

fn n_test(n: usize, f: f64) -> usize {
    ((n as f64 * f).round() as usize).clamp(usize::from(n > 1), n.saturating_sub(1))
}

/// Random split of `0..n` into (train, test), each sorted.
pub fn random_split(n: usize, test_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..n).collect();
    Rng::derive(seed, 10).shuffle(&mut idx);
    let t = n_test(n, test_fraction);
    let mut test = idx[..t].to_vec();
    let mut train = idx[t..].to_vec();
    test.sort_unstable();
    train.sort_unstable();
    (train, test)
}

fn groups<K: Ord + Clone>(labels: &[K]) -> BTreeMap<K, Vec<usize>> {
    let mut g: BTreeMap<K, Vec<usize>> = BTreeMap::new();
    for (i, l) in labels.iter().enumerate() {
        g.entry(l.clone()).or_default().push(i);
    }
    g
}

/// Stratified split: every class contributes ~`test_fraction` of its rows.
pub fn stratified_split<K: Ord + Clone>(
    labels: &[K],
    test_fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut rng = Rng::derive(seed, 11);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (_, mut rows) in groups(labels) {
        rng.shuffle(&mut rows);
        let t = ((rows.len() as f64 * test_fraction).round() as usize).min(rows.len());
        test.extend_from_slice(&rows[..t]);
        train.extend_from_slice(&rows[t..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// Time-ordered split: rows sorted by `keys` (ties keep input order, which
/// [`split_batches`] makes canonical); the
/// last `test_fraction` are the test set. Rows with a NaN key go to train.
pub fn time_split(keys: &[f64], test_fraction: f64) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..keys.len()).collect();
    idx.sort_by(|&a, &b| {
        let (x, y) = (keys[a], keys[b]);
        match (x.is_nan(), y.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            _ => x.total_cmp(&y),
        }
    });
    let t = n_test(keys.len(), test_fraction);
    let cut = keys.len() - t;
    (idx[..cut].to_vec(), idx[cut..].to_vec())
}

/// `k` folds of (train, validation) indices over `0..n`.
pub fn kfold(n: usize, k: usize, seed: u64) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut idx: Vec<usize> = (0..n).collect();
    Rng::derive(seed, 12).shuffle(&mut idx);
    let assignment: Vec<usize> = {
        let mut a = vec![0; n];
        for (pos, &i) in idx.iter().enumerate() {
            a[i] = pos % k;
        }
        a
    };
    folds_from(&assignment, k)
}

/// k folds preserving class proportions.
pub fn stratified_kfold<K: Ord + Clone>(
    labels: &[K],
    k: usize,
    seed: u64,
) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut rng = Rng::derive(seed, 13);
    let mut assignment = vec![0; labels.len()];
    let mut offset = 0;
    for (_, mut rows) in groups(labels) {
        rng.shuffle(&mut rows);
        for (pos, &i) in rows.iter().enumerate() {
            // Continue the round-robin across classes so small classes do not
            // all land in fold 0.
            assignment[i] = (pos + offset) % k;
        }
        offset += rows.len();
    }
    folds_from(&assignment, k)
}

fn folds_from(assignment: &[usize], k: usize) -> Vec<(Vec<usize>, Vec<usize>)> {
    (0..k)
        .map(|f| {
            let (mut tr, mut va) = (Vec::new(), Vec::new());
            for (i, &a) in assignment.iter().enumerate() {
                if a == f { va.push(i) } else { tr.push(i) }
            }
            (tr, va)
        })
        .collect()
}

fn column_f64(batch: &RecordBatch, column: &str) -> Result<Vec<f64>> {
    let a = batch
        .column_by_name(column)
        .ok_or_else(|| MlError::MissingColumn {
            column: column.to_string(),
            expected: crate::pipeline::field_names(std::slice::from_ref(batch)),
        })?;
    let a = match a.data_type() {
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) => {
            cast(a, &DataType::Int64)?
        }
        _ => a.clone(),
    };
    let f = cast(&a, &DataType::Float64).map_err(|_| MlError::ColumnTypeMismatch {
        column: column.to_string(),
        expected: "a date, timestamp or numeric column".into(),
        found: a.data_type().to_string(),
    })?;
    Ok(f.as_primitive::<Float64Type>()
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

fn take(batch: &RecordBatch, rows: &[usize]) -> Result<RecordBatch> {
    let idx = UInt32Array::from(rows.iter().map(|&r| r as u32).collect::<Vec<_>>());
    Ok(take_record_batch(batch, &idx)?)
}

/// Splits batches into (train, test) according to `strategy`. The rows are put in
/// [canonical order](crate::canonical) first, so the split, and everything trained on its
/// parts (both in canonical order), depends on the rows and the seed, not on the order the
/// rows were stored in.
pub fn split_batches(
    batches: &[RecordBatch],
    strategy: &SplitStrategy,
) -> Result<(RecordBatch, RecordBatch)> {
    let schema = batches
        .first()
        .map(|b| b.schema())
        .ok_or_else(|| MlError::EmptyData("nothing to split".into()))?;
    let all = crate::canonical::canonical_order(&schema, batches)?;
    let n = all.num_rows();
    let (train, test) = match strategy {
        SplitStrategy::Random {
            test_fraction,
            seed,
        } => {
            check_fraction(*test_fraction)?;
            random_split(n, *test_fraction, *seed)
        }
        SplitStrategy::Stratified {
            column,
            test_fraction,
            seed,
        } => {
            check_fraction(*test_fraction)?;
            let labels = crate::target::label_strings(std::slice::from_ref(&all), column)?;
            stratified_split(&labels, *test_fraction, *seed)
        }
        SplitStrategy::TimeOrdered {
            column,
            test_fraction,
        } => {
            check_fraction(*test_fraction)?;
            time_split(&column_f64(&all, column)?, *test_fraction)
        }
    };
    Ok((take(&all, &train)?, take(&all, &test)?))
}

/// Cross-validation scores of one parameter set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvReport {
    pub metric: String,
    pub fold_scores: Vec<f64>,
    pub mean: f64,
    pub std: f64,
}

/// k-fold cross-validation of `spec` on `batches` (stratified for
/// classification). The pipeline is fitted on each fold's training rows.
pub fn cross_validate(
    batches: &[RecordBatch],
    spec: &FitSpec,
    k: usize,
    metric: Option<Metric>,
    seed: u64,
) -> Result<CvReport> {
    if k < 2 {
        return Err(MlError::invalid_param(
            "folds",
            k.to_string(),
            "needs at least 2 folds",
        ));
    }
    let prep = Prepared::new(batches, spec, k, 0.0, seed)?;
    let metric = metric.unwrap_or(prep.default_metric(spec)?);
    let scores = score_params(&prep, spec, &spec.params, metric)?;
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    let std = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / scores.len() as f64).sqrt();
    Ok(CvReport {
        metric: metric.name().to_string(),
        fold_scores: scores,
        mean,
        std,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, TimestampSecondArray};
    use std::sync::Arc;

    #[test]
    fn random_split_partitions() {
        let (tr, te) = random_split(100, 0.25, 1);
        assert_eq!(te.len(), 25);
        let mut all = [tr.clone(), te.clone()].concat();
        all.sort();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(random_split(100, 0.25, 1), (tr, te));
    }

    #[test]
    fn stratified_keeps_ratio() {
        let labels: Vec<u8> = (0..100).map(|i| u8::from(i % 10 == 0)).collect();
        let (_, te) = stratified_split(&labels, 0.3, 2);
        let pos = te.iter().filter(|&&i| labels[i] == 1).count();
        assert_eq!(pos, 3);
        let folds = stratified_kfold(&labels, 5, 3);
        for (tr, va) in &folds {
            assert_eq!(tr.len() + va.len(), 100);
            assert_eq!(va.iter().filter(|&&i| labels[i] == 1).count(), 2);
        }
    }

    #[test]
    fn time_split_takes_latest() {
        let b = RecordBatch::try_from_iter(vec![
            (
                "t",
                Arc::new(TimestampSecondArray::from(vec![50, 10, 40, 20, 30])) as ArrayRef,
            ),
            (
                "v",
                Arc::new(Int64Array::from(vec![5, 1, 4, 2, 3])) as ArrayRef,
            ),
        ])
        .unwrap();
        let (tr, te) = split_batches(
            &[b],
            &SplitStrategy::TimeOrdered {
                column: "t".into(),
                test_fraction: 0.4,
            },
        )
        .unwrap();
        let v = |b: &RecordBatch| {
            b.column(1)
                .as_primitive::<arrow::datatypes::Int64Type>()
                .values()
                .to_vec()
        };
        assert_eq!(v(&tr), [1, 2, 3]);
        assert_eq!(v(&te), [4, 5]);
    }

    #[test]
    fn kfold_covers_each_row_once() {
        let folds = kfold(23, 4, 0);
        let mut seen = [0; 23];
        for (_, va) in &folds {
            va.iter().for_each(|&i| seen[i] += 1);
        }
        assert!(seen.iter().all(|&c| c == 1));
    }
}
