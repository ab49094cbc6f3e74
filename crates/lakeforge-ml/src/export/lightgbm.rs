//! A native GBDT model written in LightGBM's text model format, so `lightgbm.Booster(
//! model_file=...)` loads it and predicts what the model predicts on the pipeline's encoded
//! features. LightGBM reads a matrix of features, not the input columns: the mapping from
//! input columns to those features (which column, which category has which code, which
//! calendar part) is returned beside the text, for the caller to write next to it.
//!
//! The translation is the reverse of `import/lightgbm.rs`: the same node and leaf numbering,
//! numeric splits with LightGBM's "NaN" missing type and the native default direction,
//! categorical splits with the same bitsets, and the native initial scores added to the
//! leaves of the first round (LightGBM starts every row at zero and keeps its own starting
//! score in those leaves, so the sums are the same numbers in the same order).

use serde_json::{Value, json};

use crate::error::{MlError, Result};
use crate::model::{Estimator, Model};
use crate::params::Objective;
use crate::pipeline::{ColumnEncoding, temporal_parts};
use crate::tree::{SplitRule, Tree};

/// LightGBM's decision type bits: categorical, default left, and missing type NaN (2 << 2).
const CATEGORICAL: u8 = 1;
const DEFAULT_LEFT: u8 = 2;
const MISSING_NAN: u8 = 2 << 2;

/// The model file's text and the feature mapping (JSON) to keep beside it.
pub struct LightGbmText {
    pub model: String,
    pub features: Value,
}

/// Writes `model` (a GBDT model) as a LightGBM text model.
pub fn write_lightgbm(model: &Model) -> Result<LightGbmText> {
    let Estimator::Gbdt(gbdt) = &model.estimator else {
        return Err(MlError::InvalidInput(format!(
            "only GBDT models have a LightGBM form; this one is {}",
            model.meta.algorithm.name()
        )));
    };
    let k = gbdt.num_tree_per_iteration.max(1);
    let objective = match gbdt.objective() {
        Objective::Binary => "binary sigmoid:1".to_string(),
        Objective::Multiclass => format!("multiclass num_class:{k}"),
        other => other.name().to_string(),
    };

    // One LightGBM feature per pipeline output, in the model's feature order.
    let mut features = Vec::new();
    let mut infos = Vec::new();
    let mut categorical = Vec::new();
    for c in &model.pipeline.columns {
        match &c.encoding {
            ColumnEncoding::Numeric => {
                features.push(json!({"feature": c.name, "input": c.name, "encoding": "numeric"}));
                categorical.push(false);
            }
            ColumnEncoding::Codes => {
                features.push(json!({"feature": c.name, "input": c.name, "encoding": "codes"}));
                categorical.push(true);
            }
            ColumnEncoding::Categorical { categories } => {
                features.push(json!({
                    "feature": c.name,
                    "input": c.name,
                    "encoding": "categorical",
                    "categories": categories,
                }));
                categorical.push(true);
            }
            ColumnEncoding::Temporal { with_hour } => {
                for part in temporal_parts(*with_hour) {
                    features.push(json!({
                        "feature": format!("{}_{part}", c.name),
                        "input": c.name,
                        "encoding": "temporal",
                        "part": part,
                    }));
                    categorical.push(false);
                }
            }
        }
    }
    if features.len() != gbdt.num_features {
        return Err(MlError::InvalidInput(format!(
            "the pipeline makes {} features and the trees read {}",
            features.len(),
            gbdt.num_features
        )));
    }
    let (lowest, highest) = split_ranges(&gbdt.trees, gbdt.num_features);
    for f in 0..gbdt.num_features {
        infos.push(if categorical[f] {
            let n = highest[f].max(0.0) as usize;
            (0..=n).map(|c| c.to_string()).collect::<Vec<_>>().join(":")
        } else if lowest[f].is_finite() {
            format!("[{:?}:{:?}]", lowest[f], highest[f])
        } else {
            "none".into()
        });
    }
    // LightGBM splits its header lines on spaces: a space in a name would shift every name after it.
    let names: Vec<String> = features
        .iter()
        .map(|f| {
            f["feature"]
                .as_str()
                .unwrap_or_default()
                .replace([' ', '\t'], "_")
        })
        .collect();
    for (f, name) in features.iter_mut().zip(&names) {
        f["feature"] = json!(name);
    }

    let mut out = String::new();
    out.push_str("tree\nversion=v4\n");
    out.push_str(&format!(
        "num_class={}\nnum_tree_per_iteration={k}\nlabel_index=0\n",
        if k > 1 { k } else { 1 }
    ));
    out.push_str(&format!(
        "max_feature_idx={}\n",
        gbdt.num_features.saturating_sub(1)
    ));
    out.push_str(&format!("objective={objective}\n"));
    out.push_str(&format!("feature_names={}\n", names.join(" ")));
    out.push_str(&format!("feature_infos={}\n\n", infos.join(" ")));
    for (t, tree) in gbdt.trees.iter().enumerate() {
        let init = if t < k { gbdt.init_scores[t % k] } else { 0.0 };
        out.push_str(&format!("Tree={t}\n"));
        write_tree(&mut out, tree, init)
            .map_err(|e| MlError::InvalidInput(format!("tree {t}: {e}")))?;
        out.push('\n');
    }
    out.push_str("end of trees\n\nfeature_importances:\n\nparameters:\n");
    out.push_str(&format!(
        "[boosting: gbdt]\n[objective: {}]\n",
        gbdt.objective().name()
    ));
    out.push_str("end of parameters\n\npandas_categorical:null\n");
    Ok(LightGbmText {
        model: out,
        features: json!({
            "format": "lakeforge feature mapping",
            "model_inputs": model.meta.input_columns,
            "features": features,
        }),
    })
}

