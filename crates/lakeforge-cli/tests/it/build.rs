//! A full `build` of the fixture project: seeds, views, an ephemeral model, tables in a custom
//! schema, incremental models and tests, and what lands in the lake and target/.

use crate::common::{Project, normalize};

#[test]
fn build_runs_everything_in_order_and_writes_artifacts() {
    let p = Project::fixture("proj");
    let run = p.run(&["build", "--threads", "1"]).ok();
    insta::assert_snapshot!("build_output", normalize(&run.stdout, &p));

    // Views are stored SQL, tables are Delta tables, the custom schema is <target>_analytics,
    // and the ephemeral model is stored nowhere.
    let lake = p.path().join("lake");
    assert!(lake.join("main/stg_people.view.sql").is_file());
    assert!(
        lake.join("main_analytics/person_totals/_delta_log")
            .is_dir()
    );
    assert!(lake.join("main/people/_delta_log").is_dir());
    assert!(!lake.join("main/int_totals").exists());
    assert!(lake.join("_lakeforge.db").is_file());

    insta::assert_snapshot!(
        "person_totals",
        p.sql("select person_id, name, events, total, doubled, greeting from main_analytics.person_totals order by person_id")
    );

    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join("target/manifest.json")).unwrap(),
    )
    .unwrap();
    let node = &manifest["nodes"]["model.it.person_totals"];
    assert_eq!(node["relation_name"], "main_analytics.person_totals");
    assert_eq!(node["config"]["materialized"], "table");
    assert!(
        node["compiled_code"]
            .as_str()
            .unwrap()
            .contains("main.stg_people")
    );
    assert!(manifest["nodes"].get("model.it.disabled_model").is_none());
    assert!(
        manifest["child_map"]["model.it.stg_events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "model.it.int_totals")
    );

    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join("target/run_results.json")).unwrap(),
    )
    .unwrap();
    let statuses: Vec<&str> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.iter().all(|s| *s == "success" || *s == "pass"),
        "{statuses:?}"
    );
    let people = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["unique_id"] == "seed.it.people")
        .unwrap();
    assert_eq!(people["adapter_response"]["rows_affected"], 3);
    assert_eq!(people["adapter_response"]["delta_version"], 0);
}

#[test]
fn seeds_keep_types_quoting_and_nulls() {
    let p = Project::fixture("proj");
    p.run(&["seed"]).ok();
    insta::assert_snapshot!(
        "seed_types",
        p.sql("select column_name, data_type from information_schema.columns where table_schema = 'main' and table_name in ('people', 'events') order by table_name, ordinal_position")
    );
    insta::assert_snapshot!("people_rows", p.sql("select * from people order by id"));
}

#[test]
fn compile_writes_sql_without_touching_the_lake() {
    let p = Project::fixture("proj");
    p.run(&["compile", "--threads", "1"]).ok();
    let sql = std::fs::read_to_string(
        p.path()
            .join("target/compiled/it/models/marts/person_totals.sql"),
    )
    .unwrap();
    insta::assert_snapshot!("compiled_person_totals", sql);
    let test_sql = std::fs::read_to_string(p.path().join(
        "target/compiled/it/models/schema.yml/accepted_values_stg_events_kind__CLICK__BUY.sql",
    ))
    .unwrap();
    assert!(test_sql.contains("not in ('CLICK', 'BUY')"), "{test_sql}");
    assert!(
        !p.path().join("lake/main").exists(),
        "compile must not write tables"
    );
}

#[test]
fn show_sql_and_vars() {
    let p = Project::fixture("proj");
    p.run(&["seed"]).ok();
    // show compiles and runs a model without building it (its view parents must exist).
    p.run(&["run", "-s", "stg_people"]).ok();
    let show = p
        .run(&["show", "--select", "stg_people", "--limit", "2"])
        .ok();
    insta::assert_snapshot!("show_stg_people", show.stdout);
    let inline = p
        .run(&[
            "show",
            "--inline",
            "select count(*) as n from {{ source('raw', 'people_src') }}",
            "--format",
            "csv",
        ])
        .ok();
    assert_eq!(inline.stdout, "n\n3\n");
    let json = p
        .run(&[
            "sql",
            "--format",
            "json",
            "select count(*) as n from people",
        ])
        .ok();
    assert_eq!(json.stdout.trim(), r#"[{"n":3}]"#);
    // --vars overrides dbt_project.yml vars.
    p.run(&[
        "run",
        "-s",
        "stg_events+",
        "--vars",
        "{min_amount: 5, greeting: hi}",
    ])
    .ok();
    assert_eq!(p.sql("select count(*) as n from stg_events"), "n\n2\n");
    assert_eq!(
        p.sql("select distinct greeting from main_analytics.person_totals"),
        "greeting\nhi\n"
    );
}

#[test]
fn init_demo_builds_out_of_the_box() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let out = crate::common::lakeforge()
        .args(["init", demo.to_str().unwrap(), "--orders", "500"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = crate::common::lakeforge()
        .args(["build"])
        .current_dir(&demo)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ERROR=0 SKIP=0"), "{stdout}");
    let out = crate::common::lakeforge()
        .args([
            "sql",
            "--format",
            "csv",
            "select count(*) as n, sum(number_of_orders) as orders from customers",
        ])
        .current_dir(&demo)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "n,orders\n50,474\n");
    // The same build trained the ML model, promoted it past its gate and scored every customer.
    assert!(
        stdout.contains("ml model customer_value") && stdout.contains("version 1 → production"),
        "{stdout}"
    );
    let out = crate::common::lakeforge()
        .args([
            "sql",
            "--format",
            "csv",
            "select count(predicted_value) as n from customer_value_scores",
        ])
        .current_dir(&demo)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "n\n50\n");
    // The same seed gives the same data.
    let again = dir.path().join("again");
    crate::common::lakeforge()
        .args(["init", again.to_str().unwrap(), "--orders", "500"])
        .output()
        .unwrap();
    assert_eq!(
        std::fs::read(demo.join("seeds/raw_orders.csv")).unwrap(),
        std::fs::read(again.join("seeds/raw_orders.csv")).unwrap()
    );
}

#[test]
fn lakeforge_yml_target_and_alias() {
    let p = Project::fixture("proj");
    p.write(
        "lakeforge.yml",
        "lake: warehouse\nmetadata: history/runs.db\n",
    );
    p.write(
        "models/marts/aliased.sql",
        "{{ config(alias='renamed_table') }}\nselect count(*) as n from {{ ref('people') }}",
    );
    p.run(&["build", "--target", "prod", "-s", "+aliased"]).ok();
    assert!(p.path().join("warehouse/prod/people/_delta_log").is_dir());
    assert!(
        p.path()
            .join("warehouse/prod_analytics/renamed_table/_delta_log")
            .is_dir()
    );
    assert!(p.path().join("history/runs.db").is_file());
    assert!(!p.path().join("lake").exists());
    assert_eq!(
        p.run(&[
            "sql",
            "--target",
            "prod",
            "--format",
            "csv",
            "select n from prod_analytics.renamed_table"
        ])
        .ok()
        .stdout,
        "n\n3\n"
    );
    let bad = p.run(&["ls", "--target", "staging"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .contains("profile `it` has no target `staging` (it has: dev, prod)"),
        "{}",
        bad.stderr
    );
}
