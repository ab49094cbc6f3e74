//! Snapshots (dbt's type-2 slowly changing dimensions): a snapshot node's compiled SELECT is
//! folded into its history table, called from `materialize` for `Materialization::Snapshot`.
//! The first run writes every row as the current version (`dbt_valid_to` NULL); later runs
//! compute the whole next table in DataFusion — history kept, changed and deleted current rows
//! closed, new versions added, new columns added — and write it as one Delta overwrite commit,
//! so a failure leaves the previous version as the table's latest. A run that changes nothing
//! writes nothing.

use arrow::array::{Array, Int64Array};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::DataFrame;
use lakeforge_project::snapshot::{IS_DELETED, META_COLUMNS};
use lakeforge_project::{HardDeletes, Node, SnapshotSpec, SnapshotStrategy, quote_ident};

use crate::error::{EngineError, Result};
use crate::lake::StoredKind;
use crate::session::Engine;
use crate::write::materialize::{WriteOutcome, conform, overwrite};
use crate::write::normalize;

/// Run the snapshot `node` whose compiled SELECT is `sql`.
pub async fn snapshot(engine: &Engine, node: &Node, sql: &str) -> Result<WriteOutcome> {
    let context = node.path.as_str();
    let relation = &node.relation;
    let spec = node.snapshot.as_deref().ok_or_else(|| {
        EngineError::Internal(format!("{} has no snapshot declaration", node.unique_id))
    })?;
    // The history version the next one is computed from, taken before anything reads it: a
    // commit by another run after it makes this run's write a conflict, not a lost update.
    let read = engine.table_version(relation).await;
    let body = sql.trim().trim_end_matches(';');
    let src = format!("(\n{body}\n)");
    let source = engine
        .dataframe(context, &format!("select * from {src} as s"))
        .await?;
    let sschema = source.schema().as_arrow().clone();
    let scols: Vec<String> = sschema.fields().iter().map(|f| f.name().clone()).collect();
    check_source(node, spec, &scols)?;
    check_unique(engine, node, spec, &src).await?;

    let sql_now = format!(
        "cast('{}' as timestamp)",
        chrono::Utc::now()
            .naive_utc()
            .format("%Y-%m-%d %H:%M:%S%.6f")
    );
    let q = |c: &str| quote_ident(c);
    let from_of = |alias: &str| match &spec.strategy {
        SnapshotStrategy::Timestamp { updated_at } => {
            format!("cast({alias}.{} as timestamp)", q(updated_at))
        }
        SnapshotStrategy::Check { .. } => sql_now.clone(),
    };
    let scd_id = |alias: &str, from: &str| {
        let keys: Vec<String> = spec
            .unique_key
            .iter()
            .map(|k| format!("cast({alias}.{} as varchar)", q(k)))
            .collect();
        format!(
            "md5(concat_ws('|', {}, cast({from} as varchar)))",
            keys.join(", ")
        )
    };
    let new_record = spec.hard_deletes == HardDeletes::NewRecord;

    if engine.stored(relation) != Some(StoredKind::Table) {
        let from = from_of("s");
        let first = format!(
            "select s.*, {} as dbt_scd_id, {from} as dbt_updated_at, {from} as dbt_valid_from, \
             cast(null as timestamp) as dbt_valid_to{} from {src} as s",
            scd_id("s", &from),
            if new_record {
                ", 'False' as dbt_is_deleted"
            } else {
                ""
            }
        );
        let df = engine.dataframe(context, &first).await?;
        let outcome = overwrite(
            engine,
            relation,
            normalize::for_delta(df, context)?,
            "SNAPSHOT",
            read,
        )
        .await?;
        engine.lake().remove_view(relation).await?;
        return Ok(outcome);
    }

    let existing = engine
        .dataframe(context, &format!("select * from {relation}"))
        .await?;
    let tschema = existing.schema().as_arrow().clone();
    if let Some(missing) = META_COLUMNS
        .iter()
        .find(|m| tschema.field_with_name(m).is_err())
    {
        return Err(EngineError::Schema {
            relation: relation.to_string(),
            message: format!(
                "{context}: the table is not a snapshot (it has no `{missing}` column)\nhint: give the snapshot another name or alias, or drop the table"
            ),
        });
    }
    let has_deleted = tschema.field_with_name(IS_DELETED).is_ok();
    let is_meta = |c: &str| META_COLUMNS.contains(&c) || c == IS_DELETED;
    let tdata: Vec<String> = tschema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|c| !is_meta(c.as_str()))
        .collect();

    // The next table: the old columns, the query's new ones, then the meta columns. Every
    // name looked up in the table's schema comes from it (`tdata`, the meta columns checked
    // present above, IS_DELETED only when has_deleted), so `table_field` finds each one.
    let table_field = |name: &str| {
        tschema
            .field_with_name(name)
            .cloned()
            .map_err(|e| EngineError::sql(context, e))
    };
    let mut fields: Vec<Field> = Vec::new();
    for c in &tdata {
        fields.push(table_field(c)?);
    }
    for f in sschema.fields() {
        if !tdata.contains(f.name()) {
            fields.push(f.as_ref().clone());
        }
    }
    for m in META_COLUMNS {
        fields.push(table_field(m)?);
    }
    if has_deleted {
        fields.push(table_field(IS_DELETED)?);
    } else if new_record {
        fields.push(Field::new(IS_DELETED, DataType::Utf8, true));
    }
    let out = Schema::new(
        fields
            .into_iter()
            .map(|f| f.with_nullable(true))
            .collect::<Vec<_>>(),
    );

    let with = format!(
        "with src as {src}, snap as (select * from {relation}), \
         cur as (select * from snap where dbt_valid_to is null) "
    );
    let on = spec
        .unique_key
        .iter()
        .map(|k| format!("c.{k} = s.{k}", k = q(k)))
        .collect::<Vec<_>>()
        .join(" and ");
    let k0 = q(&spec.unique_key[0]);
    let marker = if has_deleted {
        "coalesce(c.dbt_is_deleted, 'False') = 'True'".to_string()
    } else {
        "false".to_string()
    };
    let from_s = from_of("s");
    let changed = match &spec.strategy {
        SnapshotStrategy::Timestamp { .. } => format!("c.dbt_valid_from < {from_s}"),
        SnapshotStrategy::Check { check_cols } => {
            let cols: Vec<String> = match check_cols {
                Some(cols) => cols.clone(),
                None => scols
                    .iter()
                    .filter(|c| !spec.unique_key.contains(c))
                    .cloned()
                    .collect(),
            };
            let tests: Vec<String> = cols
                .iter()
                .map(|c| {
                    if tdata.contains(c) {
                        format!("c.{x} is distinct from s.{x}", x = q(c))
                    } else {
                        format!("s.{} is not null", q(c))
                    }
                })
                .collect();
            if tests.is_empty() {
                "false".into()
            } else {
                format!("({})", tests.join(" or "))
            }
        }
    };

    // History stays as it is.
    let history = format!("{with} select * from snap where dbt_valid_to is not null");
    // Current versions: closed when changed, or when deleted and hard deletes are handled.
    let close_deleted = match spec.hard_deletes {
        HardDeletes::Ignore => String::new(),
        _ => format!(" when s.{k0} is null and not ({marker}) then {sql_now}"),
    };
    let keep_cols: Vec<String> = tschema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|c| c != "dbt_valid_to")
        .map(|c| format!("c.{x} as {x}", x = q(&c)))
        .collect();
    let current = format!(
        "{with} select {}, case when s.{k0} is not null and ({marker} or {changed}) then {from_s}{close_deleted} \
         else c.dbt_valid_to end as dbt_valid_to from cur c left join src s on {on}",
        keep_cols.join(", ")
    );
    // New versions: new keys, changed rows, and keys back after a deletion record.
    let src_cols: Vec<String> = scols
        .iter()
        .map(|c| format!("s.{x} as {x}", x = q(c)))
        .collect();
    let inserts = format!(
        "{with} select {}, {} as dbt_scd_id, {from_s} as dbt_updated_at, {from_s} as dbt_valid_from, \
         cast(null as timestamp) as dbt_valid_to{} from src s left join cur c on {on} \
         where c.{k0} is null or {marker} or {changed}",
        src_cols.join(", "),
        scd_id("s", &from_s),
        if new_record {
            ", 'False' as dbt_is_deleted"
        } else {
            ""
        }
    );
    // hard_deletes: new_record: a version saying the key is gone.
    let deletions = new_record.then(|| {
        let cols: Vec<String> = tdata
            .iter()
            .map(|c| format!("c.{x} as {x}", x = q(c)))
            .collect();
        format!(
            "{with} select {}, {} as dbt_scd_id, {sql_now} as dbt_updated_at, {sql_now} as dbt_valid_from, \
             cast(null as timestamp) as dbt_valid_to, 'True' as dbt_is_deleted \
             from cur c left join src s on {on} where s.{k0} is null and not ({marker})",
            cols.join(", "),
            scd_id("c", &sql_now),
        )
    });

    let current_df = engine.dataframe(context, &current).await?;
    let inserts_df = engine.dataframe(context, &inserts).await?;
    let deletions_df = match &deletions {
        Some(d) => Some(engine.dataframe(context, d).await?),
        None => None,
    };
    let closed = count(
        context,
        engine
            .dataframe(
                context,
                &wrap_count(&with, &current, Some("dbt_valid_to is not null")),
            )
            .await?,
    )
    .await?;
    let mut inserted = count(
        context,
        engine
            .dataframe(context, &wrap_count(&with, &inserts, None))
            .await?,
    )
    .await?;
    if let Some(d) = &deletions {
        inserted += count(
            context,
            engine
                .dataframe(context, &wrap_count(&with, d, None))
                .await?,
        )
        .await?;
    }
    let added_columns = out.fields().len() != tschema.fields().len();
    if closed == 0 && inserted == 0 && !added_columns {
        return Ok(WriteOutcome {
            action: "SNAPSHOT",
            rows: Some(0),
            version: engine.table_version(relation).await,
        });
    }

    let mut all = conform(engine.dataframe(context, &history).await?, &out, context)?;
    for df in [Some(current_df), Some(inserts_df), deletions_df]
        .into_iter()
        .flatten()
    {
        all = all
            .union(conform(df, &out, context)?)
            .map_err(|e| EngineError::sql(context, e))?;
    }
    let mut outcome = overwrite(
        engine,
        relation,
        normalize::for_delta(all, context)?,
        "SNAPSHOT",
        read,
    )
    .await?;
    outcome.rows = Some(closed + inserted);
    Ok(outcome)
}

