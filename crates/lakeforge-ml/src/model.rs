//! The user-facing model: ties together the fitted feature pipeline, the
//! trained estimator and metadata (task, target, classes, feature names).
//! This is the entry point for fit → save → load → predict / evaluate, used by
//! the `lakeforge ml` CLI.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{MlError, Result};
use crate::gbdt::{self, GbdtModel, ImportanceType};
use crate::kmeans::KMeansModel;
use crate::linear::LinearModel;
use crate::metrics::{self, BinaryConfusion};
use crate::model_file;
use crate::params::{
    GbdtParams, KMeansParams, LinearParams, Objective, ParamMap, categorical_encoding_param,
};
use crate::pipeline::{CategoricalEncoding, FeaturePipeline, PipelineMode, PipelineOptions};
use crate::target;

/// What is being predicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Binary,
    Multiclass,
    Regression,
    Clustering,
}

impl Task {
    /// Parses a task name; regression variants (`regression_l1`, `huber`,
    /// `poisson`) also return the objective they imply.
    pub fn parse(s: &str) -> Option<(Task, Option<Objective>)> {
        let s = s.trim().to_ascii_lowercase();
        Some(match s.as_str() {
            "binary" | "classification" => (Task::Binary, None),
            "multiclass" | "softmax" => (Task::Multiclass, None),
            "clustering" | "kmeans" | "cluster" => (Task::Clustering, None),
            other => match Objective::parse(other)? {
                Objective::Binary => (Task::Binary, None),
                Objective::Multiclass => (Task::Multiclass, None),
                Objective::Regression => (Task::Regression, None),
                o => (Task::Regression, Some(o)),
            },
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Task::Binary => "binary",
            Task::Multiclass => "multiclass",
            Task::Regression => "regression",
            Task::Clustering => "clustering",
        }
    }
}

/// Learner family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    Gbdt,
    Linear,
    KMeans,
}

impl Algorithm {
    pub fn parse(s: &str) -> Option<Algorithm> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "gbdt" | "gbm" | "lightgbm" | "trees" | "boosting" => Algorithm::Gbdt,
            "linear" | "logistic" | "glm" | "elasticnet" => Algorithm::Linear,
            "kmeans" | "k-means" => Algorithm::KMeans,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Gbdt => "gbdt",
            Algorithm::Linear => "linear",
            Algorithm::KMeans => "kmeans",
        }
    }
}

/// Everything `fit` needs besides the data.
#[derive(Debug, Clone)]
pub struct FitSpec {
    pub task: Task,
    pub algorithm: Algorithm,
    /// Label column; required for every task but clustering.
    pub target: Option<String>,
    /// Algorithm parameters (LightGBM names for gbdt).
    pub params: ParamMap,
    /// Feature columns; `None` = all columns except target and `exclude`.
    pub features: Option<Vec<String>>,
    pub exclude: Vec<String>,
    /// Numeric columns to treat as categorical.
    pub categorical: Vec<String>,
    pub max_categories: usize,
}

impl FitSpec {
    pub fn new(task: Task, target: Option<&str>) -> FitSpec {
        FitSpec {
            task,
            algorithm: if task == Task::Clustering {
                Algorithm::KMeans
            } else {
                Algorithm::Gbdt
            },
            target: target.map(str::to_string),
            params: ParamMap::new(),
            features: None,
            exclude: Vec::new(),
            categorical: Vec::new(),
            max_categories: 256,
        }
    }

    pub fn with_algorithm(mut self, a: Algorithm) -> Self {
        self.algorithm = a;
        self
    }

    pub fn with_param(mut self, k: &str, v: &str) -> Self {
        self.params.insert(k.to_string(), v.to_string());
        self
    }

    /// Sets the linear model's `categorical_encoding` parameter (the same
    /// as `--param categorical_encoding=…`).
    pub fn with_categorical_encoding(self, e: CategoricalEncoding) -> Self {
        self.with_param("categorical_encoding", e.name())
    }

