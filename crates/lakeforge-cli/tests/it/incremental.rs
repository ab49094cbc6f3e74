//! Incremental models run twice: merge on unique_key updates and inserts, append only adds,
//! each run is one more Delta version, and --full-refresh rebuilds.

use crate::common::Project;

fn delta_versions(p: &Project, table: &str) -> usize {
    std::fs::read_dir(p.path().join("lake").join(table).join("_delta_log"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".json")
        })
        .count()
}

#[test]
fn merge_and_append_across_runs() {
    let p = Project::fixture("proj");
    p.run(&["build", "--threads", "1"]).ok();
    assert_eq!(delta_versions(&p, "main_analytics/events_merge"), 1);

    // Event 4 changes (later timestamp, new amount) and event 5 arrives.
    p.write(
        "seeds/events.csv",
        "id,person_id,kind,amount,ts\n1,1,click,1.50,2024-05-01 10:00:00\n2,1,buy,20.00,2024-05-02 11:00:00\n3,2,buy,5.25,2024-05-03 12:30:00\n4,3,click,9.99,2024-05-06 08:00:00\n5,2,buy,3.00,2024-05-05 09:00:00\n",
    );
    let run = p.run(&["build", "--threads", "1", "-s", "events+"]).ok();
    assert!(run.stdout.contains("MERGE 2 rows"), "{}", run.stdout);
    assert!(run.stdout.contains("INSERT 1 rows"), "{}", run.stdout);
    assert_eq!(
        p.sql("select event_id, amount from main_analytics.events_merge order by event_id"),
        "event_id,amount\n1,1.50\n2,20.00\n3,5.25\n4,9.99\n5,3.00\n"
    );
    // Append added only the new id; the changed row 4 is not appended twice.
    assert_eq!(
        p.sql("select event_id, amount from main_analytics.events_append order by event_id"),
        "event_id,amount\n1,1.50\n2,20.00\n3,5.25\n4,0.10\n5,3.00\n"
    );
    assert_eq!(delta_versions(&p, "main_analytics/events_merge"), 2);

    // A full refresh rebuilds from the current data in one more commit.
    p.run(&["run", "-s", "events_append", "--full-refresh"])
        .ok();
    assert_eq!(
        p.sql("select event_id, amount from main_analytics.events_append order by event_id"),
        "event_id,amount\n1,1.50\n2,20.00\n3,5.25\n4,9.99\n5,3.00\n"
    );
    assert_eq!(delta_versions(&p, "main_analytics/events_append"), 3);
}

#[test]
fn on_schema_change_fail_and_append_new_columns() {
    let p = Project::fixture("proj");
    p.run(&["build", "--threads", "1"]).ok();
    p.write(
        "models/marts/events_append.sql",
        "{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}\nselect event_id, kind, amount, 1 as extra from {{ ref('stg_events') }}\n{% if is_incremental() %}where event_id > (select max(event_id) from {{ this }}){% endif %}\n",
    );
    let run = p.run(&["run", "-s", "events_append"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("columns changed (added: [extra], removed: [])"),
        "{}",
        run.stdout
    );

    p.write(
        "models/marts/events_append.sql",
        "{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='append_new_columns') }}\nselect event_id, kind, amount, 1 as extra from {{ ref('stg_events') }}\nwhere event_id > 3\n",
    );
    p.run(&["run", "-s", "events_append"]).ok();
    assert_eq!(
        p.sql("select event_id, extra from main_analytics.events_append order by event_id, extra nulls first"),
        "event_id,extra\n1,\n2,\n3,\n4,\n4,1\n"
    );
}

#[test]
fn sync_all_columns_reshapes_the_table_in_one_commit() {
    let p = Project::fixture("proj");
    p.run(&["build", "--threads", "1"]).ok();
    p.write(
        "models/marts/events_merge.sql",
        "{{ config(materialized='incremental', unique_key='event_id', on_schema_change='sync_all_columns') }}\nselect event_id, amount * 10 as amount, 'new' as source from {{ ref('stg_events') }} where event_id >= 3\n",
    );
    p.run(&["run", "-s", "events_merge"]).ok();
    assert_eq!(
        p.sql("select * from main_analytics.events_merge order by event_id"),
        "event_id,amount,source\n1,1.50,\n2,20.00,\n3,52.50,new\n4,1.00,new\n"
    );
    assert_eq!(delta_versions(&p, "main_analytics/events_merge"), 2);
}
