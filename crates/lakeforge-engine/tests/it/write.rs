//! The write path in process, against a lake in a temporary folder: a project is loaded, its
//! models compiled and materialized (table, view, incremental), the pass-through copy of a
//! Parquet source, and what the lake and its catalog list afterwards. The binary's tests cover
//! the same through the CLI; these say which layer broke.

use std::path::Path;
use std::sync::Arc;

use lakeforge_engine::{Engine, Lake, StoredKind, WriteOutcome, materialize};
use lakeforge_project::{CompileContext, LoadOptions, Materialization, Project, Relation};

const DBT_PROJECT: &str = "name: w\nprofile: w\nmodels:\n  w:\n    +materialized: table\n";
const PROFILES: &str = "w:\n  target: dev\n  outputs:\n    dev:\n      type: lakeforge\n      schema: main\n      threads: 2\n";

const PEOPLE: &str = "select * from (values (1, 'ann'), (2, 'bob')) as t(id, name)";
const PEOPLE_UPPER: &str =
    "{{ config(materialized='view') }} select id, upper(name) as name from {{ ref('people') }}";
const PEOPLE_LOG: &str = "{{ config(materialized='incremental') }} \
    select id, name from {{ ref('people') }} \
    {% if is_incremental() %} where id > (select max(id) from {{ this }}) {% endif %}";

fn write(dir: &Path, path: &str, text: &[u8]) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A project in `dir` with the given model files (`name` → SQL), plus `extra` files.
fn project(dir: &Path, models: &[(&str, &str)], extra: &[(&str, &str)]) -> Arc<Project> {
    write(dir, "dbt_project.yml", DBT_PROJECT.as_bytes());
    write(dir, "profiles.yml", PROFILES.as_bytes());
    for (name, sql) in models {
        write(dir, &format!("models/{name}.sql"), sql.as_bytes());
    }
    for (path, text) in extra {
        write(dir, path, text.as_bytes());
    }
    let opts = LoadOptions {
        profiles_dir: Some(dir.to_path_buf()),
        ..LoadOptions::default()
    };
    Arc::new(Project::load(dir, &opts).unwrap())
}

fn engine(dir: &Path, project: &Project) -> Engine {
    let engine = Engine::new(Lake::open(dir.join("lake")).unwrap(), "main", 2).unwrap();
    engine.register_sources(project);
    engine
}

/// Compile model `name` as a run would (incremental when its table exists) and write it.
async fn build(engine: &Engine, project: &Arc<Project>, name: &str) -> WriteOutcome {
    try_build(engine, project, name).await.unwrap()
}

/// [`build`], for a model whose write may fail.
async fn try_build(
    engine: &Engine,
    project: &Arc<Project>,
    name: &str,
) -> Result<WriteOutcome, lakeforge_engine::EngineError> {
    let node = project.node_by_name(name).unwrap();
    let incremental = node.config.materialized == Materialization::Incremental
        && engine.stored(&node.relation) == Some(StoredKind::Table);
    let sql = CompileContext::new(project.clone())
        .compile(node, incremental)
        .unwrap()
        .sql;
    materialize(engine, node, &sql, false).await
}

/// The rows of `sql`, one `a|b` line each, in the query's order.
async fn rows(engine: &Engine, sql: &str) -> Vec<String> {
    let (_, batches) = engine.query("test", sql).await.unwrap();
    let mut out = Vec::new();
    for b in &batches {
        for row in 0..b.num_rows() {
            let cells: Vec<String> = b
                .columns()
                .iter()
                .map(|c| arrow::util::display::array_value_to_string(c, row).unwrap())
                .collect();
            out.push(cells.join("|"));
        }
    }
    out
}

fn main_people() -> Relation {
    Relation::new("main", "people")
}

