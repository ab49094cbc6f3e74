//! dbt unit tests: given rows in, expected rows out, run without reading or writing the lake.

use crate::common::{Project, normalize};

const WRONG_TOTAL: &str = r#"version: 2
unit_tests:
  - name: totals_are_wrong
    model: customer_totals
    given:
      - input: ref('raw_customers')
        rows: [{id: 1, name: Ann}, {id: 2, name: Bob}]
      - input: ref('stg_orders')
        rows: [{id: 1, customer_id: 1, amount: 10}]
    expect:
      rows:
        - {customer_id: 1, total: 11}
        - {customer_id: 2, total: 0}
"#;

#[test]
fn unit_tests_pass_without_touching_the_lake() {
    let p = Project::fixture("unit");
    let run = p
        .run(&["test", "--threads", "1", "-s", "test_type:unit"])
        .ok();
    insta::assert_snapshot!("unit_tests_pass", normalize(&run.stdout, &p));
    // Nothing was built: the inputs were the given rows, not tables.
    let lake = p.path().join("lake");
    let tables: Vec<_> = walkdir::WalkDir::new(&lake)
        .into_iter()
        .flatten()
        .filter(|e| e.file_name() == "_delta_log")
        .collect();
    assert!(tables.is_empty(), "unit tests wrote {tables:?}");
    let r = p.run_result("unit_test.unit.customer_totals.totals_per_customer");
    assert_eq!(r["status"], "pass");
    assert_eq!(r["failures"], 0);
}

#[test]
fn unit_tests_run_before_their_model_in_build_and_use_real_column_types() {
    let p = Project::fixture("unit");
    let run = p.run(&["build", "--threads", "1"]).ok();
    let out = normalize(&run.stdout, &p);
    let unit = out
        .find("unit_test stg_orders::returned_orders_are_dropped")
        .unwrap();
    let model = out.find("table main.stg_orders").unwrap();
    assert!(unit < model, "the unit test runs before its model\n{out}");
    // With the seeds built, given rows take the seed's types (ordered_at is a timestamp).
    assert_eq!(
        p.run_result("unit_test.unit.orders_log.only_new_orders_are_appended")["status"],
        "pass"
    );
}

#[test]
fn failing_unit_test_shows_the_diff_and_skips_its_model() {
    let p = Project::fixture("unit");
    p.write("models/wrong.yml", WRONG_TOTAL);
    let run = p.run(&["build", "--threads", "1", "-s", "+customer_totals"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let out = normalize(&run.stdout, &p);
    let summary = &out[out.find("\nFailure in").unwrap()..];
    insta::assert_snapshot!("unit_test_failure", summary);
    let r = p.run_result("unit_test.unit.customer_totals.totals_are_wrong");
    assert_eq!(r["status"], "fail");
    assert_eq!(r["failures"], 2);
    assert_eq!(
        p.run_result("model.unit.customer_totals")["status"],
        "skipped"
    );
    assert_eq!(p.run_result("model.unit.stg_orders")["status"], "success");
}

#[test]
fn selection_finds_unit_tests_by_model_name_and_method() {
    let p = Project::fixture("unit");
    let ls = |args: &[&str]| {
        let mut a = vec!["ls", "--output", "name"];
        a.extend_from_slice(args);
        p.run(&a).ok().stdout
    };
    assert_eq!(
        ls(&["--resource-type", "unit_test"]),
        "min_amount_var_is_applied\nonly_new_orders_are_appended\nreturned_orders_are_dropped\ntotals_per_customer\n"
    );
    assert_eq!(ls(&["-s", "unit_test:totals*"]), "totals_per_customer\n");
    assert_eq!(
        ls(&["-s", "customer_totals"]),
        "customer_totals\ntotals_per_customer\n"
    );
    assert_eq!(ls(&["-s", "test_type:data"]), "");
    let manifest = {
        p.run(&["compile"]).ok();
        let text = std::fs::read_to_string(p.path().join("target/manifest.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    let u = &manifest["unit_tests"]["unit_test.unit.stg_orders.returned_orders_are_dropped"];
    assert_eq!(u["resource_type"], "unit_test");
    assert_eq!(u["depends_on"]["nodes"][0], "model.unit.stg_orders");
}

#[test]
fn unit_test_mistakes_are_clear_errors() {
    let cases = [
        (
            "model: customer_total\n    given: []\n    expect: {rows: []}",
            "models/bad.yml: unit test `t`: `model: customer_total` is not an enabled model of this project\nhint: did you mean `customer_totals`?",
        ),
        (
            "model: customer_totals\n    given:\n      - input: ref('stg_orders')\n        rows: []\n    expect: {rows: []}",
            "models/bad.yml: unit test `t`: model `customer_totals` reads ref('raw_customers'), which is not among the given inputs\nhint: add `- input: ref('raw_customers')` with `rows: []` if it may be empty",
        ),
        (
            "model: stg_orders\n    given:\n      - input: ref('raw_customers')\n        rows: []\n    expect: {rows: []}",
            "models/bad.yml: unit test `t`: model `stg_orders` does not read ref('raw_customers')",
        ),
        (
            "model: stg_orders\n    given:\n      - input: ref('raw_orders')\n        format: csv\n        rows: |\n          id,amount\n          1\n    expect: {rows: []}",
            "models/bad.yml: unit test `t`: given ref('raw_orders'): CSV line 2:",
        ),
        (
            "model: stg_orders\n    given:\n      - input: ref('raw_orders')\n        rows: []\n    overrides:\n      macros: {current_timestamp: x}\n    expect: {rows: []}",
            "overriding macro `current_timestamp` is not supported",
        ),
    ];
    for (body, message) in cases {
        let p = Project::fixture("unit");
        p.write(
            "models/bad.yml",
            &format!("version: 2\nunit_tests:\n  - name: t\n    {body}\n"),
        );
        let run = p.run(&["ls"]);
        assert_eq!(run.code, 2, "{body}\n{}", run.stdout);
        assert!(
            run.stderr.contains(message),
            "expected {message:?}\ngot:\n{}",
            run.stderr
        );
    }
}

#[test]
fn unit_test_runtime_errors_name_the_input_and_column() {
    let p = Project::fixture("unit");
    p.run(&["seed"]).ok();
    p.write(
        "models/bad.yml",
        "version: 2\nunit_tests:\n  - name: t\n    model: stg_orders\n    given:\n      - input: ref('raw_orders')\n        rows: [{id: 1, amount: lots}]\n    expect: {rows: [{id: 1}]}\n  - name: u\n    model: stg_orders\n    given:\n      - input: ref('raw_orders')\n        rows: [{id: 1, colour: red}]\n    expect: {rows: [{idx: 1}]}\n",
    );
    let run = p.run(&["test", "-s", "unit_test:t", "unit_test:u", "--threads", "1"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("models/bad.yml (unit test `t`): given ref('raw_orders'): column `amount`: `lots` (row 1) is not a valid Float64"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("models/bad.yml (unit test `u`): given ref('raw_orders'): column `colour` is not in the table (its columns: id, customer_id, amount, status, ordered_at)"),
        "{}",
        run.stdout
    );
}
