//! `lakeforge run-operation`: a project macro called with --args, its log lines printed.

use crate::common::Project;

fn project() -> Project {
    let p = Project {
        dir: tempfile::tempdir().unwrap(),
    };
    p.write("dbt_project.yml", "name: ops\n");
    p.write(
        "macros/ops.sql",
        "{% macro greet(name, times=1) %}{{ log('hello ' ~ name ~ ' x' ~ times, info=True) }}{% endmacro %}\n",
    );
    p
}

#[test]
fn calls_a_macro_with_yaml_or_json_args() {
    let p = project();
    let run = p
        .run(&["run-operation", "greet", "--args", "{name: lake, times: 2}"])
        .ok();
    assert!(run.stderr.contains("hello lake x2"), "{}", run.stderr);
    let run = p
        .run(&["run-operation", "greet", "--args", r#"{"name": "json"}"#])
        .ok();
    assert!(run.stderr.contains("hello json x1"), "{}", run.stderr);
}

#[test]
fn an_unknown_macro_or_bad_args_is_a_clear_error() {
    let p = project();
    let run = p.run(&["run-operation", "gret"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("run-operation `gret` failed")
            && run.stderr.contains("no macro named `gret`"),
        "{}",
        run.stderr
    );
    let run = p.run(&["run-operation", "greet", "--args", "[1]"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("--args must be a mapping"),
        "{}",
        run.stderr
    );
}
