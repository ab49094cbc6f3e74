//! Evaluation report data: the last step of the ML flow, after a model has been
//! evaluated. [`ReportData`] gathers what a reader needs to judge a model
//! version — metrics, ROC / precision-recall curves ([`crate::curves`]),
//! residuals, confusion matrix, feature importance, parameters and where the
//! model came from — in a serde form small enough to store as JSON with the
//! version. Drawing it is the `lakeforge-report` crate's job (one standalone
//! HTML page with inline SVG charts, what `lakeforge models show NAME --report
//! out.html` writes), so the ML engine carries no markup.
//!
//! Everything is deterministic: the same rows give the same data, so reports
//! can be diffed and cached.

use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Deserializer, Serialize};

use crate::curves::{self, Histogram};
use crate::error::{MlError, Result};
use crate::gbdt::ImportanceType;
use crate::metrics::{self, BinaryConfusion};
use crate::model::{Estimator, Model, Task, encode_target};

/// One curve of a chart: its legend label, its exact area (AUC for ROC,
/// average precision for PR, computed on all rows, not the thinned points)
/// and its points (`(fpr, tpr)` or `(recall, precision)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    pub label: String,
    pub area: f64,
    pub points: Vec<(f64, f64)>,
}

/// Regression residuals: a scatter sample and the distribution of all of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResidualData {
    /// `(predicted, actual)` pairs, at most `ReportOptions::max_residual_points`.
    pub points: Vec<(f64, f64)>,
    /// Rows with a finite prediction and label (what the histogram counts).
    pub rows: usize,
    /// Histogram of `actual - predicted`.
    pub histogram: Histogram,
}

/// Everything the report shows. Fields the computation cannot know (name,
/// version, lineage lines) are filled by the caller; missing fields
/// deserialize to their defaults so reports stored by older versions still load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportData {
    pub model_name: String,
    pub version: String,
    /// `Task::name()`: "binary", "multiclass", "regression" or "clustering".
    pub task: String,
    /// Rows evaluated.
    pub rows: usize,
    #[serde(deserialize_with = "pairs_null_as_nan")]
    pub metrics: Vec<(String, f64)>,
    /// Binary: one curve; multiclass: one-vs-rest per class (the best
    /// supported ones, see `ReportOptions::max_class_curves`).
    pub roc: Option<Vec<Curve>>,
    pub pr: Option<Vec<Curve>>,
    pub residuals: Option<ResidualData>,
    /// Class labels and `k × k` counts (rows = true, columns = predicted).
    pub confusion: Option<(Vec<String>, Vec<Vec<usize>>)>,
    #[serde(deserialize_with = "pairs_null_as_nan")]
    pub feature_importance: Vec<(String, f64)>,
    pub params: Vec<(String, String)>,
    /// Free-form provenance lines, e.g. "trained on main.customer_features @ Delta version 3".
    pub training_info: Vec<String>,
}

/// serde_json writes NaN and infinities as `null`; reading them back as NaN
/// keeps a stored report with an undefined metric loadable.
fn pairs_null_as_nan<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, f64)>, D::Error> {
    let pairs: Vec<(String, Option<f64>)> = Deserialize::deserialize(d)?;
    Ok(pairs
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
        .collect())
}

/// The file beside a version's model file that holds its [`Evaluation`].
pub const EVALUATION_FILE: &str = "evaluation.json";

/// Held-out labels and predictions of a trained version, as the training node stores them
/// beside the artifact ([`EVALUATION_FILE`], JSON): what a report is drawn from later, with
/// [`ReportData::from_predictions`]. `labels` and `predictions` are shaped as that function
/// takes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// `Task::name()`.
    pub task: String,
    pub classes: Vec<String>,
    pub labels: Vec<f64>,
    pub predictions: Vec<f64>,
    pub metrics: Vec<(String, f64)>,
    pub importance: Vec<(String, f64)>,
    pub confusion: Option<(Vec<String>, Vec<Vec<usize>>)>,
}

/// The [`EVALUATION_FILE`] beside the model file `artifact` (a path relative to the lake's
/// root, as the registry records it).
pub fn evaluation_path(artifact: &str) -> String {
    match artifact.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{EVALUATION_FILE}"),
        None => EVALUATION_FILE.to_string(),
    }
}

/// Sizes of the stored data; the defaults keep a report's JSON to tens of KB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportOptions {
    /// Points kept per ROC / PR curve.
    pub max_curve_points: usize,
    /// Points in the predicted-vs-actual scatter.
    pub max_residual_points: usize,
    /// Upper bound on residual histogram bins.
    pub histogram_bins: usize,
    /// Multiclass: one-vs-rest curves for at most this many classes.
    pub max_class_curves: usize,
    /// Which importance `from_model` records.
    pub importance: ImportanceType,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            max_curve_points: 200,
            max_residual_points: 500,
            histogram_bins: 30,
            max_class_curves: 10,
            importance: ImportanceType::Gain,
        }
    }
}

