//! A real Delta table written twice through the engine's own table write (the second time
//! with other rows and one more column), and a view beside it.

use super::*;
use crate::lake::Lake;

const FIRST: &str = "select * from (values (1, 'one'), (2, 'two'), (3, 'three')) as t(id, name)";

struct Fixture {
    _dir: tempfile::TempDir,
    engine: Engine,
    table: Relation,
}

async fn written_twice() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(Lake::open(dir.path()).unwrap(), "main", 2).unwrap();
    let table = Relation::new("main", "customers");
    let long = "x".repeat(MAX_CELL_CHARS + 50);
    let second = format!(
        "select * from (values (10, 'ten', 1.5), (20, '{long}', 2.5), (30, null, null)) as t(id, name, score)"
    );
    for sql in [FIRST, second.as_str()] {
        let df = engine.dataframe("test", sql).await.unwrap();
        crate::write::materialize::replace(&engine, &table, df, "CREATE")
            .await
            .unwrap();
    }
    Fixture {
        _dir: dir,
        engine,
        table,
    }
}

fn ids(page: &RowsPage) -> Vec<Cell> {
    page.rows.iter().map(|r| r[0].clone()).collect()
}

#[tokio::test]
async fn the_history_has_both_versions_newest_first_with_their_rows() {
    let f = written_twice().await;
    let history = history(&f.engine, &f.table, 100).await.unwrap();
    assert_eq!(history.latest, 1);
    let versions: Vec<i64> = history.commits.iter().map(|c| c.version).collect();
    assert_eq!(versions, vec![1, 0]);
    for c in &history.commits {
        assert_eq!(c.rows_written, Some(3), "{c:?}");
        assert!(c.files_added.is_some_and(|n| n >= 1), "{c:?}");
        assert!(c.timestamp_ms.is_some_and(|t| t > 0), "{c:?}");
        assert!(c.operation.is_some(), "{c:?}");
    }
    // A limit keeps the newest.
    let last = super::history(&f.engine, &f.table, 1).await.unwrap();
    assert_eq!(last.commits.len(), 1);
    assert_eq!(last.commits[0].version, 1);
}

#[tokio::test]
async fn rows_schema_and_count_at_version_0_differ_from_the_latest() {
    let f = written_twice().await;
    let old = rows(&f.engine, &f.table, Some(0), 0, 50).await.unwrap();
    assert_eq!(old.version, Some(0));
    assert_eq!(ids(&old), vec![Cell::Int(1), Cell::Int(2), Cell::Int(3)]);
    assert_eq!(old.rows[1][1], Cell::Text("two".into()));
    assert!(!old.more);
    let names: Vec<&str> = old.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "name"]);

    let new = rows(&f.engine, &f.table, None, 0, 50).await.unwrap();
    assert_eq!(new.version, Some(1));
    assert_eq!(ids(&new), vec![Cell::Int(10), Cell::Int(20), Cell::Int(30)]);
    assert_eq!(new.columns[2].name, "score");
    assert_eq!(new.columns[2].data_type, "double");
    assert_eq!(new.rows[2][1], Cell::Null);
    // The long text is cut, and says so.
    assert_eq!(new.cut_cells, 1);
    let Cell::Text(cut) = &new.rows[1][1] else {
        panic!("{:?}", new.rows[1][1]);
    };
    assert_eq!(
        cut.chars().count(),
        MAX_CELL_CHARS + CUT_MARKER.chars().count()
    );
    assert!(cut.ends_with(CUT_MARKER));

    // Pages: an offset and a limit, and whether more follow; the limit is bounded.
    let page = rows(&f.engine, &f.table, Some(0), 1, 1).await.unwrap();
    assert_eq!(ids(&page), vec![Cell::Int(2)]);
    assert!(page.more);
    let page = rows(&f.engine, &f.table, Some(0), 2, 1).await.unwrap();
    assert_eq!(ids(&page), vec![Cell::Int(3)]);
    assert!(!page.more);
    let page = rows(&f.engine, &f.table, Some(0), 0, 10_000).await.unwrap();
    assert_eq!(page.rows.len(), 3);

    let old = describe(&f.engine, &f.table, Some(0)).await.unwrap();
    assert_eq!(old.columns.len(), 2);
    assert_eq!(
        old.stored,
        Stored::Table {
            version: 0,
            latest: 1,
            rows: RowCount {
                rows: 3,
                from_stats: true
            }
        }
    );
    let new = describe(&f.engine, &f.table, None).await.unwrap();
    assert_eq!(new.columns.len(), 3);
    assert_eq!(new.columns[0].data_type, "bigint");
}

