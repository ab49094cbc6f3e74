//! MySQL/MariaDB destinations of `export:` (see `mod.rs`, which calls [`to_mysql`] after the
//! model's Delta commit). MySQL commits DDL implicitly, so the all-or-nothing guarantee is built
//! from steps that are each atomic: the rows are loaded into a staging table beside the
//! destination first; then `replace` swaps it in with one `RENAME TABLE` (readers see the old
//! table or the new one, never a partial one), and `append`/`upsert` copy it over with one
//! `INSERT ... SELECT` in a transaction (InnoDB). Any failure drops the staging table and
//! leaves the destination as it was.

use std::str::FromStr;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{AssertSqlSafe, Connection};

use super::Mode;
use super::staging::{Destination, STAGE_SUFFIX, list};
use crate::error::Result;

/// How much SQL text one INSERT of the staging load carries (well under MySQL's and
/// MariaDB's default `max_allowed_packet`).
const CHUNK_BYTES: usize = 1 << 20;

/// MySQL's longest identifier.
const MAX_NAME: usize = 64;

/// Write `batches` to `to`'s table (`db.table` or `table`) of a MySQL/MariaDB database.
pub(super) async fn to_mysql(
    to: &Destination<'_>,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<u64> {
    let fail = |e: &dyn std::fmt::Display| to.failed(e);
    let columns = to.columns(schema, "MySQL", mysql_type)?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let column_list = list(columns.iter().map(|(c, _)| c.as_str()), quote);
    let inserts = insert_statements(batches, &column_list).map_err(|e| fail(&e))?;

    let options = MySqlConnectOptions::from_str(to.url).map_err(|e| fail(&e))?;
    let mut conn = MySqlConnection::connect_with(&options)
        .await
        .map_err(|e| fail(&e))?;
    // Strict, so a value that does not fit is an error rather than silently truncated.
    exec(
        &mut conn,
        "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
    )
    .await
    .map_err(|e| fail(&e))?;

    let (db_part, name_part) = to.parts();
    let beside = |suffix: &str| {
        let keep = MAX_NAME.saturating_sub(suffix.len());
        let base: String = name_part.chars().take(keep).collect();
        qualified(db_part, &format!("{base}{suffix}"))
    };
    let target = qualified(db_part, name_part);
    let stage = beside(STAGE_SUFFIX);
    let old = beside("__lakeforge_old");

    let key_list = list(to.unique_key.iter().map(String::as_str), quote);
    let mut defs: Vec<String> = columns
        .iter()
        .map(|(c, t)| format!("{} {t}", quote(c)))
        .collect();
    if !to.unique_key.is_empty() {
        defs.push(format!("PRIMARY KEY ({key_list})"));
    }
    let staged = async {
        exec(&mut conn, &format!("DROP TABLE IF EXISTS {stage}")).await?;
        exec(
            &mut conn,
            &format!(
                "CREATE TABLE {stage} ({}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
                defs.join(", ")
            ),
        )
        .await?;
        for sql in &inserts {
            exec(&mut conn, &format!("INSERT INTO {stage} {sql}")).await?;
        }
        Ok::<(), sqlx::Error>(())
    }
    .await;
    if let Err(e) = staged {
        drop_quietly(&mut conn, &stage).await;
        return Err(fail(&e));
    }

    let swapped = swap_in(
        &mut conn,
        SwapIn {
            to,
            db: db_part,
            name: name_part,
            target: &target,
            stage: &stage,
            old: &old,
            column_list: &column_list,
            columns: &columns,
        },
    )
    .await;
    if let Err(e) = swapped {
        drop_quietly(&mut conn, &stage).await;
        return Err(e);
    }
    Ok(rows as u64)
}

struct SwapIn<'a> {
    to: &'a Destination<'a>,
    db: Option<&'a str>,
    name: &'a str,
    target: &'a str,
    stage: &'a str,
    old: &'a str,
    column_list: &'a str,
    columns: &'a [(String, String)],
}

