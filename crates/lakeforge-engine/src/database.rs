//! Sources that live in a database (PostgreSQL, MySQL/MariaDB, SQLite), read through
//! datafusion-table-providers. A source with `connection:` is registered in the lake's catalog
//! under its source name (`shop_db.orders`); the first query that names it opens the
//! connection's pool (one per connection, shared by its tables) and reads the table's schema,
//! and every scan sends the database one `SELECT` with the query's columns (projection
//! pushdown) and filters (filter pushdown).
//!
//! Incremental extraction: a model's watermark is usually a scalar subquery over the model's
//! own table, `where updated_at > (select max(updated_at) from {{ this }})`. DataFusion cannot
//! send a subquery to another database, so [`SourcePlanner`] runs such uncorrelated subqueries
//! first (against the lake) and puts their values in the filter as literals, which the
//! provider then sends inside the remote `WHERE`: the database returns only the new rows.
//!
//! Connection URLs may hold passwords: they are kept out of every message ([`redact`]), out of
//! `Debug` output, and out of manifest.json (which stores only the connection's name).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Constraints, ScalarValue, Statistics, TableReference};
use datafusion::datasource::source_as_provider;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::context::{QueryPlanner, SessionState};
use datafusion::logical_expr::{
    Expr, LogicalPlan, Subquery, TableProviderFilterPushDown, TableType,
};
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
    BadUrl(String),
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
        Arc::new(crate::source_exec::SourceScanExec::new(
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

/// The session's query planner: Delta's, after inlining the watermark subqueries of filters
/// over database tables (see the module doc).
#[derive(Debug)]
pub(crate) struct SourcePlanner {
    inner: Arc<dyn QueryPlanner + Send + Sync>,
}

impl SourcePlanner {
    pub(crate) fn new(inner: Arc<dyn QueryPlanner + Send + Sync>) -> Arc<SourcePlanner> {
        Arc::new(SourcePlanner { inner })
    }
}

#[async_trait]
impl QueryPlanner for SourcePlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if let Some(state) = session.as_any().downcast_ref::<SessionState>()
            && let Some(plan) = inline_watermarks(logical_plan, session).await?
        {
            let plan = state.optimize(&plan)?;
            return self.inner.create_physical_plan(&plan, session).await;
        }
        self.inner.create_physical_plan(logical_plan, session).await
    }
}

/// `plan` with every uncorrelated scalar subquery in a filter over a database table replaced
/// by its value, or None when there is none.
pub(crate) async fn inline_watermarks(
    plan: &LogicalPlan,
    session: &dyn Session,
) -> DfResult<Option<LogicalPlan>> {
    let subqueries = watermark_subqueries(plan)?;
    if subqueries.is_empty() {
        return Ok(None);
    }
    let mut values = Vec::with_capacity(subqueries.len());
    for subquery in subqueries {
        let value = scalar_value(&subquery, session).await?;
        values.push((subquery, value));
    }
    let rewritten = plan
        .clone()
        .transform_up(|node| {
            if !matches!(node, LogicalPlan::Filter(_)) {
                return Ok(Transformed::no(node));
            }
            node.map_expressions(|expr| {
                expr.transform_up(|e| match &e {
                    Expr::ScalarSubquery(sq) => match values.iter().find(|(s, _)| s == sq) {
                        Some((_, v)) => Ok(Transformed::yes(Expr::Literal(v.clone(), None))),
                        None => Ok(Transformed::no(e)),
                    },
                    _ => Ok(Transformed::no(e)),
                })
            })
        })?
        .data;
    Ok(Some(rewritten))
}

