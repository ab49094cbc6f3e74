//! The runner's error type. A node's error becomes its result's message (`to_string`), so
//! each variant's text is what users see in the node's line and in run_results.json; errors
//! of the run itself (the store, target/ files) end the run and reach the CLI.

use std::sync::Arc;

use lakeforge_engine::EngineError;

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Project(#[from] lakeforge_project::ProjectError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Meta(#[from] lakeforge_meta::MetaError),
    #[error("Failed to write {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The one scan that counted a batch of row-level tests failed; every test of the batch
    /// reports it, so the cause is shared.
    #[error(transparent)]
    TestBatch(Arc<EngineError>),
    #[error(
        "{path}: config `predict_alias` must be an alias name or a version number, not {value}"
    )]
    PredictAlias { path: String, value: String },
    /// Loading the ML models a SQL statement scores with.
    #[error("{path}: {source}")]
    Scoring {
        path: String,
        #[source]
        source: Box<crate::train::TrainError>,
    },
    /// Training an ML model node (the error names the model's file).
    #[error(transparent)]
    Train(Box<crate::train::TrainError>),
    /// A model's `export:` config is malformed (the engine reports it as text).
    #[error("{path}: `export:` {message}")]
    ExportConfig { path: String, message: String },
    /// An export failed after the model's own Delta commit, which stays.
    #[error("{source}\n(the table {relation} itself was committed{})", committed_version(.version))]
    Export {
        relation: String,
        version: Option<i64>,
        #[source]
        source: Box<EngineError>,
    },
    /// A rule the runner's own code keeps was found broken: a bug in Lakeforge, not in the
    /// project.
    #[error(
        "internal error: {0}\nhint: this is a bug in Lakeforge, not in your project; please report it with the command you ran"
    )]
    Bug(String),
    /// A model's pre- or post-hook failed; the note says whether the model's write happened.
    #[error("{source}\n{}", hook_note(.post))]
    Hook {
        post: bool,
        #[source]
        source: Box<RunnerError>,
    },
}

pub type Result<T, E = RunnerError> = std::result::Result<T, E>;

/// Boxed in `RunnerError`, which every node's `Result` carries, to keep that small.
impl From<crate::train::TrainError> for RunnerError {
    fn from(e: crate::train::TrainError) -> Self {
        RunnerError::Train(Box::new(e))
    }
}

fn committed_version(version: &Option<i64>) -> String {
    version
        .map(|v| format!(", version {v}"))
        .unwrap_or_default()
}

fn hook_note(post: &bool) -> &'static str {
    if *post {
        "(the model's own write was committed before its post-hooks ran)"
    } else {
        "(nothing was written for the model)"
    }
}
