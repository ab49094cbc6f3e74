//! The engine as dbt's adapter (`jinja_adapter`): SQL from macros and hooks against a lake in a
//! temporary folder, called through the synchronous `Adapter` trait as the Jinja runtime calls
//! it, from every kind of thread it may run on.

use std::sync::Arc;

use lakeforge_engine::{Engine, EngineAdapter, Lake};
use lakeforge_project::Relation;
use lakeforge_project::adapter::{Adapter, Cell, RelationKind};

fn adapter(dir: &std::path::Path) -> EngineAdapter {
    let engine = Engine::new(Lake::open(dir).unwrap(), "main", 2).unwrap();
    EngineAdapter::new(Arc::new(engine))
}

const ORDERS: &str = "create table main.orders as select * from (values \
    (1, cast('1.10' as decimal(10,2)), date '2024-01-31', timestamp '2024-01-31 12:00:00', 'first'), \
    (2, cast('20.00' as decimal(10,2)), date '2024-02-29', timestamp '2024-02-29 08:30:00.250', null)) \
    as t(id, amount, day, at, note)";

/// Everything the trait offers, on one lake; run from whatever thread the caller is on.
fn exercise(a: &dyn Adapter) {
    let created = a.execute(ORDERS, false).unwrap();
    assert_eq!(created.rows_affected, Some(2));

    let r = a
        .execute(
            "select id, amount, day, at, note from orders order by id",
            true,
        )
        .unwrap();
    let types: Vec<(&str, &str)> = r
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.data_type.as_str()))
        .collect();
    assert_eq!(
        types,
        [
            ("id", "bigint"),
            ("amount", "decimal(10,2)"),
            ("day", "date"),
            ("at", "timestamp"),
            ("note", "varchar"),
        ]
    );
    assert_eq!(
        r.rows,
        vec![
            vec![
                Cell::Int(1),
                Cell::Decimal("1.10".into()),
                Cell::Date("2024-01-31".into()),
                Cell::Timestamp("2024-01-31 12:00:00".into()),
                Cell::Text("first".into()),
            ],
            vec![
                Cell::Int(2),
                Cell::Decimal("20.00".into()),
                Cell::Date("2024-02-29".into()),
                Cell::Timestamp("2024-02-29 08:30:00.250".into()),
                Cell::Null,
            ],
        ]
    );
    // fetch = false still runs the query, without collecting cells.
    assert!(a.execute("select 1 as x", false).unwrap().rows.is_empty());

    let cols = a
        .get_columns_in_relation(&Relation::new("main", "orders"))
        .unwrap();
    assert_eq!(cols.len(), 5);
    assert_eq!(cols[1].data_type, "decimal(10,2)");
    assert!(
        a.get_columns_in_relation(&Relation::new("main", "missing"))
            .unwrap()
            .is_empty()
    );

    a.execute(
        "create view main.big_orders as select * from main.orders where amount > 5",
        false,
    )
    .unwrap();
    assert_eq!(
        a.get_relation("main", "orders").unwrap(),
        Some(RelationKind::Table)
    );
    assert_eq!(
        a.get_relation("main", "big_orders").unwrap(),
        Some(RelationKind::View)
    );
    assert_eq!(a.get_relation("main", "nothing").unwrap(), None);
    let view_cols = a
        .get_columns_in_relation(&Relation::new("main", "big_orders"))
        .unwrap();
    assert_eq!(view_cols[0].name, "id");
    assert_eq!(
        a.list_relations("main").unwrap(),
        vec![
            ("big_orders".to_string(), RelationKind::View),
            ("orders".to_string(), RelationKind::Table)
        ]
    );
}

#[test]
fn outside_any_runtime() {
    let dir = tempfile::tempdir().unwrap();
    exercise(&adapter(dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_worker_of_the_multi_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let a = adapter(dir.path());
    // As a node's task calls it while its SQL compiles.
    tokio::spawn(async move { exercise(&a) }).await.unwrap();
}

#[tokio::test]
async fn on_a_current_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    exercise(&adapter(dir.path()));
}

async fn q(
    a: &EngineAdapter,
    sql: &str,
) -> Result<lakeforge_project::adapter::QueryResult, lakeforge_engine::EngineError> {
    a.run_sql("test", sql, true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dml_and_ddl_are_delta_commits() {
    let dir = tempfile::tempdir().unwrap();
    let a = adapter(dir.path());
    q(
        &a,
        "create table if not exists audit (event varchar, n bigint)",
    )
    .await
    .unwrap();
    // A second `if not exists` is a no-op; without it the table exists already.
    q(&a, "create table if not exists audit (event varchar)")
        .await
        .unwrap();
    let dup = q(&a, "create table audit (event varchar)")
        .await
        .unwrap_err();
    assert!(dup.to_string().contains("already exists"), "{dup}");

    let ins = q(&a, "insert into audit (event, n) values ('a', 1), ('b', 2)")
        .await
        .unwrap();
    assert_eq!(ins.rows_affected, Some(2));
    // Columns not listed are NULL; values go to the listed columns by position.
    q(&a, "insert into main.audit (n) select 3").await.unwrap();
    q(&a, "insert into audit select 'd', 4").await.unwrap();
    let upd = q(&a, "update audit set n = n * 10 where event = 'b'")
        .await
        .unwrap();
    assert_eq!(upd.rows_affected, Some(1));
    let del = q(&a, "delete from audit where n = 4").await.unwrap();
    assert_eq!(del.rows_affected, Some(1));
    let rows = q(&a, "select event, n from audit order by n")
        .await
        .unwrap()
        .rows;
    assert_eq!(
        rows,
        vec![
            vec![Cell::Text("a".into()), Cell::Int(1)],
            vec![Cell::Null, Cell::Int(3)],
            vec![Cell::Text("b".into()), Cell::Int(20)],
        ]
    );
    // Several statements run in order; the result is the last one's.
    let last = q(&a, "truncate table audit; select count(*) as n from audit")
        .await
        .unwrap();
    assert_eq!(last.rows, vec![vec![Cell::Int(0)]]);

    q(&a, "create schema if not exists other").await.unwrap();
    q(&a, "create or replace table other.t as select 1 as x")
        .await
        .unwrap();
    q(&a, "create or replace table other.t as select 'y' as x")
        .await
        .unwrap();
    assert_eq!(
        q(&a, "select x from other.t").await.unwrap().rows,
        vec![vec![Cell::Text("y".into())]]
    );
    let wrong = q(&a, "drop view other.t").await.unwrap_err().to_string();
    assert!(wrong.contains("is a table, not a view"), "{wrong}");
    q(&a, "drop table other.t").await.unwrap();
    q(&a, "drop table if exists other.t").await.unwrap();
    assert_eq!(a.relation_kind("other", "t").await.unwrap(), None);

    let missing = q(&a, "insert into nowhere values (1)")
        .await
        .unwrap_err()
        .to_string();
    assert!(missing.contains("no such table"), "{missing}");
    let bad = q(&a, "select * from audti").await.unwrap_err().to_string();
    assert!(bad.contains("audti") && bad.contains("not found"), "{bad}");
}