    /// The categorical encoding the linear pipeline will use, from the
    /// `categorical_encoding` parameter (default one-hot). Errors name the
    /// parameter when it is given to a learner that does not take it (trees
    /// split categories natively; k-means measures distances on one-hot),
    /// or when target encoding meets a multiclass label.
    pub fn categorical_encoding(&self) -> Result<CategoricalEncoding> {
        let given = categorical_encoding_param(&self.params);
        if self.algorithm != Algorithm::Linear {
            return match given {
                None => Ok(CategoricalEncoding::OneHot),
                Some((k, v)) => Err(MlError::invalid_param(
                    k,
                    v,
                    format!(
                        "only the linear algorithm takes a categorical encoding; {} {}",
                        self.algorithm.name(),
                        if self.algorithm == Algorithm::Gbdt {
                            "uses native categorical splits"
                        } else {
                            "always one-hot encodes categories"
                        }
                    ),
                )),
            };
        }
        let enc = LinearParams::from_map(&self.params)?.categorical_encoding;
        if enc == CategoricalEncoding::Target && self.task == Task::Multiclass {
            let (k, v) = given.unwrap_or(("categorical_encoding", "target"));
            return Err(MlError::invalid_param(
                k,
                v,
                "target encoding is not defined for a multiclass label; use onehot or ordinal",
            ));
        }
        Ok(enc)
    }

    pub(crate) fn pipeline_options(&self) -> Result<PipelineOptions> {
        Ok(self.pipeline_options_with(self.categorical_encoding()?))
    }

    /// Pipeline options with the encoding already resolved (tuning trials
    /// resolve it from their own parameters).
    pub(crate) fn pipeline_options_with(&self, enc: CategoricalEncoding) -> PipelineOptions {
        PipelineOptions {
            mode: if self.algorithm == Algorithm::Gbdt {
                PipelineMode::Tree
            } else {
                PipelineMode::Linear
            },
            features: self.features.clone(),
            exclude: self.exclude.clone(),
            categorical: self.categorical.clone(),
            max_categories: self.max_categories,
            categorical_encoding: enc,
        }
    }

    fn target_name(&self) -> Result<&str> {
        match (&self.target, self.task) {
            (Some(t), _) => Ok(t),
            (None, Task::Clustering) => Ok(""),
            (None, t) => Err(MlError::InvalidInput(format!(
                "a target column is required for the {} task (pass --target)",
                t.name()
            ))),
        }
    }

    /// GBDT parameters with the objective/num_class implied by the task.
    pub(crate) fn gbdt_params(&self, n_classes: usize) -> Result<GbdtParams> {
        let default_obj = match self.task {
            Task::Binary => Objective::Binary,
            Task::Multiclass => Objective::Multiclass,
            _ => Objective::Regression,
        };
        let mut p = GbdtParams::from_map(&self.params, default_obj)?;
        let ok = match self.task {
            Task::Binary => p.objective == Objective::Binary,
            Task::Multiclass => p.objective == Objective::Multiclass,
            _ => !matches!(p.objective, Objective::Binary | Objective::Multiclass),
        };
        if !ok {
            return Err(MlError::invalid_param(
                "objective",
                p.objective.name(),
                format!("does not match the {} task", self.task.name()),
            ));
        }
        if self.task == Task::Multiclass {
            if self
                .params
                .keys()
                .any(|k| k == "num_class" || k == "num_classes")
                && p.num_class != n_classes
            {
                return Err(MlError::invalid_param(
                    "num_class",
                    p.num_class.to_string(),
                    format!("the target has {n_classes} classes"),
                ));
            }
            p.num_class = n_classes;
        }
        Ok(p)
    }
}

/// Descriptive data stored with the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    pub task: Task,
    pub algorithm: Algorithm,
    pub target: Option<String>,
    /// Class labels in index order (classification only).
    pub classes: Vec<String>,
    pub input_columns: Vec<String>,
    pub feature_names: Vec<String>,
    pub params: ParamMap,
    pub train_rows: usize,
    pub lakeforge_version: String,
    /// Final validation metric (name, value) when a validation set was given.
    pub valid_metric: Option<(String, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    Gbdt(Box<GbdtModel>),
    Linear(LinearModel),
    KMeans(KMeansModel),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub meta: ModelMeta,
    pub pipeline: FeaturePipeline,
    pub estimator: Estimator,
}

/// Metrics of a model on labelled data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub rows: usize,
    pub metrics: Vec<(String, f64)>,
    /// Class labels and `k × k` counts (rows = true, columns = predicted).
    pub confusion: Option<(Vec<String>, Vec<Vec<usize>>)>,
}

impl EvalReport {
    pub fn get(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }
}