/// Count the rows of `query` (which starts with the `with` clause) matching `filter`.
fn wrap_count(with: &str, query: &str, filter: Option<&str>) -> String {
    let inner = query.strip_prefix(with).unwrap_or(query);
    let filter = filter.map(|f| format!(" where {f}")).unwrap_or_default();
    format!("{with} select count(*) as n from ({inner}) as counted{filter}")
}

async fn count(context: &str, df: DataFrame) -> Result<u64> {
    let batches = df
        .collect()
        .await
        .map_err(|e| EngineError::sql(context, e))?;
    let mut n = 0u64;
    for b in &batches {
        let col = b.column(0);
        if let Some(a) = col.as_any().downcast_ref::<Int64Array>() {
            n += (0..a.len()).map(|i| a.value(i) as u64).sum::<u64>();
        }
    }
    Ok(n)
}

/// The query must return the unique key, the strategy's columns, and none of the meta columns.
fn check_source(node: &Node, spec: &SnapshotSpec, columns: &[String]) -> Result<()> {
    let err = |message: String| EngineError::Schema {
        relation: node.relation.to_string(),
        message: format!("{}: {message}", node.path),
    };
    let have = |c: &str| columns.iter().any(|x| x == c);
    for k in &spec.unique_key {
        if !have(k) {
            return Err(err(format!(
                "unique_key `{k}` is not a column of the snapshot's query (columns: {})\nhint: select the key column, or fix unique_key",
                columns.join(", ")
            )));
        }
    }
    match &spec.strategy {
        SnapshotStrategy::Timestamp { updated_at } if !have(updated_at) => {
            return Err(err(format!(
                "updated_at `{updated_at}` is not a column of the snapshot's query (columns: {})\nhint: select it, or fix updated_at",
                columns.join(", ")
            )));
        }
        SnapshotStrategy::Check {
            check_cols: Some(cols),
        } => {
            if let Some(c) = cols.iter().find(|c| !have(c)) {
                return Err(err(format!(
                    "check_cols names `{c}`, which is not a column of the snapshot's query (columns: {})\nhint: select it, or remove it from check_cols",
                    columns.join(", ")
                )));
            }
        }
        _ => {}
    }
    if let Some(m) = columns
        .iter()
        .find(|c| META_COLUMNS.contains(&c.as_str()) || c.as_str() == IS_DELETED)
    {
        return Err(err(format!(
            "the snapshot's query returns a column named `{m}`, which the snapshot adds itself\nhint: rename or drop that column in the query"
        )));
    }
    Ok(())
}