impl ReportData {
    /// Sets the model name and version shown in the heading.
    pub fn named(mut self, model_name: impl Into<String>, version: impl Into<String>) -> Self {
        self.model_name = model_name.into();
        self.version = version.into();
        self
    }

    /// Metrics, curves, confusion matrix and residuals from encoded labels and
    /// transformed predictions, shaped as in `Model::evaluate`: binary — label
    /// 0/1 and the positive-class probability per row; multiclass — class
    /// index and `classes.len()` probabilities per row (row-major); regression
    /// — value per row. `classes` names the classes (binary: `[negative,
    /// positive]`, defaults to "0"/"1" when not two). The metric names and
    /// values are those of `Model::evaluate`. Clustering has no labels, so
    /// only `rows` is set. Name, version, importance, params and info stay empty.
    pub fn from_predictions(
        task: Task,
        classes: &[String],
        labels: &[f64],
        predictions: &[f64],
        options: &ReportOptions,
    ) -> Result<ReportData> {
        let n = labels.len();
        let mut r = ReportData {
            task: task.name().to_string(),
            rows: n,
            ..ReportData::default()
        };
        let expect_len = |k: usize| -> Result<()> {
            if predictions.len() == n * k {
                Ok(())
            } else {
                Err(MlError::InvalidInput(format!(
                    "report: {} predictions for {n} labels; expected {} ({k} per row for the {} task)",
                    predictions.len(),
                    n * k,
                    task.name()
                )))
            }
        };
        match task {
            Task::Binary => {
                expect_len(1)?;
                let classes = if classes.len() == 2 {
                    classes.to_vec()
                } else {
                    vec!["0".to_string(), "1".to_string()]
                };
                let c = BinaryConfusion::new(labels, predictions, 0.5);
                let auc = metrics::auc(labels, predictions);
                let ap = metrics::average_precision(labels, predictions);
                r.metrics = vec![
                    ("auc".into(), auc),
                    ("pr_auc".into(), ap),
                    ("logloss".into(), metrics::log_loss(labels, predictions)),
                    ("accuracy".into(), c.accuracy()),
                    ("precision".into(), c.precision()),
                    ("recall".into(), c.recall()),
                    ("f1".into(), c.f1()),
                ];
                let label = classes[1].clone();
                r.roc = Some(vec![Curve {
                    label: label.clone(),
                    area: auc,
                    points: curves::roc_curve(labels, predictions, options.max_curve_points),
                }]);
                r.pr = Some(vec![Curve {
                    label,
                    area: ap,
                    points: curves::pr_curve(labels, predictions, options.max_curve_points),
                }]);
                r.confusion = Some((classes, vec![vec![c.tn, c.fp], vec![c.fn_, c.tp]]));
            }
            Task::Multiclass => {
                let k = classes.len();
                if k < 2 {
                    return Err(MlError::InvalidInput(format!(
                        "report: a multiclass report needs at least 2 class names, got {k}"
                    )));
                }
                expect_len(k)?;
                // metrics::confusion_matrix and multiclass_log_loss index by
                // label, so a stray label must become an error, not a panic.
                if let Some(bad) = labels
                    .iter()
                    .find(|&&y| !(y >= 0.0 && y.fract() == 0.0 && (y as usize) < k))
                {
                    return Err(MlError::InvalidInput(format!(
                        "report: label {bad} is not a class index in 0..{k}"
                    )));
                }
                r.metrics = vec![
                    (
                        "accuracy".into(),
                        metrics::multiclass_accuracy(labels, predictions, k),
                    ),
                    (
                        "logloss".into(),
                        metrics::multiclass_log_loss(labels, predictions, k),
                    ),
                ];
                r.confusion = Some((
                    classes.to_vec(),
                    metrics::confusion_matrix(labels, predictions, k),
                ));
                let (roc, pr) = one_vs_rest(classes, labels, predictions, options);
                if !roc.is_empty() {
                    r.roc = Some(roc);
                    r.pr = Some(pr);
                }
            }
            Task::Regression => {
                expect_len(1)?;
                r.metrics = vec![
                    ("rmse".into(), metrics::rmse(labels, predictions)),
                    ("mae".into(), metrics::mae(labels, predictions)),
                    ("r2".into(), metrics::r2(labels, predictions)),
                    ("mape".into(), metrics::mape(labels, predictions)),
                ];
                let histogram =
                    curves::residual_histogram(labels, predictions, options.histogram_bins);
                r.residuals = Some(ResidualData {
                    points: curves::residual_sample(
                        labels,
                        predictions,
                        options.max_residual_points,
                    ),
                    rows: histogram.total(),
                    histogram,
                });
            }
            Task::Clustering => {
                r.rows = predictions.len();
            }
        }
        Ok(r)
    }

