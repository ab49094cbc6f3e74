//! The engine: one DataFusion session over the lake. Every SQL statement Lakeforge runs (models,
//! tests, `lakeforge sql`) goes through it, so they all see the same catalog.

pub(crate) mod sql_functions;

use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::catalog::view::ViewTable;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use deltalake::delta_datafusion::planner::DeltaPlanner;
use lakeforge_project::Relation;

use crate::error::{EngineError, Result};
use crate::lake::catalog::{Externals, LakeCatalog, Overrides};
use crate::lake::{Lake, StoredKind};

pub const CATALOG: &str = "lake";

pub struct Engine {
    ctx: SessionContext,
    lake: Lake,
    overrides: Overrides,
    externals: Externals,
    scoring: Arc<crate::predict::ScoringModels>,
    /// lakeforge.yml's object-storage connections (set with the sources), for file exports.
    storage: RwLock<crate::lake::storage::Connections>,
}

impl Engine {
    /// Open a session over `lake`; unqualified table names resolve in `default_schema`.
    pub fn new(lake: Lake, default_schema: &str, threads: usize) -> Result<Engine> {
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, default_schema)
            .with_create_default_catalog_and_schema(false)
            .with_information_schema(true)
            .with_target_partitions(threads.max(1));
        // Delta writes take their Parquet settings from the session. DataFusion's default
        // codec is zstd(3), several times slower to write than Snappy, which is what Spark and
        // delta-rs write by default; ingest is write-bound, so the lake uses Snappy.
        config.options_mut().execution.parquet.compression = Some("snappy".into());
        // Delta's planner must be in the session: writes and MERGE plan custom nodes. It is
        // wrapped so watermark subqueries over database sources are pushed down as values.
        let state = SessionStateBuilder::new()
            .with_default_features()
            .with_config(config)
            .with_query_planner(crate::sources::database::SourcePlanner::new(
                DeltaPlanner::new(),
            ))
            .build();
        let ctx = SessionContext::new_with_state(state);
        let overrides: Overrides = Arc::new(RwLock::new(HashMap::new()));
        let externals: Externals = Arc::new(RwLock::new(HashMap::new()));
        ctx.register_catalog(
            CATALOG,
            Arc::new(LakeCatalog::new(
                lake.clone(),
                overrides.clone(),
                externals.clone(),
                ctx.state_weak_ref(),
            )),
        );
        let scoring = Arc::new(crate::predict::ScoringModels::default());
        ctx.register_udf(crate::predict::PredictUdf::udf(scoring.clone()));
        crate::session::sql_functions::register(&ctx);
        Ok(Engine {
            ctx,
            lake,
            overrides,
            externals,
            scoring,
            storage: RwLock::new(Arc::default()),
        })
    }

    /// The models `predict(...)` can score with; callers load them before running SQL.
    pub fn scoring_models(&self) -> &Arc<crate::predict::ScoringModels> {
        &self.scoring
    }

    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The schema unqualified table names are in (the target's).
    pub fn default_schema(&self) -> String {
        self.ctx
            .state()
            .config()
            .options()
            .catalog
            .default_schema
            .clone()
    }

    /// Plan `sql`; `context` names what the SQL belongs to in error messages.
    pub async fn dataframe(&self, context: &str, sql: &str) -> Result<DataFrame> {
        self.ctx.sql(sql).await.map_err(|e| {
            let mut err = EngineError::sql(context, e);
            if let EngineError::Sql { cause, hint, .. } = &mut err {
                *hint = self.missing_table_hint(&cause.to_string());
            }
            err
        })
    }

    /// For DataFusion's "table '...' not found", the closest name the lake holds (`custmers` →
    /// `customers`), as project errors suggest the closest ref.
    fn missing_table_hint(&self, message: &str) -> Option<String> {
        let start = message.find("table '")? + "table '".len();
        let len = message[start..].find("' not found")?;
        let wanted = &message[start..start + len];
        let mut parts: Vec<&str> = wanted.split('.').collect();
        let name = parts.pop()?;
        let schema = parts.pop();
        let default_schema = self.default_schema();
        let mut candidates = Vec::new();
        for s in self.lake.schema_names() {
            if schema.is_some_and(|wanted| wanted != s) && s != default_schema {
                continue;
            }
            for t in self.lake.table_names(&s) {
                candidates.push(if s == default_schema {
                    t
                } else {
                    format!("{s}.{t}")
                });
            }
        }
        let closest = lakeforge_project::error::suggest(
            &match schema {
                Some(s) if s != default_schema => format!("{s}.{name}"),
                _ => name.to_string(),
            },
            candidates.iter().map(String::as_str),
        );
        Some(match closest {
            Some(c) => format!("did you mean `{c}`?"),
            None => {
                "tables are `schema.table`; unqualified names are in the target schema".to_string()
            }
        })
    }

    /// Run a query and collect its result.
    pub async fn query(&self, context: &str, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let df = self.dataframe(context, sql).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df
            .collect()
            .await
            .map_err(|e| EngineError::sql(context, e))?;
        Ok((schema, batches))
    }

    pub fn stored(&self, relation: &Relation) -> Option<StoredKind> {
        self.lake.stored(relation)
    }

    /// Make an ephemeral model queryable for the rest of this session without storing it.
    pub async fn register_ephemeral(
        &self,
        context: &str,
        relation: &Relation,
        sql: &str,
    ) -> Result<()> {
        let plan = self.dataframe(context, sql).await?.into_unoptimized_plan();
        let table = Arc::new(ViewTable::new(plan, Some(sql.to_string())));
        self.overrides.write().insert(
            (relation.schema.clone(), relation.identifier.clone()),
            table,
        );
        Ok(())
    }

    /// Make the project's file sources (`external:`) and database sources (`connection:`)
    /// queryable under their relations; each is opened when a query first names it.
    pub fn register_sources(&self, project: &lakeforge_project::Project) {
        let storage = Arc::new(crate::lake::storage::Storage::new(
            project.target.storage.clone(),
        ));
        crate::lake::catalog::register_sources(&self.externals, project, storage.clone());
        *self.storage.write() = storage;
    }

    /// Whether `relation` is a source read in place (files or a database table).
    pub(crate) fn is_source(&self, relation: &Relation) -> bool {
        self.externals
            .read()
            .contains_key(&(relation.schema.clone(), relation.identifier.clone()))
    }

    /// The sources read in place of `schema`, by name.
    pub(crate) fn source_names(&self, schema: &str) -> Vec<String> {
        self.externals
            .read()
            .keys()
            .filter(|(s, _)| s == schema)
            .map(|(_, n)| n.clone())
            .collect()
    }

    /// lakeforge.yml's object-storage connections, by name (empty before `register_sources`).
    pub(crate) fn storage_connections(&self) -> crate::lake::storage::Connections {
        self.storage.read().clone()
    }

    /// The latest committed Delta version of a table, if it is one.
    pub async fn table_version(&self, relation: &Relation) -> Option<i64> {
        if self.lake.stored(relation) != Some(StoredKind::Table) {
            return None;
        }
        self.lake
            .open_table(relation, None)
            .await
            .ok()?
            .version()
            .map(|v| v as i64)
    }
}
