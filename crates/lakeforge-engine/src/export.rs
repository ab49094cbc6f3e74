//! Exports, the L of ETL: after a model's Delta commit, its table is written to where an
//! application reads it — a Parquet or CSV file, or a PostgreSQL or MySQL/MariaDB table (modes
//! `replace`, `append`, `upsert` on a key). Each export is all or nothing: files are written
//! beside the destination and renamed over it; a file in object storage (`s3://`, `az://`) is
//! written to a temporary object beside it, copied over the destination in one server-side copy
//! (atomic: readers see the old object or the new one) and the temporary object deleted; a
//! PostgreSQL export loads a staging table with
//! COPY and swaps or merges it inside one transaction; a MySQL export (`export_mysql.rs`)
//! loads a staging table and swaps it in with one RENAME or merges it with one INSERT ...
//! SELECT, so a failure leaves the destination as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::dataframe::DataFrameWriteOptions;
use lakeforge_project::Relation;
use serde_json::Value;

use crate::error::{EngineError, Result};
use crate::session::Engine;

/// One entry of a model's `export:` config.
#[derive(Debug, Clone, PartialEq)]
pub enum ExportSpec {
    File {
        path: PathBuf,
        format: FileKind,
    },
    /// A Parquet or CSV file in object storage (`s3://bucket/key`, `az://container/key`),
    /// through the store of lakeforge.yml connection `connection` or of the environment.
    Object {
        url: String,
        format: FileKind,
        connection: Option<String>,
    },
    Postgres {
        /// The connection's name in lakeforge.yml (for messages) and its URL.
        connection: String,
        url: String,
        /// `schema.table` or `table`.
        table: String,
        mode: Mode,
        unique_key: Vec<String>,
    },
    /// A MySQL or MariaDB table (`type: mysql`, or `mariadb`).
    Mysql {
        connection: String,
        url: String,
        /// `database.table` or `table` (in the URL's database).
        table: String,
        mode: Mode,
        unique_key: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FileKind {
    Parquet,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Replace,
    Append,
    Upsert,
}

impl ExportSpec {
    /// What the export writes to, for messages.
    pub fn destination(&self) -> String {
        match self {
            ExportSpec::File { path, .. } => path.display().to_string(),
            ExportSpec::Object { url, .. } => url.clone(),
            ExportSpec::Postgres {
                connection, table, ..
            }
            | ExportSpec::Mysql {
                connection, table, ..
            } => format!("{table} on connection `{connection}`"),
        }
    }
}

/// Parse a model's `export:` config (one mapping or a list of them). `root` resolves relative
/// file paths; `connections` are lakeforge.yml's, by name.
pub fn parse_exports(
    value: &Value,
    root: &Path,
    connections: &BTreeMap<String, String>,
) -> std::result::Result<Vec<ExportSpec>, String> {
    let items: Vec<&Value> = match value {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        v => vec![v],
    };
    let mut out = Vec::new();
    for item in items {
        let get = |k: &str| item.get(k).and_then(|v| v.as_str());
        let kind = get("type")
            .or_else(|| get("format"))
            .ok_or("each `export:` needs `type:` (parquet, csv, postgres or mysql)")?;
        match kind {
            "parquet" | "csv" => {
                let path = get("path").ok_or(format!("a {kind} export needs `path:`"))?;
                let format = if kind == "csv" {
                    FileKind::Csv
                } else {
                    FileKind::Parquet
                };
                if lakeforge_project::storage::StorageKind::of_url(path).is_some() {
                    if path.ends_with('/') {
                        return Err(format!(
                            "a {kind} export's path `{path}` must name a file, not a folder"
                        ));
                    }
                    out.push(ExportSpec::Object {
                        url: path.to_string(),
                        format,
                        connection: get("connection").map(String::from),
                    });
                    continue;
                }
                let path = Path::new(path);
                let path = if path.is_absolute() {
                    path.to_path_buf()
                } else {
                    root.join(path)
                };
                out.push(ExportSpec::File { path, format });
            }
            "postgres" | "postgresql" | "mysql" | "mariadb" => {
                let is_mysql = matches!(kind, "mysql" | "mariadb");
                let connection = get("connection").ok_or(format!(
                    "a {kind} export needs `connection:`, a name under `connections:` in lakeforge.yml"
                ))?;
                let url = connections.get(connection).ok_or_else(|| {
                    let known: Vec<&str> = connections.keys().map(String::as_str).collect();
                    format!(
                        "connection `{connection}` is not in lakeforge.yml's `connections:` (it has: {})",
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    )
                })?;
                // Only the scheme is named: the URL may hold a password.
                let scheme_ok = match lakeforge_project::database::DatabaseKind::of_url(url) {
                    Some(lakeforge_project::database::DatabaseKind::Mysql) => is_mysql,
                    Some(lakeforge_project::database::DatabaseKind::Postgres) => !is_mysql,
                    _ => false,
                };
                if !scheme_ok {
                    let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("?");
                    return Err(format!(
                        "a {kind} export cannot write to connection `{connection}`, a `{scheme}://` URL\nhint: `type: postgres` exports need a postgres:// connection, `type: mysql` ones a mysql:// (or mariadb://) connection"
                    ));
                }
                let table = get("table").ok_or(format!("a {kind} export needs `table:`"))?;
                let mode = match get("mode").unwrap_or("replace") {
                    "replace" => Mode::Replace,
                    "append" => Mode::Append,
                    "upsert" | "merge" => Mode::Upsert,
                    other => {
                        return Err(format!(
                            "export mode `{other}` is not one of replace, append, upsert"
                        ));
                    }
                };
                let unique_key: Vec<String> = match item.get("unique_key") {
                    Some(Value::String(s)) => vec![s.clone()],
                    Some(Value::Array(a)) => a
                        .iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect(),
                    _ => Vec::new(),
                };
                if mode == Mode::Upsert && unique_key.is_empty() {
                    return Err("an upsert export needs `unique_key:`".into());
                }
                let (connection, url, table) =
                    (connection.to_string(), url.clone(), table.to_string());
                out.push(if is_mysql {
                    ExportSpec::Mysql {
                        connection,
                        url,
                        table,
                        mode,
                        unique_key,
                    }
                } else {
                    ExportSpec::Postgres {
                        connection,
                        url,
                        table,
                        mode,
                        unique_key,
                    }
                });
            }
            other => {
                return Err(format!(
                    "export type `{other}` is not supported\nhint: use parquet, csv, postgres or mysql"
                ));
            }
        }
    }
    Ok(out)
}

/// Write the table `relation` to `spec`'s destination; returns the rows written.
pub async fn export(engine: &Engine, relation: &Relation, spec: &ExportSpec) -> Result<u64> {
    let context = format!("export of {relation} to {}", spec.destination());
    let df = engine
        .dataframe(&context, &format!("select * from {relation}"))
        .await?;
    match spec {
        ExportSpec::File { path, format } => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| EngineError::Lake {
                    path: dir.to_path_buf(),
                    source: e,
                })?;
            }
            // Beside the destination, so the final rename stays on one file system.
            let tmp = path.with_file_name(format!(
                ".{}.lakeforge-{}",
                path.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("export"),
                std::process::id()
            ));
            let tmp_text = tmp.display().to_string();
            let options = DataFrameWriteOptions::new().with_single_file_output(true);
            let written = match format {
                FileKind::Parquet => df.write_parquet(&tmp_text, options, None).await,
                FileKind::Csv => df.write_csv(&tmp_text, options, None).await,
            };
            let batches = match written {
                Ok(b) => b,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(EngineError::sql(&context, e));
                }
            };
            std::fs::rename(&tmp, path).map_err(|e| EngineError::Lake {
                path: path.clone(),
                source: e,
            })?;
            Ok(count_of(&batches))
        }
        ExportSpec::Object {
            url,
            format,
            connection,
        } => to_object(engine, &context, df, url, *format, connection.as_deref()).await,
        ExportSpec::Postgres {
            url,
            table,
            mode,
            unique_key,
            ..
        } => {
            let schema: SchemaRef = std::sync::Arc::new(df.schema().as_arrow().clone());
            let batches = df
                .collect()
                .await
                .map_err(|e| EngineError::sql(&context, e))?;
            to_postgres(&context, url, table, *mode, unique_key, &schema, &batches).await
        }
        ExportSpec::Mysql {
            url,
            table,
            mode,
            unique_key,
            ..
        } => {
            let schema: SchemaRef = std::sync::Arc::new(df.schema().as_arrow().clone());
            let batches = df
                .collect()
                .await
                .map_err(|e| EngineError::sql(&context, e))?;
            crate::export_mysql::to_mysql(
                &context, url, table, *mode, unique_key, &schema, &batches,
            )
            .await
        }
    }
}

