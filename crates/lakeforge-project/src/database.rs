//! Sources that live in a database: a source (or one of its tables) with `connection:` names a
//! connection of lakeforge.yml's `connections:` (PostgreSQL, MySQL/MariaDB or SQLite), and its
//! tables are read from there when a query names them, rather than from the lake. This module
//! only checks the declaration while the project loads; `lakeforge-engine` opens the tables.
//!
//! ```yaml
//! sources:
//!   - name: shop_db
//!     connection: shop_pg        # or config: {connection: shop_pg}; a table may override it
//!     schema: public             # the schema in the database (default: the connection's own)
//!     tables:
//!       - name: orders
//!       - name: clients
//!         identifier: customers  # the table's name in the database, when it differs
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{ProjectError, Result};
use crate::properties::{SourceProps, SourceTableProps};

/// Which kind of database a connection URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseKind {
    Postgres,
    /// MySQL and MariaDB.
    Mysql,
    Sqlite,
}

impl DatabaseKind {
    /// The kind of a connection URL, from its scheme; None for any other scheme.
    pub fn of_url(url: &str) -> Option<DatabaseKind> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        Some(match scheme.as_str() {
            "postgres" | "postgresql" => DatabaseKind::Postgres,
            "mysql" | "mariadb" => DatabaseKind::Mysql,
            "sqlite" => DatabaseKind::Sqlite,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DatabaseKind::Postgres => "postgres",
            DatabaseKind::Mysql => "mysql",
            DatabaseKind::Sqlite => "sqlite",
        }
    }
}

/// Where a source table lives in a database. Holds the connection's name, never its URL,
/// which may carry a password: this struct ends up in manifest.json.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatabaseSource {
    /// The name under `connections:` in lakeforge.yml.
    pub connection: String,
    pub kind: DatabaseKind,
    /// The schema in the database (`schema:` of the source); None: the connection's default
    /// (PostgreSQL's search path, the MySQL database of the URL, SQLite's `main`).
    pub schema: Option<String>,
    /// The table or view in the database: `identifier:`, else the table's name.
    pub table: String,
}

impl DatabaseSource {
    /// `schema.table` or `table`, as the database knows it.
    pub fn remote_name(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.table),
            None => self.table.clone(),
        }
    }
}

