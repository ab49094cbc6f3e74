//! Error type shared by every stage of the ML flow (data loading, pipeline
//! fitting, training, model files). Messages name the parameter, column or file
//! at fault and say what to do, because they surface directly in the CLI.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = MlError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum MlError {
    #[error("unknown parameter '{key}' for {algorithm}; valid parameters: {valid}")]
    UnknownParam {
        key: String,
        algorithm: &'static str,
        valid: String,
    },

    #[error("invalid value '{value}' for parameter '{key}': {reason}")]
    InvalidParam {
        key: String,
        value: String,
        reason: String,
    },

    #[error(
        "feature column '{column}' is missing from the input; the model was trained with columns [{expected}]"
    )]
    MissingColumn { column: String, expected: String },

    #[error("target column '{column}' not found in the input; available columns: [{available}]")]
    MissingTarget { column: String, available: String },

    #[error(
        "column '{column}' has unsupported type {data_type}; cast it to a number, boolean, string, date or timestamp"
    )]
    UnsupportedColumnType { column: String, data_type: String },

    #[error("column '{column}' has type {found} but the model was trained with {expected}")]
    ColumnTypeMismatch {
        column: String,
        expected: String,
        found: String,
    },

    #[error("target column '{column}': {reason}")]
    InvalidTarget { column: String, reason: String },

    #[error(
        "feature column '{feature}' has {bins} bins; at most 65,536 are supported: group its rarest categories, or leave it out"
    )]
    TooManyBins { feature: String, bins: usize },

    #[error("no training rows: {0}")]
    EmptyData(String),

    #[error(
        "no feature columns left after excluding the target '{0}'; add at least one input column"
    )]
    NoFeatures(String),

    #[error("{0}")]
    InvalidInput(String),

    #[error(
        "'{path}' is not a Lakeforge model file (bad magic bytes); expected a file written by `lakeforge ml fit`"
    )]
    NotAModelFile { path: String },

    #[error(
        "model file '{path}' has format version {found}, but this build reads version {expected}; re-train the model or use a matching lakeforge version"
    )]
    UnsupportedVersion {
        path: String,
        found: u32,
        expected: u32,
    },

    #[error("model file '{path}' is corrupt: {reason}; re-create it with `lakeforge ml fit`")]
    CorruptModel { path: String, reason: String },

    #[error(
        "model file '{path}' is truncated ({len} bytes, need {needed}); re-copy or re-train it"
    )]
    TruncatedModel {
        path: String,
        len: usize,
        needed: usize,
    },

    #[error("I/O error on '{path}': {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),

    #[error("{task} is not supported by the {algorithm} algorithm")]
    UnsupportedTask {
        task: String,
        algorithm: &'static str,
    },

    /// A model file of another framework this build cannot import exactly.
    #[error("cannot import {format} model '{source_name}': {reason}")]
    Import {
        source_name: String,
        format: &'static str,
        reason: String,
    },

    #[error("could not build a thread pool with num_threads={threads}: {reason}")]
    ThreadPool { threads: usize, reason: String },
}

impl MlError {
    pub(crate) fn invalid_param(
        key: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        MlError::InvalidParam {
            key: key.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }

    /// A model file that decodes but is not what it claims to be; `path` is only named.
    pub(crate) fn corrupt_model(path: &str, reason: impl Into<String>) -> Self {
        MlError::CorruptModel {
            path: path.to_string(),
            reason: reason.into(),
        }
    }
}
