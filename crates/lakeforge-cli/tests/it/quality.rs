//! Every kind of data test, passing and failing, with the messages users see.

use crate::common::{Project, normalize};

#[test]
fn every_test_type_passing_and_failing() {
    let p = Project::fixture("quality");
    p.run(&["build", "-s", "+items", "--exclude", "resource_type:test"])
        .ok();
    let run = p.run(&["test", "--threads", "1", "--junit-xml", "results.xml"]);
    assert_eq!(
        run.code, 1,
        "the singular error-severity test fails the run\n{}",
        run.stdout
    );
    insta::assert_snapshot!("quality_test_output", normalize(&run.stdout, &p));
    let xml = std::fs::read_to_string(p.path().join("results.xml")).unwrap();
    assert!(
        xml.contains(r#"<testsuite name="quality" tests="20" failures="1" errors="0" skipped="0""#),
        "{xml}"
    );
    assert!(xml.contains(r#"<testcase classname="quality.test" name="strict_price" file="tests/strict_price.sql""#), "{xml}");
    assert!(
        xml.contains(
            r#"<failure message="Got 1 result, configured to fail if != 0" type="test failure">"#
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<system-out>Got 1 result, configured to warn if != 0"),
        "{xml}"
    );
    // store_failures keeps the failing rows in the audit schema.
    assert_eq!(
        p.sql("select id, price from main_dbt_test__audit.accepted_range_items_price__0"),
        "id,price\n4,-5\n"
    );
}

#[test]
fn unknown_generic_test_names_the_file_and_lists_builtins() {
    let p = Project::fixture("quality");
    p.write("models/more_items.sql", "select * from {{ ref('items') }}");
    p.write("models/more.yml", "version: 2\nmodels:\n  - name: more_items\n    columns:\n      - name: id\n        data_tests: [is_even]\n");
    let run = p.run(&["compile"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("models/more.yml: test `is_even` on `more_items`.id: no such generic test"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("{% test is_even(model, column_name) %}"),
        "{}",
        run.stdout
    );
}

#[test]
fn bad_threshold_is_an_error_naming_the_file() {
    let p = Project::fixture("quality");
    p.write("models/more_items.sql", "select * from {{ ref('items') }}");
    p.write(
        "models/more.yml",
        "version: 2\nmodels:\n  - name: more_items\n    columns:\n      - name: id\n        data_tests:\n          - not_null:\n              config: {warn_if: lots}\n",
    );
    let run = p.run(&["ls"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("models/more.yml: `warn_if: lots` is not a condition"),
        "{}",
        run.stderr
    );
}

#[test]
fn contracts_are_checked_before_writing() {
    let p = Project::fixture("quality");
    p.write(
        "models/priced.sql",
        "select id, price, code from {{ ref('raw_items') }}",
    );
    let contract = |price_type: &str| {
        format!(
            "version: 2\nmodels:\n  - name: priced\n    config:\n      contract: {{enforced: true}}\n    columns:\n      - name: id\n        data_type: bigint\n      - name: price\n        data_type: {price_type}\n      - name: code\n        data_type: varchar\n"
        )
    };
    p.write("models/priced.yml", &contract("bigint"));
    p.run(&["build", "-s", "+priced"]).ok();
    assert_eq!(p.sql("select count(*) as n from priced"), "n\n4\n");

    p.write("models/priced.yml", &contract("double"));
    p.write(
        "models/priced.sql",
        "select id, price, code, 1 as extra from {{ ref('raw_items') }} where id = 1",
    );
    let run = p.run(&["run", "-s", "priced"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains(
            "models/priced.sql: the query does not match the model's contract; nothing was written"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("column `price`: the contract says double, the query returns Int64"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("column `extra` is returned by the query but not in the contract"),
        "{}",
        run.stdout
    );
    assert_eq!(p.sql("select count(*) as n from priced"), "n\n4\n");
}

#[test]
fn quarantine_routes_failing_rows_and_writes_the_good_ones() {
    let p = Project::fixture("quality");
    p.write(
        "models/clean_items.sql",
        "{{ config(quarantine=true) }}\nselect id, category, price from {{ ref('raw_items') }}",
    );
    p.write(
        "models/clean_items.yml",
        "version: 2\nmodels:\n  - name: clean_items\n    columns:\n      - name: category\n        data_tests: [not_null]\n      - name: price\n        data_tests:\n          - dbt_utils.accepted_range:\n              arguments: {min_value: 0}\n          - accepted_values:\n              arguments: {values: [10, 20, 30], quote: false}\n      - name: id\n        data_tests: [unique]\n",
    );
    let run = p
        .run(&["build", "-s", "+clean_items", "--threads", "1"])
        .ok();
    assert!(
        run.stdout.contains("CREATE TABLE 3 rows, 1 quarantined"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("ERROR=0"), "{}", run.stdout);
    assert_eq!(
        p.sql("select id from clean_items order by id"),
        "id\n1\n2\n3\n"
    );
    assert_eq!(
        p.sql("select id, _failed_tests from clean_items_quarantine"),
        "id,_failed_tests\n4,\"accepted_range_clean_items_price__0, accepted_values_clean_items_price__False__10__20__30, not_null_clean_items_category\"\n"
    );
    let r = p.run_result("model.quality.clean_items");
    assert_eq!(r["adapter_response"]["rows_quarantined"], 1);
}

#[test]
fn duplicate_keys_counted_natively_match_the_sql_of_the_test() {
    let p = Project::fixture("quality");
    p.write(
        "seeds/keys.csv",
        "id,day,grp,label\n1,2026-01-01,1,a\n2,2026-01-02,1,b\n2,2026-01-02,2,c\n3,,2,d\n3,,2,e\n3,2026-01-03,2,f\n,2026-01-04,3,g\n,2026-01-04,3,h\n",
    );
    // The same checks twice: natively (integer and date keys), and through SQL
    // (store_failures keeps the SQL path, which writes the failing rows).
    p.write(
        "seeds/keys.yml",
        r#"version: 2
seeds:
  - name: keys
    columns:
      - name: id
        data_tests:
          - unique
          - unique: {name: id_unique_sql, config: {store_failures: true}}
      - name: day
        data_tests:
          - unique
    data_tests:
      - dbt_utils.unique_combination_of_columns:
          arguments: {combination_of_columns: [id, grp]}
      - dbt_utils.unique_combination_of_columns:
          name: id_grp_sql
          arguments: {combination_of_columns: [id, grp]}
          config: {store_failures: true}
      - dbt_utils.unique_combination_of_columns:
          name: with_null_keys
          arguments: {combination_of_columns: [day, grp]}
"#,
    );
    p.run(&["seed", "-s", "keys"]).ok();
    let run = p.run(&["test", "-s", "keys", "--threads", "1"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let failures = |name: &str| {
        let text = std::fs::read_to_string(p.path().join("target/run_results.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["unique_id"]
                    .as_str()
                    .unwrap()
                    .contains(&format!(".{name}."))
            })
            .unwrap_or_else(|| panic!("no result for {name}"))["failures"]
            .as_u64()
            .unwrap()
    };
    // ids 2 and 3 repeat (nulls do not count for unique).
    assert_eq!(failures("unique_keys_id"), 2);
    assert_eq!(failures("id_unique_sql"), 2);
    // days 2026-01-02 and 2026-01-04 repeat.
    assert_eq!(failures("unique_keys_day"), 2);
    // (3, 2) and (null, 3) repeat: a combination counts null keys as equal, as SQL groups them.
    assert_eq!(failures("unique_combination_of_columns_keys_id__grp"), 2);
    assert_eq!(failures("id_grp_sql"), 2);
    assert_eq!(failures("with_null_keys"), 2);
    // The failure sample has the SQL result's shape.
    assert!(
        run.stdout.contains("| unique_field | n_records |"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("| 2026-01-02   | 2         |"),
        "{}",
        run.stdout
    );
}