/// `connection:` of a source table: the table's own (`connection:` or `config: {connection:}`)
/// wins over the source's. Returns None for a source that is not in a database.
pub fn parse(
    source: &SourceProps,
    table: &SourceTableProps,
    connections: &BTreeMap<String, String>,
    file: &str,
) -> Result<Option<DatabaseSource>> {
    let what = format!("source `{}.{}`", source.name, table.name);
    let bad = |m: String| ProjectError::Config {
        path: file.into(),
        message: format!("{what}: {m}"),
    };
    let connection = match connection_of(&table.rest)
        .transpose()
        .or_else(|| connection_of(&source.rest).transpose())
        .transpose()
    {
        Ok(Some(c)) => c,
        Ok(None) => return Ok(None),
        Err(e) => return Err(bad(e.to_string())),
    };
    if table.rest.contains_key("external") || source.rest.contains_key("external") {
        return Err(bad(format!(
            "has both `external:` (files) and `connection: {connection}` (a database)\nhint: keep one: a source table is read either from files or from a database"
        )));
    }
    let Some(url) = connections.get(&connection) else {
        let known: Vec<&str> = connections.keys().map(String::as_str).collect();
        return Err(bad(format!(
            "connection `{connection}` is not in lakeforge.yml's `connections:` nor a database output of profiles.yml (known: {})\nhint: add `{connection}: {{url: \"postgres://user@host:5432/db\"}}` (or mysql://, sqlite://) under `connections:` in lakeforge.yml, or an output `{connection}: {{type: postgres, host: ..., dbname: ...}}` to the profile, or fix the name",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    };
    let Some(kind) = DatabaseKind::of_url(url) else {
        // Only the scheme: the URL itself may hold a password.
        let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("?");
        return Err(bad(format!(
            "connection `{connection}` is a `{scheme}://` URL, which is not a database Lakeforge reads\nhint: sources read postgres://, mysql:// (MariaDB too) and sqlite:// connections"
        )));
    };
    Ok(Some(DatabaseSource {
        connection,
        kind,
        schema: source.schema.clone(),
        table: table
            .identifier
            .clone()
            .unwrap_or_else(|| table.name.clone()),
    }))
}

/// A `connection:` that is not a name (the YAML as written, on one line).
#[derive(Debug, thiserror::Error)]
#[error("`connection:` must be the name of a connection in lakeforge.yml, not {0}")]
pub(crate) struct NotAConnectionName(String);

/// `connection:` or `config: {connection:}` among a source's or table's extra keys.
pub(crate) fn connection_of(
    rest: &BTreeMap<String, serde_yaml::Value>,
) -> std::result::Result<Option<String>, NotAConnectionName> {
    let direct = rest.get("connection");
    let in_config = rest.get("config").and_then(|c| c.get("connection"));
    match direct.or(in_config) {
        None | Some(serde_yaml::Value::Null) => Ok(None),
        Some(serde_yaml::Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().into())),
        Some(other) => Err(NotAConnectionName(
            serde_yaml::to_string(other)
                .unwrap_or_default()
                .trim()
                .to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_yaml(source: &str, conns: &[(&str, &str)]) -> Result<Option<DatabaseSource>> {
        let s: SourceProps = serde_yaml::from_str(source).unwrap();
        let connections = conns
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(&s, &s.tables[0], &connections, "models/shop.yml")
    }

    const PG: (&str, &str) = ("shop_pg", "postgres://app:secret@db:5432/shop");

    #[test]
    fn the_connection_comes_from_the_table_or_the_source() {
        let d = parse_yaml(
            "{name: shop_db, schema: public, connection: shop_pg, tables: [{name: orders}]}",
            &[PG],
        )
        .unwrap()
        .unwrap();
        assert_eq!(d.connection, "shop_pg");
        assert_eq!(d.kind, DatabaseKind::Postgres);
        assert_eq!(d.remote_name(), "public.orders");
        // In `config:`, and overridden by a table, whose identifier names the remote table.
        let d = parse_yaml(
            "{name: shop_db, config: {connection: shop_pg}, tables: [{name: clients, identifier: customers, config: {connection: lite}}]}",
            &[PG, ("lite", "sqlite://data/shop.db")],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (d.connection.as_str(), d.kind),
            ("lite", DatabaseKind::Sqlite)
        );
        assert_eq!(d.remote_name(), "customers");
        assert_eq!(
            parse_yaml("{name: raw, tables: [{name: orders}]}", &[PG]).unwrap(),
            None
        );
    }

    #[test]
    fn mistakes_name_the_source_and_never_show_the_url() {
        let e = parse_yaml(
            "{name: shop_db, connection: shop, tables: [{name: orders}]}",
            &[PG],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("models/shop.yml: source `shop_db.orders`: connection `shop` is not in lakeforge.yml's `connections:` nor a database output of profiles.yml (known: shop_pg)\nhint: "),
            "{e}"
        );
        let e = parse_yaml(
            "{name: shop_db, connection: kv, tables: [{name: orders}]}",
            &[("kv", "redis://:secret@cache:6379")],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("connection `kv` is a `redis://` URL"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        let e = parse_yaml(
            "{name: shop_db, connection: shop_pg, tables: [{name: orders, external: {location: x.csv}}]}",
            &[PG],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("has both `external:`"), "{e}");
        let e = parse_yaml(
            "{name: shop_db, connection: [a], tables: [{name: orders}]}",
            &[PG],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("`connection:` must be the name of a connection"),
            "{e}"
        );
    }
}
