//! dbt snapshots on the `snap` fixture: a timestamp snapshot of a source (SQL block form,
//! invalidate_hard_deletes) and a check snapshot of a seed (YAML form, hard_deletes:
//! new_record). Seed v1 → snapshot → update, delete and add rows → snapshot again, then the
//! exact history; a run without changes writes nothing; `ref()` of a snapshot and `build`
//! order; a snapshot missing its unique_key is refused with the file named.

use crate::common::Project;

const V2: &str = "id,name,status,updated_at\n\
1,alice,active,2024-01-01 00:00:00\n\
2,bob,churned,2024-02-01 00:00:00\n\
4,dave,trial,2024-02-03 00:00:00\n";

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
fn timestamp_and_check_snapshots_keep_history() {
    let p = Project::fixture("snap");
    p.run(&["seed"]).ok();
    let run = p.run(&["snapshot", "--threads", "1"]).ok();
    assert!(
        run.stdout.contains("snapshot snapshots.customers_ts"),
        "{}",
        run.stdout
    );
    assert_eq!(
        p.sql(
            "select id, status, dbt_valid_from, dbt_valid_to, dbt_updated_at = dbt_valid_from as same \
             from snapshots.customers_ts order by id"
        ),
        "id,status,dbt_valid_from,dbt_valid_to,same\n\
         1,active,2024-01-01T00:00:00,,true\n\
         2,active,2024-01-01T00:00:00,,true\n\
         3,trial,2024-01-02T00:00:00,,true\n"
    );
    assert_eq!(
        p.sql(
            "select id, status, dbt_is_deleted, dbt_valid_to is null as current \
             from snapshots.customers_check order by id"
        ),
        "id,status,dbt_is_deleted,current\n1,active,False,true\n2,active,False,true\n3,trial,False,true\n"
    );

    // Bob churns (a later updated_at), carol is deleted, dave arrives.
    p.write("seeds/customers.csv", V2);
    p.run(&["seed"]).ok();
    p.run(&["snapshot", "--threads", "1"]).ok();
    // Timestamp: bob's old version closes at his new updated_at; carol's closes at the
    // snapshot's time (invalidate_hard_deletes); dave is current from his updated_at.
    assert_eq!(
        p.sql(
            "select id, status, dbt_valid_from, \
             case when id = 3 then 'run time' else cast(dbt_valid_to as varchar) end as dbt_valid_to \
             from snapshots.customers_ts order by id, dbt_valid_from"
        ),
        "id,status,dbt_valid_from,dbt_valid_to\n\
         1,active,2024-01-01T00:00:00,\n\
         2,active,2024-01-01T00:00:00,2024-02-01T00:00:00\n\
         2,churned,2024-02-01T00:00:00,\n\
         3,trial,2024-01-02T00:00:00,run time\n\
         4,trial,2024-02-03T00:00:00,\n"
    );
    assert_eq!(
        p.sql("select count(*) as n from snapshots.customers_ts where id = 3 and dbt_valid_to > timestamp '2025-01-01'"),
        "n\n1\n"
    );
    assert_eq!(
        p.sql("select count(distinct dbt_scd_id) as n from snapshots.customers_ts"),
        "n\n5\n"
    );
    // Check: bob's status changed, so his old version closes when the new one starts; carol
    // gets a deletion record (new_record); alice, unchanged, keeps one version.
    assert_eq!(
        p.sql(
            "select id, status, dbt_is_deleted, dbt_valid_to is null as current \
             from snapshots.customers_check order by id, dbt_valid_from, dbt_is_deleted"
        ),
        "id,status,dbt_is_deleted,current\n\
         1,active,False,true\n\
         2,active,False,false\n\
         2,churned,False,true\n\
         3,trial,False,false\n\
         3,trial,True,true\n\
         4,trial,False,true\n"
    );
    assert_eq!(
        p.sql(
            "select count(*) as n from snapshots.customers_check a join snapshots.customers_check b \
             on a.id = b.id and a.dbt_valid_to = b.dbt_valid_from"
        ),
        "n\n2\n"
    );

    // Nothing changed: no new Delta version.
    let before = delta_versions(&p, "snapshots/customers_check");
    let run = p.run(&["snapshot", "--threads", "1"]).ok();
    assert!(run.stdout.contains("SNAPSHOT 0 rows"), "{}", run.stdout);
    assert_eq!(delta_versions(&p, "snapshots/customers_check"), before);

    // A new column in the query is added to the history (NULL in older versions), and carol's
    // return closes her deletion record.
    p.write(
        "seeds/customers.csv",
        "id,name,status,updated_at,tier\n\
         1,alice,active,2024-01-01 00:00:00,gold\n\
         2,bob,churned,2024-02-01 00:00:00,\n\
         3,carol,active,2024-03-01 00:00:00,silver\n\
         4,dave,trial,2024-02-03 00:00:00,\n",
    );
    p.run(&["build", "--threads", "1", "-s", "customers+"]).ok();
    assert_eq!(
        p.sql(
            "select id, status, tier, dbt_is_deleted from snapshots.customers_check \
             where dbt_valid_to is null order by id"
        ),
        "id,status,tier,dbt_is_deleted\n1,active,,False\n2,churned,,False\n3,active,silver,False\n4,trial,,False\n"
    );

    // Downstream models ref() a snapshot.
    p.run(&["run"]).ok();
    assert_eq!(
        p.sql("select id, status from current_customers order by id"),
        "id,status\n1,active\n2,churned\n4,trial\n"
    );
}

#[test]
fn snapshot_without_unique_key_is_refused() {
    let p = Project::fixture("snap");
    p.write(
        "snapshots/bad.sql",
        "{% snapshot bad %}\n{{ config(strategy='check', check_cols='all') }}\nselect 1 as id\n{% endsnapshot %}\n",
    );
    let run = p.run(&["snapshot"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("snapshots/bad.sql"), "{}", run.stderr);
    assert!(run.stderr.contains("unique_key"), "{}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
}
