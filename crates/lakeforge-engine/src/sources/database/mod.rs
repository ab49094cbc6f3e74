//! Sources that live in a database (PostgreSQL, MySQL/MariaDB, SQLite), read through
//! datafusion-table-providers. A source with `connection:` is registered in the lake's catalog
//! under its source name (`shop_db.orders`); the first query that names it opens the
//! connection's pool (one per connection, shared by its tables) and reads the table's schema,
//! and every scan sends the database one `SELECT` with the query's columns (projection
//! pushdown) and filters (filter pushdown).
//!
//! Incremental extraction sends the database only the rows past a model's watermark
//! (`watermark.rs`); every scan is wrapped so errors raised while rows stream in name the
//! source (`source_exec.rs`). Connection URLs may hold passwords: they are kept out of every
//! message ([`redact`], `urls.rs`), out of `Debug` output, and out of manifest.json (which
//! stores only the connection's name).

mod source_exec;
mod urls;
mod watermark;

pub(crate) use urls::redact;
pub(crate) use watermark::{SourcePlanner, read_once};

use urls::{UrlParts, sqlite_path};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Constraints, Statistics, TableReference};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_table_providers::mysql::MySQLTableFactory;
use datafusion_table_providers::postgres::PostgresTableFactory;
use datafusion_table_providers::sql::db_connection_pool::mysqlpool::{self, MySQLConnectionPool};
use datafusion_table_providers::sql::db_connection_pool::postgrespool::{
    self, PostgresConnectionPool,
};
use datafusion_table_providers::sql::db_connection_pool::sqlitepool::SqliteConnectionPool;
use datafusion_table_providers::sql::db_connection_pool::{JoinPushDown, Mode};
use datafusion_table_providers::sqlite::SqliteTableFactory;
use datafusion_table_providers::util::secrets::to_secret_map;
use lakeforge_project::database::{DatabaseKind, DatabaseSource};

/// A connection of lakeforge.yml, shared by the source tables that name it. Its pool is
/// opened by the first query that needs it; a failed open is retried by the next.
pub(crate) struct Connection {
    name: String,
    kind: DatabaseKind,
    /// The rendered URL; secret (see the module doc).
    url: String,
    /// For SQLite: the database file, made absolute against the project folder.
    sqlite_path: Option<PathBuf>,
    pool: tokio::sync::OnceCell<Pool>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
enum Pool {
    Postgres(Arc<PostgresConnectionPool>),
    Mysql(Arc<MySQLConnectionPool>),
    Sqlite(Arc<SqliteConnectionPool>),
}

impl Connection {
    /// `url` as rendered from lakeforge.yml; `root` resolves a relative SQLite path.
    pub(crate) fn new(name: &str, url: &str, root: &Path) -> Connection {
        let kind = DatabaseKind::of_url(url).unwrap_or(DatabaseKind::Postgres);
        let sqlite_path = (kind == DatabaseKind::Sqlite).then(|| sqlite_path(url, root));
        Connection {
            name: name.to_string(),
            kind,
            url: url.to_string(),
            sqlite_path,
            pool: tokio::sync::OnceCell::new(),
        }
    }

    /// Where the connection points, for messages: kind, host and port, database and user;
    /// never the password.
    fn describe(&self) -> String {
        if let Some(path) = &self.sqlite_path {
            return format!("sqlite file {}", path.display());
        }
        match UrlParts::parse(&self.url) {
            Ok(u) => {
                let mut s = format!(
                    "{} at {}:{}",
                    self.kind.as_str(),
                    u.host,
                    u.port.unwrap_or(self.default_port())
                );
                if let Some(db) = &u.database {
                    s.push_str(&format!(", database {db}"));
                }
                if !u.user.is_empty() {
                    s.push_str(&format!(", user {}", u.user));
                }
                s
            }
            Err(_) => self.kind.as_str().to_string(),
        }
    }

    fn default_port(&self) -> u16 {
        match self.kind {
            DatabaseKind::Mysql => 3306,
            _ => 5432,
        }
    }

    async fn pool(&self, source: &str) -> DfResult<Pool> {
        self.pool
            .get_or_try_init(|| async {
                self.open_pool()
                    .await
                    .map_err(|failure| DataFusionError::Plan(self.message(source, failure)))
            })
            .await
            .cloned()
    }

