//! Engine errors. Variants say whose fault it is, as DataFusion's do: the user's SQL or data
//! (`Sql`, `Seed`, `Schema`), the lake on disk (`Lake`, `Delta`), or a bug (`Internal`).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The SQL of a node or of `lakeforge sql` failed to plan or run.
    #[error("{context}: {message}")]
    Sql { context: String, message: String },

    /// A seed CSV could not be read as a table (its message names the file, line and column).
    #[error("{0}")]
    Seed(#[from] lakeforge_seed::SeedError),

    /// New data does not fit the existing table under the model's on_schema_change policy.
    #[error("{relation}: {message}")]
    Schema { relation: String, message: String },

    #[error("Failed to access the lake at {path}: {source}")]
    Lake {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The lake in object storage could not be read or written.
    #[error("Failed to access the lake at {location}: {message}")]
    LakeStore { location: String, message: String },

    #[error("Delta table {relation}: {message}")]
    Delta { relation: String, message: String },

    /// Another run committed to the table while this one was writing it, and redoing the
    /// write could lose what that run wrote (or a full overwrite lost every attempt).
    #[error(
        "{relation}: another run wrote this table while this one was writing it, so this write was not committed{}\nhint: re-run this command; do not run two builds of one project at the same time (a scheduler and a manual run included)",
        if *attempts > 1 { format!(" (tried {attempts} times)") } else { String::new() }
    )]
    ConcurrentWrite {
        relation: String,
        attempts: u32,
        #[source]
        source: Box<deltalake::DeltaTableError>,
    },

    #[error("internal error (a bug in Lakeforge, please report it): {0}")]
    Internal(String),
}

impl EngineError {
    pub(crate) fn sql(context: impl Into<String>, err: impl std::fmt::Display) -> Self {
        EngineError::Sql {
            context: context.into(),
            // Object-storage errors may quote a request; never its credentials.
            message: crate::storage::redact(&clean_datafusion_message(&err.to_string())),
        }
    }

    pub(crate) fn delta(relation: impl std::fmt::Display, err: impl std::fmt::Display) -> Self {
        EngineError::Delta {
            relation: relation.to_string(),
            message: err.to_string(),
        }
    }
}

/// DataFusion prefixes messages with the layer that raised them ("Error during planning: ...");
/// users care about the message, so keep only the last layer's words.
pub(crate) fn clean_datafusion_message(s: &str) -> String {
    let mut s = s.trim();
    for prefix in [
        "External error: ",
        "DataFusion error: ",
        "Error during planning: ",
        "Schema error: ",
        "SQL error: ",
        "Arrow error: ",
        "Execution error: ",
    ] {
        while let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
        }
    }
    s.to_string()
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