/// The lowest and highest numeric threshold each feature splits at (for `feature_infos`;
/// the largest code in a categorical split's bitset for categorical features).
fn split_ranges(trees: &[Tree], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut lowest = vec![f64::INFINITY; n];
    let mut highest = vec![f64::NEG_INFINITY; n];
    for node in trees.iter().flat_map(|t| &t.nodes) {
        let f = node.feature as usize;
        let value = match &node.rule {
            SplitRule::Numeric { threshold, .. } => *threshold,
            SplitRule::Categorical { bitset } => bitset
                .iter()
                .enumerate()
                .rev()
                .find(|(_, w)| **w != 0)
                .map_or(0.0, |(i, w)| {
                    (i * 32 + 31 - w.leading_zeros() as usize) as f64
                }),
        };
        lowest[f] = lowest[f].min(value);
        highest[f] = highest[f].max(value);
    }
    (lowest, highest)
}

fn join<T: std::fmt::Debug>(values: impl IntoIterator<Item = T>) -> String {
    values
        .into_iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn write_tree(out: &mut String, tree: &Tree, init: f64) -> std::result::Result<(), String> {
    let leaves: Vec<f64> = tree.leaf_values.iter().map(|v| v + init).collect();
    let mut thresholds = Vec::new();
    let mut decisions = Vec::new();
    let mut boundaries = vec![0usize];
    let mut words: Vec<u32> = Vec::new();
    for (i, node) in tree.nodes.iter().enumerate() {
        match &node.rule {
            SplitRule::Numeric {
                threshold,
                default_left,
            } => {
                if !threshold.is_finite() {
                    return Err(format!("node {i} splits at {threshold}"));
                }
                thresholds.push(*threshold);
                decisions.push(MISSING_NAN | if *default_left { DEFAULT_LEFT } else { 0 });
            }
            SplitRule::Categorical { bitset } => {
                thresholds.push((boundaries.len() - 1) as f64);
                decisions.push(CATEGORICAL | MISSING_NAN);
                words.extend(bitset);
                boundaries.push(words.len());
            }
        }
    }
    let num_cat = boundaries.len() - 1;
    let inner = tree.nodes.len();
    out.push_str(&format!("num_leaves={}\nnum_cat={num_cat}\n", leaves.len()));
    out.push_str(&format!(
        "split_feature={}\n",
        join(tree.nodes.iter().map(|n| n.feature))
    ));
    out.push_str(&format!(
        "split_gain={}\n",
        join(tree.nodes.iter().map(|n| n.gain as f32))
    ));
    out.push_str(&format!("threshold={}\n", join(thresholds)));
    out.push_str(&format!("decision_type={}\n", join(decisions)));
    out.push_str(&format!(
        "left_child={}\n",
        join(tree.nodes.iter().map(|n| n.left))
    ));
    out.push_str(&format!(
        "right_child={}\n",
        join(tree.nodes.iter().map(|n| n.right))
    ));
    out.push_str(&format!("leaf_value={}\n", join(&leaves)));
    // Weights and counts are what training saw; a model file keeps none, and LightGBM
    // predicts without them (only its SHAP contributions read the counts).
    out.push_str(&format!(
        "leaf_weight={}\n",
        join(vec![0.0f64; leaves.len()])
    ));
    out.push_str(&format!("leaf_count={}\n", join(vec![0u32; leaves.len()])));
    out.push_str(&format!("internal_value={}\n", join(vec![0.0f64; inner])));
    out.push_str(&format!("internal_weight={}\n", join(vec![0.0f64; inner])));
    out.push_str(&format!("internal_count={}\n", join(vec![0u32; inner])));
    if num_cat > 0 {
        out.push_str(&format!("cat_boundaries={}\n", join(boundaries)));
        out.push_str(&format!("cat_threshold={}\n", join(words)));
    }
    out.push_str("is_linear=0\nshrinkage=1\n\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::read_lightgbm;
    use crate::{FeatureValue, FitSpec, Task, fit};
    use arrow::array::{ArrayRef, Float64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;
    use std::sync::Arc;

    fn data() -> RecordBatch {
        let n = 600;
        let x: Vec<f64> = (0..n).map(|i| ((i * 37) % 101) as f64 / 10.0).collect();
        let x2: Vec<Option<f64>> = (0..n)
            .map(|i| (i % 7 != 0).then(|| ((i * 13) % 29) as f64 - 14.0))
            .collect();
        let colors = ["red", "green", "blue", "plum"];
        let c: Vec<&str> = (0..n).map(|i| colors[(i * 7 / 3) % 4]).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| {
                let s = x[i] - 5.0
                    + x2[i].unwrap_or(3.0) * 0.2
                    + if c[i] == "blue" { 2.0 } else { -0.5 };
                f64::from(u8::from(s + ((i * 31) % 11) as f64 / 5.0 - 1.0 > 0.0))
            })
            .collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Float64, false),
            Field::new("x2", DataType::Float64, true),
            Field::new("color", DataType::Utf8, false),
            Field::new("label", DataType::Float64, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Float64Array::from(x)) as ArrayRef,
                Arc::new(Float64Array::from(x2)),
                Arc::new(StringArray::from(c)),
                Arc::new(Float64Array::from(y)),
            ],
        )
        .unwrap()
    }

    #[test]
    fn written_text_reads_back_to_the_same_predictions() {
        let batch = data();
        let spec = FitSpec::new(Task::Binary, Some("label"))
            .with_param("num_iterations", "20")
            .with_param("num_leaves", "7")
            .with_param("min_data_in_leaf", "5");
        let model = fit(std::slice::from_ref(&batch), None, &spec).unwrap();
        let text = write_lightgbm(&model).unwrap();
        assert_eq!(text.features["features"][2]["encoding"], "categorical");
        // Read back through the importer: the features are the encoded ones, so feed codes.
        let back = read_lightgbm(&text.model, "export.txt").unwrap();
        let ours = model.predict_values(std::slice::from_ref(&batch)).unwrap();
        let encoded = model
            .pipeline
            .transform(std::slice::from_ref(&batch))
            .unwrap();
        assert_eq!(ours.len(), batch.num_rows());
        for (row, ours) in ours.iter().enumerate() {
            let values: Vec<FeatureValue> = (0..3)
                .map(|f| FeatureValue::Float(encoded.value(row, f)))
                .collect();
            let theirs = back.predict_row(&values).unwrap()[0];
            assert_eq!(ours.to_bits(), theirs.to_bits(), "row {row}");
        }
    }

    #[test]
    fn only_gbdt_models_have_a_lightgbm_form() {
        let batch = data();
        let spec =
            FitSpec::new(Task::Binary, Some("label")).with_algorithm(crate::Algorithm::Linear);
        let model = fit(std::slice::from_ref(&batch), None, &spec).unwrap();
        assert!(write_lightgbm(&model).is_err());
    }
}