#[tokio::test]
async fn tables_views_and_increments_are_delta_commits() {
    let dir = tempfile::tempdir().unwrap();
    let models = [
        ("people", PEOPLE),
        ("people_upper", PEOPLE_UPPER),
        ("people_log", PEOPLE_LOG),
    ];
    let p = project(dir.path(), &models, &[]);
    let engine = engine(dir.path(), &p);

    let table = build(&engine, &p, "people").await;
    assert_eq!(
        (table.action, table.rows, table.version),
        ("CREATE TABLE", Some(2), Some(0))
    );
    assert_eq!(engine.stored(&main_people()), Some(StoredKind::Table));
    assert!(dir.path().join("lake/main/people/_delta_log").is_dir());

    let view = build(&engine, &p, "people_upper").await;
    assert_eq!((view.action, view.version), ("CREATE VIEW", None));
    assert!(dir.path().join("lake/main/people_upper.view.sql").is_file());
    assert_eq!(
        rows(&engine, "select id, name from people_upper order by id").await,
        ["1|ANN", "2|BOB"]
    );

    let first = build(&engine, &p, "people_log").await;
    assert_eq!((first.rows, first.version), (Some(2), Some(0)));

    // A third person: the table is rewritten (a new version), the increment appends only her.
    let people = "select * from (values (1, 'ann'), (2, 'bob'), (3, 'cy')) as t(id, name)";
    let p = project(dir.path(), &[("people", people)], &[]);
    let rewritten = build(&engine, &p, "people").await;
    assert_eq!((rewritten.rows, rewritten.version), (Some(3), Some(1)));
    let increment = build(&engine, &p, "people_log").await;
    assert_eq!(
        (increment.action, increment.rows, increment.version),
        ("INSERT", Some(1), Some(1))
    );
    assert_eq!(
        rows(&engine, "select id, name from people_log order by id").await,
        ["1|ann", "2|bob", "3|cy"]
    );
    assert_eq!(
        engine
            .table_version(&Relation::new("main", "people_log"))
            .await,
        Some(1)
    );
}

#[tokio::test]
async fn a_table_that_becomes_a_view_leaves_no_table_behind() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), &[("people", PEOPLE)], &[]);
    let engine = engine(dir.path(), &p);
    build(&engine, &p, "people").await;
    assert!(dir.path().join("lake/main/people").is_dir());

    let as_view = format!("{{{{ config(materialized='view') }}}} {PEOPLE}");
    let p = project(dir.path(), &[("people", &as_view)], &[]);
    build(&engine, &p, "people").await;
    assert_eq!(engine.stored(&main_people()), Some(StoredKind::View));
    assert!(!dir.path().join("lake/main/people").exists());
    assert_eq!(rows(&engine, "select count(*) from people").await, ["2"]);

    // And back: the table is committed before the view file goes.
    let p = project(dir.path(), &[("people", PEOPLE)], &[]);
    build(&engine, &p, "people").await;
    assert_eq!(engine.stored(&main_people()), Some(StoredKind::Table));
    assert!(!dir.path().join("lake/main/people.view.sql").exists());
}

#[tokio::test]
async fn the_catalog_lists_what_the_lake_holds() {
    let dir = tempfile::tempdir().unwrap();
    let models = [("people", PEOPLE), ("people_upper", PEOPLE_UPPER)];
    let p = project(dir.path(), &models, &[]);
    let engine = engine(dir.path(), &p);
    build(&engine, &p, "people").await;
    build(&engine, &p, "people_upper").await;
    // Folders the lake does not own are not schemas; a folder without a log is not a table.
    std::fs::create_dir_all(dir.path().join("lake/_models/m")).unwrap();
    std::fs::create_dir_all(dir.path().join("lake/main/half_written")).unwrap();

    for engine in [&engine, &self::engine(dir.path(), &p)] {
        let catalog = engine.context().catalog("lake").unwrap();
        assert_eq!(catalog.schema_names(), ["main"]);
        let mut tables = catalog.schema("main").unwrap().table_names();
        tables.sort();
        assert_eq!(tables, ["people", "people_upper"]);
        assert_eq!(
            engine.lake().table_names("main"),
            ["people", "people_upper"]
        );
    }
}