/// Put the loaded staging table's rows into the destination.
async fn swap_in(conn: &mut MySqlConnection, s: SwapIn<'_>) -> Result<()> {
    let fail = |e: sqlx::Error| s.to.failed(e);
    let exists: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?",
    )
    .bind(s.db)
    .bind(s.name)
    .fetch_one(&mut *conn)
    .await
    .map_err(fail)?;
    let (stage, target) = (s.stage, s.target);
    if exists == 0 {
        return exec(conn, &format!("RENAME TABLE {stage} TO {target}"))
            .await
            .map_err(fail);
    }
    match s.to.mode {
        Mode::Replace => {
            let old = s.old;
            exec(conn, &format!("DROP TABLE IF EXISTS {old}"))
                .await
                .map_err(fail)?;
            // One statement: both renames happen, or neither.
            exec(
                conn,
                &format!("RENAME TABLE {target} TO {old}, {stage} TO {target}"),
            )
            .await
            .map_err(fail)?;
            // The destination is already the new table; a leftover is dropped next time.
            let _ = exec(conn, &format!("DROP TABLE IF EXISTS {old}")).await;
            Ok(())
        }
        Mode::Append | Mode::Upsert => {
            let columns = s.column_list;
            let mut sql = format!("INSERT INTO {target} ({columns}) SELECT {columns} FROM {stage}");
            if s.to.mode == Mode::Upsert {
                check_unique_index(conn, &s).await?;
                let updates: Vec<String> =
                    s.to.updated(s.columns)
                        .map(|c| format!("{0} = VALUES({0})", quote(c)))
                        .collect();
                let updates = if updates.is_empty() {
                    format!("{0} = {0}", quote(&s.to.unique_key[0]))
                } else {
                    updates.join(", ")
                };
                sql.push_str(&format!(" ON DUPLICATE KEY UPDATE {updates}"));
            }
            let mut tx = conn.begin().await.map_err(fail)?;
            sqlx::query(AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
            let _ = exec(conn, &format!("DROP TABLE IF EXISTS {stage}")).await;
            Ok(())
        }
    }
}

/// An upsert merges on `unique_key`, which MySQL's `ON DUPLICATE KEY` finds through a
/// PRIMARY KEY or UNIQUE index: without one on exactly those columns it would append.
async fn check_unique_index(conn: &mut MySqlConnection, s: &SwapIn<'_>) -> Result<()> {
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(INDEX_NAME AS CHAR), CAST(GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ',') AS CHAR) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND NON_UNIQUE = 0 GROUP BY INDEX_NAME",
    )
    .bind(s.db)
    .bind(s.name)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| s.to.failed(e))?;
    let mut want: Vec<String> = s.to.unique_key.iter().map(|k| k.to_lowercase()).collect();
    want.sort();
    let found = indexes.iter().any(|(_, cols)| {
        let mut have: Vec<String> = cols.split(',').map(|c| c.to_lowercase()).collect();
        have.sort();
        have == want
    });
    if found {
        Ok(())
    } else {
        Err(s.to.failed(format!(
            "table {} has no PRIMARY KEY or UNIQUE index on ({}), which an upsert needs\nhint: add one (ALTER TABLE {} ADD PRIMARY KEY ({})), or use mode: replace",
            s.target,
            s.to.unique_key.join(", "),
            s.target,
            s.to.unique_key.join(", ")
        )))
    }
}

async fn exec(conn: &mut MySqlConnection, sql: &str) -> std::result::Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(sql.to_string()))
        .execute(&mut *conn)
        .await
        .map(|_| ())
}

async fn drop_quietly(conn: &mut MySqlConnection, table: &str) {
    let _ = exec(conn, &format!("DROP TABLE IF EXISTS {table}")).await;
}

/// Why rows cannot become MySQL literals.
#[derive(Debug, thiserror::Error)]
enum RowsError {
    #[error("{0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("a value of column {column} is {value}, which MySQL cannot store")]
    NotANumber { column: String, value: String },
}

fn mysql_type(t: &DataType, is_key: bool) -> Option<String> {
    Some(match t {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::UInt8 => "TINYINT UNSIGNED".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::UInt16 => "SMALLINT UNSIGNED".into(),
        DataType::Int32 => "INT".into(),
        DataType::UInt32 => "INT UNSIGNED".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt64 => "BIGINT UNSIGNED".into(),
        DataType::Float16 | DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        // A key must be indexable, which MySQL's TEXT types are not without a prefix length.
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View if is_key => {
            "VARCHAR(255)".into()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "LONGTEXT".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Timestamp(_, _) => "DATETIME(6)".into(),
        DataType::Time32(_) | DataType::Time64(_) => "TIME(6)".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) if *p <= 65 && *s >= 0 => {
            format!("DECIMAL({p},{})", (*s).min(30))
        }
        _ => return None,
    })
}

/// `` `name` `` with backticks doubled.
fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn qualified(db: Option<&str>, name: &str) -> String {
    match db {
        Some(d) => format!("{}.{}", quote(d), quote(name)),
        None => quote(name),
    }
}

