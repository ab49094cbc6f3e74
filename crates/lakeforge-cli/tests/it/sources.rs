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
    assert!(
        !p.path()
            .join("lake/main/events_by_user/_delta_log")
            .exists()
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
    // ... and a model reading it fails the same way, writing nothing.
    p.write(
        "models/items_copy.sql",
        "select * from {{ source('files', 'items') }}\n",
    );
    let run = p.run(&["build", "-s", "items_copy"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("source('files', 'items') at "),
        "{}",
        run.stdout
    );
    assert!(!p.path().join("lake/main/items_copy/_delta_log").exists());
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

#[test]
fn source_freshness_judges_the_newest_row_against_the_policy() {
    let p = Project::fixture("orchestration");
    let at = |hours: i64| {
        (chrono::Utc::now() - chrono::Duration::hours(hours))
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string()
    };
    p.write(
        "data/recent.csv",
        &format!("id,loaded_at\n1,{}\n2,{}\n", at(30), at(1)),
    );
    p.write("data/old.csv", &format!("id,loaded_at\n1,{}\n", at(72)));
    p.write(
        "models/fresh.yml",
        r#"version: 2
sources:
  - name: feeds
    loaded_at_field: loaded_at
    freshness:
      warn_after: {count: 2, period: hour}
      error_after: {count: 1, period: day}
    tables:
      - name: recent
        external: {location: data/recent.csv}
      - name: recent_strict
        external: {location: data/recent.csv}
        freshness: {warn_after: {count: 30, period: minute}}
      - name: old
        external: {location: data/old.csv}
      - name: unchecked
        external: {location: data/old.csv}
        freshness: null
      - name: missing
        external: {location: data/none/*.csv}
"#,
    );
    let run = p.run(&["source", "freshness"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let status = |name: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(&format!("| feeds.{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{}", run.stdout))
            .split('|')
            .nth(2)
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(status("recent"), "pass");
    assert_eq!(status("recent_strict"), "warn");
    assert_eq!(status("old"), "error");
    assert_eq!(status("missing"), "runtime error");
    assert!(!run.stdout.contains("feeds.unchecked"), "{}", run.stdout);
    assert!(
        run.stdout.contains("feeds.missing: ") && run.stdout.contains("no files at"),
        "{}",
        run.stdout
    );
    let artifact: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join("target/sources.json")).unwrap(),
    )
    .unwrap();
    let old = artifact["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["unique_id"] == "source.orch.feeds.old")
        .unwrap();
    assert_eq!(old["status"], "error");
    assert!(old["max_loaded_at_time_ago_in_seconds"].as_f64().unwrap() > 71.0 * 3600.0);
    // Only the fresh ones: exit 0.
    let ok = p.run(&["source", "freshness", "-s", "feeds.recent"]);
    assert_eq!(ok.code, 0, "{}", ok.stdout);
}

/// A source whose columns drift under an incremental model: a new column is added per
/// `on_schema_change`, a type widened in the file is cast, and a type change that would lose
/// values is an error naming the column that writes nothing.
#[test]
fn source_schema_drift_follows_on_schema_change_and_never_corrupts() {
    let dir = tempfile::tempdir().unwrap();
    let p = Project { dir };
    p.write("dbt_project.yml", "name: drift\n");
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: app\n    tables:\n      - name: payments\n        external: {location: data/payments.csv}\n",
    );
    p.write(
        "models/payments_log.sql",
        "{{ config(materialized='incremental', unique_key='id', on_schema_change='append_new_columns') }}\nselect * from {{ source('app', 'payments') }}\n",
    );
    p.write("data/payments.csv", "id,amount\n1,10\n2,20\n");
    p.run(&["build"]).ok();

    // A new column arrives: added to the table, NULL in the old rows.
    p.write(
        "data/payments.csv",
        "id,amount,channel\n2,25,web\n3,30,shop\n",
    );
    p.run(&["build"]).ok();
    assert_eq!(
        p.sql("select id, amount, channel from payments_log order by id"),
        "id,amount,channel\n1,10,\n2,25,web\n3,30,shop\n"
    );

    // The amount column becomes text: storing "n/a" as an integer would lose it.
    p.write("data/payments.csv", "id,amount,channel\n4,n/a,web\n");
    let run = p.run(&["build"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains("column `amount` is Int64 in the table and Utf8 in the model's query"),
        "{all}"
    );
    assert!(all.contains("nothing was written"), "{all}");
    assert!(all.contains("hint: cast the column"), "{all}");
    assert_eq!(p.sql("select count(*) as n from payments_log"), "n\n3\n");

    // A column dropped from the file is NULL in new rows under append_new_columns...
    p.write("data/payments.csv", "id,amount\n5,50\n");
    p.run(&["build"]).ok();
    assert_eq!(
        p.sql("select id, amount, channel from payments_log where id = 5"),
        "id,amount,channel\n5,50,\n"
    );
    // ...and leaves the table under sync_all_columns.
    p.write(
        "models/payments_log.sql",
        "{{ config(materialized='incremental', unique_key='id', on_schema_change='sync_all_columns') }}\nselect * from {{ source('app', 'payments') }}\n",
    );
    p.write("data/payments.csv", "id,amount\n6,60\n");
    p.run(&["build"]).ok();
    assert_eq!(
        p.sql("select id, amount from payments_log order by id"),
        "id,amount\n1,10\n2,25\n3,30\n5,50\n6,60\n"
    );
    assert_eq!(
        p.sql("select count(*) as n from information_schema.columns where table_name = 'payments_log' and column_name = 'channel'"),
        "n\n0\n"
    );
}

/// The last commit's JSON lines of a local Delta table.
fn last_commit(p: &Project, table: &str) -> String {
    let log = p.path().join(format!("lake/main/{table}/_delta_log"));
    let mut commits: Vec<_> = std::fs::read_dir(&log)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|f| f.extension().is_some_and(|x| x == "json"))
        .collect();
    commits.sort();
    std::fs::read_to_string(commits.last().unwrap()).unwrap()
}

/// `select *` from a Parquet source, materialized as a table, copies the files into the lake
/// in one commit (no re-encoding); anything more than a plain scan is written as usual. Both
/// read back the same.
#[test]
fn plain_parquet_sources_are_copied_into_the_lake_as_they_are() {
    let p = project_with_files();
    p.write(
        "models/items_raw.sql",
        "{{ config(materialized='table') }}\nselect * from {{ source('files', 'items') }}\n",
    );
    p.write(
        "models/items_pens.sql",
        "{{ config(materialized='table') }}\nselect * from {{ source('files', 'items') }} where item = 'pen'\n",
    );
    let run = p.run(&["build", "-s", "items_raw", "items_pens"]).ok();
    assert!(run.stdout.contains("2 rows"), "{}", run.stdout);
    assert_eq!(
        p.sql("select id, item from items_raw order by id"),
        "id,item\n1,pen\n2,ink\n"
    );
    assert_eq!(p.sql("select id, item from items_pens"), "id,item\n1,pen\n");
    let copied = last_commit(&p, "items_raw");
    assert!(copied.contains("CREATE OR REPLACE TABLE"), "{copied}");
    assert!(copied.contains(r#"\"numRecords\":2"#), "{copied}");
    // Copied files carry only their row count; files Lakeforge encoded carry column statistics.
    assert!(!copied.contains("minValues"), "{copied}");
    let written = last_commit(&p, "items_pens");
    assert!(written.contains("minValues"), "{written}");

    // A second build replaces the table in one more commit; the old files leave the snapshot.
    p.run(&["build", "-s", "items_raw"]).ok();
    let again = last_commit(&p, "items_raw");
    assert!(again.contains("\"remove\""), "{again}");
    assert!(again.contains(r#""operation":"WRITE""#), "{again}");
    assert_eq!(p.sql("select count(*) as n from items_raw"), "n\n2\n");
}
