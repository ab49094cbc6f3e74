//! Fixture loading shared by the integration tests: a tiny numeric CSV
//! reader (arrow's CSV reader is not compiled into this crate) and access to
//! LightGBM's reference metrics.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array};
use arrow::record_batch::RecordBatch;
use lakeforge_ml::ParamMap;

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Reads a numeric CSV with a header; the `label` column becomes Int64 when
/// `int_label` (class labels), every other column Float64.
pub fn load_csv(name: &str, int_label: bool) -> RecordBatch {
    let text = std::fs::read_to_string(fixture_path(name)).expect("fixture exists");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); header.len()];
    for line in lines.filter(|l| !l.is_empty()) {
        for (j, v) in line.split(',').enumerate() {
            cols[j].push(v.parse().expect("numeric cell"));
        }
    }
    let arrays: Vec<(String, ArrayRef)> = header
        .into_iter()
        .zip(cols)
        .map(|(name, c)| {
            let a: ArrayRef = if name == "label" && int_label {
                Arc::new(Int64Array::from(
                    c.iter().map(|&v| v as i64).collect::<Vec<_>>(),
                ))
            } else {
                Arc::new(Float64Array::from(c))
            };
            (name, a)
        })
        .collect();
    RecordBatch::try_from_iter(arrays).unwrap()
}

pub struct Reference {
    pub params: ParamMap,
    pub metrics: serde_json::Value,
}

/// LightGBM's parameters (minus `objective`, implied by the task) and test metrics.
pub fn reference(dataset: &str) -> Reference {
    let text = std::fs::read_to_string(fixture_path("lightgbm_reference.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let d = &v[dataset];
    let mut params: ParamMap = d["params"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    params.remove("objective");
    Reference {
        params,
        metrics: d["metrics"].clone(),
    }
}

pub fn metric(r: &Reference, name: &str) -> f64 {
    r.metrics[name].as_f64().unwrap()
}
