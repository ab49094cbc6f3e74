//! `lakeforge lineage`: table-level trees from the graph, column-level lineage from the models'
//! plans (through views, an ephemeral model and a join in the `proj` fixture), downstream uses,
//! JSON for tools, and the errors people meet.

use crate::common::{Project, normalize};

#[test]
fn table_lineage_needs_nothing_built_and_column_lineage_says_what_to_build() {
    let p = Project::fixture("proj");
    let run = p.run(&["lineage", "person_totals", "--tables"]).ok();
    insta::assert_snapshot!("tables_before_build", normalize(&run.stdout, &p));

    let run = p.run(&["lineage", "person_totals"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    insta::assert_snapshot!("not_built", normalize(&run.stderr, &p));

    let run = p.run(&["lineage", "person_total"]);
    assert_eq!(run.code, 2);
    insta::assert_snapshot!("unknown_node", normalize(&run.stderr, &p));

    // Sources are named as in source(): `raw.people_src` is the `people` seed's table.
    let run = p
        .run(&["lineage", "raw.people_src", "--tables", "--format", "json"])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["node"]["resource_type"], "source");
    assert_eq!(json["node"]["relation"], "main.people");
    assert_eq!(json["upstream"], serde_json::json!([]));
}

#[test]
fn column_lineage_after_a_build() {
    let p = Project::fixture("proj");
    p.run(&["build", "--threads", "1"]).ok();

    // Both directions of tables, then every column traced up to the seeds.
    let run = p.run(&["lineage", "person_totals"]).ok();
    insta::assert_snapshot!("person_totals", normalize(&run.stdout, &p));

    // One column, one level.
    let run = p
        .run(&[
            "lineage",
            "person_totals",
            "--column",
            "total",
            "--depth",
            "1",
        ])
        .ok();
    insta::assert_snapshot!("total_depth_1", normalize(&run.stdout, &p));

    // What breaks if a seed column changes.
    let run = p
        .run(&["lineage", "events", "--column", "amount", "--downstream"])
        .ok();
    insta::assert_snapshot!("events_amount_downstream", normalize(&run.stdout, &p));

    let run = p
        .run(&[
            "lineage",
            "stg_people",
            "-c",
            "person_id",
            "--format",
            "json",
        ])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["node"]["materialized"], "view");
    assert_eq!(json["upstream"][0]["name"], "people");
    assert_eq!(json["upstream"][0]["delta_version"], 0);
    assert_eq!(json["downstream"][0]["name"], "person_totals");
    assert_eq!(json["downstream"][0]["read_by"], serde_json::json!([]));
    insta::assert_snapshot!("stg_people_json", run.stdout);

    let run = p
        .run(&["lineage", "int_totals", "--downstream", "--format", "json"])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let uses = json["downstream_columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "total")
        .unwrap();
    assert_eq!(
        uses["used_by"],
        serde_json::json!([{
            "node": "person_totals",
            "relation": "main_analytics.person_totals",
            "column": "total",
            "kind": "direct"
        }])
    );

    let run = p.run(&["lineage", "person_totals", "--column", "totl"]);
    assert_eq!(run.code, 2);
    insta::assert_snapshot!("unknown_column", normalize(&run.stderr, &p));
}
