//! Lakeforge's native ML engine: LightGBM-style gradient-boosted trees,
//! elastic-net linear/logistic regression and k-means, trained directly on
//! arrow RecordBatches.
//!
//! Flow: [`FeaturePipeline`] (arrow → dense [`Dataset`]) → learner
//! ([`gbdt`], [`linear`], [`kmeans`]) → [`Model`] (pipeline + estimator +
//! metadata) → [`model_file`] (versioned, checksummed) → prediction on
//! RecordBatches / [`metrics`] → [`report`] (its data, with curves from
//! [`curves`]; the `lakeforge-report` crate draws it as one standalone HTML
//! page). [`split`] and [`tuning`] build on `fit`; [`split`]
//! first puts the rows in [`canonical`] order, so training depends on the rows,
//! not on the order they were stored in.
//!
//! ```no_run
//! # use lakeforge_ml::*;
//! # fn demo(train: Vec<arrow::record_batch::RecordBatch>, test: arrow::record_batch::RecordBatch) -> Result<()> {
//! let spec = FitSpec::new(Task::Binary, Some("label")).with_param("num_leaves", "31");
//! let model = fit(&train, None, &spec)?;
//! model.save("model.lfm")?;
//! let model = Model::load("model.lfm")?;
//! let preds = model.predict(&test)?;          // RecordBatch with a "prediction" column
//! let one = model.predict_row(&[FeatureValue::Float(0.5), FeatureValue::Str("red")])?; // one row, no arrow
//! let report = model.evaluate(&[test])?;      // auc, logloss, accuracy, ...
//! # Ok(()) }
//! ```

pub mod binning;
pub mod canonical;
pub mod curves;
pub mod dataset;
pub mod error;
pub mod export;
pub mod gbdt;
pub mod import;
pub mod kmeans;
pub mod linear;
pub mod metrics;
pub mod model;
mod model_check;
pub mod model_file;
pub mod objective;
pub mod params;
pub mod pipeline;
pub mod report;
pub mod rng;
pub mod split;
pub mod target;
pub mod tree;
pub mod tuning;

pub use dataset::{Dataset, FeatureKind};
pub use error::{MlError, Result};
pub use gbdt::{GbdtModel, ImportanceType};
pub use model::{Algorithm, Estimator, EvalReport, FitSpec, Model, ModelMeta, Task, fit};
pub use params::{GbdtParams, Metric, Objective, ParamMap, parse_param_pairs};
pub use pipeline::{
    CategoricalEncoding, FeaturePipeline, FeatureValue, PipelineMode, PipelineOptions,
};
pub use report::{Curve, ReportData, ReportOptions, ResidualData};
pub use split::{SplitStrategy, cross_validate, split_batches};
pub use tuning::{ParamRange, SearchSpace, Trial, TuneOptions, TuneResult, TuneStrategy, tune};
