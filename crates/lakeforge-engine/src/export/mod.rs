//! Exports, the L of ETL and the last step of a model's flow: after its Delta commit, its table
//! is written to where an application reads it — a Parquet or CSV file, or a PostgreSQL or
//! MySQL/MariaDB table (modes `replace`, `append`, `upsert` on a key). Each export is all or
//! nothing: files are written beside the destination and renamed over it; a file in object
//! storage (`s3://`, `az://`) is written to a temporary object beside it, copied over the
//! destination in one server-side copy (atomic: readers see the old object or the new one)
//! and the temporary object deleted (`file.rs`). A database export loads a staging table
//! beside the destination first (`staging.rs`, shared): PostgreSQL (`postgres.rs`) with COPY,
//! swapped or merged inside one transaction; MySQL (`mysql.rs`) swapped in with one RENAME or
//! merged with one INSERT ... SELECT, so a failure leaves the destination as it was.

mod file;
mod mysql;
mod postgres;
mod staging;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
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

/// Why a model's `export:` config cannot be followed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExportConfigError {
    #[error("each `export:` needs `type:` (parquet, csv, postgres or mysql)")]
    NoType,
    #[error("export type `{kind}` is not supported\nhint: use parquet, csv, postgres or mysql")]
    UnknownType { kind: String },
    #[error("a {kind} export needs `{key}:`")]
    Missing { kind: String, key: &'static str },
    #[error("a {kind} export needs `connection:`, a name under `connections:` in lakeforge.yml")]
    NoConnection { kind: String },
    #[error("a {kind} export's path `{path}` must name a file, not a folder")]
    PathIsFolder { kind: String, path: String },
    #[error(
        "connection `{connection}` is not in lakeforge.yml's `connections:` (it has: {})",
        if known.is_empty() { "none".to_string() } else { known.join(", ") }
    )]
    UnknownConnection {
        connection: String,
        known: Vec<String>,
    },
    /// Only the scheme is named: the URL may hold a password.
    #[error(
        "a {kind} export cannot write to connection `{connection}`, a `{scheme}://` URL\nhint: `type: postgres` exports need a postgres:// connection, `type: mysql` ones a mysql:// (or mariadb://) connection"
    )]
    WrongScheme {
        kind: String,
        connection: String,
        scheme: String,
    },
    #[error("export mode `{mode}` is not one of replace, append, upsert")]
    UnknownMode { mode: String },
    #[error("an upsert export needs `unique_key:`")]
    UpsertWithoutKey,
}

/// Parse a model's `export:` config (one mapping or a list of them). `root` resolves relative
/// file paths; `connections` are lakeforge.yml's, by name.
pub fn parse_exports(
    value: &Value,
    root: &Path,
    connections: &BTreeMap<String, String>,
) -> std::result::Result<Vec<ExportSpec>, ExportConfigError> {
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
            .ok_or(ExportConfigError::NoType)?;
        let missing = |key| ExportConfigError::Missing {
            kind: kind.to_string(),
            key,
        };
        match kind {
            "parquet" | "csv" => {
                let path = get("path").ok_or_else(|| missing("path"))?;
                let format = if kind == "csv" {
                    FileKind::Csv
                } else {
                    FileKind::Parquet
                };
                if lakeforge_project::storage::StorageKind::of_url(path).is_some() {
                    if path.ends_with('/') {
                        return Err(ExportConfigError::PathIsFolder {
                            kind: kind.to_string(),
                            path: path.to_string(),
                        });
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
                let connection =
                    get("connection").ok_or_else(|| ExportConfigError::NoConnection {
                        kind: kind.to_string(),
                    })?;
                let url = connections.get(connection).ok_or_else(|| {
                    ExportConfigError::UnknownConnection {
                        connection: connection.to_string(),
                        known: connections.keys().cloned().collect(),
                    }
                })?;
                let scheme_ok = match lakeforge_project::database::DatabaseKind::of_url(url) {
                    Some(lakeforge_project::database::DatabaseKind::Mysql) => is_mysql,
                    Some(lakeforge_project::database::DatabaseKind::Postgres) => !is_mysql,
                    _ => false,
                };
                if !scheme_ok {
                    let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("?");
                    return Err(ExportConfigError::WrongScheme {
                        kind: kind.to_string(),
                        connection: connection.to_string(),
                        scheme: scheme.to_string(),
                    });
                }
                let table = get("table").ok_or_else(|| missing("table"))?;
                let mode = match get("mode").unwrap_or("replace") {
                    "replace" => Mode::Replace,
                    "append" => Mode::Append,
                    "upsert" | "merge" => Mode::Upsert,
                    other => {
                        return Err(ExportConfigError::UnknownMode {
                            mode: other.to_string(),
                        });
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
                    return Err(ExportConfigError::UpsertWithoutKey);
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
                return Err(ExportConfigError::UnknownType {
                    kind: other.to_string(),
                });
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
        ExportSpec::File { path, format } => file::to_file(&context, df, path, *format).await,
        ExportSpec::Object {
            url,
            format,
            connection,
        } => file::to_object(engine, &context, df, url, *format, connection.as_deref()).await,
        ExportSpec::Postgres {
            url,
            table,
            mode,
            unique_key,
            ..
        }
        | ExportSpec::Mysql {
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
            let to = staging::Destination {
                context: &context,
                url,
                table,
                mode: *mode,
                unique_key,
            };
            if matches!(spec, ExportSpec::Mysql { .. }) {
                mysql::to_mysql(&to, &schema, &batches).await
            } else {
                postgres::to_postgres(&to, &schema, &batches).await
            }
        }
    }
}