#[tokio::test]
async fn a_version_the_table_lacks_names_the_table_and_its_versions() {
    let f = written_twice().await;
    for v in [2, -1] {
        let e = rows(&f.engine, &f.table, Some(v), 0, 10).await.unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(e, EngineError::NoSuchVersion { version, latest: Some(1), .. } if version == v),
            "{text}"
        );
        assert!(
            text.starts_with(&format!(
                "main.customers has no version {v}; its versions are 0 to 1"
            )),
            "{text}"
        );
        assert!(text.contains("hint: "), "{text}");
    }
    let e = describe(&f.engine, &Relation::new("main", "nope"), None)
        .await
        .unwrap_err();
    assert!(matches!(e, EngineError::NotInLake { .. }), "{e}");
    assert!(
        e.to_string().starts_with("main.nope is not in the lake"),
        "{e}"
    );
}

#[tokio::test]
async fn profiles_are_one_query_per_version() {
    let f = written_twice().await;
    let p = profile(&f.engine, &f.table, None).await.unwrap();
    assert_eq!(p.version, Some(1));
    assert_eq!(p.rows, 3);
    let id = &p.columns[0];
    assert_eq!((id.nulls, id.distinct_approx), (0, Some(3)));
    assert_eq!(
        (id.min.as_deref(), id.max.as_deref()),
        (Some("10"), Some("30"))
    );
    assert_eq!(id.mean, Some(20.0));
    let name = &p.columns[1];
    assert_eq!((name.nulls, name.distinct_approx), (1, Some(2)));
    assert_eq!(name.mean, None);
    assert_eq!(name.min.as_deref(), Some("ten"));
    let score = &p.columns[2];
    assert_eq!((score.nulls, score.distinct_approx), (1, Some(2)));
    assert_eq!(score.mean, Some(2.0));

    let old = profile(&f.engine, &f.table, Some(0)).await.unwrap();
    assert_eq!(old.version, Some(0));
    assert_eq!(old.columns.len(), 2);
    assert_eq!(old.columns[0].max.as_deref(), Some("3"));
}

#[tokio::test]
async fn views_show_their_sql_and_columns_without_versions() {
    let f = written_twice().await;
    let view = Relation::new("main", "big_customers");
    let sql = "select id from main.customers where id > 10";
    f.engine.lake().write_view(&view, sql).await.unwrap();
    let d = describe(&f.engine, &view, None).await.unwrap();
    assert_eq!(d.stored, Stored::View { sql: sql.into() });
    assert_eq!(d.columns.len(), 1);
    let page = rows(&f.engine, &view, None, 0, 10).await.unwrap();
    assert_eq!(page.version, None);
    assert_eq!(ids(&page), vec![Cell::Int(20), Cell::Int(30)]);
    let e = rows(&f.engine, &view, Some(0), 0, 10).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("it is a view, and views have no versions"),
        "{e}"
    );

    let all = summaries(
        &f.engine,
        &[f.table.clone(), view.clone(), Relation::new("main", "nope")],
    )
    .await;
    assert_eq!(
        all[0].as_ref().unwrap(),
        &Some(Summary {
            kind: "table",
            version: Some(1),
            rows: Some(3)
        })
    );
    assert_eq!(all[1].as_ref().unwrap().unwrap().kind, "view");
    assert_eq!(all[2].as_ref().unwrap(), &None);
}

#[test]
fn a_commit_reads_delta_rs_and_spark_metrics() {
    let file = br#"{"add":{"path":"a.parquet","commitInfo":{}}}
{"commitInfo":{"timestamp":1700000000000,"operation":"WRITE","operationParameters":{"mode":"Overwrite"},"operationMetrics":{"numOutputRows":"12","numFiles":"2"},"engineInfo":"Apache-Spark/3.5"}}
"#;
    let c = commit(4, file);
    assert_eq!(c.version, 4);
    assert_eq!(c.operation.as_deref(), Some("WRITE"));
    assert_eq!(c.parameters["mode"], "Overwrite");
    assert_eq!((c.rows_written, c.files_added), (Some(12), Some(2)));
    assert_eq!(c.timestamp_ms, Some(1_700_000_000_000));
    let none = commit(0, b"{\"add\":{}}\n");
    assert_eq!(none.operation, None);
}
