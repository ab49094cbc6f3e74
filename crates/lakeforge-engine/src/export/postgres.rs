//! PostgreSQL destinations of `export:`: the rows are loaded into a staging table with COPY,
//! then swapped in (`replace`, or a table that does not exist yet) or merged (`append`,
//! `upsert` with `ON CONFLICT`) inside one transaction, so readers see the old table or the new
//! one and a failure leaves the destination as it was.

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::Mode;
use super::staging::{Destination, STAGE_SUFFIX, list};
use crate::error::Result;

/// Write `batches` to `to`'s PostgreSQL table: COPY into a staging table, then swap it in or
/// merge it, all in one transaction.
pub(super) async fn to_postgres(
    to: &Destination<'_>,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<u64> {
    use sqlx::Connection;
    let fail = |e: &dyn std::fmt::Display| to.failed(e);
    let columns = to.columns(schema, "PostgreSQL", |t, _| pg_type(t).map(String::from))?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let data = copy_text(batches).map_err(|e| fail(&e))?;
    let mut conn = sqlx::PgConnection::connect(to.url)
        .await
        .map_err(|e| fail(&e))?;
    let target = pg_name(to.table);
    let (schema_part, name_part) = to.parts();
    let stage_name = format!("{name_part}{STAGE_SUFFIX}");
    let stage = match schema_part {
        Some(s) => pg_name(&format!("{s}.{stage_name}")),
        None => pg_name(&stage_name),
    };
    let column_defs = columns
        .iter()
        .map(|(c, t)| format!("{} {t}", pg_name(c)))
        .collect::<Vec<_>>()
        .join(", ");
    let column_list = list(columns.iter().map(|(c, _)| c.as_str()), pg_name);
    let mut tx = conn.begin().await.map_err(|e| fail(&e))?;
    for sql in [
        format!("DROP TABLE IF EXISTS {stage}"),
        format!("CREATE TABLE {stage} ({column_defs})"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .execute(&mut *tx)
            .await
            .map_err(|e| fail(&e))?;
    }
    let mut copy = tx
        .copy_in_raw(&format!("COPY {stage} ({column_list}) FROM STDIN"))
        .await
        .map_err(|e| fail(&e))?;
    copy.send(data).await.map_err(|e| fail(&e))?;
    copy.finish().await.map_err(|e| fail(&e))?;
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(&target)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| fail(&e))?;
    let key_list = list(to.unique_key.iter().map(String::as_str), pg_name);
    let mut statements = Vec::new();
    match (to.mode, exists) {
        (Mode::Replace, _) | (_, false) => {
            statements.push(format!("DROP TABLE IF EXISTS {target}"));
            statements.push(format!(
                "ALTER TABLE {stage} RENAME TO {}",
                pg_name(name_part)
            ));
            if !to.unique_key.is_empty() {
                statements.push(format!("ALTER TABLE {target} ADD PRIMARY KEY ({key_list})"));
            }
        }
        (Mode::Append, true) => {
            statements.push(format!(
                "INSERT INTO {target} ({column_list}) SELECT {column_list} FROM {stage}"
            ));
            statements.push(format!("DROP TABLE {stage}"));
        }
        (Mode::Upsert, true) => {
            let updates = to
                .updated(&columns)
                .map(|c| format!("{0} = EXCLUDED.{0}", pg_name(c)))
                .collect::<Vec<_>>();
            let action = if updates.is_empty() {
                "NOTHING".to_string()
            } else {
                format!("UPDATE SET {}", updates.join(", "))
            };
            statements.push(format!(
                "INSERT INTO {target} ({column_list}) SELECT {column_list} FROM {stage} ON CONFLICT ({key_list}) DO {action}"
            ));
            statements.push(format!("DROP TABLE {stage}"));
        }
    }
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .execute(&mut *tx)
            .await
            .map_err(|e| fail(&e))?;
    }
    tx.commit().await.map_err(|e| fail(&e))?;
    Ok(rows as u64)
}

fn pg_type(t: &DataType) -> Option<&'static str> {
    Some(match t {
        DataType::Boolean => "boolean",
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "smallint",
        DataType::Int32 | DataType::UInt16 => "integer",
        DataType::Int64 | DataType::UInt32 => "bigint",
        DataType::UInt64 => "numeric(20)",
        DataType::Float16 | DataType::Float32 => "real",
        DataType::Float64 => "double precision",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text",
        DataType::Date32 | DataType::Date64 => "date",
        DataType::Timestamp(_, None) => "timestamp",
        DataType::Timestamp(_, Some(_)) => "timestamptz",
        DataType::Decimal128(_, _) | DataType::Decimal256(_, _) => "numeric",
        DataType::Time32(_) | DataType::Time64(_) => "time",
        _ => return None,
    })
}

/// `schema.table` quoted for PostgreSQL.
fn pg_name(table: &str) -> String {
    table
        .split('.')
        .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
}

/// Rows as PostgreSQL's COPY text format: tab-separated, `\N` for null, escaped.
fn copy_text(batches: &[RecordBatch]) -> std::result::Result<Vec<u8>, ArrowError> {
    let options = FormatOptions::default();
    let mut out = Vec::new();
    for b in batches {
        let formatters = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for row in 0..b.num_rows() {
            for (i, f) in formatters.iter().enumerate() {
                if i > 0 {
                    out.push(b'\t');
                }
                if b.column(i).is_null(row) {
                    out.extend_from_slice(b"\\N");
                    continue;
                }
                for ch in f.value(row).to_string().bytes() {
                    match ch {
                        b'\\' => out.extend_from_slice(b"\\\\"),
                        b'\t' => out.extend_from_slice(b"\\t"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        c => out.push(c),
                    }
                }
            }
            out.push(b'\n');
        }
    }
    Ok(out)
}
