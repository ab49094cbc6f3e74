//! `lakeforge-project` reads a dbt-format project folder into a typed graph of nodes: the first
//! stage of Lakeforge's flow, before anything touches data. It knows dbt_project.yml,
//! properties YAML, profiles.yml, lakeforge.yml, Jinja (via minijinja) and node selection; it
//! knows nothing of DataFusion or Delta, which belong to `lakeforge-engine`.

pub mod adapter;
pub mod compile;
pub mod config;
pub mod database;
pub mod error;
pub mod error_text;
pub mod external;
mod generic_tests;
pub mod graph;
pub mod hooks;
pub mod jinja;
pub mod load;
pub mod manifest;
pub mod ml_model;
pub mod node;
pub mod packages;
pub mod profiles;
pub mod properties;
pub mod schedule;
pub mod selector;
pub mod semantic;
pub mod settings;
pub mod snapshot;
pub mod state;
pub mod storage;
pub mod unit_test;

/// A regex written in Lakeforge's source (this crate's and the ones above it). Only literals
/// come here, and the tests run each one, so an invalid pattern cannot ship: its `expect` is
/// unreachable in a release. The one `expect` the workspace's lints allow.
#[allow(clippy::expect_used)]
pub fn literal_regex(pattern: &'static str) -> regex::Regex {
    regex::Regex::new(pattern).expect("a regex literal of lakeforge-project compiles")
}

pub use compile::{
    CompileContext, CompiledNode, DuplicateKeyCheck, InputShape, RowCheck, UnitTestInput,
    UnitTestPlan,
};
pub use error::{ProjectError, Result};
pub use error_text::{error_text, text_with_causes};
pub use graph::Graph;
pub use load::{Doc, LoadOptions, Project};
pub use ml_model::{GateCondition, MlModelSpec, SplitSpec, TuningSpec};
pub use node::{
    ColumnInfo, Condition, IncrementalStrategy, Materialization, Node, NodeConfig, OnSchemaChange,
    Relation, ResourceType, Severity, SourceTable, TestConfig, TestKind, quote_ident,
};
pub use profiles::ProfileFlags;
pub use selector::select;
pub use settings::Target;
pub use snapshot::{HardDeletes, SnapshotSpec, SnapshotStrategy};
pub use unit_test::{Fixture, GivenInput, UnitInput, UnitOverrides, UnitTestDef};