/// dbt's snapshots need one row per key; a duplicate would close and reopen versions at random.
async fn check_unique(engine: &Engine, node: &Node, spec: &SnapshotSpec, src: &str) -> Result<()> {
    let keys = spec
        .unique_key
        .iter()
        .map(|k| quote_ident(k))
        .collect::<Vec<_>>()
        .join(", ");
    let df = engine
        .dataframe(
            &node.path,
            &format!(
                "select count(*) as n from (select {keys} from {src} as s group by {keys} having count(*) > 1) as d"
            ),
        )
        .await?;
    let dups = count(&node.path, df).await?;
    if dups > 0 {
        return Err(EngineError::Schema {
            relation: node.relation.to_string(),
            message: format!(
                "{}: the snapshot's query returns {dups} value(s) of unique_key ({keys}) more than once\nhint: unique_key must identify one row of the query; deduplicate it or use more key columns",
                node.path
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_keeps_the_with_clause() {
        let with = "with src as (select 1 as id) ";
        let q = wrap_count(
            with,
            &format!("{with} select id, null as dbt_valid_to from src"),
            Some("dbt_valid_to is not null"),
        );
        assert!(q.starts_with(with));
        assert!(
            q.ends_with("from ( select id, null as dbt_valid_to from src) as counted where dbt_valid_to is not null"),
            "{q}"
        );
    }
}
