//! `lakeforge-engine` runs SQL against the lake: a DataFusion session whose catalog is the lake
//! of Delta tables. It is the stage after `lakeforge-project` has compiled a node, and before
//! `lakeforge-runner` records what happened. Its folders follow a node's data:
//!
//! ```text
//!  sources/ ──► session/ ──► write/ ──► lake/ ──► checks/ ──► export/
//!  (database    (Engine:     (tables,    (Delta      (data and   (files, objects,
//!   tables,      the SQL      views,      tables,     unit        PostgreSQL,
//!   files)       session)     seeds...)   catalog)    tests)      MySQL)
//! ```
//!
//! Beside the flow: `lineage` reads column-level lineage from the plans of the session's SQL
//! and traces it across a project; `predict` scores models in SQL and reads relations for
//! training; `jinja_adapter` is dbt's adapter (queries, DDL/DML, relation metadata) for macros
//! and hooks.

pub mod checks;
pub mod error;
pub mod export;
pub mod jinja_adapter;
pub mod lake;
pub mod lineage;
pub mod predict;
pub mod session;
mod sources;
pub mod write;

// The paths the runner calls by, from before the folders existed.
pub use checks::{data_test as test, duplicates};
pub use write::quarantine;

pub use checks::data_test::{TestOutcome, run_test};
pub use checks::unit_test::{UnitTestOutcome, run_unit_test};
pub use error::{EngineError, Result};
pub use jinja_adapter::EngineAdapter;
pub use lake::{Lake, StoredKind};
pub use lineage::{
    ColumnDependency, ColumnLineage, DependencyKind, QueryLineage, plan_lineage, query_lineage,
};
pub use predict::{LoadedModel, RelationData, ScoringModels, read_relation};
pub use session::Engine;
pub use write::materialize::{WriteOutcome, materialize};
pub use write::seed::load_seed;