    async fn open_pool(&self) -> Result<Pool, Failure> {
        match self.kind {
            DatabaseKind::Sqlite => {
                let path = self.sqlite_path.clone().unwrap_or_default();
                if !path.is_file() {
                    return Err(Failure::NoSqliteFile(path));
                }
                let text = path.display().to_string();
                // Not the factory's `build()`: it would switch the user's file to WAL mode.
                let pool = SqliteConnectionPool::new(
                    &text,
                    Mode::File,
                    JoinPushDown::AllowedFor(text.clone()),
                    Vec::new(),
                    Duration::from_secs(5),
                )
                .await
                .map_err(|e| Failure::Other(e.to_string()))?;
                Ok(Pool::Sqlite(Arc::new(pool)))
            }
            DatabaseKind::Postgres => {
                let u = UrlParts::parse(&self.url).map_err(Failure::BadUrl)?;
                let mut params = HashMap::from([
                    ("host".to_string(), u.host.clone()),
                    ("port".to_string(), u.port.unwrap_or(5432).to_string()),
                    ("user".to_string(), u.user.clone()),
                    (
                        "db".to_string(),
                        u.database.clone().unwrap_or_else(|| u.user.clone()),
                    ),
                    (
                        "sslmode".to_string(),
                        u.sslmode().unwrap_or("prefer").to_ascii_lowercase(),
                    ),
                    ("connection_pool_size".to_string(), "4".to_string()),
                ]);
                if let Some(p) = &u.password {
                    params.insert("pass".into(), p.clone());
                }
                if let Some(name) = u.param("application_name") {
                    params.insert("application_name".into(), name.to_string());
                }
                match PostgresConnectionPool::new(to_secret_map(params)).await {
                    Ok(pool) => Ok(Pool::Postgres(Arc::new(pool))),
                    Err(postgrespool::Error::InvalidHostOrPortError { .. }) => {
                        Err(Failure::Unreachable)
                    }
                    Err(postgrespool::Error::InvalidUsernameOrPassword { .. }) => {
                        Err(Failure::Auth)
                    }
                    Err(e) => {
                        let text = e.to_string();
                        if text.contains("password authentication failed")
                            || text.contains("password is required")
                            || text.contains("no password")
                        {
                            Err(Failure::Auth)
                        } else if text.contains("database \"") && text.contains("does not exist") {
                            Err(Failure::NoDatabase)
                        } else {
                            Err(Failure::Other(text))
                        }
                    }
                }
            }
            DatabaseKind::Mysql => {
                let u = UrlParts::parse(&self.url).map_err(Failure::BadUrl)?;
                let mut params = HashMap::from([
                    ("host".to_string(), u.host.clone()),
                    ("tcp_port".to_string(), u.port.unwrap_or(3306).to_string()),
                    ("user".to_string(), u.user.clone()),
                    ("pool_max".to_string(), "4".to_string()),
                ]);
                if let Some(db) = &u.database {
                    params.insert("db".into(), db.clone());
                }
                if let Some(p) = &u.password {
                    params.insert("pass".into(), p.clone());
                }
                // MySQL's own default is PREFERRED: TLS when the server offers it. The
                // provider has no such mode, so try TLS and fall back when the server has none.
                let modes: Vec<String> = match u.sslmode() {
                    Some(m) => vec![m.to_ascii_lowercase()],
                    None => vec!["preferred".into(), "disabled".into()],
                };
                let mut last = Failure::Other("no attempt".into());
                for mode in modes {
                    let mut params = params.clone();
                    params.insert("sslmode".into(), mode);
                    match MySQLConnectionPool::new(to_secret_map(params)).await {
                        Ok(pool) => return Ok(Pool::Mysql(Arc::new(pool))),
                        Err(mysqlpool::Error::InvalidHostOrPortError { .. }) => {
                            return Err(Failure::Unreachable);
                        }
                        Err(mysqlpool::Error::InvalidUsernameOrPassword) => {
                            return Err(Failure::Auth);
                        }
                        Err(mysqlpool::Error::UnknownMySQLDatabase { .. }) => {
                            return Err(Failure::NoDatabase);
                        }
                        Err(e) => {
                            let text = e.to_string();
                            if text.contains("Access denied") {
                                return Err(Failure::Auth);
                            }
                            last = Failure::Other(text);
                        }
                    }
                }
                Err(last)
            }
        }
    }

