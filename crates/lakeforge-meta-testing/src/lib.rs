//! Throwaway PostgreSQL databases for the tests of `lakeforge-meta` and of the CLI's end-to-end
//! tests. A crate of its own, used only as a dev-dependency, so the store's crate is built with
//! one feature set for tests and for the binary (a `testing` feature made every crate above it
//! compile twice). Each
//! [`TestPostgres`] is a fresh database on the server named by `LAKEFORGE_TEST_POSTGRES_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`), dropped again when it goes out of
//! scope. A server that cannot be reached fails the test rather than skipping it: CI starts
//! one, and a skipped test would prove nothing.
//!
//! It blocks (on a thread of its own), so it serves plain `#[test]`s and async tests alike.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

/// The environment variable naming the server (and a database on it to connect to first).
pub const URL_ENV: &str = "LAKEFORGE_TEST_POSTGRES_URL";
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh database, dropped (with its connections) on drop.
pub struct TestPostgres {
    admin_url: String,
    name: String,
    url: String,
}

impl TestPostgres {
    /// Create a database no other test uses. Panics, with a hint, when the server cannot be
    /// reached.
    pub fn create() -> TestPostgres {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let admin_url = std::env::var(URL_ENV).unwrap_or_else(|_| DEFAULT_URL.to_string());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "lakeforge_test_{}_{}_{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut url =
            url::Url::parse(&admin_url).unwrap_or_else(|e| panic!("{URL_ENV} is not a URL ({e})"));
        url.set_path(&format!("/{name}"));
        if let Err(e) = execute(&admin_url, format!("CREATE DATABASE {name}")) {
            panic!(
                "cannot create a test database on the PostgreSQL server at {}: {e}\n\
                 hint: start PostgreSQL (CI does), or point {URL_ENV} at one",
                lakeforge_meta::redact_url(&admin_url)
            );
        }
        TestPostgres {
            admin_url,
            name,
            url: url.to_string(),
        }
    }

    /// The URL of the new database.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = execute(&self.admin_url, sql) {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

/// Why a statement on the test server failed.
#[derive(Debug, thiserror::Error)]
enum SetupError {
    #[error("{0}")]
    Runtime(#[source] std::io::Error),
    #[error("{0}")]
    Url(#[source] sqlx::Error),
    #[error("timed out connecting")]
    Timeout,
    /// The connection's error, as text with the URL's password hidden (the cause itself would
    /// show it).
    #[error("{0}")]
    Connect(String),
    #[error("{0}")]
    Statement(#[source] sqlx::Error),
    #[error("the database thread panicked")]
    Panicked,
}

/// Run one statement on a connection of its own, on a runtime of its own.
fn execute(url: &str, sql: String) -> Result<(), SetupError> {
    let url = url.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(SetupError::Runtime)?;
        rt.block_on(async move {
            let opts = PgConnectOptions::from_str(&url).map_err(SetupError::Url)?;
            let mut conn =
                tokio::time::timeout(Duration::from_secs(20), PgConnection::connect_with(&opts))
                    .await
                    .map_err(|_| SetupError::Timeout)?
                    .map_err(|e| {
                        SetupError::Connect(lakeforge_meta::scrub_url(&url, &e.to_string()))
                    })?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.as_str()))
                .execute(&mut conn)
                .await
                .map_err(SetupError::Statement)?;
            let _ = conn.close().await;
            Ok(())
        })
    })
    .join()
    .map_err(|_| SetupError::Panicked)?
}