/// Write `df` to the object `url`: to a temporary object beside it, then one server-side copy
/// over the destination, then the temporary object deleted. A failure before the copy leaves
/// the destination as it was.
async fn to_object(
    engine: &Engine,
    context: &str,
    df: datafusion::dataframe::DataFrame,
    url: &str,
    format: FileKind,
    connection: Option<&str>,
) -> Result<u64> {
    use object_store::ObjectStoreExt;
    let fail = |message: String| {
        let message = crate::storage::redact(&message);
        let hint = crate::storage::hint(&message, url, connection)
            .map(|h| format!("\nhint: {h}"))
            .unwrap_or_default();
        EngineError::Sql {
            context: context.to_string(),
            message: format!("{message}; the destination was left as it was{hint}"),
        }
    };
    let store = engine
        .storage_connections()
        .register(&engine.context().runtime_env(), url, connection)
        .map_err(&fail)?;
    let parsed = url::Url::parse(url).map_err(|e| fail(format!("`{url}` is not a URL: {e}")))?;
    let key = object_store::path::Path::from_url_path(parsed.path())
        .map_err(|e| fail(format!("`{url}` is not an object key: {e}")))?;
    let name = key.filename().unwrap_or("export").to_string();
    let tmp_name = format!(
        ".{name}.lakeforge-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let mut tmp_url = parsed.clone();
    tmp_url
        .path_segments_mut()
        .map_err(|_| fail(format!("`{url}` has no path")))?
        .pop()
        .push(&tmp_name);
    let tmp_key = object_store::path::Path::from_url_path(tmp_url.path())
        .map_err(|e| fail(format!("`{url}` is not an object key: {e}")))?;
    // A refused credential or a missing bucket shows here with the store's own words (a
    // failed write only says that it failed).
    match store.head(&key).await {
        Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(fail(e.to_string())),
    }
    let options = DataFrameWriteOptions::new().with_single_file_output(true);
    let written = match format {
        FileKind::Parquet => df.write_parquet(tmp_url.as_str(), options, None).await,
        FileKind::Csv => df.write_csv(tmp_url.as_str(), options, None).await,
    };
    let batches = match written {
        Ok(b) => b,
        Err(e) => {
            let _ = store.delete(&tmp_key).await;
            return Err(fail(crate::error::clean_datafusion_message(&e.to_string())));
        }
    };
    let copied = store.copy(&tmp_key, &key).await;
    let _ = store.delete(&tmp_key).await;
    copied.map_err(|e| fail(e.to_string()))?;
    Ok(count_of(&batches))
}

fn count_of(batches: &[RecordBatch]) -> u64 {
    // DataFusion's write returns one row holding the count.
    batches
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<arrow::array::UInt64Array>()
                .map(|a| a.value(0))
        })
        .unwrap_or(0)
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
fn copy_text(batches: &[RecordBatch]) -> std::result::Result<Vec<u8>, String> {
    let options = FormatOptions::default();
    let mut out = Vec::new();
    for b in batches {
        let formatters = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
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

async fn to_postgres(
    context: &str,
    url: &str,
    table: &str,
    mode: Mode,
    unique_key: &[String],
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<u64> {
    use sqlx::Connection;
    let fail = |e: &dyn std::fmt::Display| EngineError::Sql {
        context: context.to_string(),
        message: format!("{e}; the destination was left as it was"),
    };
    let mut columns = Vec::new();
    for f in schema.fields() {
        let t = pg_type(f.data_type()).ok_or_else(|| {
            fail(&format!(
                "column `{}` has type {}, which has no PostgreSQL counterpart here",
                f.name(),
                f.data_type()
            ))
        })?;
        columns.push((f.name().clone(), t));
    }
    for k in unique_key {
        if !columns.iter().any(|(c, _)| c == k) {
            return Err(fail(&format!(
                "unique_key `{k}` is not a column of the model (columns: {})",
                columns
                    .iter()
                    .map(|(c, _)| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let data = copy_text(batches).map_err(|e| fail(&e))?;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| fail(&redact(&e.to_string(), url)))?;
    let target = pg_name(table);
    let (schema_part, name_part) = match table.rsplit_once('.') {
        Some((s, n)) => (Some(s), n),
        None => (None, table),
    };
    let stage_name = format!("{name_part}__lakeforge_stage");
    let stage = match schema_part {
        Some(s) => pg_name(&format!("{s}.{stage_name}")),
        None => pg_name(&stage_name),
    };
    let column_defs = columns
        .iter()
        .map(|(c, t)| format!("{} {t}", pg_name(c)))
        .collect::<Vec<_>>()
        .join(", ");
    let column_list = columns
        .iter()
        .map(|(c, _)| pg_name(c))
        .collect::<Vec<_>>()
        .join(", ");
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
    let key_list = unique_key
        .iter()
        .map(|k| pg_name(k))
        .collect::<Vec<_>>()
        .join(", ");
    let mut statements = Vec::new();
    match (mode, exists) {
        (Mode::Replace, _) | (_, false) => {
            statements.push(format!("DROP TABLE IF EXISTS {target}"));
            statements.push(format!(
                "ALTER TABLE {stage} RENAME TO {}",
                pg_name(name_part)
            ));
            if !unique_key.is_empty() {
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
            let updates = columns
                .iter()
                .filter(|(c, _)| !unique_key.contains(c))
                .map(|(c, _)| format!("{0} = EXCLUDED.{0}", pg_name(c)))
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

/// A connection error without the URL's password.
fn redact(message: &str, url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match u.password() {
            Some(p) if !p.is_empty() => message.replace(p, "****"),
            _ => message.to_string(),
        },
        Err(_) => message.to_string(),
    }
}