    /// The message of a failure to open `source` on this connection: what went wrong, where,
    /// and a `hint:` line; the URL's password never appears.
    fn message(&self, source: &str, failure: Failure) -> String {
        let name = &self.name;
        let at = self.describe();
        let text = match failure {
            Failure::Unreachable => format!(
                "{source}: cannot reach the database of connection `{name}` ({at})\nhint: check that the server is running and that connection `{name}` in lakeforge.yml names the right host and port"
            ),
            Failure::Auth => format!(
                "{source}: the database of connection `{name}` refused the login: wrong user name or password ({at})\nhint: check the user and password of connection `{name}` in lakeforge.yml; keep the password in an environment variable read with {{{{ env_var('...') }}}}"
            ),
            Failure::NoDatabase => format!(
                "{source}: the database named by connection `{name}` does not exist ({at})\nhint: fix the database name at the end of the URL of connection `{name}` in lakeforge.yml, or create it"
            ),
            Failure::NoSqliteFile(path) => format!(
                "{source}: connection `{name}` names the SQLite file {}, which does not exist\nhint: fix the path of connection `{name}` in lakeforge.yml (relative paths are relative to the project folder)",
                path.display()
            ),
            Failure::BadUrl(m) => format!(
                "{source}: the URL of connection `{name}` is not valid: {m}\nhint: write it as {}://user:password@host:port/database",
                self.kind.as_str()
            ),
            Failure::Other(m) => format!(
                "{source}: connection `{name}` ({at}) failed: {}\nhint: check connection `{name}` in lakeforge.yml and that the database accepts connections from here",
                m.trim()
            ),
        };
        redact(&text, &self.url)
    }
}

/// Why a connection could not be opened.
enum Failure {
    Unreachable,
    Auth,
    NoDatabase,
    NoSqliteFile(PathBuf),
    BadUrl(urls::UrlError),
    Other(String),
}

/// A source table in a database, as registered in the catalog.
#[derive(Debug, Clone)]
pub(crate) struct DatabaseRef {
    /// `source shop_db.orders`, for messages.
    pub(crate) label: String,
    /// The properties file that declares it, for hints.
    pub(crate) yaml: String,
    pub(crate) connection: Arc<Connection>,
    pub(crate) location: DatabaseSource,
}

impl DatabaseRef {
    /// Open the table: the connection's pool, then the table's schema.
    pub(crate) async fn open(&self) -> DfResult<Arc<dyn TableProvider>> {
        let conn = &self.connection;
        let pool = conn.pool(&self.label).await?;
        let reference = match &self.location.schema {
            Some(s) => TableReference::partial(s.as_str(), self.location.table.as_str()),
            None => TableReference::bare(self.location.table.as_str()),
        };
        let opened = match pool {
            Pool::Postgres(p) => PostgresTableFactory::new(p).table_provider(reference).await,
            Pool::Mysql(p) => MySQLTableFactory::new(p).table_provider(reference).await,
            Pool::Sqlite(p) => SqliteTableFactory::new(p).table_provider(reference).await,
        };
        let inner = opened.map_err(|e| {
            let text = e.to_string();
            let missing = [
                "does not exist",
                "doesn't exist",
                "no such table",
                "not found",
            ]
            .iter()
            .any(|m| text.contains(m));
            let remote = self.location.remote_name();
            let message = if missing {
                format!(
                    "{}: table `{remote}` does not exist in the database of connection `{}` ({})\nhint: check `schema:` and `identifier:` (or the table's name) of the source in {}, or create the table",
                    self.label,
                    conn.name,
                    conn.describe(),
                    self.yaml
                )
            } else {
                format!(
                    "{}: cannot read table `{remote}` of connection `{}` ({}): {}\nhint: check that the user of connection `{}` may read it, and its column types",
                    self.label,
                    conn.name,
                    conn.describe(),
                    text.trim(),
                    conn.name
                )
            };
            DataFusionError::Plan(redact(&message, &conn.url))
        })?;
        Ok(Arc::new(DatabaseTable {
            label: self.label.clone(),
            context: format!(
                "{}: reading table `{}` of connection `{}` ({})",
                self.label,
                self.location.remote_name(),
                conn.name,
                conn.describe()
            ),
            url: conn.url.clone(),
            inner,
        }))
    }
}

/// A database table as DataFusion sees it: the provider's table, marked so that
/// [`SourcePlanner`] knows which scans leave Lakeforge.
#[derive(Debug)]
pub(crate) struct DatabaseTable {
    label: String,
    /// What the scan reads, for errors raised while rows stream in.
    context: String,
    url: String,
    inner: Arc<dyn TableProvider>,
}

impl DatabaseTable {
    fn named(&self, plan: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        Arc::new(source_exec::SourceScanExec::new(
            self.context.clone(),
            self.url.clone(),
            plan,
        ))
    }
}

#[async_trait]
impl TableProvider for DatabaseTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn constraints(&self) -> Option<&Constraints> {
        self.inner.constraints()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let at = |e: DataFusionError| DataFusionError::Plan(format!("{}: {e}", self.label));
        // No column at all (`count(*)` under a pushed-down filter): the provider would answer
        // with a one-column schema where DataFusion expects none, so read the first column
        // and project it away.
        if projection.is_some_and(|p| p.is_empty()) && !self.schema().fields().is_empty() {
            let scan = self
                .inner
                .scan(state, Some(&vec![0]), filters, limit)
                .await
                .map_err(at)?;
            let none: Vec<datafusion::physical_plan::projection::ProjectionExpr> = Vec::new();
            return Ok(Arc::new(
                datafusion::physical_plan::projection::ProjectionExec::try_new(
                    none,
                    self.named(scan),
                )?,
            ));
        }
        let scan = self
            .inner
            .scan(state, projection, filters, limit)
            .await
            .map_err(at)?;
        Ok(self.named(scan))
    }
}

