//! Node selection as dbt users type it, checked through `lakeforge ls`.

use crate::common::Project;

fn ls(p: &Project, args: &[&str]) -> String {
    let mut all = vec!["ls", "--output", "name", "--resource-type", "model", "seed"];
    all.extend_from_slice(args);
    p.run(&all).ok().stdout
}

#[test]
fn selectors() {
    let p = Project::fixture("proj");
    let cases: &[(&[&str], &str)] = &[
        (&["-s", "person_totals"], "person_totals\n"),
        (
            &["-s", "+person_totals"],
            "events\nint_totals\npeople\nperson_totals\nstg_events\nstg_people\n",
        ),
        (
            &["-s", "1+person_totals"],
            "int_totals\nperson_totals\nstg_people\n",
        ),
        (
            &["-s", "stg_events+"],
            "events_append\nevents_merge\nint_totals\nperson_totals\nstg_events\n",
        ),
        (
            &["-s", "stg_events+1"],
            "events_append\nevents_merge\nint_totals\nstg_events\n",
        ),
        (&["-s", "tag:staging"], "stg_events\nstg_people\n"),
        (
            &["-s", "path:models/marts"],
            "events_append\nevents_merge\nperson_totals\n",
        ),
        (
            &["-s", "marts"],
            "events_append\nevents_merge\nperson_totals\n",
        ),
        (
            &["-s", "tag:staging", "tag:incremental"],
            "events_merge\nstg_events\nstg_people\n",
        ),
        (
            &["-s", "stg_events+,config.materialized:incremental"],
            "events_append\nevents_merge\n",
        ),
        (
            &["-s", "+person_totals", "--exclude", "resource_type:seed"],
            "int_totals\nperson_totals\nstg_events\nstg_people\n",
        ),
        (&["-s", "events_*"], "events_append\nevents_merge\n"),
        (
            &["-s", "@stg_people"],
            "events\nint_totals\npeople\nperson_totals\nstg_events\nstg_people\n",
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(&ls(&p, args), expected, "selector {args:?}");
    }
}

#[test]
fn tests_follow_their_models() {
    let p = Project::fixture("proj");
    let out = p
        .run(&[
            "ls",
            "--output",
            "name",
            "-s",
            "stg_people",
            "--resource-type",
            "test",
        ])
        .ok()
        .stdout;
    assert_eq!(
        out,
        "not_null_stg_people_person_id\nrelationships_person_totals_person_id__person_id__ref_stg_people_\nunique_stg_people_person_id\n"
    );
}

#[test]
fn unknown_method_is_an_error() {
    let p = Project::fixture("proj");
    let run = p.run(&["ls", "-s", "colour:red"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("unknown selector method `colour`"),
        "{}",
        run.stderr
    );
}

#[test]
fn state_modified_compares_with_an_earlier_manifest() {
    let p = Project::fixture("unit");
    p.run(&["compile"]).ok();
    let state = p.path().join("prod-state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::copy(
        p.path().join("target/manifest.json"),
        state.join("manifest.json"),
    )
    .unwrap();
    let ls = |sel: &str| {
        p.run(&["ls", "--output", "name", "--state", "prod-state", "-s", sel])
            .ok()
            .stdout
    };
    assert_eq!(ls("state:modified"), "");
    // A body change, a config change, and a new model.
    let sql = p.path().join("models/stg_orders.sql");
    let text = std::fs::read_to_string(&sql).unwrap();
    std::fs::write(&sql, text.replace("!= 'returned'", "<> 'returned'")).unwrap();
    p.write(
        "models/props.yml",
        "version: 2\nmodels:\n  - name: customer_totals\n    config:\n      tags: [nightly]\n",
    );
    p.write("models/new_model.sql", "select 1 as x\n");
    // Unit tests of the selected models come along, as data tests do.
    assert_eq!(
        ls("state:modified"),
        "customer_totals\nmin_amount_var_is_applied\nnew_model\nreturned_orders_are_dropped\nstg_orders\ntotals_per_customer\n"
    );
    assert_eq!(ls("state:new"), "new_model\n");
    assert_eq!(
        ls("state:modified.configs"),
        "customer_totals\ntotals_per_customer\n"
    );
    assert_eq!(
        ls("state:modified.body"),
        "min_amount_var_is_applied\nnew_model\nreturned_orders_are_dropped\nstg_orders\n"
    );
    // With `+`, what reads a changed model too (and the unit tests attached to them).
    let down = ls("state:modified.body+");
    assert!(
        down.contains("orders_log\n") && down.contains("customer_totals\n"),
        "{down}"
    );

    let err = p.run(&["ls", "-s", "state:modified"]);
    assert_eq!(err.code, 2);
    assert!(err.stderr.contains("pass --state DIR"), "{}", err.stderr);
    let err = p.run(&["ls", "--state", "nowhere", "-s", "state:modified"]);
    assert_eq!(err.code, 2);
    assert!(
        err.stderr.contains("nowhere/manifest.json"),
        "{}",
        err.stderr
    );
}

#[test]
fn a_selector_that_matches_nothing_warns() {
    let p = Project::fixture("proj");
    // A typo: warned about with the closest name, and the run says it has nothing to do.
    let run = p.run(&["build", "-s", "person_totls"]).ok();
    assert!(
        run.stderr.contains(
            "warning: the selection criterion `person_totls` does not match any enabled node"
        ) && run.stderr.contains("hint: did you mean `person_totals`?"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .starts_with("Nothing to do: no selected node is one that `build` runs"),
        "{}",
        run.stdout
    );
    // Only the criterion that matched nothing is named; the other one still runs.
    let run = p.run(&["ls", "-s", "stg_people", "tag:nope"]).ok();
    assert!(
        run.stderr.contains("criterion `tag:nope`") && !run.stderr.contains("`stg_people`"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("stg_people"), "{}", run.stdout);
}
