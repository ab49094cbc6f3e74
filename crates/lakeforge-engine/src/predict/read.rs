//! Reading a whole relation into memory for training: a Delta table at its latest version or at
//! a pinned one (time travel, for `lakeforge models reproduce`), or any other relation the
//! session knows (a view, a file source). Rows come back in a deterministic order — partition
//! by partition, in file order — because a model trained on the same rows in a different
//! order would split and bin them differently and not be byte-identical.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use lakeforge_project::Relation;

use crate::error::{EngineError, Result};
use crate::lake::StoredKind;
use crate::lake::catalog::open_delta_provider_at;
use crate::session::Engine;

/// The rows of a relation and, for a Delta table, the version they were read at.
pub struct RelationData {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub version: Option<i64>,
}

/// Read `relation`; `version` pins a Delta table's version (None: its latest).
pub async fn read_relation(
    engine: &Engine,
    relation: &Relation,
    version: Option<i64>,
) -> Result<RelationData> {
    let ctx = engine.context();
    let (df, read_version) = if engine.stored(relation) == Some(StoredKind::Table) {
        let (provider, v) = open_delta_provider_at(engine.lake(), relation, version)
            .await
            .map_err(|e| EngineError::delta(relation, e))?;
        let df = ctx
            .read_table(provider)
            .map_err(|e| EngineError::sql(relation.to_string(), e))?;
        (df, Some(v))
    } else {
        if let Some(v) = version {
            return Err(EngineError::delta(
                relation,
                format!(
                    "version {v} was asked for, but {relation} is not a Delta table of the lake"
                ),
            ));
        }
        let df = engine
            .dataframe(&relation.to_string(), &format!("SELECT * FROM {relation}"))
            .await?;
        (df, None)
    };
    let schema: SchemaRef = std::sync::Arc::new(df.schema().as_arrow().clone());
    // collect() would merge partitions in whatever order they finish; per partition, in
    // partition order, is the same every time.
    let batches: Vec<RecordBatch> = df
        .collect_partitioned()
        .await
        .map_err(|e| EngineError::sql(relation.to_string(), e))?
        .into_iter()
        .flatten()
        .filter(|b| b.num_rows() > 0)
        .collect();
    Ok(RelationData {
        schema,
        batches,
        version: read_version,
    })
}
