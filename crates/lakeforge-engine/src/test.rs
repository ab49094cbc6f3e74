//! Data tests: a test's SQL returns failing rows; the engine counts them and keeps a few as
//! samples, so a failure message can show what is wrong rather than only how much.

use arrow::array::RecordBatch;

use crate::error::{EngineError, Result};
use crate::session::Engine;

#[derive(Debug, Clone)]
pub struct TestOutcome {
    pub failures: u64,
    /// Up to `sample_rows` failing rows.
    pub sample: Vec<RecordBatch>,
}

pub async fn run_test(
    engine: &Engine,
    context: &str,
    sql: &str,
    sample_rows: usize,
) -> Result<TestOutcome> {
    let count_sql = format!("select count(*) as failures from (\n{sql}\n) dbt_internal_test");
    let (_, batches) = engine.query(context, &count_sql).await?;
    let failures = batches
        .first()
        .filter(|b| b.num_rows() == 1)
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .map(|a| a.value(0))
        })
        .ok_or_else(|| EngineError::Internal(format!("{context}: count(*) returned no row")))?;
    let sample = if failures > 0 && sample_rows > 0 {
        engine
            .query(
                context,
                &format!("select * from (\n{sql}\n) dbt_internal_test limit {sample_rows}"),
            )
            .await?
            .1
    } else {
        Vec::new()
    };
    Ok(TestOutcome {
        failures: failures as u64,
        sample,
    })
}
