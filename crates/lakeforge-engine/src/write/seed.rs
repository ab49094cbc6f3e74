//! Seeds: a CSV file becomes a Delta table. Reading the CSV and typing its columns is
//! lakeforge-seed's (no DataFusion there, so it is fuzzed on its own); here the seed's config
//! is applied and the batches replace the seed's table in one commit. A malformed row stops the
//! seed before anything is written, with the file, line and column in the message.

use std::path::Path;

use arrow::array::RecordBatch;
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
    let (schema, batches) = read_csv(path, &node.path, delimiter, &node.config.column_types)?;
    let df = engine
        .context()
        .read_batches(if batches.is_empty() {
            vec![RecordBatch::new_empty(schema)]
        } else {
            batches
        })
        .map_err(|e| EngineError::sql(&node.path, e))?;
    // A seed replaces its table from the file: redone if another run committed meanwhile.
    replace(engine, &node.relation, df, "INSERT").await
}
