//! Other tools read our lake: the Python `deltalake` package reads the tables (and their
//! history) that `lakeforge build` wrote. And a build killed mid-write leaves the previous
//! version readable.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::common::Project;

fn python() -> PathBuf {
    let venv = crate::common::test_venv();
    let py = venv.join("bin/python");
    assert!(
        py.is_file(),
        "no Python venv with `deltalake` at {}\nhint: run scripts/setup-test-env first (the README's test command does)",
        venv.display()
    );
    py
}

const READER: &str = r#"
import json, os, sys
from deltalake import DeltaTable
path, version = sys.argv[1], (int(sys.argv[2]) if len(sys.argv) > 2 else None)
t = DeltaTable(path, version=version)
tbl = t.to_pyarrow_table()
key = tbl.column_names[0]
rows = tbl.sort_by(key).to_pylist()
print(json.dumps({"version": t.version(), "columns": tbl.column_names, "rows": rows}, default=str), flush=True)
# Leave without tearing down Arrow's thread pools: under load that teardown can abort the
# process after the answer is already printed.
os._exit(0)
"#;

fn read_with_python(table: &std::path::Path, version: Option<i64>) -> serde_json::Value {
    let mut cmd = std::process::Command::new(python());
    cmd.arg("-c").arg(READER).arg(table);
    if let Some(v) = version {
        cmd.arg(v.to_string());
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn python_deltalake_reads_our_tables_and_history() {
    let p = Project::fixture("proj");
    p.run(&["build", "--threads", "1"]).ok();
    let lake = p.path().join("lake");

    let totals = read_with_python(&lake.join("main_analytics/person_totals"), None);
    assert_eq!(
        totals["columns"],
        serde_json::json!([
            "person_id",
            "name",
            "events",
            "total",
            "doubled",
            "greeting"
        ])
    );
    let names: Vec<&str> = totals["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Lovelace, Ada", "Grace", "unknown"]);

    let events = read_with_python(&lake.join("main/events"), None);
    assert_eq!(events["rows"][0]["ts"], "2024-05-01 10:00:00");
    assert_eq!(events["rows"][3]["amount"], "0.10");

    // A second incremental run is version 1; version 0 is still there to travel back to.
    p.write(
        "seeds/events.csv",
        "id,person_id,kind,amount,ts\n1,1,click,1.50,2024-05-01 10:00:00\n2,1,buy,20.00,2024-05-02 11:00:00\n3,2,buy,5.25,2024-05-03 12:30:00\n4,3,click,0.10,2024-05-04 08:00:00\n5,2,buy,3.00,2024-05-05 09:00:00\n",
    );
    p.run(&["build", "--threads", "1", "-s", "events+"]).ok();
    let now = read_with_python(&lake.join("main_analytics/events_merge"), None);
    let then = read_with_python(&lake.join("main_analytics/events_merge"), Some(0));
    assert_eq!(now["version"], 1);
    assert_eq!(now["rows"].as_array().unwrap().len(), 5);
    assert_eq!(then["rows"].as_array().unwrap().len(), 4);
}

#[test]
fn kill_during_rebuild_leaves_previous_version_readable() {
    let p = Project::fixture("proj");
    let mut csv = String::from("id\n");
    for i in 0..4000 {
        csv.push_str(&format!("{i}\n"));
    }
    p.write("seeds/big.csv", &csv);
    p.write(
        "models/slow.sql",
        "{{ config(materialized='table') }}\nselect a.id * 4000 + b.id as k, a.id as a, b.id as b, cast(a.id as varchar) || '-' || cast(b.id as varchar) as label from {{ ref('big') }} a cross join {{ ref('big') }} b",
    );
    p.run(&["build", "-s", "+slow"]).ok();
    let table = p.path().join("lake/main/slow");
    let before: Vec<_> = std::fs::read_dir(&table)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();

    let mut child = p
        .command(&["run", "-s", "slow"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let killed_mid_write = loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the rebuild finished ({status}) before a new data file appeared; make the table bigger"
            );
        }
        // A data file being staged (`part-….parquet#1`, renamed into place when
        // complete) counts: waiting for a finished file raced the commit, which
        // follows the last rename within milliseconds.
        let new_file = std::fs::read_dir(&table).unwrap().any(|e| {
            let name = e.unwrap().file_name();
            name.to_string_lossy().contains(".parquet") && !before.contains(&name)
        });
        if new_file {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            break true;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "rebuild never started writing"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(killed_mid_write);

    // The old version is what readers see, complete.
    assert_eq!(
        p.sql("select count(*) as n, sum(k) as s from slow"),
        "n,s\n16000000,127999992000000\n"
    );
    let log: Vec<_> = std::fs::read_dir(table.join("_delta_log"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(log.len(), 1, "{log:?}");

    // And the rerun succeeds, as version 1.
    p.run(&["run", "-s", "slow"]).ok();
    assert_eq!(p.sql("select count(*) as n from slow"), "n\n16000000\n");
    assert!(table.join("_delta_log/00000000000000000001.json").is_file());
}
