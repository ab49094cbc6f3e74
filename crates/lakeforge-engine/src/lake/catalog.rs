//! DataFusion's view of the lake: a catalog whose schemas are the lake's folders. Tables are
//! opened lazily from their Delta log when a query names them, so a query pays only for the
//! tables it reads and always sees their latest committed version; views are planned from
//! their stored SQL; ephemeral models live only in the session's overrides. Sources read in
//! place (files, database tables) are opened the same lazy way.

use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::{Arc, Weak};

type StateRef = Weak<parking_lot::RwLock<SessionState>>;

use async_trait::async_trait;
use datafusion::catalog::view::ViewTable;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::context::SessionState;
use datafusion::prelude::SessionContext;
use lakeforge_project::Relation;

use crate::lake::{Lake, StoredKind};

/// Tables registered for this session only, keyed by (schema, name).
pub(crate) type Overrides = Arc<RwLock<HashMap<(String, String), Arc<dyn TableProvider>>>>;

/// Sources read in place by (schema, name): the name to report (`source('raw', 'events')`)
/// and where the data is; each becomes a table provider when first named.
pub(crate) type Externals = Arc<RwLock<HashMap<(String, String), (String, SourceLocation)>>>;

/// Where a source that is not in the lake lives.
#[derive(Debug, Clone)]
pub(crate) enum SourceLocation {
    /// Files (`external:`), read as a listing table; in object storage, through the store of
    /// the named connection (of these) or of the environment.
    Files(
        lakeforge_project::external::ExternalLocation,
        crate::lake::storage::Connections,
    ),
    /// A table of a database (`connection:`), read through its provider.
    Database(crate::sources::database::DatabaseRef),
}

/// Register the project's file and database sources in `externals`.
pub(crate) fn register_sources(
    externals: &Externals,
    project: &lakeforge_project::Project,
    storage: crate::lake::storage::Connections,
) {
    let mut externals = externals.write();
    for s in project.sources.values() {
        if let Some(ext) = &s.external {
            externals.insert(
                (s.relation.schema.clone(), s.relation.identifier.clone()),
                (
                    format!("source('{}', '{}')", s.source_name, s.name),
                    SourceLocation::Files(ext.clone(), storage.clone()),
                ),
            );
        }
    }
    for (key, db) in crate::sources::database::database_refs(project) {
        externals.insert(key, (db.label.clone(), SourceLocation::Database(db)));
    }
}

#[derive(Debug)]
pub struct LakeCatalog {
    lake: Lake,
    overrides: Overrides,
    externals: Externals,
    state: StateRef,
}

impl LakeCatalog {
    pub(crate) fn new(
        lake: Lake,
        overrides: Overrides,
        externals: Externals,
        state: StateRef,
    ) -> Self {
        LakeCatalog {
            lake,
            overrides,
            externals,
            state,
        }
    }
}

impl CatalogProvider for LakeCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names = self.lake.schema_names();
        names.extend(self.overrides.read().keys().map(|(s, _)| s.clone()));
        names.sort();
        names.dedup();
        names
    }

    /// Every schema name is valid: a schema is just a folder, created on first write.
    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        Some(Arc::new(LakeSchema {
            lake: self.lake.clone(),
            schema: name.to_string(),
            overrides: self.overrides.clone(),
            externals: self.externals.clone(),
            state: self.state.clone(),
        }))
    }
}

#[derive(Debug)]
struct LakeSchema {
    lake: Lake,
    schema: String,
    overrides: Overrides,
    externals: Externals,
    state: StateRef,
}

#[async_trait]
impl SchemaProvider for LakeSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.lake.table_names(&self.schema);
        names.extend(
            self.overrides
                .read()
                .keys()
                .filter(|(s, _)| s == &self.schema)
                .map(|(_, n)| n.clone()),
        );
        names.extend(
            self.externals
                .read()
                .keys()
                .filter(|(s, _)| s == &self.schema)
                .map(|(_, n)| n.clone()),
        );
        names.sort();
        names.dedup();
        names
    }

    /// Answers `information_schema.tables` from what the lake stores, without opening a Delta
    /// table, planning a view or connecting to a source (dbt_utils' get_relations_by_pattern
    /// lists every relation of a schema this way).
    async fn table_type(&self, name: &str) -> DfResult<Option<TableType>> {
        let key = (self.schema.clone(), name.to_string());
        if let Some(t) = self.overrides.read().get(&key) {
            return Ok(Some(t.table_type()));
        }
        if self.externals.read().contains_key(&key) {
            return Ok(Some(TableType::Base));
        }
        let stored = self
            .lake
            .stored_now(&Relation::new(&self.schema, name))
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(stored.map(|kind| match kind {
            StoredKind::Table => TableType::Base,
            StoredKind::View => TableType::View,
        }))
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let key = (self.schema.clone(), name.to_string());
        if let Some(t) = self.overrides.read().get(&key) {
            return Ok(Some(t.clone()));
        }
        let external = self.externals.read().get(&key).cloned();
        if let Some((source, location)) = external {
            let table = match location {
                SourceLocation::Files(ext, storage) => {
                    let state = self.state.upgrade().ok_or_else(|| {
                        DataFusionError::Internal("session dropped while planning a source".into())
                    })?;
                    let state = state.read().clone();
                    crate::sources::external::listing_table(&state, &source, &ext, &storage).await?
                }
                SourceLocation::Database(db) => db.open().await?,
            };
            self.overrides.write().insert(key, table.clone());
            return Ok(Some(table));
        }
        let relation = Relation::new(&self.schema, name);
        let stored = self
            .lake
            .stored_now(&relation)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        match stored {
            None => Ok(None),
            Some(StoredKind::Table) => open_delta_provider(&self.lake, &relation).await.map(Some),
            Some(StoredKind::View) => {
                let sql = self
                    .lake
                    .read_view(&relation)
                    .await
                    .map_err(|e| DataFusionError::External(Box::new(e)))?;
                let state = self.state.upgrade().ok_or_else(|| {
                    DataFusionError::Internal("session dropped while planning a view".into())
                })?;
                let ctx = SessionContext::new_with_state(state.read().clone());
                let plan = ctx
                    .sql(&sql)
                    .await
                    .map_err(|e| {
                        DataFusionError::Plan(format!("view {relation} no longer plans: {e}"))
                    })?
                    .into_unoptimized_plan();
                Ok(Some(Arc::new(ViewTable::new(plan, Some(sql)))))
            }
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        let key = (self.schema.clone(), name.to_string());
        self.overrides.read().contains_key(&key)
            || self.externals.read().contains_key(&key)
            || self
                .lake
                .stored(&Relation::new(&self.schema, name))
                .is_some()
    }
}

pub(crate) async fn open_delta_provider(
    lake: &Lake,
    relation: &Relation,
) -> DfResult<Arc<dyn TableProvider>> {
    let table = lake
        .open_table(relation, None)
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    table.table_provider().await
}

/// A Delta table's provider at `version` (None: its latest), with the version it opened.
pub(crate) async fn open_delta_provider_at(
    lake: &Lake,
    relation: &Relation,
    version: Option<i64>,
) -> DfResult<(Arc<dyn TableProvider>, i64)> {
    let table = lake
        .open_table(relation, version)
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    let opened = table.version().unwrap_or(0) as i64;
    Ok((table.table_provider().await?, opened))
}
