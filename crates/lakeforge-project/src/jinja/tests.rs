//! Unit tests of rendering: refs/config capture, macros, errors, `this`.

use super::*;

pub(super) fn jinja_with(
    packages: &[(&str, &[(&str, &str)])],
    dispatch: Vec<DispatchConfig>,
) -> Jinja {
    let globals = JinjaGlobals {
        vars: [("limit".to_string(), serde_json::json!(10))].into(),
        target_name: "dev".into(),
        target_schema: "main".into(),
        threads: 2,
        project_name: "shop".into(),
        dispatch,
    };
    let packages: Vec<MacroPackage> = packages
        .iter()
        .map(|(name, files)| MacroPackage {
            name: name.to_string(),
            files: files
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        })
        .collect();
    Jinja::new(&globals, &packages).unwrap()
}

fn jinja(macros: &[(&str, &str)]) -> Jinja {
    jinja_with(&[("shop", macros)], Vec::new())
}

fn parse(j: &Jinja, src: &str) -> Result<(String, Captured)> {
    j.render(RenderRequest {
        file: "models/m.sql",
        source: src,
        ..Default::default()
    })
}

#[test]
fn records_refs_sources_and_config() {
    let j = jinja(&[]);
    let (_, c) = parse(
        &j,
        "{{ config(materialized='table', tags=['x']) }}select * from {{ ref('a') }} join {{ ref('pkg', 'b') }} join {{ source('shop', 'orders') }}",
    )
    .unwrap();
    assert_eq!(
        c.refs,
        vec![(None, "a".into()), (Some("pkg".into()), "b".into())]
    );
    assert_eq!(c.sources, vec![("shop".into(), "orders".into())]);
    assert_eq!(c.config["materialized"], "table");
    assert_eq!(c.config["tags"], serde_json::json!(["x"]));
}

#[test]
fn macros_vars_and_filters() {
    let j = jinja(&[(
        "macros/m.sql",
        "{% macro cents(col) %}({{ col }} / 100.0){% endmacro %}",
    )]);
    let (out, _) = parse(
        &j,
        "select {{ cents('amount') }}, {{ var('limit') }}, {{ var('x', 'd') | upper }}",
    )
    .unwrap();
    assert_eq!(out, "select (amount / 100.0), 10, D");
}

#[test]
fn undefined_names_are_reported_with_line() {
    let j = jinja(&[("macros/m.sql", "{% macro a() %}1{% endmacro %}")]);
    let e = parse(&j, "select 1\nfrom {{ nope }}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("models/m.sql:2"), "{e}");
    assert!(e.contains("`nope` is undefined"), "{e}");
    let e = parse(&j, "select {{ var('missing') }}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("required var `missing`"), "{e}");
}

#[test]
fn generic_test_blocks_become_macros() {
    let j = jinja(&[(
        "tests/generic/positive.sql",
        "{% test positive(model, column_name) %}select * from {{ model }} where {{ column_name }} <= 0{% endtest %}",
    )]);
    assert!(j.has_macro(None, "test_positive"));
    assert!(j.has_macro(Some("shop"), "test_positive"));
    assert!(!j.has_macro(Some("dbt"), "test_positive"));
    let (out, _) = parse(&j, "{{ test_positive('t', 'x') }}").unwrap();
    assert_eq!(out, "select * from t where x <= 0");
}

#[test]
fn is_incremental_and_this() {
    let j = jinja(&[]);
    let (out, _) = j
        .render(RenderRequest {
            file: "m.sql",
            source: "{% if is_incremental() %}where x > (select max(x) from {{ this }}){% endif %}",
            this: Some(Relation::new("main", "m")),
            is_incremental: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(out, "where x > (select max(x) from main.m)");
}

#[test]
fn macros_treat_a_missing_argument_as_dbt_does_and_models_still_catch_typos() {
    let j = jinja_with(
        &[(
            "shop",
            &[(
                "macros/log.sql",
                "{% macro stamp(fmt='%H') %}{{ return(adapter.dispatch('stamp', 'shop')(fmt)) }}{% endmacro %}\n\
                     {% macro default__stamp(fmt) %}{{ return('12') }}{% endmacro %}\n\
                     {% macro line(message) %}{{ return(shop.stamp() ~ ' + ' ~ message) }}{% endmacro %}",
            )],
        )],
        Vec::new(),
    );
    // dbt_utils' pretty_log_format() is called without its message in dbt's own suite.
    let (out, _) = parse(&j, "{{ line() }}|{{ line('x') }}").unwrap();
    assert_eq!(out, "12 + |12 + x");
    // `{% if %}` on an undefined name is false; printing one is an error naming it.
    let (out, _) = parse(&j, "{% if not_set %}a{% else %}b{% endif %}").unwrap();
    assert_eq!(out, "b");
    let e = parse(&j, "select {{ shop.stamp() ~ oops }}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("is undefined"), "{e}");
    assert!(
        !e.contains("has no macro"),
        "the package has the macro: {e}"
    );
}

#[test]
fn config_get_reads_what_the_node_set() {
    let j = jinja(&[]);
    let (out, c) = parse(
        &j,
        "{{ config(materialized='table') }}{{ config.get('materialized') }}|{{ config.get('unique_key', 'id') }}|{{ config.get('nothing') is none }}",
    )
    .unwrap();
    assert_eq!(out, "table|id|True");
    assert_eq!(c.config["materialized"], "table");
    let e = parse(&j, "{{ config.require('unique_key') }}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("required config `unique_key`"), "{e}");
}