/// A model that is `select *` over a Parquet source is committed from copies of the source's
/// files, byte for byte; any other model over it is written the ordinary way.
#[tokio::test]
async fn a_plain_parquet_select_is_copied_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("data/items.parquet");
    std::fs::create_dir_all(source.parent().unwrap()).unwrap();
    let ctx = datafusion::prelude::SessionContext::new();
    ctx.sql("select * from (values (1, 'a'), (2, 'b'), (3, 'c')) as t(id, label)")
        .await
        .unwrap()
        .write_parquet(
            source.to_str().unwrap(),
            datafusion::dataframe::DataFrameWriteOptions::new().with_single_file_output(true),
            None,
        )
        .await
        .unwrap();
    let sources = "version: 2\nsources:\n  - name: files\n    tables:\n      - name: items\n        external: {location: data/items.parquet}\n";
    let models = [
        ("items", "select * from {{ source('files', 'items') }}"),
        (
            "some_items",
            "select * from {{ source('files', 'items') }} where id > 1",
        ),
    ];
    let p = project(dir.path(), &models, &[("models/sources.yml", sources)]);
    let engine = engine(dir.path(), &p);

    let copied = build(&engine, &p, "items").await;
    assert_eq!((copied.rows, copied.version), (Some(3), Some(0)));
    let files = parquet_files(&dir.path().join("lake/main/items"));
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(
        std::fs::read(&files[0]).unwrap(),
        std::fs::read(&source).unwrap()
    );
    assert_eq!(
        rows(&engine, "select id, label from items order by id").await,
        ["1|a", "2|b", "3|c"]
    );

    let filtered = build(&engine, &p, "some_items").await;
    assert_eq!(filtered.rows, Some(2));
    let files = parquet_files(&dir.path().join("lake/main/some_items"));
    assert!(
        files
            .iter()
            .all(|f| std::fs::read(f).unwrap() != std::fs::read(&source).unwrap())
    );
}

fn parquet_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    files
}

/// A table whose query has several partitions is encoded by one writer per partition and
/// committed once: one new version, every row once, a file per writer; replacing it again
/// commits one more version holding only the new rows.
#[tokio::test]
async fn a_table_of_several_partitions_is_written_by_several_writers_in_one_commit() {
    let dir = tempfile::tempdir().unwrap();
    // A union of two queries is two partitions of the plan at any thread count.
    let both = "select id, 'a' as side from (values (1), (2), (3)) as t(id) \
                union all select id, 'b' as side from (values (4), (5)) as t(id)";
    let p = project(dir.path(), &[("both", both)], &[]);
    let engine = engine(dir.path(), &p);
    let plan = engine
        .dataframe(
            "test",
            "select * from (values (1)) as a(x) union all select * from (values (2)) as b(x)",
        )
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    use datafusion::physical_plan::ExecutionPlanProperties as _;
    assert!(plan.output_partitioning().partition_count() >= 2);

    let first = build(&engine, &p, "both").await;
    assert_eq!(
        (first.action, first.rows, first.version),
        ("CREATE TABLE", Some(5), Some(0))
    );
    let files = parquet_files(&dir.path().join("lake/main/both"));
    assert!(files.len() >= 2, "one file per writer: {files:?}");
    assert_eq!(
        rows(&engine, "select id, side from both order by id").await,
        ["1|a", "2|a", "3|a", "4|b", "5|b"]
    );

    let again = build(&engine, &p, "both").await;
    assert_eq!((again.rows, again.version), (Some(5), Some(1)));
    assert_eq!(
        rows(&engine, "select count(*), count(distinct id) from both").await,
        ["5|5"]
    );
    // Five rows, not ten: the first version's files are no longer part of the table.
    assert_eq!(
        engine.table_version(&Relation::new("main", "both")).await,
        Some(1)
    );
}

