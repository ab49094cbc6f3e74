//! Models trained elsewhere, read into native [`Model`]s: a LightGBM text model file
//! (`lightgbm.rs`) or an XGBoost JSON model (`xgboost.rs`) becomes the same trees, pipeline and output transform a model fitted here
//! has, so it predicts through the same code (the flattened forest, the serving path, SQL
//! `predict()`), computing what its framework computes (each file says how close: LightGBM's
//! arithmetic is the same, XGBoost sums in 32-bit floats).
//!
//! An import is exact or refused: a part of the file with no native equivalent (an objective
//! such as `lambdarank`, linear trees, a missing-value rule the native split cannot express)
//! is an [`MlError::Import`] naming it, never an approximation.

mod lightgbm;
mod xgboost;

pub use lightgbm::read_lightgbm;
pub use xgboost::read_xgboost;

use crate::error::{MlError, Result};
use crate::gbdt::GbdtModel;
use crate::model::{Algorithm, Estimator, Model, ModelMeta, Task};
use crate::params::{GbdtParams, Objective, ParamMap};
use crate::pipeline::{CategoricalEncoding, ColumnTransform, FeaturePipeline, PipelineMode};
use crate::tree::Tree;

/// An import error about `source` (the file's name, for the message).
pub(crate) fn refused(source: &str, format: &'static str, reason: impl Into<String>) -> MlError {
    MlError::Import {
        source_name: source.to_string(),
        format,
        reason: reason.into(),
    }
}

/// What an importer read, before it is a model: the one place a native GBDT model is put
/// together from another framework's parts.
pub(crate) struct ImportedGbdt {
    /// `lightgbm` or `xgboost`, recorded in the model's parameters.
    pub framework: &'static str,
    /// The objective as the file states it, recorded beside the native one.
    pub objective_text: String,
    pub task: Task,
    pub objective: Objective,
    /// One per input column, in the model's feature order.
    pub columns: Vec<ColumnTransform>,
    /// Round-major, `per_round` trees per round.
    pub trees: Vec<Tree>,
    pub per_round: usize,
    pub init_scores: Vec<f64>,
}

impl ImportedGbdt {
    /// The native model, checked as a loaded model file is (children in range, no cycles,
    /// features the pipeline makes), so a hand-edited file is refused here, not at predict
    /// time; `source` names the file in that error.
    pub(crate) fn into_model(self, source: &str) -> Result<Model> {
        let names: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
        let k = self.per_round.max(1);
        let mut recorded = ParamMap::new();
        recorded.insert("imported_from".into(), self.framework.into());
        recorded.insert("objective".into(), self.objective_text);
        let model = Model {
            meta: ModelMeta {
                task: self.task,
                algorithm: Algorithm::Gbdt,
                target: None,
                classes: match self.task {
                    Task::Binary => vec!["0".into(), "1".into()],
                    Task::Multiclass => (0..k).map(|c| c.to_string()).collect(),
                    _ => Vec::new(),
                },
                input_columns: names.clone(),
                feature_names: names.clone(),
                params: recorded,
                train_rows: 0,
                lakeforge_version: env!("CARGO_PKG_VERSION").to_string(),
                valid_metric: None,
            },
            pipeline: FeaturePipeline {
                mode: PipelineMode::Tree,
                columns: self.columns,
                categorical_encoding: CategoricalEncoding::OneHot,
            },
            estimator: Estimator::Gbdt(Box::new(GbdtModel {
                params: GbdtParams {
                    objective: self.objective,
                    num_class: k,
                    num_iterations: self.trees.len() / k,
                    ..GbdtParams::default()
                },
                num_tree_per_iteration: k,
                init_scores: self.init_scores,
                trees: self.trees,
                best_iteration: None,
                num_features: names.len(),
                forest: Default::default(),
            })),
        };
        model.check(source)?;
        Ok(model)
    }
}
