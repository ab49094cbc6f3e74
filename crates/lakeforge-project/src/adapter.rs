//! The database half of dbt's Jinja runtime, as a trait. Macros in real dbt packages query the
//! warehouse while they compile (`run_query`, `{% call statement %}` + `load_result`,
//! `adapter.get_columns_in_relation`, `adapter.get_relation`) and hooks run SQL around models.
//! This crate renders Jinja without DataFusion, so it only names what it needs; the engine
//! implements [`Adapter`] and the runner hands one to [`crate::compile::CompileContext`].
//! While the project loads there is no adapter: dbt's `execute` is false then, and these calls
//! return empty results as dbt's do at parse time.

use std::fmt;

use crate::node::Relation;

/// One cell of a query result, in the types Jinja can hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A decimal keeps its digits as text, so `1.10` stays `1.10`.
    Decimal(String),
    Text(String),
    /// ISO 8601 (`2024-01-31`).
    Date(String),
    /// ISO 8601 without a zone (`2024-01-31 12:00:00`), or with one when the column has one.
    Timestamp(String),
}

/// A column as `adapter.get_columns_in_relation` and agate tables describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The type as Lakeforge's SQL spells it: `bigint`, `varchar`, `decimal(10,2)`, `timestamp`.
    pub data_type: String,
}

/// What a query returned: columns and rows (empty for a statement that returns none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryResult {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    /// Rows written, for statements that report it (dbt's `response.rows_affected`).
    pub rows_affected: Option<u64>,
}

/// Whether a relation in the lake is a table or a view (dbt's `relation.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    Table,
    View,
}

/// An error of the engine behind an [`Adapter`] call: the message users see (the engine's,
/// without the context the Jinja runtime replaces with the file, line and macro chain of the
/// call), and the engine's error itself.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AdapterError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl AdapterError {
    /// `message` is what users see of `source`.
    pub fn new(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        AdapterError {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// An error that is only a message (an adapter without an error type of its own).
    pub fn message(message: impl Into<String>) -> Self {
        AdapterError {
            message: message.into(),
            source: None,
        }
    }
}

/// The engine's side of compile-time database access. The Jinja runtime adds the file, line
/// and macro chain that made the call to an error's message.
pub trait Adapter: Send + Sync {
    /// Runs one SQL statement. `fetch` is false when the caller discards rows (a hook, a
    /// statement without `fetch_result`), so the engine may skip collecting them.
    fn execute(&self, sql: &str, fetch: bool) -> Result<QueryResult, AdapterError>;

    /// The columns of a relation in the lake (or a source read in place), in table order.
    fn get_columns_in_relation(&self, relation: &Relation) -> Result<Vec<Column>, AdapterError>;

    /// Whether `schema.identifier` exists, and as what. `None` when it does not.
    fn get_relation(
        &self,
        schema: &str,
        identifier: &str,
    ) -> Result<Option<RelationKind>, AdapterError>;

    /// Every relation of a schema (for `get_relations_by_pattern` and friends).
    fn list_relations(&self, schema: &str) -> Result<Vec<(String, RelationKind)>, AdapterError>;
}

impl fmt::Debug for dyn Adapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Adapter")
    }
}