/// A writer that fails (a division by zero in one partition) fails the model: nothing is
/// committed, the previous version stands, and no file of the failed write is left behind.
#[tokio::test]
async fn a_failing_partition_commits_nothing_and_leaves_no_files() {
    let dir = tempfile::tempdir().unwrap();
    let good = "select id from (values (1), (2)) as t(id) \
                union all select id from (values (3)) as t(id)";
    let p = project(dir.path(), &[("both", good)], &[]);
    let engine = engine(dir.path(), &p);
    build(&engine, &p, "both").await;
    let before = parquet_files(&dir.path().join("lake/main/both"));

    let bad = "select id from (values (1), (2)) as t(id) \
               union all select 10 / (id - 3) as id from (values (3)) as t(id)";
    let p = project(dir.path(), &[("both", bad)], &[]);
    let err = try_build(&engine, &p, "both").await.unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("divide by zero"),
        "{err}"
    );
    assert_eq!(
        engine.table_version(&Relation::new("main", "both")).await,
        Some(0)
    );
    assert_eq!(parquet_files(&dir.path().join("lake/main/both")), before);
    assert_eq!(rows(&engine, "select count(*) from both").await, ["3"]);
}

/// The Delta table a path holds, opened as another tool would.
async fn open(dir: &Path) -> deltalake::DeltaTable {
    let url = url::Url::from_directory_path(dir).unwrap();
    deltalake::open_table(url).await.unwrap()
}

