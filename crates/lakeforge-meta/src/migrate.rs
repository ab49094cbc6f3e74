//! The schema, as numbered migrations embedded in the binary: one list per backend (the SQL
//! differs where SQLite cannot alter a table in place), with the same version numbers and the
//! same tables and columns at every version. `schema_version` records what was applied.
//!
//! Every pending migration is applied in one transaction, so a store is never seen
//! half-migrated. Concurrent openers are serialized: on SQLite by taking the write lock at the
//! start (`BEGIN IMMEDIATE`), on PostgreSQL by a transaction-scoped advisory lock taken before
//! anything is read, which also covers a fresh database where no table exists to lock yet.

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, PgConnection, SqliteConnection};

use crate::{MetaError, Result};

pub(crate) const SQLITE: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_runs.sql")),
    (
        2,
        include_str!("../migrations/sqlite/0002_attempts_lineage_locks.sql"),
    ),
    (
        3,
        include_str!("../migrations/sqlite/0003_schedule_ticks.sql"),
    ),
    (
        4,
        include_str!("../migrations/sqlite/0004_model_registry.sql"),
    ),
    (5, include_str!("../migrations/sqlite/0005_api_tokens.sql")),
    (
        6,
        include_str!("../migrations/sqlite/0006_test_failures_quarantine.sql"),
    ),
];

pub(crate) const POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_runs.sql")),
    (
        2,
        include_str!("../migrations/postgres/0002_attempts_lineage_locks.sql"),
    ),
    (
        3,
        include_str!("../migrations/postgres/0003_schedule_ticks.sql"),
    ),
    (
        4,
        include_str!("../migrations/postgres/0004_model_registry.sql"),
    ),
    (
        5,
        include_str!("../migrations/postgres/0005_api_tokens.sql"),
    ),
    (
        6,
        include_str!("../migrations/postgres/0006_test_failures_quarantine.sql"),
    ),
];

/// The advisory lock key under which PostgreSQL migrations run ("lakeforg" in ASCII).
const PG_MIGRATION_LOCK: i64 = 0x6c61_6b65_666f_7267;