/// The rows as `(cols) VALUES (...), (...)` texts of at most about [`CHUNK_BYTES`] each.
fn insert_statements(
    batches: &[RecordBatch],
    column_list: &str,
) -> std::result::Result<Vec<String>, RowsError> {
    let options = FormatOptions::default()
        .with_null("NULL")
        .with_date_format(Some("%Y-%m-%d"))
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.6f"))
        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.6f"))
        .with_time_format(Some("%H:%M:%S%.6f"));
    let head = format!("({column_list}) VALUES ");
    let mut out = Vec::new();
    let mut sql = String::new();
    for b in batches {
        // Timestamps with a time zone are written as UTC wall time (DATETIME has no zone).
        let columns: Vec<std::sync::Arc<dyn Array>> = b
            .columns()
            .iter()
            .map(|c| match c.data_type() {
                DataType::Timestamp(unit, Some(_)) => {
                    arrow::compute::cast(c, &DataType::Timestamp(*unit, Some("+00:00".into())))
                }
                _ => Ok(c.clone()),
            })
            .collect::<std::result::Result<_, _>>()?;
        let formatters = columns
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for row in 0..b.num_rows() {
            sql.push_str(if sql.is_empty() { head.as_str() } else { ", " });
            sql.push('(');
            for (i, f) in formatters.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                let column = &columns[i];
                if column.is_null(row) {
                    sql.push_str("NULL");
                    continue;
                }
                match column.data_type() {
                    DataType::Boolean => sql.push(if column.as_boolean().value(row) {
                        '1'
                    } else {
                        '0'
                    }),
                    DataType::Float16 | DataType::Float32 | DataType::Float64 => {
                        let text = f.value(row).to_string();
                        if text.contains("NaN") || text.contains("inf") {
                            return Err(RowsError::NotANumber {
                                column: b.schema().field(i).name().clone(),
                                value: text,
                            });
                        }
                        sql.push_str(&text);
                    }
                    t if t.is_integer()
                        || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) =>
                    {
                        sql.push_str(&f.value(row).to_string())
                    }
                    _ => {
                        sql.push('\'');
                        for ch in f.value(row).to_string().chars() {
                            match ch {
                                '\\' => sql.push_str("\\\\"),
                                '\'' => sql.push_str("''"),
                                '\0' => sql.push_str("\\0"),
                                c => sql.push(c),
                            }
                        }
                        sql.push('\'');
                    }
                }
            }
            sql.push(')');
            if sql.len() >= CHUNK_BYTES {
                out.push(std::mem::take(&mut sql));
            }
        }
    }
    if !sql.is_empty() {
        out.push(sql);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        BooleanArray, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
    };
    use arrow::datatypes::{Field, Schema, TimeUnit};
    use std::sync::Arc;

    #[test]
    fn rows_become_escaped_literals_of_their_type() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("ok", DataType::Boolean, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("x", DataType::Float64, true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("Europe/Paris".into())),
                true,
            ),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(BooleanArray::from(vec![Some(true), None])),
                Arc::new(StringArray::from(vec![Some("it's a \\ path"), None])),
                Arc::new(Float64Array::from(vec![Some(1.5), None])),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![Some(1_700_000_000_000_000), None])
                        .with_timezone("Europe/Paris"),
                ),
            ],
        )
        .unwrap();
        let sql = insert_statements(&[batch], "`id`, `ok`, `name`, `x`, `at`").unwrap();
        assert_eq!(
            sql,
            vec![
                "(`id`, `ok`, `name`, `x`, `at`) VALUES (1, 1, 'it''s a \\\\ path', 1.5, '2023-11-14 22:13:20.000000'), (2, NULL, NULL, NULL, NULL)"
            ]
        );
        assert_eq!(mysql_type(&DataType::Utf8, true).unwrap(), "VARCHAR(255)");
        assert_eq!(
            mysql_type(&DataType::Decimal128(12, 2), false).unwrap(),
            "DECIMAL(12,2)"
        );
        assert!(mysql_type(&DataType::Binary, false).is_none());
        assert_eq!(quote("a`b"), "`a``b`");
    }

    #[test]
    fn mysql_exports_parse_and_must_name_a_mysql_connection() {
        use crate::export::{ExportSpec, parse_exports};
        let conns = std::collections::BTreeMap::from([
            (
                "app".to_string(),
                "mysql://root:pw@db:3306/shop".to_string(),
            ),
            ("pg".to_string(), "postgres://u:pw@db/shop".to_string()),
        ]);
        let root = std::path::Path::new("/p");
        let specs = parse_exports(
            &serde_json::json!({"type": "mariadb", "connection": "app", "table": "shop.t", "mode": "upsert", "unique_key": "id"}),
            root,
            &conns,
        )
        .unwrap();
        assert!(
            matches!(&specs[0], ExportSpec::Mysql { table, mode: Mode::Upsert, unique_key, .. } if table == "shop.t" && unique_key == &["id".to_string()]),
            "{specs:?}"
        );
        assert_eq!(specs[0].destination(), "shop.t on connection `app`");
        let e = parse_exports(
            &serde_json::json!({"type": "mysql", "connection": "pg", "table": "t"}),
            root,
            &conns,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(
                "a mysql export cannot write to connection `pg`, a `postgres://` URL\nhint: "
            ),
            "{e}"
        );
        assert!(!e.contains("pw"), "{e}");
        let e = parse_exports(
            &serde_json::json!({"type": "postgres", "connection": "app", "table": "t"}),
            root,
            &conns,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("a postgres export cannot write to connection `app`, a `mysql://` URL"),
            "{e}"
        );
    }

    #[test]
    fn not_a_number_is_refused_rather_than_mangled() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(Float64Array::from(vec![f64::NAN]))])
                .unwrap();
        let e = insert_statements(&[batch], "`x`").unwrap_err().to_string();
        assert!(e.contains("column x is NaN"), "{e}");
    }
}
