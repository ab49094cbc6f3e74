//! Target column handling: reads the label column from RecordBatches and
//! encodes it — class labels become indices `0..k` (classes learned at fit
//! time and stored in the model), regression targets become f64.

use std::collections::BTreeSet;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use arrow::record_batch::RecordBatch;

use crate::error::{MlError, Result};

fn column<'a>(batches: &'a [RecordBatch], target: &str) -> Result<Vec<&'a ArrayRef>> {
    batches
        .iter()
        .map(|b| {
            b.column_by_name(target)
                .ok_or_else(|| MlError::MissingTarget {
                    column: target.to_string(),
                    available: crate::pipeline::field_names(std::slice::from_ref(b)),
                })
        })
        .collect()
}

fn null_error(target: &str, nulls: usize) -> MlError {
    MlError::InvalidTarget {
        column: target.to_string(),
        reason: format!(
            "{nulls} rows have a null target; filter them out before training or evaluating"
        ),
    }
}

/// Canonical text of a numeric label, so 1, 1.0 and "1" name the same class.
fn numeric_label(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Target values as class label strings.
pub fn label_strings(batches: &[RecordBatch], target: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut nulls = 0;
    for a in column(batches, target)? {
        let dt = a.data_type();
        if dt.is_numeric() {
            let f = cast(a, &DataType::Float64)?;
            for v in f.as_primitive::<Float64Type>().iter() {
                match v {
                    Some(v) => out.push(numeric_label(v)),
                    None => nulls += 1,
                }
            }
        } else if *dt == DataType::Boolean {
            for v in a.as_boolean().iter() {
                match v {
                    Some(v) => out.push(v.to_string()),
                    None => nulls += 1,
                }
            }
        } else {
            let s = cast(a, &DataType::Utf8).map_err(|_| MlError::InvalidTarget {
                column: target.to_string(),
                reason: format!("type {dt} cannot be used as class labels"),
            })?;
            for v in s.as_string::<i32>().iter() {
                match v {
                    Some(v) => out.push(v.to_string()),
                    None => nulls += 1,
                }
            }
        }
    }
    if nulls > 0 {
        return Err(null_error(target, nulls));
    }
    Ok(out)
}

/// Sorted distinct classes: numerically when every label is a number.
pub fn learn_classes(labels: &[String]) -> Vec<String> {
    let set: BTreeSet<&String> = labels.iter().collect();
    let mut classes: Vec<String> = set.into_iter().cloned().collect();
    let nums: Option<Vec<f64>> = classes.iter().map(|c| c.parse::<f64>().ok()).collect();
    if let Some(nums) = nums {
        let mut pairs: Vec<(f64, String)> = nums.into_iter().zip(classes).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        classes = pairs.into_iter().map(|p| p.1).collect();
    }
    classes
}

/// Class indices for `labels` given the fitted classes; an unknown label is
/// an error naming it.
pub fn encode_classes(labels: &[String], classes: &[String], target: &str) -> Result<Vec<f64>> {
    let index: std::collections::HashMap<&str, usize> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    labels
        .iter()
        .map(|l| {
            index
                .get(l.as_str())
                .map(|&i| i as f64)
                .ok_or_else(|| MlError::InvalidTarget {
                    column: target.to_string(),
                    reason: format!(
                        "label '{l}' was not seen in training (classes: {})",
                        classes.join(", ")
                    ),
                })
        })
        .collect()
}

/// Regression target as f64.
pub fn values(batches: &[RecordBatch], target: &str) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    let mut nulls = 0;
    for a in column(batches, target)? {
        let f = cast(a, &DataType::Float64).map_err(|_| MlError::InvalidTarget {
            column: target.to_string(),
            reason: format!(
                "type {} is not numeric; use a classification task",
                a.data_type()
            ),
        })?;
        let f = f.as_primitive::<Float64Type>();
        nulls += f.null_count();
        out.extend(f.iter().flatten());
    }
    if nulls > 0 {
        return Err(null_error(target, nulls));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int32Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn classes_sort_numerically_and_encode() {
        let b = RecordBatch::try_from_iter(vec![(
            "y",
            Arc::new(Int32Array::from(vec![10, 2, 2, 1])) as ArrayRef,
        )])
        .unwrap();
        let l = label_strings(&[b], "y").unwrap();
        let c = learn_classes(&l);
        assert_eq!(c, ["1", "2", "10"]);
        assert_eq!(encode_classes(&l, &c, "y").unwrap(), [2.0, 1.0, 1.0, 0.0]);
        let f = RecordBatch::try_from_iter(vec![(
            "y",
            Arc::new(Float64Array::from(vec![1.0, 2.0])) as ArrayRef,
        )])
        .unwrap();
        assert_eq!(label_strings(&[f], "y").unwrap(), ["1", "2"]);
        let err = encode_classes(&["7".to_string()], &c, "y").unwrap_err();
        assert!(err.to_string().contains("'7'"));
    }

    #[test]
    fn nulls_and_missing_column_are_errors() {
        let b = RecordBatch::try_from_iter(vec![(
            "y",
            Arc::new(StringArray::from(vec![Some("a"), None])) as ArrayRef,
        )])
        .unwrap();
        assert!(
            label_strings(std::slice::from_ref(&b), "y")
                .unwrap_err()
                .to_string()
                .contains("null")
        );
        assert!(matches!(
            values(&[b], "z"),
            Err(MlError::MissingTarget { .. })
        ));
    }
}
