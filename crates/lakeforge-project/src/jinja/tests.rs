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

/// Resolves every ref to `analytics.<name>` (or `<package>_schema.<name>`), and refuses
/// `ref('missing')`.
struct TestResolver;

impl RelationResolver for TestResolver {
    fn resolve_ref(
        &self,
        package: Option<&str>,
        name: &str,
    ) -> std::result::Result<Relation, ResolveError> {
        if name == "missing" {
            return Err(ResolveError::Ref {
                package: None,
                name: name.into(),
                suggestion: None,
            });
        }
        let schema = package.map_or("analytics".to_string(), |p| format!("{p}_schema"));
        Ok(Relation::new(schema, name))
    }

    fn resolve_source(
        &self,
        source: &str,
        table: &str,
    ) -> std::result::Result<Relation, ResolveError> {
        Ok(Relation::new(format!("raw_{source}"), table))
    }
}

#[test]
fn templates_spliced_without_minijinja_render_as_minijinja_does() {
    let j = jinja(&[]);
    let templates = [
        "select 1\n",
        "",
        "{{ config(materialized='incremental', unique_key=['a', 'b'], enabled=true, n=-4, x=none, full_refresh=False,) }}\nselect * from {{ ref('orders') }}",
        "{{\n  config(\n    materialized = \"table\",\n    tags = [],\n  )\n}}\n\nwith o as (select * from {{ ref('shop', 'orders') }})\nselect * from o\n",
        "select {{ var('limit') }}, {{ var('other', 'fallback') }}, {{ var('n', 5) }}, {{ var('b', True) }}, {{ var('z', None) }} from {{ source('shop', 'raw_orders') }}",
        "a  \n{{- ref('x') -}}\n  b {#- comment -#}  c {# another #}\n{#- trims -#}\nd\n\n",
        "select '{' as brace, '}}' as close, { from {{ ref('x') }}",
        "{# only a comment #}",
        "select {{ref('x')}}{{ref('y')}}",
    ];
    for src in templates {
        assert!(simple::parse(src).is_some(), "not simple: {src}");
        for resolver in [
            None,
            Some(Arc::new(TestResolver) as Arc<dyn RelationResolver>),
        ] {
            for package_vars in [false, true] {
                let req = || RenderRequest {
                    file: "models/m.sql",
                    source: src,
                    resolver: resolver.clone(),
                    ..Default::default()
                };
                let extra = || {
                    let mut extra = BTreeMap::new();
                    if package_vars {
                        extra.insert(
                            VAR_OVERRIDES.to_string(),
                            Value::from_serialize(serde_json::json!({"limit": 99, "n": "six"})),
                        );
                    }
                    extra
                };
                let spliced = j.render_with(req(), extra()).unwrap();
                let full = j.render_full(req(), extra()).unwrap();
                assert_eq!(spliced.0, full.0, "{src}");
                assert_eq!(format!("{:?}", spliced.1), format!("{:?}", full.1), "{src}");
            }
        }
    }
}

#[test]
fn spliced_templates_defer_to_minijinja_for_errors_and_shadowed_names() {
    // A project macro called `ref` wins over dbt's ref(), as in dbt.
    let j = jinja(&[(
        "macros/ref.sql",
        "{% macro ref(name) %}custom_{{ name }}{% endmacro %}",
    )]);
    let (out, _) = parse(&j, "select * from {{ ref('a') }}").unwrap();
    assert_eq!(out, "select * from custom_a");
    // A ref() that resolves to nothing fails with the file and line minijinja reports.
    let j = jinja(&[]);
    let e = j
        .render(RenderRequest {
            file: "models/m.sql",
            source: "select 1\nfrom {{ ref('missing') }}",
            resolver: Some(Arc::new(TestResolver)),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("models/m.sql:2"), "{e}");
    assert!(e.contains("ref('missing')"), "{e}");
}
