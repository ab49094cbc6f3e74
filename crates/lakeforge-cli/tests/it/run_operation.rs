//! `lakeforge run-operation`: a project macro called with --args, its log lines printed.

use crate::common::Project;

fn project() -> Project {
    let p = Project {
        dir: tempfile::tempdir().unwrap(),
    };
    p.write("dbt_project.yml", "name: ops\n");
    p.write(
        "macros/ops.sql",
        "{% macro greet(name, times=1) %}{{ log('hello ' ~ name ~ ' x' ~ times, info=True) }}{% endmacro %}\n\
         {% macro count_people(min_id) %}\
         {% set t = run_query('select count(*) as n, sum(score) as total from ' ~ ref('people') ~ ' where id >= ' ~ min_id) %}\
         {% do log('people: ' ~ t.columns[0].values()[0] ~ ', total ' ~ t.rows[0]['total'], info=True) %}\
         {% do run_query('create table if not exists main.op_log as select ' ~ min_id ~ ' as min_id') %}\
         {% endmacro %}\n",
    );
    p.write("seeds/people.csv", "id,score\n1,10\n2,20\n3,5\n");
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
            && run.stderr.contains("unknown function or macro `gret`")
            && run.stderr.contains("did you mean `greet`"),
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

#[test]
fn a_macro_queries_a_seed_and_writes_to_the_lake() {
    let p = project();
    p.run(&["seed"]).ok();
    let run = p
        .run(&["run-operation", "count_people", "--args", "{min_id: 2}"])
        .ok();
    assert!(run.stderr.contains("people: 2, total 25"), "{}", run.stderr);
    assert_eq!(p.sql("select min_id from op_log"), "min_id\n2\n");
    // A failing query fails the operation with the engine's message.
    let run = p.run(&["run-operation", "count_people", "--args", "{min_id: 'x'}"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("run-operation `count_people` failed"),
        "{}",
        run.stderr
    );
}
