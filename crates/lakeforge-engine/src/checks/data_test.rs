//! Data tests: a test's SQL returns failing rows; the engine computes the test's `fail_calc`
//! over them (a count by default), keeps a few as samples so a failure message can show what
//! is wrong, and with `store_failures` writes them to a table of the audit schema.

use arrow::array::{Array, Int64Array, RecordBatch};
use lakeforge_project::{Relation, TestConfig};

use crate::error::{EngineError, Result};
use crate::session::Engine;
use crate::write::materialize::replace;
use crate::write::normalize;

#[derive(Debug, Clone)]
pub struct TestOutcome {
    /// The value of `fail_calc` over the failing rows.
    pub failures: u64,
    /// Up to `sample_rows` failing rows.
    pub sample: Vec<RecordBatch>,
    /// Where the failing rows were stored, with `store_failures`.
    pub stored_in: Option<Relation>,
}

pub async fn run_test(
    engine: &Engine,
    context: &str,
    sql: &str,
    config: &TestConfig,
    audit_relation: &Relation,
    sample_rows: usize,
) -> Result<TestOutcome> {
    let failing = match config.limit {
        Some(n) => format!("select * from (\n{sql}\n) dbt_internal_test limit {n}"),
        None => sql.to_string(),
    };
    let calc_sql = format!(
        "select cast(coalesce({}, 0) as bigint) as failures from (\n{failing}\n) dbt_internal_test",
        config.fail_calc
    );
    let (_, batches) = engine.query(context, &calc_sql).await?;
    let failures = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .filter(|a| !a.is_null(0))
                .map(|a| a.value(0))
        })
        .unwrap_or(0);
    let sample = if failures > 0 && sample_rows > 0 {
        engine
            .query(
                context,
                &format!("select * from (\n{failing}\n) dbt_internal_test limit {sample_rows}"),
            )
            .await?
            .1
    } else {
        Vec::new()
    };
    let stored_in = if config.store_failures {
        let df = normalize::for_delta(engine.dataframe(context, &failing).await?, context)?;
        replace(engine, audit_relation, df, "CREATE TABLE").await?;
        Some(audit_relation.clone())
    } else {
        None
    };
    if failures < 0 {
        return Err(EngineError::sql_message(
            context,
            format!(
                "fail_calc `{}` returned {failures}, a negative number",
                config.fail_calc
            ),
        ));
    }
    Ok(TestOutcome {
        failures: failures as u64,
        sample,
        stored_in,
    })
}

/// Count the failures of several row-level tests of one table in a single scan, instead of
/// one scan per test. Returns test id → failures.
pub async fn count_row_failures(
    engine: &Engine,
    context: &str,
    relation: &Relation,
    checks: &[lakeforge_project::RowCheck],
) -> Result<std::collections::HashMap<String, u64>> {
    let exprs: Vec<String> = checks
        .iter()
        .enumerate()
        .map(|(i, c)| match &c.distinct_values_of {
            Some(col) => format!(
                "cast(count(distinct case when coalesce(({}), false) then cast({col} as varchar) end) as bigint) as c{i}",
                c.predicate
            ),
            None => format!("cast(coalesce(sum(case when coalesce(({}), false) then 1 else 0 end), 0) as bigint) as c{i}", c.predicate),
        })
        .collect();
    let sql = format!("select {} from {relation}", exprs.join(", "));
    let (_, batches) = engine.query(context, &sql).await?;
    let batch = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| EngineError::Internal(format!("{context}: an aggregate returned no row")))?;
    let mut out = std::collections::HashMap::new();
    for (i, c) in checks.iter().enumerate() {
        let col = batch
            .column(i)
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| EngineError::Internal("count is not bigint".into()))?;
        out.insert(c.test_id.clone(), col.value(0).max(0) as u64);
    }
    Ok(out)
}
