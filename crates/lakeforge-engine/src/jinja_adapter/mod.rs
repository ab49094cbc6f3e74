//! The engine as dbt's adapter: what macros reach while they compile (`run_query`,
//! `{% call statement %}`, `adapter.get_columns_in_relation`, `adapter.get_relation`) and what
//! hooks and `run-operation` execute, implemented over the session and the lake
//! ([`lakeforge_project::adapter::Adapter`]). The runner hands one to the compile context, so
//! macros see relations built earlier in the same run.
//!
//! Jinja renders synchronously, inside a node's task on the tokio runtime, while the engine is
//! async. A plain `Handle::block_on` there panics ("cannot start a runtime from within a
//! runtime"), and blocking a worker without telling tokio can starve the tasks the query itself
//! spawns (DataFusion's partitions, the database sources' connections). So [`block_on`] uses
//! `tokio::task::block_in_place` on the multi-thread runtime, which hands this worker's queue to
//! another thread before blocking, then drives the query on the same runtime (database pools
//! opened by earlier queries live there). Where that is not possible (a current-thread runtime,
//! as in `#[tokio::test]`, or no runtime at all) the query runs on a thread of its own with its
//! own small runtime, and the caller waits for it; such a caller cannot be a task another query
//! of the same runtime waits on, which Jinja rendering never is.

pub(crate) mod cells;
mod statement;

use std::future::Future;
use std::sync::Arc;

use lakeforge_project::Relation;
use lakeforge_project::adapter::{Adapter, AdapterError, Column, QueryResult, RelationKind};
use tokio::runtime::{Handle, RuntimeFlavor};

pub use cells::sql_type_name;

use crate::error::{EngineError, Result};
use crate::lake::StoredKind;
use crate::session::{CATALOG, Engine};

/// The engine behind dbt's adapter calls; cheap to clone.
#[derive(Clone)]
pub struct EngineAdapter {
    engine: Arc<Engine>,
}

impl EngineAdapter {
    pub fn new(engine: Arc<Engine>) -> Self {
        EngineAdapter { engine }
    }

    /// Run SQL (one statement or several; the result is the last one's). `context` names the
    /// caller in errors (a hook, a macro).
    pub async fn run_sql(&self, context: &str, sql: &str, fetch: bool) -> Result<QueryResult> {
        statement::run(&self.engine, context, sql, fetch).await
    }

    /// Whether `relation` can be queried: stored in the lake, a source read in place, or an
    /// ephemeral model of this session.
    async fn exists(&self, relation: &Relation) -> Result<bool> {
        if self.engine.lake().stored_now(relation).await?.is_some() {
            return Ok(true);
        }
        Ok(self
            .engine
            .context()
            .catalog(CATALOG)
            .and_then(|c| c.schema(&relation.schema))
            .is_some_and(|s| s.table_exist(&relation.identifier)))
    }

    /// The columns of `relation` in table order; none when it does not exist (as dbt's
    /// adapters answer for a missing relation).
    pub async fn columns(&self, relation: &Relation) -> Result<Vec<Column>> {
        if !self.exists(relation).await? {
            return Ok(Vec::new());
        }
        let df = self
            .engine
            .dataframe(
                &format!("columns of {relation}"),
                &format!("select * from {relation}"),
            )
            .await?;
        Ok(cells::columns(df.schema().as_arrow().fields()))
    }

    /// What `schema.identifier` is, if anything. Sources read in place count as tables;
    /// ephemeral models are not relations of the lake, as in dbt.
    pub async fn relation_kind(
        &self,
        schema: &str,
        identifier: &str,
    ) -> Result<Option<RelationKind>> {
        let relation = Relation::new(schema, identifier);
        Ok(match self.engine.lake().stored_now(&relation).await? {
            Some(StoredKind::Table) => Some(RelationKind::Table),
            Some(StoredKind::View) => Some(RelationKind::View),
            None if self.engine.is_source(&relation) => Some(RelationKind::Table),
            None => None,
        })
    }

    /// Every relation of `schema`, sorted by name.
    pub fn relations(&self, schema: &str) -> Vec<(String, RelationKind)> {
        let lake = self.engine.lake();
        let mut out: Vec<(String, RelationKind)> = lake
            .table_names(schema)
            .into_iter()
            .filter_map(|name| {
                let kind = match lake.stored(&Relation::new(schema, &name))? {
                    StoredKind::Table => RelationKind::Table,
                    StoredKind::View => RelationKind::View,
                };
                Some((name, kind))
            })
            .collect();
        for name in self.engine.source_names(schema) {
            if !out.iter().any(|(n, _)| n == &name) {
                out.push((name, RelationKind::Table));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

impl Adapter for EngineAdapter {
    fn execute(&self, sql: &str, fetch: bool) -> std::result::Result<QueryResult, AdapterError> {
        block_on(self.run_sql("query", sql, fetch)).map_err(message)
    }

    fn get_columns_in_relation(
        &self,
        relation: &Relation,
    ) -> std::result::Result<Vec<Column>, AdapterError> {
        block_on(self.columns(relation)).map_err(message)
    }

    fn get_relation(
        &self,
        schema: &str,
        identifier: &str,
    ) -> std::result::Result<Option<RelationKind>, AdapterError> {
        block_on(self.relation_kind(schema, identifier)).map_err(message)
    }

    fn list_relations(
        &self,
        schema: &str,
    ) -> std::result::Result<Vec<(String, RelationKind)>, AdapterError> {
        Ok(self.relations(schema))
    }
}

/// The engine's message without the "query: " context the Jinja runtime replaces with the file
/// and line of the call.
fn message(e: EngineError) -> AdapterError {
    AdapterError::new(e.without_context(), e)
}

/// Wait for `fut` from synchronous code that may be running on a tokio worker (see the module
/// documentation for why this way).
pub fn block_on<F, T>(fut: F) -> Result<T, EngineError>
where
    F: Future<Output = Result<T, EngineError>> + Send,
    T: Send,
{
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(fut))
        }
        _ => std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| {
                            EngineError::sql("query", format!("starting a runtime for it: {e}"))
                        })?
                        .block_on(fut)
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }),
    }
}
