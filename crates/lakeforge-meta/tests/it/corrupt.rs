//! A store whose rows are not what Lakeforge wrote (edited by hand, another program, a broken
//! disk): reading it is an error naming the table and column, never a panic. SQLite only:
//! PostgreSQL's typed columns cannot hold a value of the wrong type.

use chrono::TimeZone;
use lakeforge_meta::{MetaError, MetaStore};
use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

/// Run `sql` on the SQLite store at `path` behind the store's back.
async fn tamper(path: &std::path::Path, sql: &str) {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .unwrap();
}

fn corrupt_at(err: MetaError) -> (&'static str, String, String) {
    let text = err.to_string();
    match err {
        MetaError::Corrupt { table, column, .. } => (table, column, text),
        other => panic!("expected a Corrupt error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_value_of_the_wrong_type_names_its_table_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let store = MetaStore::open_sqlite(&path).await.unwrap();
    store
        .start_run("r1", "build", "{}", "2026-01-01T00:00:00.000Z")
        .await
        .unwrap();
    store.close().await;

    tamper(&path, "UPDATE runs SET elapsed_s = 'about a minute'").await;
    let store = MetaStore::open_sqlite(&path).await.unwrap();
    let (table, column, text) = corrupt_at(store.runs(10).await.unwrap_err());
    assert_eq!((table, column.as_str()), ("runs", "elapsed_s"));
    assert!(
        text.starts_with(
            "The metadata store has an unexpected value in table `runs`, column `elapsed_s`"
        ),
        "{text}"
    );
    assert!(text.contains("\nhint: "), "{text}");
    // Resolving by id reads the same row: the same error, no panic.
    let (table, _, _) = corrupt_at(store.resolve_run("last").await.unwrap_err());
    assert_eq!(table, "runs");
}

#[tokio::test]
async fn a_tick_time_that_is_not_a_time_is_an_error_not_1970() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let store = MetaStore::open_sqlite(&path).await.unwrap();
    let at = chrono::Utc.with_ymd_and_hms(2026, 3, 1, 6, 0, 0).unwrap();
    assert!(store.claim_tick("nightly", at, "me").await.unwrap());
    assert_eq!(
        store.last_tick("nightly").await.unwrap().unwrap().tick_at,
        at
    );
    store.close().await;

    tamper(&path, "UPDATE schedule_ticks SET tick_at = 'yesterday'").await;
    let store = MetaStore::open_sqlite(&path).await.unwrap();
    let (table, column, _) = corrupt_at(store.last_tick("nightly").await.unwrap_err());
    assert_eq!((table, column.as_str()), ("schedule_ticks", "tick_at"));
    let (table, column, _) = corrupt_at(store.ticks(None, 10).await.unwrap_err());
    assert_eq!((table, column.as_str()), ("schedule_ticks", "tick_at"));
}

#[tokio::test]
async fn a_model_status_lakeforge_never_writes_names_its_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let store = MetaStore::open_sqlite(&path).await.unwrap();
    store
        .register_model_version(&lakeforge_meta::NewModelVersion {
            name: "churn".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    store.close().await;

    // The table's CHECK would refuse it; a program that ignores checks would not.
    tamper(
        &path,
        "PRAGMA ignore_check_constraints = ON; UPDATE ml_model_versions SET status = 'maybe'",
    )
    .await;
    let store = MetaStore::open_sqlite(&path).await.unwrap();
    let (table, column, text) = corrupt_at(store.model_versions("churn").await.unwrap_err());
    assert_eq!((table, column.as_str()), ("ml_model_versions", "status"));
    assert!(text.contains("`maybe` is not a model status"), "{text}");
}
