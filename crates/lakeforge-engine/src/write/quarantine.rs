//! Quarantine (`quarantine: true` on a model): rows that fail the model's row-level tests
//! (not_null, accepted_values, accepted_range, expression_is_true, regex, relationships, ...)
//! are appended to `<model>_quarantine` with the names of the tests they failed, and only the
//! good rows are written to the model. The quarantine commit comes first, so a failure later
//! loses no rows: at worst a rerun quarantines them again.

use datafusion::prelude::DataFrame;
use lakeforge_project::{Node, Relation, RowCheck};

use crate::error::{EngineError, Result};
use crate::session::Engine;
use crate::write::materialize::append_df;
use crate::write::normalize;

/// Whether the model asks for quarantine.
pub fn enabled(node: &Node) -> bool {
    match node.config.raw.get("quarantine") {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::Object(o)) => {
            o.get("enabled").and_then(|e| e.as_bool()).unwrap_or(true)
        }
        _ => false,
    }
}

pub fn relation(node: &Node) -> Relation {
    Relation::new(
        &node.relation.schema,
        format!("{}_quarantine", node.relation.identifier),
    )
}

/// Split the model's rows: quarantine the failing ones now, return the SQL of the good ones
/// and how many rows were quarantined.
pub async fn split(
    engine: &Engine,
    node: &Node,
    sql: &str,
    checks: &[RowCheck],
) -> Result<(String, u64)> {
    if checks.is_empty() {
        return Err(EngineError::Schema {
            relation: node.relation.to_string(),
            message: format!(
                "{}: quarantine is on but the model has no row-level tests to route rows by\nhint: add tests such as not_null or accepted_values to its columns",
                node.path
            ),
        });
    }
    let failing: Vec<String> = checks
        .iter()
        .map(|c| format!("coalesce(({}), false)", c.predicate))
        .collect();
    let any_failing = failing.join(" or ");
    let names: Vec<String> = checks
        .iter()
        .zip(&failing)
        .map(|(c, f)| format!("case when {f} then '{}' end", c.name.replace('\'', "''")))
        .collect();
    let bad_sql = format!(
        "select *, concat_ws(', ', {}) as _failed_tests, now() as _quarantined_at from (\n{sql}\n) lakeforge_rows where {any_failing}",
        names.join(", ")
    );
    let good_sql = format!("select * from (\n{sql}\n) lakeforge_rows where not ({any_failing})");

    let context = node.path.as_str();
    let bad: DataFrame = normalize::for_delta(engine.dataframe(context, &bad_sql).await?, context)?;
    let outcome = append_df(engine, &relation(node), bad).await?;
    Ok((good_sql, outcome.rows.unwrap_or(0)))
}
