//! dbt's hooks: model `pre-hook`/`post-hook` around the model's write, `on-run-start` and
//! `on-run-end` around the run, each rendered with Jinja and executed against the lake.

use crate::common::Project;

/// A project whose hooks keep an audit table: created by on-run-start, written by the
/// project's post-hook of every model, a model's own pre-hook, and on-run-end.
fn hooked() -> Project {
    let p = Project {
        dir: tempfile::tempdir().unwrap(),
    };
    p.write(
        "dbt_project.yml",
        r#"name: hooked
on-run-start:
  - "create table if not exists audit (event varchar, relation varchar, n bigint)"
on-run-end: "insert into audit select 'run end', null, count(*) from {{ ref('people_count') }}"
models:
  hooked:
    +materialized: table
    +post-hook: "insert into audit select 'post', '{{ this }}', n from {{ this }}"
"#,
    );
    p.write("seeds/people.csv", "id,name\n1,ann\n2,bob\n3,cy\n");
    p.write(
        "models/people_count.sql",
        "{{ config(pre_hook=\"insert into audit select 'pre', '{{ this }}', {{ 1 if is_incremental() else 0 }}\") }}\nselect count(*) as n from {{ ref('people') }}\n",
    );
    p
}

#[test]
fn hooks_run_around_models_and_the_run() {
    let p = hooked();
    let run = p.run(&["build"]).ok();
    assert!(
        run.stdout
            .contains("OK    hook on-run-start #1 of dbt_project.yml"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("2 hooks"), "{}", run.stdout);
    assert_eq!(
        p.sql("select event, relation, n from audit order by event"),
        "event,relation,n\npost,main.people_count,3\npre,main.people_count,0\nrun end,,1\n"
    );
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join("target/run_results.json")).unwrap(),
    )
    .unwrap();
    let ids: Vec<&str> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["unique_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.first(), Some(&"operation.hooked.hooked-on-run-start-0"));
    assert_eq!(ids.last(), Some(&"operation.hooked.hooked-on-run-end-0"));
    assert_eq!(results["results"][0]["status"], "success");

    // `compile` runs no hook.
    p.run(&["compile"]).ok();
    assert_eq!(p.sql("select count(*) as c from audit"), "c\n3\n");
}

#[test]
fn a_failing_post_hook_fails_its_node_and_on_run_end_still_runs() {
    let p = hooked();
    p.write(
        "models/bad.sql",
        "{{ config(post_hook='insert into nowhere values (1)') }}\nselect 1 as n\n",
    );
    let run = p.run(&["build"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "post-hook #2 of models/bad.sql: cannot insert into main.nowhere: no such table"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("the model's own write was committed"),
        "{}",
        run.stdout
    );
    // The table itself was written; on-run-end ran after the failure.
    assert_eq!(p.sql("select n from bad"), "n\n1\n");
    assert_eq!(
        p.sql("select count(*) as c from audit where event = 'run end'"),
        "c\n1\n"
    );
}

#[test]
fn a_failing_on_run_start_skips_every_node() {
    let p = hooked();
    p.write(
        "dbt_project.yml",
        "name: hooked\non-run-start: \"select * from {{ ref('missing') }}\"\n",
    );
    let run = p.run(&["build"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("Error in hook on-run-start #1 of dbt_project.yml"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("ref('missing')"), "{}", run.stdout);
    assert!(run.stdout.contains("SKIP=2"), "{}", run.stdout);
    assert!(!p.path().join("lake/main/people").exists());
}