/// The uncorrelated scalar subqueries in the predicates of filters that read a database table.
fn watermark_subqueries(plan: &LogicalPlan) -> DfResult<Vec<Subquery>> {
    let mut found: Vec<Subquery> = Vec::new();
    plan.apply(|node| {
        if let LogicalPlan::Filter(filter) = node
            && reads_database(&filter.input)?
        {
            filter.predicate.apply(|e| {
                if let Expr::ScalarSubquery(sq) = e
                    && sq.outer_ref_columns.is_empty()
                    && !found.contains(sq)
                {
                    found.push(sq.clone());
                }
                Ok(TreeNodeRecursion::Continue)
            })?;
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(found)
}

/// Whether `plan` scans a database table.
fn reads_database(plan: &LogicalPlan) -> DfResult<bool> {
    plan.exists(|node| {
        Ok(match node {
            LogicalPlan::TableScan(scan) => source_as_provider(&scan.source)
                .map(|p| p.is::<DatabaseTable>())
                .unwrap_or(false),
            _ => false,
        })
    })
}

/// `df` itself, or, when it reads a database table, its rows read once into memory: for
/// operations that run their input more than once (MERGE runs it for the early filter's key
/// range, then for the merge), so the database is queried once and every pass sees the same
/// rows even while the remote table changes.
pub(crate) async fn read_once(
    ctx: &datafusion::prelude::SessionContext,
    df: datafusion::prelude::DataFrame,
) -> DfResult<datafusion::prelude::DataFrame> {
    if !reads_database(df.logical_plan())? {
        return Ok(df);
    }
    let logical: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    let schema = batches.first().map(|b| b.schema()).unwrap_or(logical);
    let table = datafusion::datasource::MemTable::try_new(schema, vec![batches])?;
    ctx.read_table(Arc::new(table))
}

/// Run a scalar subquery: its one value, null when it returns no row.
async fn scalar_value(subquery: &Subquery, session: &dyn Session) -> DfResult<ScalarValue> {
    let plan = session.create_physical_plan(&subquery.subquery).await?;
    let schema = plan.schema();
    let batches = datafusion::physical_plan::collect(plan, session.task_ctx()).await?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if schema.fields().len() != 1 {
        return Err(DataFusionError::Plan(format!(
            "a scalar subquery must return one column, not {}",
            schema.fields().len()
        )));
    }
    match rows {
        0 => ScalarValue::try_from(schema.field(0).data_type()),
        1 => {
            let batch = batches.iter().find(|b| b.num_rows() == 1).ok_or_else(|| {
                DataFusionError::Internal("scalar subquery row went missing".into())
            })?;
            ScalarValue::try_from_array(batch.column(0).as_ref(), 0)
        }
        n => Err(DataFusionError::Execution(format!(
            "a scalar subquery used as a watermark returned {n} rows; it must return one\nhint: aggregate it, e.g. (select max(updated_at) from ...)"
        ))),
    }
}

/// Host, port, user, password and database of a `postgres://` or `mysql://` URL, decoded.
#[derive(Debug, PartialEq)]
struct UrlParts {
    host: String,
    port: Option<u16>,
    user: String,
    password: Option<String>,
    database: Option<String>,
    params: Vec<(String, String)>,
}

impl UrlParts {
    /// The error never quotes the URL.
    fn parse(url: &str) -> Result<UrlParts, String> {
        let u = url::Url::parse(url).map_err(|e| e.to_string())?;
        let host = u
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
            .filter(|h| !h.is_empty())
            .ok_or_else(|| "it names no host".to_string())?;
        let user = percent_decode(u.username());
        if user.is_empty() {
            return Err("it names no user".into());
        }
        let database = u
            .path()
            .trim_start_matches('/')
            .split('/')
            .next()
            .filter(|d| !d.is_empty())
            .map(percent_decode);
        Ok(UrlParts {
            host,
            port: u.port(),
            user,
            password: u.password().map(percent_decode),
            database,
            params: u.query_pairs().map(|(k, v)| (k.into(), v.into())).collect(),
        })
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// `sslmode=` (or MySQL's `ssl-mode=`).
    fn sslmode(&self) -> Option<&str> {
        self.param("sslmode").or_else(|| self.param("ssl-mode"))
    }
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The file of a `sqlite://` URL: `sqlite:///abs/x.db` or `sqlite://rel/x.db` (relative to
/// the project folder), query string dropped.
fn sqlite_path(url: &str, root: &Path) -> PathBuf {
    let rest = url.split_once(':').map(|(_, r)| r).unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let rest = rest.split('?').next().unwrap_or(rest);
    let path = Path::new(rest);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    }
}

/// `message` with the password of `url` (as written and decoded) replaced by `****`.
pub(crate) fn redact(message: &str, url: &str) -> String {
    let mut out = message.to_string();
    if let Ok(u) = url::Url::parse(url)
        && let Some(p) = u.password().filter(|p| !p.is_empty())
    {
        out = out.replace(p, "****");
        let decoded = percent_decode(p);
        if !decoded.is_empty() {
            out = out.replace(&decoded, "****");
        }
    }
    out
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
    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;

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

    #[test]
    fn sqlite_paths_resolve_against_the_project() {
        let root = Path::new("/proj");
        assert_eq!(
            sqlite_path("sqlite://data/shop.db", root),
            PathBuf::from("/proj/data/shop.db")
        );
        assert_eq!(
            sqlite_path("sqlite:///srv/shop.db?mode=ro", root),
            PathBuf::from("/srv/shop.db")
        );
        assert_eq!(
            sqlite_path("sqlite:shop.db", root),
            PathBuf::from("/proj/shop.db")
        );
    }

    /// A database table stands in as a memory table marked as one; the watermark subquery of
    /// the filter over it becomes the value it returns, and nothing else changes.
    #[tokio::test]
    async fn watermark_subqueries_over_database_tables_become_values() {
        let ctx = SessionContext::new();
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let rows = |v: Vec<i64>| {
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(v))]).unwrap()
        };
        let remote = MemTable::try_new(schema.clone(), vec![vec![rows(vec![1, 2, 3, 4])]]).unwrap();
        ctx.register_table(
            "remote",
            Arc::new(DatabaseTable {
                label: "source s.remote".into(),
                context: "source s.remote: reading table `remote`".into(),
                url: String::new(),
                inner: Arc::new(remote),
            }),
        )
        .unwrap();
        let local = MemTable::try_new(schema.clone(), vec![vec![rows(vec![1, 2])]]).unwrap();
        ctx.register_table("local", Arc::new(local)).unwrap();

        let state = ctx.state();
        let plan_of = |sql: &'static str| {
            let ctx = ctx.clone();
            async move {
                let df = ctx.sql(sql).await.unwrap();
                ctx.state().optimize(df.logical_plan()).unwrap()
            }
        };
        let plan = plan_of("select v from remote where v > (select max(v) from local)").await;
        let inlined = inline_watermarks(&plan, &state).await.unwrap().unwrap();
        let text = inlined.display_indent().to_string();
        assert!(
            text.contains("Int64(2)") && !text.contains("Subquery"),
            "{text}"
        );
        let batches = datafusion::physical_plan::collect(
            state.create_physical_plan(&inlined).await.unwrap(),
            state.task_ctx(),
        )
        .await
        .unwrap();
        let got: Vec<i64> = batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(got, vec![3, 4]);

        // Over the lake alone, or correlated: left to DataFusion.
        let plan = plan_of("select v from local where v > (select min(v) from remote)").await;
        assert!(inline_watermarks(&plan, &state).await.unwrap().is_none());
        let plan = plan_of(
            "select v from remote r where v > (select max(l.v) from local l where l.v < r.v)",
        )
        .await;
        assert!(inline_watermarks(&plan, &state).await.unwrap().is_none());
    }
}
