//! A modern dbt 1.10 project (the `modern` fixture of lakeforge-project) built end to end:
//! semantic models, metrics and saved queries load, saved queries pass through `build` as
//! no-ops after their models, data tests written with `arguments:` run, and a unit test's
//! given rows take the column types of the relation built before it.

use std::path::Path;

use crate::common::Project;

fn modern() -> Project {
    Project::copy_of(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../lakeforge-project/tests/fixtures/modern"),
    )
}

#[test]
fn a_modern_project_builds_with_saved_queries_as_no_ops() {
    let p = modern();
    // HOME is the project: no profiles.yml of the user's is read.
    let out = p
        .command(&["build", "--threads", "1"])
        .env("HOME", p.path())
        .output()
        .unwrap();
    let run = crate::common::to_run(out).ok();
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("saved query daily_revenue"))
        .unwrap_or_else(|| panic!("no saved query line in\n{}", run.stdout));
    assert!(line.contains("[NO-OP in"), "{line}");
    let orders = run.stdout.find("table main.orders").unwrap();
    let saved = run.stdout.find("saved query daily_revenue").unwrap();
    assert!(
        orders < saved,
        "the saved query waits for its model\n{}",
        run.stdout
    );
    let r = p.run_result("saved_query.modern.daily_revenue");
    assert_eq!(
        (r["status"].as_str(), r["message"].as_str()),
        (Some("success"), Some("NO-OP"))
    );

    // Given rows typed as stg_orders' columns: dates, so `+ interval` works and compares.
    assert_eq!(
        p.run_result("unit_test.modern.order_due_dates.due_a_week_later")["status"],
        "pass"
    );
    // Data tests with arguments under `arguments:` (and the older spelling) ran and passed.
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join("target/manifest.json")).unwrap(),
    )
    .unwrap();
    let tests: Vec<&String> = manifest["nodes"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("test."))
        .collect();
    assert_eq!(tests.len(), 7, "{tests:?}");
    for id in tests {
        let status = p.run_result(id)["status"].clone();
        assert_eq!(status, "pass", "{id}");
    }
    for key in ["semantic_models", "metrics", "saved_queries"] {
        assert!(
            !manifest[key].as_object().unwrap().is_empty(),
            "manifest.json has no {key}"
        );
    }
    assert_eq!(
        manifest["nodes"]["model.modern.time_spine_daily"]["time_spine"]["standard_granularity_column"],
        "date_day"
    );

    let ls = p.run(&["ls", "--resource-type", "saved_query"]).ok().stdout;
    assert_eq!(ls.trim(), "saved_query:modern.daily_revenue");
    // `run` builds models only.
    let run = p.run(&["run", "--threads", "1"]).ok();
    assert!(!run.stdout.contains("saved query"), "{}", run.stdout);
}
