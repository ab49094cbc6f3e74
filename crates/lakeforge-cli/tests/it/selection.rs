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
