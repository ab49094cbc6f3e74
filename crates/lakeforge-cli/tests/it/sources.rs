//! Sources that are files, read in place: CSV globs, compressed CSV, JSON lines, Parquet and
//! hive-partitioned folders, and the errors a bad file gives.

use crate::common::Project;

const SOURCES: &str = r#"version: 2
sources:
  - name: files
    tables:
      - name: events
        external: {location: data/events/*.csv}
      - name: archived
        external: {location: data/archived.csv.gz, options: {compression: gzip}}
      - name: users
        external: {location: data/users.ndjson, file_format: json}
      - name: items
        external: {location: data/items.parquet}
      - name: daily
        external:
          location: data/daily/
          file_format: csv
          partitions: [{name: ds, data_type: date}]
"#;

fn project_with_files() -> Project {
    let p = Project::fixture("orchestration");
    p.write("models/files.yml", SOURCES);
    p.write(
        "data/events/a.csv",
        "id,user_id,kind\n1,10,click\n2,11,view\n",
    );
    p.write("data/events/b.csv", "id,user_id,kind\n3,10,view\n");
    p.write("data/archived.csv", "id,user_id,kind\n4,12,click\n");
    let gz = std::process::Command::new("gzip")
        .arg(p.path().join("data/archived.csv"))
        .status()
        .unwrap();
    assert!(gz.success());
    p.write(
        "data/users.ndjson",
        "{\"id\": 10, \"name\": \"Ada\"}\n{\"id\": 11, \"name\": \"Grace\"}\n{\"id\": 12, \"name\": \"Linus\"}\n",
    );
    p.write("data/daily/ds=2026-01-01/part.csv", "clicks\n5\n");
    p.write("data/daily/ds=2026-01-02/part.csv", "clicks\n7\n");
    // A Parquet file, written by DataFusion's COPY.
    let items = p.path().join("data/items.parquet");
    p.run(&[
        "sql",
        &format!(
            "copy (select 1 as id, 'pen' as item union all select 2, 'ink') to '{}'",
            items.display()
        ),
    ])
    .ok();
    p.write(
        "models/events_by_user.sql",
        "select u.name, count(*) as events\nfrom (select * from {{ source('files', 'events') }} union all select * from {{ source('files', 'archived') }}) e\njoin {{ source('files', 'users') }} u on u.id = e.user_id\ngroup by u.name\n",
    );
    p.write(
        "models/daily_clicks.sql",
        "select ds, clicks from {{ source('files', 'daily') }}\n",
    );
    p
}

#[test]
fn models_select_from_files_in_place() {
    let p = project_with_files();
    p.run(&["build", "-s", "events_by_user", "daily_clicks"])
        .ok();
    assert_eq!(
        p.sql("select name, events from main.events_by_user order by name"),
        "name,events\nAda,2\nGrace,1\nLinus,1\n"
    );
    // The partition folder's value is a column of its declared type.
    assert_eq!(
        p.sql("select cast(ds as varchar) as ds, clicks, arrow_typeof(ds) as t from main.daily_clicks order by ds"),
        "ds,clicks,t\n2026-01-01,5,Date32\n2026-01-02,7,Date32\n"
    );
    assert_eq!(
        p.sql("select item from files.items order by id"),
        "item\npen\nink\n"
    );
}

#[test]
fn bad_files_are_errors_naming_the_source_and_nothing_is_written() {
    let p = project_with_files();
    // No file matches.
    std::fs::remove_dir_all(p.path().join("data/events")).unwrap();
    let run = p.run(&["build", "-s", "events_by_user"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("source('files', 'events'): no files at "),
        "{}",
        run.stdout
    );
    assert!(
        !p.path()
            .join("lake/main/events_by_user/_delta_log")
            .exists()
    );
    // A CSV line with too many fields.
    p.write("data/events/a.csv", "id,user_id,kind\n1,10,click,extra\n");
    let run = p.run(&["build", "-s", "events_by_user"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("source('files', 'events') at ")
            && run.stdout.contains("unequal lengths"),
        "{}",
        run.stdout
    );
    // A corrupt Parquet file.
    std::fs::write(p.path().join("data/items.parquet"), b"not parquet at all").unwrap();
    let out = p.run(&["sql", "select * from files.items"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("source('files', 'items') at "),
        "{}",
        out.stderr
    );
    // A mistake in the declaration is caught when the project loads.
    p.write(
        "models/files.yml",
        "version: 2\nsources:\n  - name: files\n    tables:\n      - name: events\n        external: {location: data/x, file_format: avro}\n",
    );
    let out = p.run(&["ls"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(
            "models/files.yml: source `files.events`: `external:` file_format `avro` is not supported"
        ),
        "{}",
        out.stderr
    );
}
