//! `lakeforge-meta` is the metadata store: the record of every run and of every node a run
//! executed (status, attempt, timings, rows, the Delta version each write produced, the hash of
//! the SQL that ran, the error), the table-level lineage of each execution, and leases that let
//! one process at a time do exclusive work.
//!
//! It is SQLite in the lake folder by default, or PostgreSQL when `metadata:` in lakeforge.yml
//! is a `postgres://` URL; [`MetaStore::open`] picks by the location. Both backends hold the same
//! logical schema, applied by numbered migrations embedded in the binary (one list per backend,
//! under `migrations/`), all pending ones in one transaction, so two processes opening the same
//! store never see it half-migrated.
//!
//! Modules: `location` (what a `metadata:` string names; URLs with their password hidden),
//! `migrate` (the migrations), `history` (runs, node executions, lineage), `lock` (leases),
//! `schedule` (claimed schedule ticks, exactly once), `registry` (ML model versions, trials
//! and aliases with their history, and in `registry/rules.rs` the rules every caller shares:
//! [`ModelStatus`], [`DEFAULT_ALIAS`], [`check_alias_name`], [`MetaStore::promotion`]),
//! `tokens` (API tokens, stored as hashes) and `token_check` ([`TokenChecker`]: how every
//! server that takes tokens checks a presented one, with bounded caches and per-client
//! failure budgets).
//! Throwaway PostgreSQL databases for tests are in the dev-only crate `lakeforge-meta-testing`.

use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// Runs `$body` with `$p` bound to the store's pool, whichever backend it is. The body is
/// compiled once per backend, so the same SQL text (which must suit both) and the same row
/// decoding serve SQLite and PostgreSQL.
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            $crate::Pool::Sqlite($p) => $body,
            $crate::Pool::Postgres($p) => $body,
        }
    };
}

mod decode;
mod history;
mod location;
mod lock;
mod migrate;
mod registry;
mod schedule;
mod state;
mod token_check;
mod tokens;

pub use history::{
    LineageEdge, LineageRecord, NodeExecution, NodeRecord, NodeRunResult, RunPage, RunQuery,
    RunRecord, RunStatus,
};
pub use location::{Location, redact as redact_url, scrub as scrub_url};
pub use lock::LockInfo;
pub use registry::{
    AliasChange, AliasProblem, DEFAULT_ALIAS, ModelStatus, ModelSummary, ModelVersion,
    NewModelVersion, Promotion, TrainingRecord, TrialRecord, check_alias_name, registry_time_text,
};
pub use schedule::{TickRecord, tick_text};
pub use state::LatestExecution;
pub use token_check::{
    AuthLimits, AuthStats, TokenChecker, TokenRejection, bearer_token, scope_grants,
};
pub use tokens::{SCOPES, TokenInfo, token_digest, token_hash};

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("Failed to open the metadata store at {location}: {detail}\nhint: {hint}")]
    Open {
        /// The location with any password hidden.
        location: String,
        /// What went wrong, with any password hidden.
        detail: String,
        hint: &'static str,
    },
    #[error(
        "Unsupported metadata store location `{location}`\nhint: set `metadata:` in lakeforge.yml to a SQLite file path, `sqlite://PATH` or `postgres://USER@HOST:PORT/DATABASE`"
    )]
    UnsupportedLocation { location: String },
    #[error("Metadata store query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error(
        "The metadata store at {location} has schema version {found}, newer than this lakeforge knows ({known})\nhint: upgrade lakeforge"
    )]
    TooNew {
        location: String,
        found: i64,
        known: i64,
    },
    #[error("Migrating the metadata store at {location} failed: {detail}")]
    Migrate { location: String, detail: String },
    #[error("`{status}` is not a run status (one of: {})", RunStatus::ALL.map(|s| s.as_str()).join(", "))]
    InvalidStatus { status: String },
    #[error(
        "No run `{spec}` in the metadata store at {location}\nhint: `lakeforge runs` lists the recorded runs; an id may be shortened to a unique prefix, or be `last`"
    )]
    RunNotFound { spec: String, location: String },
    #[error("`{status}` is not a model status (one of: {})", ModelStatus::ALL.map(|s| s.as_str()).join(", "))]
    InvalidModelStatus { status: String },
    #[error("alias `{alias}` is not a valid alias name ({})", problem.explain(alias))]
    InvalidAlias {
        alias: String,
        problem: AliasProblem,
    },
    #[error(
        "model `{name}` has no version {version}\nhint: `lakeforge models show {name}` lists its versions"
    )]
    NoSuchVersion { name: String, version: i64 },
    /// A person asked to promote a version its quality gate rejected, without forcing it.
    /// Each caller adds how to force it (`--force`, `"force": true`).
    #[error("{name} version {version} failed its quality gate ({})", gate_message.as_deref().unwrap_or("no details"))]
    GateRejected {
        name: String,
        version: i64,
        gate_message: Option<String>,
    },
    #[error("`{scope}` is not a token scope\nhint: give --scope predict or --scope admin")]
    InvalidScope { scope: String },
    #[error("Run id `{spec}` is ambiguous: it starts {candidates}\nhint: type more of the id")]
    AmbiguousRun { spec: String, candidates: String },
    /// A value in the store is not of the type or shape Lakeforge writes there.
    #[error(
        "The metadata store has an unexpected value in table `{table}`, column `{column}`: {source}\nhint: the store was changed by hand or by another program; restore it from a backup, or move it aside so that lakeforge starts a new one (its run history and model registry stay in the old file)"
    )]
    Corrupt {
        table: &'static str,
        column: String,
        #[source]
        source: decode::BoxError,
    },
}