/// Encoded labels plus the class list (empty for regression / clustering).
pub(crate) fn encode_target(
    batches: &[RecordBatch],
    task: Task,
    target: &str,
    classes: Option<&[String]>,
) -> Result<(Vec<f64>, Vec<String>)> {
    match task {
        Task::Clustering => Ok((Vec::new(), Vec::new())),
        Task::Regression => Ok((target::values(batches, target)?, Vec::new())),
        Task::Binary | Task::Multiclass => {
            let labels = target::label_strings(batches, target)?;
            let classes = match classes {
                Some(c) => c.to_vec(),
                None => target::learn_classes(&labels),
            };
            if classes.len() < 2 {
                return Err(MlError::InvalidTarget {
                    column: target.to_string(),
                    reason: format!("needs at least 2 distinct values, found {}", classes.len()),
                });
            }
            if task == Task::Binary && classes.len() != 2 {
                return Err(MlError::InvalidTarget {
                    column: target.to_string(),
                    reason: format!(
                        "binary task needs exactly 2 distinct values, found {} ({}); use --task multiclass",
                        classes.len(),
                        classes
                            .iter()
                            .take(10)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            let y = target::encode_classes(&labels, &classes, target)?;
            Ok((y, classes))
        }
    }
}

/// Trains a model on `train`, using `valid` (if given) for early stopping and
/// the reported validation metric. Rows are used in the order given (the parts
/// [`split_batches`](crate::split_batches) returns are in canonical order; for
/// rows from elsewhere, [`canonical_order`](crate::canonical::canonical_order)
/// makes the model independent of how they were stored).
pub fn fit(train: &[RecordBatch], valid: Option<&[RecordBatch]>, spec: &FitSpec) -> Result<Model> {
    let target = spec.target_name()?;
    let n_rows: usize = train.iter().map(|b| b.num_rows()).sum();
    if n_rows == 0 {
        return Err(MlError::EmptyData("the training input has no rows".into()));
    }
    let (y, classes) = encode_target(train, spec.task, target, None)?;
    let tgt = (!target.is_empty()).then_some(target);
    let (pipeline, data) =
        FeaturePipeline::fit_with_labels(train, tgt, &spec.pipeline_options()?, &y)?;
    let valid_data = match valid {
        Some(v) => {
            let (vy, _) = encode_target(v, spec.task, target, Some(&classes))?;
            Some((pipeline.transform(v)?, vy))
        }
        None => None,
    };
    let (estimator, valid_metric) =
        fit_estimator(spec, &data, &y, classes.len(), valid_data.as_ref(), target)?;
    Ok(Model {
        meta: ModelMeta {
            task: spec.task,
            algorithm: spec.algorithm,
            target: spec.target.clone(),
            classes,
            input_columns: pipeline.input_columns(),
            feature_names: data.names().to_vec(),
            params: spec.params.clone(),
            train_rows: n_rows,
            lakeforge_version: env!("CARGO_PKG_VERSION").to_string(),
            valid_metric,
        },
        pipeline,
        estimator,
    })
}

/// Trains the estimator on an already-transformed dataset (shared by `fit`,
/// cross-validation and tuning).
pub(crate) fn fit_estimator(
    spec: &FitSpec,
    data: &Dataset,
    y: &[f64],
    n_classes: usize,
    valid: Option<&(Dataset, Vec<f64>)>,
    target: &str,
) -> Result<(Estimator, Option<(String, f64)>)> {
    match (spec.algorithm, spec.task) {
        (Algorithm::Gbdt, Task::Clustering) | (Algorithm::Linear, Task::Clustering) => {
            Err(MlError::UnsupportedTask {
                task: "clustering".into(),
                algorithm: spec.algorithm.name(),
            })
        }
        (Algorithm::KMeans, Task::Clustering) => {
            let p = KMeansParams::from_map(&spec.params)?;
            Ok((Estimator::KMeans(KMeansModel::fit(data, &p)?), None))
        }
        (Algorithm::KMeans, t) => Err(MlError::UnsupportedTask {
            task: t.name().into(),
            algorithm: "kmeans",
        }),
        (Algorithm::Gbdt, _) => {
            let p = spec.gbdt_params(n_classes)?;
            let out = gbdt::train(data, y, &p, valid.map(|(d, v)| (d, v.as_slice())), target)?;
            let vm = out
                .model
                .best_iteration
                .and_then(|b| out.valid_scores.get(b - 1))
                .or(out.valid_scores.last())
                .map(|&s| (p.metric().name().to_string(), s));
            Ok((Estimator::Gbdt(Box::new(out.model)), vm))
        }
        (Algorithm::Linear, task) => {
            let p = LinearParams::from_map(&spec.params)?;
            let m = match task {
                Task::Regression => LinearModel::fit_regression(data, y, &p)?,
                _ => LinearModel::fit_logistic(data, y, n_classes, &p)?,
            };
            Ok((Estimator::Linear(m), None))
        }
    }
}

impl Estimator {
    /// Predictions on a transformed dataset, row-major `n × k`.
    pub fn predict(&self, data: &Dataset) -> Vec<f64> {
        match self {
            Estimator::Gbdt(m) => m.predict(data),
            Estimator::Linear(m) => m.predict(data),
            Estimator::KMeans(m) => m.predict(data),
        }
    }
}

impl Model {
    /// Number of prediction columns.
    pub fn num_outputs(&self) -> usize {
        match self.meta.task {
            Task::Multiclass => self.meta.classes.len(),
            _ => 1,
        }
    }

    /// Names of the prediction columns.
    pub fn output_columns(&self) -> Vec<String> {
        match self.meta.task {
            Task::Multiclass => self
                .meta
                .classes
                .iter()
                .map(|c| format!("prob_{c}"))
                .collect(),
            Task::Clustering => vec!["cluster".into()],
            _ => vec!["prediction".into()],
        }
    }

    /// Row-major predictions (`n × num_outputs`) for the batches.
    pub fn predict_values(&self, batches: &[RecordBatch]) -> Result<Vec<f64>> {
        let data = self.pipeline.transform(batches)?;
        Ok(self.estimator.predict(&data))
    }

    /// Predicts a single row given as `values` in
    /// [`FeaturePipeline::input_columns`] order (see
    /// [`FeatureValue`](crate::FeatureValue)): the low-latency path for
    /// serving one row at a time. It applies the same fitted pipeline and
    /// returns the same `num_outputs()` values, bit for bit, as
    /// [`Model::predict_values`] on a one-row batch with those values, without
    /// building arrow arrays (GBDT models predict without allocating beyond
    /// the feature and output vectors).
    pub fn predict_row(&self, values: &[crate::FeatureValue<'_>]) -> Result<Vec<f64>> {
        let mut x = Vec::with_capacity(self.meta.feature_names.len());
        self.pipeline.transform_row(values, &mut x)?;
        self.predict_features(&x)
    }

    /// Predicts one row of already-transformed features (the output of
    /// [`FeaturePipeline::transform_row`], `meta.feature_names` order).
    pub fn predict_features(&self, x: &[f64]) -> Result<Vec<f64>> {
        let expected = self.meta.feature_names.len();
        if x.len() != expected {
            return Err(MlError::InvalidInput(format!(
                "expected {expected} features, got {}",
                x.len()
            )));
        }
        Ok(match &self.estimator {
            Estimator::Gbdt(m) => {
                let mut out = vec![0.0; m.num_tree_per_iteration.max(1)];
                m.predict_row(x, &mut out);
                out
            }
            other => {
                let data = Dataset::from_columns(
                    1,
                    self.meta.feature_names.clone(),
                    vec![crate::FeatureKind::Numeric; expected],
                    x.iter().map(|&v| vec![v]).collect(),
                );
                other.predict(&data)
            }
        })
    }

    /// Predicts one batch: one Float64 array per output column
    /// (P(positive class) for binary, class probabilities for multiclass).
    pub fn predict_arrays(&self, batch: &RecordBatch) -> Result<Vec<Float64Array>> {
        let k = self.num_outputs();
        let flat = self.predict_values(std::slice::from_ref(batch))?;
        Ok((0..k)
            .map(|c| {
                Float64Array::from(flat.iter().skip(c).step_by(k).copied().collect::<Vec<_>>())
            })
            .collect())
    }

    /// Predicts one batch into a RecordBatch of the prediction columns.
    pub fn predict(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let arrays = self.predict_arrays(batch)?;
        let fields: Vec<Field> = self
            .output_columns()
            .into_iter()
            .map(|n| Field::new(n, DataType::Float64, false))
            .collect();
        let cols: Vec<ArrayRef> = arrays
            .into_iter()
            .map(|a| Arc::new(a) as ArrayRef)
            .collect();
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
    }

    /// Predicts many batches (e.g. a whole file) in parallel; output batch `i`
    /// holds the predictions for input batch `i`.
    pub fn predict_batches(&self, batches: &[RecordBatch]) -> Result<Vec<RecordBatch>> {
        use rayon::prelude::*;
        batches.par_iter().map(|b| self.predict(b)).collect()
    }

    /// Encoded labels (class index or value) and row-major predictions on labelled batches:
    /// what ROC/PR curves and residual plots are drawn from.
    pub fn scored_labels(&self, batches: &[RecordBatch]) -> Result<(Vec<f64>, Vec<f64>)> {
        let target = self.meta.target.clone().unwrap_or_default();
        let pred = self.predict_values(batches)?;
        let (y, _) = encode_target(batches, self.meta.task, &target, Some(&self.meta.classes))?;
        Ok((y, pred))
    }

    /// Computes task-appropriate metrics on labelled batches.
    pub fn evaluate(&self, batches: &[RecordBatch]) -> Result<EvalReport> {
        let target = self.meta.target.clone().unwrap_or_default();
        let data = self.pipeline.transform(batches)?;
        let pred = self.estimator.predict(&data);
        let (y, _) = encode_target(batches, self.meta.task, &target, Some(&self.meta.classes))?;
        let k = self.num_outputs();
        let mut m: Vec<(String, f64)> = Vec::new();
        let mut confusion = None;
        match self.meta.task {
            Task::Binary => {
                let c = BinaryConfusion::new(&y, &pred, 0.5);
                m.push(("auc".into(), metrics::auc(&y, &pred)));
                m.push(("pr_auc".into(), metrics::average_precision(&y, &pred)));
                m.push(("logloss".into(), metrics::log_loss(&y, &pred)));
                m.push(("accuracy".into(), c.accuracy()));
                m.push(("precision".into(), c.precision()));
                m.push(("recall".into(), c.recall()));
                m.push(("f1".into(), c.f1()));
                confusion = Some((
                    self.meta.classes.clone(),
                    vec![vec![c.tn, c.fp], vec![c.fn_, c.tp]],
                ));
            }
            Task::Multiclass => {
                m.push((
                    "accuracy".into(),
                    metrics::multiclass_accuracy(&y, &pred, k),
                ));
                m.push(("logloss".into(), metrics::multiclass_log_loss(&y, &pred, k)));
                confusion = Some((
                    self.meta.classes.clone(),
                    metrics::confusion_matrix(&y, &pred, k),
                ));
            }
            Task::Regression => {
                m.push(("rmse".into(), metrics::rmse(&y, &pred)));
                m.push(("mae".into(), metrics::mae(&y, &pred)));
                m.push(("r2".into(), metrics::r2(&y, &pred)));
                m.push(("mape".into(), metrics::mape(&y, &pred)));
            }
            Task::Clustering => {
                if let Estimator::KMeans(km) = &self.estimator {
                    let inertia: f64 = (0..data.n_rows())
                        .map(|i| {
                            let c = &km.centroids[pred[i] as usize];
                            (0..data.n_features())
                                .map(|j| (data.value(i, j) - c[j]).powi(2))
                                .sum::<f64>()
                        })
                        .sum();
                    m.push(("inertia".into(), inertia));
                    m.push((
                        "mean_sq_distance".into(),
                        inertia / data.n_rows().max(1) as f64,
                    ));
                }
            }
        }
        Ok(EvalReport {
            rows: data.n_rows(),
            metrics: m,
            confusion,
        })
    }

    /// Feature importance (GBDT: split count or gain; linear: |coefficient|
    /// summed over outputs), paired with the feature names.
    pub fn feature_importance(&self, kind: ImportanceType) -> Vec<(String, f64)> {
        let values = match &self.estimator {
            Estimator::Gbdt(m) => m.feature_importance(kind),
            Estimator::Linear(m) => (0..self.meta.feature_names.len())
                .map(|j| m.coef.iter().map(|c| c[j].abs()).sum())
                .collect(),
            Estimator::KMeans(_) => vec![0.0; self.meta.feature_names.len()],
        };
        self.meta
            .feature_names
            .iter()
            .cloned()
            .zip(values)
            .collect()
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        model_file::to_bytes(self)
    }

    /// A model from the bytes of a model file (checked: see [`Model::from_file_bytes`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Model> {
        Self::from_file_bytes(bytes, "<memory>")
    }

    /// A model from the bytes of the model file at `path` (named in errors). Never panics,
    /// whatever the bytes: a truncated, corrupt or inconsistent file is an error saying what
    /// is wrong, and a model returned is safe to predict with.
    pub fn from_file_bytes(bytes: &[u8], path: &str) -> Result<Model> {
        let model: Model = model_file::from_bytes(bytes, path)?;
        model.check(path)?;
        Ok(model)
    }

    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        model_file::save(self, path.as_ref())
    }

    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        let path = path.as_ref();
        Self::from_file_bytes(&model_file::read(path)?, &path.display().to_string())
    }
}
