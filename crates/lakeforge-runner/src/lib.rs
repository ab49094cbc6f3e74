//! `lakeforge-runner` executes a project's graph: it picks the selected nodes, orders them by
//! their dependencies, runs them on the engine with bounded parallelism, skips what sits
//! downstream of a failure, and records every result (run_results.json, manifest.json and the
//! metadata store). It is the stage that turns a typed graph into a built lake.

mod execute;
mod files;
pub mod hooks;
pub mod openlineage;
mod plan;
mod results;
mod state;
pub mod train;

pub use execute::{Reporter, RunOptions, run, run_until};
pub use hooks::HookResult;
pub use plan::Command;
pub use results::{NodeResult, NodeStatus, RunSummary};

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Project(#[from] lakeforge_project::ProjectError),
    #[error(transparent)]
    Engine(#[from] lakeforge_engine::EngineError),
    #[error(transparent)]
    Meta(#[from] lakeforge_meta::MetaError),
    #[error("Failed to write {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = RunnerError> = std::result::Result<T, E>;