    /// The full report of `model` on labelled `batches`: `from_predictions`
    /// on the model's own predictions and encoded labels (so the metrics are
    /// `Model::evaluate`'s), plus feature importance, the model's parameters
    /// and info lines about how it was trained. Name and version are left
    /// for the caller (see [`ReportData::named`]), who may also append
    /// provenance lines to `training_info`.
    pub fn from_model(
        model: &Model,
        batches: &[RecordBatch],
        options: &ReportOptions,
    ) -> Result<ReportData> {
        let meta = &model.meta;
        let mut r = if meta.task == Task::Clustering {
            let eval = model.evaluate(batches)?;
            ReportData {
                task: meta.task.name().to_string(),
                rows: eval.rows,
                metrics: eval.metrics,
                ..ReportData::default()
            }
        } else {
            let data = model.pipeline.transform(batches)?;
            let pred = model.estimator.predict(&data);
            let target = meta.target.clone().unwrap_or_default();
            let (y, _) = encode_target(batches, meta.task, &target, Some(&meta.classes))?;
            ReportData::from_predictions(meta.task, &meta.classes, &y, &pred, options)?
        };
        // k-means has no notion of feature importance (all zeros).
        if !matches!(model.estimator, Estimator::KMeans(_)) {
            r.feature_importance = model.feature_importance(options.importance);
        }
        r.params = meta
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut info = vec![format!(
            "{} {} model on {} features from {} input columns",
            meta.algorithm.name(),
            meta.task.name(),
            meta.feature_names.len(),
            meta.input_columns.len()
        )];
        if let Some(t) = &meta.target {
            info.push(format!("target column: {t}"));
        }
        info.push(format!(
            "trained on {} rows with lakeforge {}",
            meta.train_rows, meta.lakeforge_version
        ));
        if let Some((name, value)) = &meta.valid_metric {
            info.push(format!(
                "validation {name} at the end of training: {}",
                fmt_value(*value)
            ));
        }
        info.push(format!("evaluated on {} rows", r.rows));
        r.training_info = info;
        Ok(r)
    }
}

/// One-vs-rest ROC and PR curves for the classes with the most support
/// (ties to the lower index), in class order. Classes absent from the labels,
/// or the only class present, have no meaningful curve and are left out.
fn one_vs_rest(
    classes: &[String],
    labels: &[f64],
    probs: &[f64],
    options: &ReportOptions,
) -> (Vec<Curve>, Vec<Curve>) {
    let k = classes.len();
    let n = labels.len();
    let mut support = vec![0usize; k];
    for &y in labels {
        // Labels were checked to be indices below k.
        support[y as usize] += 1;
    }
    let mut chosen: Vec<usize> = (0..k)
        .filter(|&c| support[c] > 0 && support[c] < n)
        .collect();
    chosen.sort_by(|&a, &b| support[b].cmp(&support[a]).then(a.cmp(&b)));
    chosen.truncate(options.max_class_curves);
    chosen.sort_unstable();
    let mut roc = Vec::with_capacity(chosen.len());
    let mut pr = Vec::with_capacity(chosen.len());
    for c in chosen {
        let y: Vec<f64> = labels
            .iter()
            .map(|&l| if l as usize == c { 1.0 } else { 0.0 })
            .collect();
        let s: Vec<f64> = probs.chunks(k).map(|row| row[c]).collect();
        roc.push(Curve {
            label: classes[c].clone(),
            area: metrics::auc(&y, &s),
            points: curves::roc_curve(&y, &s, options.max_curve_points),
        });
        pr.push(Curve {
            label: classes[c].clone(),
            area: metrics::average_precision(&y, &s),
            points: curves::pr_curve(&y, &s, options.max_curve_points),
        });
    }
    (roc, pr)
}

/// Metric values: 4 decimals, scientific outside a readable range, and a
/// word instead of NaN so the page never shows a meaningless number. Public
/// because the rendered page writes its numbers the same way as the
/// `training_info` lines computed here.
pub fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e9).contains(&a) {
        format!("{v:.4e}")
    } else {
        format!("{v:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_evaluation_sits_beside_the_model_file() {
        assert_eq!(
            evaluation_path("_models/churn/3f2a/model.lfm"),
            "_models/churn/3f2a/evaluation.json"
        );
        assert_eq!(evaluation_path("model.lfm"), "evaluation.json");
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bad_shapes_are_errors_not_panics() {
        let o = ReportOptions::default();
        let classes = names(&["a", "b", "c"]);
        assert!(ReportData::from_predictions(Task::Binary, &[], &[1.0], &[0.1, 0.2], &o).is_err());
        assert!(
            ReportData::from_predictions(Task::Multiclass, &classes, &[0.0], &[0.5, 0.5], &o)
                .is_err()
        );
        assert!(
            ReportData::from_predictions(Task::Multiclass, &classes, &[3.0], &[0.2, 0.3, 0.5], &o)
                .is_err()
        );
        assert!(
            ReportData::from_predictions(Task::Multiclass, &classes, &[0.5], &[0.2, 0.3, 0.5], &o)
                .is_err()
        );
        assert!(ReportData::from_predictions(Task::Multiclass, &[], &[], &[], &o).is_err());
        assert!(
            ReportData::from_predictions(Task::Regression, &[], &[1.0, 2.0], &[1.0], &o).is_err()
        );
    }
}
