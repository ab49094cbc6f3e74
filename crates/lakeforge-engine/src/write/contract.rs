//! Model contracts (`contract: {enforced: true}`): before anything is written, the query's
//! columns must be exactly the declared ones, with the declared data types. A mismatch fails
//! the model and leaves its table as it was.

use arrow::datatypes::{DataType, Schema};
use lakeforge_project::Node;

use crate::error::{EngineError, Result};
use crate::write::seed::sql_type;

/// Whether the node's config enforces a contract.
pub fn enforced(node: &Node) -> bool {
    node.config
        .raw
        .get("contract")
        .and_then(|c| c.get("enforced"))
        .and_then(|e| e.as_bool())
        .unwrap_or(false)
}

/// Strings and binaries come in several physical layouts that are the same SQL type.
fn same_type(want: &DataType, got: &DataType) -> bool {
    use DataType::*;
    match (want, got) {
        (Utf8, Utf8 | Utf8View | LargeUtf8) => true,
        (Binary, Binary | BinaryView | LargeBinary) => true,
        (Timestamp(_, a), Timestamp(_, b)) => a.is_some() == b.is_some(),
        // A decimal declared without precision accepts any precision and scale.
        (Decimal128(38, 0), Decimal128(..)) => true,
        (a, b) => a == b,
    }
}

pub fn check(node: &Node, schema: &Schema) -> Result<()> {
    if !enforced(node) {
        return Ok(());
    }
    let mut problems = Vec::new();
    if node.columns.is_empty() {
        problems.push("the contract declares no columns".to_string());
    }
    for c in &node.columns {
        let Some(t) = &c.data_type else {
            problems.push(format!(
                "column `{}` has no data_type in the contract",
                c.name
            ));
            continue;
        };
        let want = match sql_type(t) {
            Ok(want) => want,
            Err(why) => {
                // The first line says what is wrong with the type; the hint is the seed's.
                let why = why.to_string();
                let why = why.lines().next().unwrap_or_default();
                problems.push(format!("column `{}`: data_type {why}", c.name));
                continue;
            }
        };
        match schema.field_with_name(&c.name) {
            Err(_) => problems.push(format!(
                "column `{}` is in the contract but the query does not return it",
                c.name
            )),
            Ok(f) if !same_type(&want, f.data_type()) => problems.push(format!(
                "column `{}`: the contract says {t}, the query returns {}",
                c.name,
                f.data_type()
            )),
            Ok(_) => {}
        }
    }
    for f in schema.fields() {
        if !node.columns.iter().any(|c| &c.name == f.name()) {
            problems.push(format!(
                "column `{}` is returned by the query but not in the contract",
                f.name()
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(EngineError::Schema {
        relation: node.relation.to_string(),
        message: format!(
            "{}: the query does not match the model's contract; nothing was written\n  {}\nhint: change the query, or the columns and data_types in the properties YAML",
            node.path,
            problems.join("\n  ")
        ),
    })
}
