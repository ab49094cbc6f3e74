//! Opening stores: concurrent openers of a fresh store, locations that name nothing usable,
//! and unreachable servers, whose errors never show a password.

use lakeforge_meta::{Backend, Location, MetaError, MetaStore};

use crate::common::Db;

on_both!(concurrent_openers_all_succeed);

async fn concurrent_openers_all_succeed(db: Db) {
    let location = db.location();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let location = location.clone();
        tasks.push(tokio::spawn(
            async move { MetaStore::open(&location).await },
        ));
    }
    let mut stores = Vec::new();
    for t in tasks {
        stores.push(t.await.unwrap().unwrap());
    }
    let expected = match db {
        Db::Sqlite(_) => Backend::Sqlite,
        Db::Postgres(_) => Backend::Postgres,
    };
    assert!(stores.iter().all(|s| s.backend() == expected));
    // Each usable at once, and they see each other's writes.
    stores[0]
        .start_run("r1", "build", "{}", "2026-01-01T00:00:00.000Z")
        .await
        .unwrap();
    assert_eq!(stores[5].resolve_run("last").await.unwrap().run_id, "r1");
    for s in &stores {
        s.close().await;
    }
}

#[tokio::test]
async fn sqlite_urls_and_missing_folders_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep/er/meta.db");
    let store = MetaStore::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(path.is_file());
    assert_eq!(
        Location::parse(&format!("sqlite://{}", path.display())).unwrap(),
        Location::Sqlite(path.clone())
    );
}

#[tokio::test]
async fn unreachable_postgres_fails_with_a_hint_and_no_password() {
    // Port 1 on localhost: nothing listens there.
    let err = match MetaStore::open("postgres://lf:Sup3rS3cret@127.0.0.1:1/meta").await {
        Err(e) => e,
        Ok(_) => panic!("opened a store on a closed port"),
    };
    let msg = err.to_string();
    assert!(matches!(err, MetaError::Open { .. }), "{msg}");
    assert!(msg.contains("postgres://lf:***@127.0.0.1:1/meta"), "{msg}");
    assert!(msg.contains("hint:"), "{msg}");
    assert!(!msg.contains("Sup3rS3cret"), "{msg}");
}

#[tokio::test]
async fn wrong_password_is_not_shown() {
    // Trust authentication accepts any password, so use a user that does not exist instead:
    // the server's refusal must not echo the password either.
    let pg = lakeforge_meta_testing::TestPostgres::create();
    let mut url = url::Url::parse(pg.url()).unwrap();
    url.set_username("lakeforge_no_such_user").unwrap();
    url.set_password(Some("Sup3rS3cret")).unwrap();
    let err = match MetaStore::open(url.as_str()).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened a store as a user that does not exist"),
    };
    assert!(err.contains("lakeforge_no_such_user:***@"), "{err}");
    assert!(!err.contains("Sup3rS3cret"), "{err}");
}

#[tokio::test]
async fn unknown_schemes_are_refused() {
    let err = match MetaStore::open("mysql://root:Sup3rS3cret@localhost/meta").await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened a mysql store"),
    };
    assert!(err.contains("Unsupported metadata store location"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert!(!err.contains("Sup3rS3cret"), "{err}");
}
