//! `lakeforge-engine` runs SQL against the lake: a DataFusion session whose catalog is the lake
//! of Delta tables, the materializations that write models into it, seeds, and data tests. It
//! is the stage after `lakeforge-project` has compiled a node, and before `lakeforge-runner`
//! records what happened. `lineage` reads column-level lineage from the plans of its SQL;
//! `jinja_adapter` is dbt's adapter (queries, DDL/DML, relation metadata) for macros and hooks.

pub mod catalog;
mod conflict;
pub mod contract;
mod database;
pub mod drift;
pub mod duplicates;
pub mod error;
pub mod export;
mod export_mysql;
mod external;
pub mod jinja_adapter;
pub mod lake;
pub mod lineage;
pub mod materialize;
pub mod normalize;
mod passthrough;
pub mod predict;
pub mod quarantine;
pub mod read;
pub mod seed;
pub mod session;
pub mod snapshot;
mod source_exec;
mod sql_functions;
pub mod storage;
pub mod test;
pub mod unit_test;

pub use error::{EngineError, Result};
pub use jinja_adapter::EngineAdapter;
pub use lake::{Lake, StoredKind};
pub use lineage::{
    ColumnDependency, ColumnLineage, DependencyKind, QueryLineage, plan_lineage, query_lineage,
};
pub use materialize::{WriteOutcome, materialize};
pub use predict::{LoadedModel, ScoringModels};
pub use read::{RelationData, read_relation};
pub use seed::load_seed;
pub use session::Engine;
pub use test::{TestOutcome, run_test};
pub use unit_test::{UnitTestOutcome, run_unit_test};