/// A table model built again (by several writers) stays the same Delta table: its id and the
/// properties someone set on it survive, the commit is an overwrite that removes the earlier
/// files, and a changed column list changes the schema in the same commit.
#[tokio::test]
async fn a_rebuilt_table_keeps_its_identity_and_properties() {
    let dir = tempfile::tempdir().unwrap();
    let table_dir = dir.path().join("lake/main/both");
    let two = "select id from (values (1), (2)) as t(id) \
               union all select id from (values (3)) as t(id)";
    let p = project(dir.path(), &[("both", two)], &[]);
    let engine = engine(dir.path(), &p);
    build(&engine, &p, "both").await;
    let created = open(&table_dir).await;
    let id = created.snapshot().unwrap().metadata().id().to_string();
    let retention = std::collections::HashMap::from([(
        "delta.logRetentionDuration".to_string(),
        "interval 60 days".to_string(),
    )]);
    created
        .set_tbl_properties()
        .with_properties(retention)
        .await
        .unwrap();

    let again = build(&engine, &p, "both").await;
    assert_eq!((again.rows, again.version), (Some(3), Some(2)));
    let commit =
        std::fs::read_to_string(table_dir.join("_delta_log/00000000000000000002.json")).unwrap();
    assert!(commit.contains(r#""operation":"WRITE""#), "{commit}");
    assert!(commit.contains(r#""remove""#), "{commit}");
    assert!(
        !commit.contains("metaData"),
        "same columns, same metadata: {commit}"
    );

    let wider = "select id, id * 2 as twice from (values (1), (2)) as t(id) \
                 union all select id, 0 as twice from (values (3)) as t(id)";
    let p = project(dir.path(), &[("both", wider)], &[]);
    build(&engine, &p, "both").await;
    let table = open(&table_dir).await;
    let state = table.snapshot().unwrap();
    assert_eq!(state.version(), 3);
    assert_eq!(state.metadata().id(), id);
    assert_eq!(
        state
            .metadata()
            .configuration()
            .get("delta.logRetentionDuration")
            .map(String::as_str),
        Some("interval 60 days")
    );
    assert_eq!(
        rows(&engine, "select id, twice from both order by id").await,
        ["1|2", "2|4", "3|0"]
    );
    // History shows what each rebuild wrote.
    let history: Vec<_> = futures::TryStreamExt::try_collect(table.history(Some(1)))
        .await
        .unwrap();
    let metrics = &history[0].info["operationMetrics"];
    assert_eq!(metrics["num_added_rows"], 3, "{metrics}");
    let removes = std::fs::read_to_string(table_dir.join("_delta_log/00000000000000000003.json"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(r#"{"remove""#))
        .count();
    assert!(removes > 0);
    assert_eq!(metrics["num_removed_files"], removes, "{metrics}");
}

/// A table someone gave a CHECK constraint is written by delta-rs's own write, which enforces
/// it: a rebuild breaking the constraint fails and commits nothing; one keeping it lands.
#[tokio::test]
async fn a_constraint_set_on_a_table_is_enforced_when_it_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let table_dir = dir.path().join("lake/main/both");
    let good = "select id from (values (1), (2)) as t(id) \
                union all select id from (values (3)) as t(id)";
    let p = project(dir.path(), &[("both", good)], &[]);
    let engine = engine(dir.path(), &p);
    build(&engine, &p, "both").await;
    open(&table_dir)
        .await
        .add_constraint()
        .with_constraint("id_positive", "id > 0")
        .await
        .unwrap();

    let bad = "select id from (values (1), (2)) as t(id) \
               union all select -id as id from (values (3)) as t(id)";
    let p = project(dir.path(), &[("both", bad)], &[]);
    let err = try_build(&engine, &p, "both").await.unwrap_err();
    assert!(err.to_string().contains("failed validation check"), "{err}");
    assert!(
        err.to_string()
            .contains("the table's checks: id_positive: id > 0"),
        "{err}"
    );
    assert_eq!(
        engine.table_version(&Relation::new("main", "both")).await,
        Some(1)
    );

    let p = project(dir.path(), &[("both", good)], &[]);
    let again = build(&engine, &p, "both").await;
    assert_eq!((again.rows, again.version), (Some(3), Some(2)));
    let table = open(&table_dir).await;
    assert!(
        table
            .snapshot()
            .unwrap()
            .metadata()
            .configuration()
            .contains_key("delta.constraints.id_positive")
    );
}

/// The lake keeps the snapshot of a table it read or committed, but a read always sees the
/// table's latest version: after another process commits to it, and after another process
/// drops it and builds it again up to the same version number.
#[tokio::test]
async fn a_remembered_table_is_read_at_its_latest_version() {
    let dir = tempfile::tempdir().unwrap();
    let ours = engine(
        dir.path(),
        &project(dir.path(), &[("t", "select 1 as v")], &[]),
    );
    build(
        &ours,
        &project(dir.path(), &[("t", "select 1 as v")], &[]),
        "t",
    )
    .await;
    assert_eq!(rows(&ours, "select v from t").await, ["1"]);
    assert_eq!(rows(&ours, "select v from t").await, ["1"]);

    // Another process (an engine with a lake of its own over the same folder) commits.
    let p = project(dir.path(), &[("t", "select 2 as v")], &[]);
    let theirs = engine(dir.path(), &p);
    assert_eq!(build(&theirs, &p, "t").await.version, Some(1));
    assert_eq!(rows(&ours, "select v from t").await, ["2"]);

    // It drops the table and builds it twice: version 1 again, of other rows.
    std::fs::remove_dir_all(dir.path().join("lake/main/t")).unwrap();
    let p = project(dir.path(), &[("t", "select 3 as v")], &[]);
    build(&theirs, &p, "t").await;
    let p = project(dir.path(), &[("t", "select 33 as v")], &[]);
    assert_eq!(build(&theirs, &p, "t").await.version, Some(1));
    assert_eq!(rows(&ours, "select v from t").await, ["33"]);

    // Our own rebuild of it starts from its latest version too.
    let p = project(dir.path(), &[("t", "select 4 as v")], &[]);
    assert_eq!(build(&ours, &p, "t").await.version, Some(2));
    assert_eq!(rows(&ours, "select v from t").await, ["4"]);
    assert_eq!(rows(&theirs, "select v from t").await, ["4"]);
}