/// Apply `list`'s pending migrations inside the open transaction `$tx`.
macro_rules! apply {
    ($tx:expr, $list:expr, $location:expr) => {{
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            .execute(&mut *$tx)
            .await?;
        let current: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
                .fetch_one(&mut *$tx)
                .await?;
        let known = $list.last().map(|m| m.0).unwrap_or(0);
        if current > known {
            return Err(MetaError::TooNew {
                location: $location.to_string(),
                found: current,
                known,
            });
        }
        for (version, sql) in $list.iter().filter(|m| m.0 > current) {
            // Through `Executor` rather than `RawSql::execute`, whose signature ties the
            // connection's lifetimes together and makes the future impossible to spawn.
            sqlx::Executor::execute(&mut *$tx, sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))).await?;
            sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
                .bind(version)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

/// Migrate the SQLite store `opts` opens. This uses a connection of its own with foreign keys
/// off, because rebuilding a referenced table requires it (SQLite cannot switch them inside a
/// transaction); they are checked before the transaction commits.
pub(crate) async fn sqlite(opts: &SqliteConnectOptions, location: &str) -> Result<()> {
    let mut conn = SqliteConnection::connect_with(&opts.clone().foreign_keys(false))
        .await
        .map_err(|e| MetaError::Open {
            location: location.to_string(),
            detail: e.to_string(),
            hint: crate::OPEN_SQLITE_HINT,
        })?;
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    apply!(tx, SQLITE, location);
    let broken: Vec<(String,)> = sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(&mut *tx)
        .await?;
    if let Some((table,)) = broken.first() {
        return Err(MetaError::Migrate {
            location: location.to_string(),
            detail: format!("rows of `{table}` would be left without their run"),
        });
    }
    tx.commit().await?;
    conn.close().await?;
    Ok(())
}

pub(crate) async fn postgres(conn: &mut PgConnection, location: &str) -> Result<()> {
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PG_MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    apply!(tx, POSTGRES, location);
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MetaStore, NodeRecord};
    use lakeforge_meta_testing::TestPostgres;

    #[test]
    fn both_backends_have_the_same_versions() {
        let versions = |l: &[(i64, &str)]| l.iter().map(|m| m.0).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
        assert_eq!(
            versions(SQLITE),
            (1..=SQLITE.len() as i64).collect::<Vec<_>>()
        );
    }

    /// The tables and columns of both backends, after all migrations, are the same.
    #[tokio::test]
    async fn both_backends_have_the_same_tables_and_columns() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = MetaStore::open_sqlite(&dir.path().join("m.db"))
            .await
            .unwrap();
        let pg_db = TestPostgres::create();
        let pg = MetaStore::open(pg_db.url()).await.unwrap();
        let crate::Pool::Sqlite(sp) = &sqlite.pool else {
            unreachable!()
        };
        let crate::Pool::Postgres(pp) = &pg.pool else {
            unreachable!()
        };
        let mut s: Vec<(String, String)> = sqlx::query_as(
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' ORDER BY m.name, p.cid",
        )
        .fetch_all(sp)
        .await
        .unwrap();
        let mut p: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
        )
        .fetch_all(pp)
        .await
        .unwrap();
        s.sort();
        p.sort();
        assert_eq!(s, p);
        assert!(s.contains(&("node_executions".into(), "attempt".into())));
        assert!(s.contains(&("lineage".into(), "upstream_version".into())));
        assert!(s.contains(&("locks".into(), "expires_at_ms".into())));
        assert!(s.contains(&("schedule_ticks".into(), "tick_at".into())));
        pg.close().await;
    }

    /// A store written by version 1 keeps its history when opened by this version.
    #[tokio::test]
    async fn upgrades_a_version_1_sqlite_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let opts = SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true);
            let mut conn = SqliteConnection::connect_with(&opts).await.unwrap();
            sqlx::raw_sql(
                "CREATE TABLE schema_version (version BIGINT NOT NULL); \
                 INSERT INTO schema_version VALUES (1);",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            sqlx::raw_sql(SQLITE[0].1).execute(&mut conn).await.unwrap();
            sqlx::raw_sql(
                "INSERT INTO runs VALUES ('r1', 'build', '[]', 'error', '2026-01-01T00:00:00.000Z', \
                   '2026-01-01T00:00:02.000Z', 2.0); \
                 INSERT INTO node_executions VALUES ('r1', 'model.p.a', 'success', \
                   '2026-01-01T00:00:00.500Z', 0.5, 3, 0, 'abc', 'CREATE TABLE'); \
                 INSERT INTO node_executions VALUES ('r1', 'model.p.b', 'error', \
                   '2026-01-01T00:00:01.000Z', 0.1, NULL, NULL, NULL, 'boom\nat line 2');",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            conn.close().await.unwrap();
        }
        let store = MetaStore::open_sqlite(&path).await.unwrap();
        let run = store.resolve_run("r1").await.unwrap();
        assert_eq!(run.status, "error");
        assert_eq!((run.nodes_ok, run.nodes_failed), (1, 1));
        let nodes = store.node_executions("r1").await.unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].attempt, 1);
        assert_eq!(nodes[0].record.delta_version, Some(0));
        assert_eq!(nodes[0].error, None);
        assert_eq!(nodes[1].error.as_deref(), Some("boom\nat line 2"));
        // The rebuilt tables still enforce what version 1 did, and now a second attempt fits.
        let retry = NodeRecord {
            unique_id: "model.p.b".into(),
            status: "success".into(),
            started_at: "2026-01-01T00:00:01.500Z".into(),
            elapsed_s: 0.2,
            rows_affected: Some(1),
            delta_version: Some(0),
            sql_hash: None,
            message: None,
            ..NodeRecord::default()
        };
        store.record_node_attempt("r1", 2, &retry).await.unwrap();
        assert!(store.record_node("no-such-run", &retry).await.is_err());
        let version: i64 = match &store.pool {
            crate::Pool::Sqlite(p) => sqlx::query_scalar("SELECT MAX(version) FROM schema_version")
                .fetch_one(p)
                .await
                .unwrap(),
            crate::Pool::Postgres(_) => unreachable!(),
        };
        assert_eq!(version, SQLITE.len() as i64);
    }
}