pub type Result<T, E = MetaError> = std::result::Result<T, E>;

/// Which database a store lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A handle on the metadata store; cheap to clone (it is a connection pool).
#[derive(Clone)]
pub struct MetaStore {
    pool: Pool,
    /// Where the store is, as shown in messages: a path, or a URL with its password hidden.
    location: String,
}

/// How long to wait for a PostgreSQL server to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

const OPEN_SQLITE_HINT: &str =
    "check that the folder is writable, or set `metadata:` in lakeforge.yml";
const OPEN_POSTGRES_HINT: &str = "check that the PostgreSQL server is running and that the URL's host, port, user, password and database are right (`metadata:` in lakeforge.yml)";

impl MetaStore {
    /// Open (creating if needed) the store at `location` and bring its schema up to date:
    /// a SQLite file path or `sqlite://PATH`, or a `postgres://` / `postgresql://` URL.
    pub async fn open(location: &str) -> Result<MetaStore> {
        match Location::parse(location)? {
            Location::Sqlite(path) => Self::open_sqlite(&path).await,
            Location::Postgres(url) => Self::open_postgres(&url).await,
        }
    }

    /// Open (creating if needed) the SQLite store at `path` and bring its schema up to date.
    pub async fn open_sqlite(path: &std::path::Path) -> Result<MetaStore> {
        let location = path.display().to_string();
        let open_error = |e: sqlx::Error| MetaError::Open {
            location: location.clone(),
            detail: e.to_string(),
            hint: OPEN_SQLITE_HINT,
        };
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| open_error(sqlx::Error::Io(e)))?;
        }
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode NORMAL never corrupts the store; a power cut may lose the last
            // records. FULL would fsync on every node's record, which measured ~0.5 ms per
            // node on this machine's disk (bench/dag_overhead.sh).
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30));
        // Switching a new file to WAL takes an exclusive lock, and SQLite answers a second
        // opener doing the same at that moment with "database is locked" at once, without
        // waiting on busy_timeout: processes that open a fresh store together try again.
        let mut attempt = 0u32;
        loop {
            let opened = async {
                migrate::sqlite(&opts, &location).await?;
                SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(opts.clone())
                    .await
                    .map_err(open_error)
            }
            .await;
            match opened {
                Ok(pool) => {
                    return Ok(MetaStore {
                        pool: Pool::Sqlite(pool),
                        location,
                    });
                }
                Err(e) if attempt < 50 && e.to_string().contains("database is locked") => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt.min(10))))
                        .await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Connect to the PostgreSQL database at `url` and bring its schema up to date.
    async fn open_postgres(url: &str) -> Result<MetaStore> {
        let location = location::redact(url);
        let open_error = |detail: String| MetaError::Open {
            location: location.clone(),
            detail: location::scrub(url, &detail),
            hint: OPEN_POSTGRES_HINT,
        };
        let opts = url
            .parse::<PgConnectOptions>()
            .map_err(|e| open_error(e.to_string()))?
            .application_name("lakeforge");
        // One connection first, which migrates: it says at once why a server cannot be
        // reached, where a pool would retry until its timeout and then say only that.
        let mut conn =
            match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&opts)).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => return Err(open_error(e.to_string())),
                Err(_) => {
                    let waited = CONNECT_TIMEOUT.as_secs();
                    return Err(open_error(format!("no answer within {waited}s")));
                }
            };
        migrate::postgres(&mut conn, &location).await?;
        let _ = conn.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(opts)
            .await
            .map_err(|e| open_error(e.to_string()))?;
        Ok(MetaStore {
            pool: Pool::Postgres(pool),
            location,
        })
    }

    /// Where the store is: a path, or a URL with its password hidden.
    pub fn location(&self) -> &str {
        &self.location
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Close every connection, waiting for queries in flight.
    pub async fn close(&self) {
        on_pool!(&self.pool, p => p.close().await)
    }
}
