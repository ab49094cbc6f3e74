//! Data tests: a test's SQL returns failing rows; the engine computes the test's `fail_calc`
//! over them (a count by default), keeps a few as samples so a failure message can show what
//! is wrong, and with `store_failures` writes them to a table of the audit schema.

use arrow::array::{Array, Int64Array, RecordBatch};
use futures::StreamExt;
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
    // The default count: one evaluation of the test's query, counting the rows it returns and
    // keeping the first as the sample, where `count(*)` and then a sample query evaluated it
    // twice (a regex over 10M rows, a GROUP BY of every key).
    let mut read_sample = None;
    if config.fail_calc == "count(*)" && !config.store_failures {
        let read = count_by_reading(engine, context, &failing, sample_rows).await?;
        if let Some(failures) = read.failures {
            return Ok(TestOutcome {
                failures,
                sample: read.sample,
                stored_in: None,
            });
        }
        read_sample = Some(read.sample);
    }
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
    let sample = if let Some(sample) = read_sample {
        sample
    } else if failures > 0 && sample_rows > 0 {
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

/// Failing rows beyond which [`count_by_reading`] gives up: it reads every column the test's
/// query selects for each failing row, while `count(*)` reads only what the filter needs, so
/// a test failing on many rows is counted by `count(*)`.
const READ_TO_COUNT_LIMIT: u64 = 10_000;

/// What [`count_by_reading`] read.
struct Read {
    /// The number of failing rows, or `None` when there were more than
    /// [`READ_TO_COUNT_LIMIT`] (the reading stopped there).
    failures: Option<u64>,
    /// The first `sample_rows` failing rows.
    sample: Vec<RecordBatch>,
}

/// The failing rows of `failing` counted by reading them, with the first `sample_rows` kept.
async fn count_by_reading(
    engine: &Engine,
    context: &str,
    failing: &str,
    sample_rows: usize,
) -> Result<Read> {
    let mut stream = engine
        .dataframe(context, failing)
        .await?
        .execute_stream()
        .await
        .map_err(|e| EngineError::sql(context, e))?;
    let mut failures = 0u64;
    let mut sample = Vec::new();
    let mut kept = 0usize;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| EngineError::sql(context, e))?;
        let take = sample_rows.saturating_sub(kept).min(batch.num_rows());
        if take > 0 {
            sample.push(batch.slice(0, take));
            kept += take;
        }
        failures += batch.num_rows() as u64;
        if failures > READ_TO_COUNT_LIMIT && kept == sample_rows {
            return Ok(Read {
                failures: None,
                sample,
            });
        }
    }
    Ok(Read {
        failures: Some(failures),
        sample,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is a failed test
mod tests {
    use super::*;

    fn relation() -> Relation {
        Relation::new("main", "audit")
    }

    /// Both ways of counting (reading a few failing rows, `count(*)` for many) give the
    /// query's row count, with a sample of at most the rows asked for.
    #[tokio::test]
    async fn failing_rows_are_counted_few_or_many() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::new(crate::Lake::open(dir.path()).unwrap(), "main", 2).unwrap();
        let cfg = TestConfig::default();
        for (filter, want) in [
            ("value > 30000", 0),
            ("value <= 3", 3),
            ("value % 2 = 0", 15_000),
            ("true", 30_000),
        ] {
            let sql = format!("select value from generate_series(1, 30000) where {filter}");
            let out = run_test(&engine, "t", &sql, &cfg, &relation(), 5)
                .await
                .unwrap();
            assert_eq!(out.failures, want, "{filter}");
            let sampled: usize = out.sample.iter().map(RecordBatch::num_rows).sum();
            assert_eq!(sampled, want.min(5) as usize, "{filter}");
        }
        let limited = TestConfig {
            limit: Some(12_000),
            ..TestConfig::default()
        };
        let sql = "select value from generate_series(1, 30000)";
        let out = run_test(&engine, "t", sql, &limited, &relation(), 5)
            .await
            .unwrap();
        assert_eq!(out.failures, 12_000);
        let summed = TestConfig {
            fail_calc: "sum(value)".into(),
            ..TestConfig::default()
        };
        let sql = "select value from generate_series(1, 4)";
        let out = run_test(&engine, "t", sql, &summed, &relation(), 5)
            .await
            .unwrap();
        assert_eq!(out.failures, 10);
    }
}