/// The database sources of `project`, keyed by their relation in the lake, with one shared
/// [`Connection`] per connection name.
pub(crate) fn database_refs(
    project: &lakeforge_project::Project,
) -> Vec<((String, String), DatabaseRef)> {
    let mut connections: HashMap<String, Arc<Connection>> = HashMap::new();
    let mut out = Vec::new();
    for s in project.sources.values() {
        let Some(location) = &s.database else {
            continue;
        };
        let Some(url) = project.target.connections.get(&location.connection) else {
            // Checked when the project loaded; a project built by hand may skip it.
            continue;
        };
        let connection = connections
            .entry(location.connection.clone())
            .or_insert_with(|| Arc::new(Connection::new(&location.connection, url, &project.root)))
            .clone();
        out.push((
            (s.relation.schema.clone(), s.relation.identifier.clone()),
            DatabaseRef {
                label: format!("source {}.{}", s.source_name, s.name),
                yaml: s.path.clone(),
                connection,
                location: location.clone(),
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_decoded_and_messages_never_show_the_password() {
        let u =
            UrlParts::parse("mysql://lf%40app:s%3Acret@[::1]:3307/shop?ssl-mode=DISABLED").unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.port, Some(3307));
        assert_eq!(u.user, "lf@app");
        assert_eq!(u.password.as_deref(), Some("s:cret"));
        assert_eq!(u.database.as_deref(), Some("shop"));
        assert_eq!(u.sslmode(), Some("DISABLED"));
        let u = UrlParts::parse("postgres://postgres@127.0.0.1/test").unwrap();
        assert_eq!((u.port, u.password), (None, None));
        assert!(
            UrlParts::parse("postgres://127.0.0.1/test")
                .unwrap_err()
                .to_string()
                .contains("no user")
        );

        let url = "postgres://app:s%3Acret@db:5432/shop";
        assert_eq!(
            redact("login as app with s:cret or s%3Acret failed", url),
            "login as app with **** or **** failed"
        );
        let c = Connection::new("shop", url, Path::new("/p"));
        assert_eq!(c.describe(), "postgres at db:5432, database shop, user app");
        let m = c.message("source shop_db.orders", Failure::Other("bad s:cret".into()));
        assert!(!m.contains("cret"), "{m}");
        assert!(m.contains("\nhint: "), "{m}");
        assert!(!format!("{c:?}").contains("cret"));
    }
}
