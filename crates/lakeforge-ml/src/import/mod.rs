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

use crate::error::MlError;

/// An import error about `source` (the file's name, for the message).
pub(crate) fn refused(source: &str, format: &'static str, reason: impl Into<String>) -> MlError {
    MlError::Import {
        source_name: source.to_string(),
        format,
        reason: reason.into(),
    }
}
