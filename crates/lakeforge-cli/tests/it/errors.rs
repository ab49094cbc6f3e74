//! Bad input gets a clear error naming the file, line, node or column at fault, and loses
//! nothing: no half-written table.

use crate::common::{Project, normalize};

#[test]
fn cycle_is_reported_with_its_path() {
    let p = Project::fixture("proj");
    p.write("models/a.sql", "select * from {{ ref('b') }}");
    p.write("models/b.sql", "select * from {{ ref('c') }}");
    p.write("models/c.sql", "select * from {{ ref('a') }}");
    let run = p.run(&["build"]);
    assert_eq!(run.code, 2);
    insta::assert_snapshot!("cycle", run.stderr);
}

#[test]
fn undefined_names_and_unknown_refs_name_file_and_line() {
    let p = Project::fixture("proj");
    p.write(
        "models/bad_var.sql",
        "select 1 as x\nunion all\nselect {{ var('nope') }}",
    );
    let run = p.run(&["compile"]);
    assert_eq!(run.code, 2);
    insta::assert_snapshot!("undefined_var", run.stderr);

    p.write("models/bad_var.sql", "select 1 as x\nfrom {{ typo_name }}");
    let run = p.run(&["compile"]);
    insta::assert_snapshot!("undefined_name", run.stderr);

    p.write("models/bad_var.sql", "select * from {{ ref('stg_peple') }}");
    let run = p.run(&["compile"]);
    insta::assert_snapshot!("unknown_ref", run.stderr);
}

#[test]
fn malformed_seed_writes_nothing() {
    let p = Project::fixture("proj");
    p.write("seeds/broken.csv", "a,b\n1,2\n3,4,5\n");
    let run = p.run(&["seed", "-s", "broken"]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("malformed_seed", normalize(&run.stdout, &p));
    assert!(!p.path().join("lake/main/broken/_delta_log").exists());

    p.write("seeds/broken.csv", "a,b\n1,2\n3,4\n");
    p.write(
        "dbt_project.yml",
        &std::fs::read_to_string(p.path().join("dbt_project.yml"))
            .unwrap()
            .replace(
                "    events:\n",
                "    broken:\n      +column_types:\n        b: date\n    events:\n",
            ),
    );
    let run = p.run(&["seed", "-s", "broken"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("seeds/broken.csv:2 (column `b`): `2` is not a valid date (YYYY-MM-DD)"),
        "{}",
        run.stdout
    );
}

#[test]
fn failing_model_keeps_the_previous_table_and_skips_downstream() {
    let p = Project::fixture("proj");
    p.run(&["build", "--threads", "1"]).ok();
    p.write(
        "models/staging/stg_people.sql",
        "select id as person_id, no_such_column from {{ ref('people') }}",
    );
    p.write(
        "models/marts/person_totals.sql",
        "select person_id, 1 as broken_column_never_written from {{ ref('stg_people') }}",
    );
    let run = p.run(&["run", "--threads", "1", "-s", "stg_people+"]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("failing_model", normalize(&run.stdout, &p));
    // The view and the downstream table are as they were.
    assert!(
        p.sql("select * from main_analytics.person_totals")
            .starts_with("person_id,name,events,total,doubled,greeting\n")
    );
    assert_eq!(p.sql("select count(*) as n from stg_people"), "n\n3\n");
}

#[test]
fn failing_test_skips_downstream_in_build() {
    let p = Project::fixture("proj");
    p.write(
        "seeds/people.csv",
        "id,name,joined,active\n1,Ada,2024-01-01,true\n1,Again,2024-02-01,false\n",
    );
    let run = p.run(&["build", "--threads", "1"]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("failing_test", normalize(&run.stdout, &p));
    assert!(!p.path().join("lake/main_analytics/person_totals").exists());
    let r = p.run_result("model.it.person_totals");
    assert_eq!(r["status"], "skipped");
}

#[test]
fn warn_severity_does_not_fail_the_run() {
    let p = Project::fixture("proj");
    p.write(
        "models/extra.yml",
        "version: 2\nmodels:\n  - name: events_append\n    columns:\n      - name: amount\n        data_tests:\n          - accepted_values:\n              values: [1]\n              quote: false\n              config:\n                severity: warn\n",
    );
    let run = p.run(&["build", "--threads", "1"]).ok();
    assert!(run.stdout.contains("WARN=1"), "{}", run.stdout);
}

#[test]
fn not_a_project() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::common::lakeforge()
        .arg("build")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("No dbt_project.yml in")
            && stderr.contains("hint: run the command inside a project folder"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_table_in_sql_suggests_the_closest_name() {
    let p = Project::fixture("proj");
    p.run(&["seed", "-s", "people"]).ok();
    let run = p.run(&["sql", "select * from peple"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("not found") && run.stderr.contains("hint: did you mean `people`?"),
        "{}",
        run.stderr
    );
    let run = p.run(&["sql", "select * from nothing_like_it_at_all"]);
    assert!(
        run.stderr.contains("hint: tables are `schema.table`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_model_described_in_two_properties_files_is_refused() {
    let p = Project::fixture("proj");
    let first = "version: 2\nmodels:\n  - name: dup_model\n    columns:\n      - name: id\n        tests: [not_null]\n";
    p.write("models/dup_model.sql", "select 1 as id");
    p.write("models/a_props.yml", first);
    p.write(
        "models/b_props.yml",
        "version: 2\nmodels:\n  - name: dup_model\n    description: again\n",
    );
    let run = p.run(&["ls"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("models/b_props.yml")
            && run
                .stderr
                .contains("model `dup_model` is described twice: here and in models/a_props.yml"),
        "{}",
        run.stderr
    );
}
