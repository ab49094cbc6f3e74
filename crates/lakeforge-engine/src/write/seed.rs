//! Seeds: a CSV file becomes a Delta table. Reading the CSV and typing its columns is
//! lakeforge-seed's (no DataFusion there, so it is fuzzed on its own); here the seed's config
//! is applied and the batches replace the seed's table in one commit. A malformed row stops the
//! seed before anything is written, with the file, line and column in the message.

use std::path::Path;

use std::sync::Arc;

use arrow::array::RecordBatch;
use datafusion::datasource::MemTable;
use lakeforge_project::Node;

use crate::error::{EngineError, Result};
use crate::session::Engine;
use crate::write::materialize::{WriteOutcome, replace};

/// Re-exported for the engine's other readers of SQL type names (contracts, external tables'
/// partitions, unit-test inputs) and of seed files.
pub use lakeforge_seed::{read_csv, sql_type};

/// Load the seed `node` from the CSV at `path` into the lake.
pub async fn load_seed(engine: &Engine, node: &Node, path: &Path) -> Result<WriteOutcome> {
    let delimiter = lakeforge_seed::delimiter(&node.path, node.config.delimiter.as_deref())?;
    // Parsing is seconds of CPU for a large seed: off the runtime's workers, which meanwhile
    // drive other nodes' writers.
    let (file, rel, types) = (
        path.to_path_buf(),
        node.path.clone(),
        node.config.column_types.clone(),
    );
    let (schema, batches) =
        tokio::task::spawn_blocking(move || read_csv(&file, &rel, delimiter, &types))
            .await
            .map_err(|e| EngineError::Internal(format!("reading seed {}: {e}", node.path)))??;
    let context = engine.context();
    let writers = context.state().config().target_partitions();
    let table = MemTable::try_new(schema, in_parts(batches, writers))
        .map_err(|e| EngineError::sql(&node.path, e))?;
    let df = context
        .read_table(Arc::new(table))
        .map_err(|e| EngineError::sql(&node.path, e))?;
    // A seed replaces its table from the file: redone if another run committed meanwhile.
    replace(engine, &node.relation, df, "INSERT").await
}

/// `batches` in at most `parts` runs of consecutive batches, one per writer of the table
/// (`parallel.rs`): a large seed is encoded on every core, a small one (one batch) by one
/// writer. At least one part, so an empty seed still has its schema written.
fn in_parts(batches: Vec<RecordBatch>, parts: usize) -> Vec<Vec<RecordBatch>> {
    let per_part = batches.len().div_ceil(parts.max(1)).max(1);
    let mut out: Vec<Vec<RecordBatch>> = Vec::new();
    for batch in batches {
        match out.last_mut() {
            Some(part) if part.len() < per_part => part.push(batch),
            _ => out.push(vec![batch]),
        }
    }
    if out.is_empty() {
        out.push(Vec::new());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int32Array;
    use arrow::datatypes::{DataType, Field, Schema};

    fn batch(v: i32) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(vec![v]))]).unwrap()
    }

    fn firsts(parts: &[Vec<RecordBatch>]) -> Vec<Vec<i32>> {
        parts
            .iter()
            .map(|p| {
                p.iter()
                    .map(|b| {
                        b.column(0)
                            .as_any()
                            .downcast_ref::<Int32Array>()
                            .unwrap()
                            .value(0)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn batches_are_split_into_runs_in_order() {
        let five: Vec<_> = (0..5).map(batch).collect();
        assert_eq!(
            firsts(&in_parts(five.clone(), 2)),
            [vec![0, 1, 2], vec![3, 4]]
        );
        assert_eq!(firsts(&in_parts(five.clone(), 1)), [vec![0, 1, 2, 3, 4]]);
        assert_eq!(firsts(&in_parts(five[..1].to_vec(), 4)), [vec![0]]);
        assert_eq!(in_parts(Vec::new(), 2).len(), 1);
    }
}
