//! dbt's Jinja runtime end to end: fixture macro packages of our own (two namespaces, a
//! `dispatch:` shim), `return()`, statements and `load_result` through an Adapter over rows held
//! in memory, relation and column objects, and the errors a user sees.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use lakeforge_project::Relation;
use lakeforge_project::adapter::{Adapter, AdapterError, Cell, Column, QueryResult, RelationKind};
use lakeforge_project::jinja::{
    DispatchConfig, Jinja, JinjaGlobals, MacroCall, MacroPackage, RenderRequest,
};
use minijinja::Value;

/// An adapter over tables held in memory: a query reading `from schema.table` returns that
/// table's rows; every statement is logged so tests can see what ran.
/// A table held in memory: its columns, rows and kind.
type MemoryTable = (Vec<Column>, Vec<Vec<Cell>>, RelationKind);

#[derive(Default)]
struct MemoryAdapter {
    tables: BTreeMap<(String, String), MemoryTable>,
    log: Mutex<Vec<String>>,
}

impl MemoryAdapter {
    fn with_orders() -> Self {
        let mut a = MemoryAdapter::default();
        a.tables.insert(
            ("main".into(), "orders".into()),
            (
                vec![
                    Column {
                        name: "id".into(),
                        data_type: "bigint".into(),
                    },
                    Column {
                        name: "status".into(),
                        data_type: "varchar".into(),
                    },
                    Column {
                        name: "amount".into(),
                        data_type: "decimal(10,2)".into(),
                    },
                    Column {
                        name: "ordered_at".into(),
                        data_type: "timestamp".into(),
                    },
                ],
                vec![
                    vec![
                        Cell::Int(1),
                        Cell::Text("shipped".into()),
                        Cell::Decimal("10.50".into()),
                        Cell::Timestamp("2024-01-02 03:04:05".into()),
                    ],
                    vec![
                        Cell::Int(2),
                        Cell::Text("returned".into()),
                        Cell::Decimal("3".into()),
                        Cell::Null,
                    ],
                ],
                RelationKind::Table,
            ),
        );
        a.tables.insert(
            ("main".into(), "v_orders".into()),
            (
                vec![Column {
                    name: "id".into(),
                    data_type: "bigint".into(),
                }],
                vec![],
                RelationKind::View,
            ),
        );
        a
    }
}

impl Adapter for MemoryAdapter {
    fn execute(&self, sql: &str, _fetch: bool) -> Result<QueryResult, AdapterError> {
        let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        self.log.lock().unwrap().push(sql.clone());
        if sql.contains("fail here") {
            return Err(AdapterError::message("syntax error at `fail`"));
        }
        let re = regex::Regex::new(r"from (\w+)\.(\w+)").unwrap();
        match re.captures(&sql) {
            Some(c) => match self.tables.get(&(c[1].to_string(), c[2].to_string())) {
                Some((cols, rows, _)) => Ok(QueryResult {
                    columns: cols.clone(),
                    rows: rows.clone(),
                    rows_affected: None,
                }),
                None => Err(AdapterError::message(format!(
                    "table {}.{} not found",
                    &c[1], &c[2]
                ))),
            },
            None => Ok(QueryResult::default()),
        }
    }

    fn get_columns_in_relation(&self, r: &Relation) -> Result<Vec<Column>, AdapterError> {
        Ok(self
            .tables
            .get(&(r.schema.clone(), r.identifier.clone()))
            .map(|t| t.0.clone())
            .unwrap_or_default())
    }

    fn get_relation(
        &self,
        schema: &str,
        identifier: &str,
    ) -> Result<Option<RelationKind>, AdapterError> {
        Ok(self
            .tables
            .get(&(schema.into(), identifier.into()))
            .map(|t| t.2))
    }

    fn list_relations(&self, schema: &str) -> Result<Vec<(String, RelationKind)>, AdapterError> {
        Ok(self
            .tables
            .iter()
            .filter(|((s, _), _)| s == schema)
            .map(|((_, n), t)| (n.clone(), t.2))
            .collect())
    }
}

fn package(name: &str, files: &[(&str, &str)]) -> MacroPackage {
    MacroPackage {
        name: name.into(),
        files: files
            .iter()
            .map(|(p, s)| (p.to_string(), s.to_string()))
            .collect(),
    }
}

fn globals(dispatch: Vec<DispatchConfig>) -> JinjaGlobals {
    JinjaGlobals {
        vars: BTreeMap::new(),
        target_name: "dev".into(),
        target_schema: "main".into(),
        threads: 1,
        project_name: "shop".into(),
        dispatch,
    }
}

/// The root project `shop`, a package `greetings` whose public macros dispatch, and a package
/// `greetings_shim` overriding one implementation through `dispatch:`.
fn fixture(dispatch: Vec<DispatchConfig>) -> Jinja {
    let root = package(
        "shop",
        &[(
            "macros/root.sql",
            "{% macro helper() %}root helper{% endmacro %}\n{% macro root_only() %}only in root{% endmacro %}",
        )],
    );
    let greetings = package(
        "greetings",
        &[
            (
                "dbt_packages/greetings/macros/greet.sql",
                "{% macro greet(name) -%}\n  {{ return(adapter.dispatch('greet', 'greetings')(name)) }}\n{%- endmacro %}\n\n{% macro default__greet(name) -%}hello {{ name }}{%- endmacro %}\n{% macro postgres__shout(name) -%}{{ name | upper }}!{%- endmacro %}\n{% macro shout(name) -%}{{ adapter.dispatch('shout', 'greetings')(name) }}{%- endmacro %}",
            ),
            (
                "dbt_packages/greetings/macros/helpers.sql",
                "{% macro helper() %}package helper{% endmacro %}\n{% macro uses_helpers() -%}{{ helper() }} / {{ root_only() }} / {{ concat(['a', 'b']) }} / {{ dbt.concat(['c']) }}{%- endmacro %}\n{% macro broken() -%}\n  {{ no_such_macro() }}\n{%- endmacro %}\n{% macro calls_broken() %}{{ greetings.broken() }}{% endmacro %}",
            ),
        ],
    );
    let shim = package(
        "greetings_shim",
        &[(
            "dbt_packages/greetings_shim/macros/shim.sql",
            "{% macro default__greet(name) -%}shimmed {{ name }}{%- endmacro %}",
        )],
    );
    Jinja::new(&globals(dispatch), &[root, greetings, shim]).unwrap()
}

fn render(j: &Jinja, src: &str) -> String {
    try_render(j, src, None).unwrap()
}

fn try_render(j: &Jinja, src: &str, adapter: Option<Arc<dyn Adapter>>) -> Result<String, String> {
    j.render(RenderRequest {
        file: "models/m.sql",
        source: src,
        this: Some(Relation::new("main", "m")),
        adapter,
        ..Default::default()
    })
    .map(|(s, _)| s)
    .map_err(|e| e.to_string())
}

fn render_with(j: &Jinja, src: &str, adapter: &Arc<MemoryAdapter>) -> String {
    let a: Arc<dyn Adapter> = adapter.clone();
    try_render(j, src, Some(a)).unwrap()
}

#[test]
fn namespaces_resolve_as_dbt_does() {
    let j = fixture(Vec::new());
    // Qualified calls reach the package; unqualified ones from the root see the root's macros.
    assert_eq!(render(&j, "{{ greetings.greet('ann') }}"), "hello ann");
    assert_eq!(render(&j, "{{ helper() }}"), "root helper");
    // Inside a package: its own macros first, then the root's, then dbt's (bare and `dbt.`).
    assert_eq!(
        render(&j, "{{ greetings.uses_helpers() }}"),
        "package helper / only in root / a || b / c"
    );
    // A package's macros are not visible unqualified from the root project.
    let e = try_render(&j, "{{ uses_helpers() }}", None).unwrap_err();
    assert!(e.contains("models/m.sql:1"), "{e}");
    assert!(e.contains("uses_helpers"), "{e}");
}

#[test]
fn dispatch_finds_parent_and_default_and_honours_search_order() {
    let j = fixture(Vec::new());
    // No lakeforge__shout: the parent adapter's postgres__shout is found.
    assert_eq!(render(&j, "{{ greetings.shout('hey') }}"), "HEY!");
    // The root project is searched before the package, as in dbt.
    let shim = DispatchConfig {
        macro_namespace: "greetings".into(),
        search_order: vec!["greetings_shim".into(), "greetings".into()],
    };
    let j = fixture(vec![shim]);
    assert_eq!(render(&j, "{{ greetings.greet('bob') }}"), "shimmed bob");
    assert_eq!(
        render(&j, "{{ adapter.dispatch('greet', 'greetings')('cy') }}"),
        "shimmed cy"
    );
    assert_eq!(
        render(&j, "{{ target.type }} {{ adapter.type() }}"),
        "lakeforge lakeforge"
    );
    let e = try_render(&j, "{{ adapter.dispatch('nope', 'greetings')() }}", None).unwrap_err();
    assert!(e.contains("greetings_shim.lakeforge__nope"), "{e}");
    assert!(e.contains("greetings.default__nope"), "{e}");
}

#[test]
fn a_project_overrides_dbt_builtins() {
    let root = package(
        "shop",
        &[(
            "macros/over.sql",
            "{% macro default__type_string() %}{{ return('text') }}{% endmacro %}",
        )],
    );
    let j = Jinja::new(&globals(Vec::new()), &[root]).unwrap();
    assert_eq!(
        render(&j, "{{ dbt.type_string() }}|{{ type_int() }}"),
        "text|integer"
    );
}

#[test]
fn return_ends_one_call_with_a_value() {
    let root = package(
        "shop",
        &[(
            "macros/ret.sql",
            "{% macro pick(xs) %}{% for x in xs %}{% if x > 2 %}{{ return(x) }}{% endif %}{% endfor %}{{ return(none) }}{% endmacro %}\n\
             {% macro cols() %}{% set out = [] %}{% for c in ['a', 'b'] %}{% do out.append(c | upper) %}{% endfor %}{{ return(out) }}{% endmacro %}\n\
             {% macro outer() %}before {% set v = pick([1, 5, 9]) %}{{ v }} after{% endmacro %}\n\
             {% macro conf() %}{% set d = {'a': 1} %}{% do d.update({'b': 2}) %}{{ return(d) }}{% endmacro %}",
        )],
    );
    let j = Jinja::new(&globals(Vec::new()), &[root]).unwrap();
    assert_eq!(render(&j, "{{ pick([1, 2, 3, 4]) }}"), "3");
    assert_eq!(
        render(&j, "{{ cols() | join(',') }} {{ cols() | length }}"),
        "A,B 2"
    );
    assert_eq!(render(&j, "{{ outer() }}"), "before 5 after");
    assert_eq!(render(&j, "{{ pick([1]) is none }}"), "True");
    assert_eq!(
        render(&j, "{{ conf().b }} {{ conf() | tojson }}"),
        "2 {\"a\":1,\"b\":2}"
    );
    let value = j
        .call_macro(None, "cols", &[], Vec::new(), MacroCall::default())
        .unwrap();
    assert_eq!(value.len(), Some(2));
}

#[test]
fn statements_and_run_query_read_through_the_adapter() {
    let j = fixture(Vec::new());
    let adapter = Arc::new(MemoryAdapter::with_orders());
    let out = render_with(
        &j,
        "{% call statement('orders', fetch_result=True) %}select * from main.orders{% endcall %}\
         {%- set r = load_result('orders') -%}\
         {{ r.table.column_names | join(',') }}|{{ r.data[0][1] }}|{{ r.table.columns['status'].values() | join(',') }}\
         |{{ r.table.rows | length }}|{{ r.response.rows_affected }}|{{ r.table.rows[1]['amount'] }}",
        &adapter,
    );
    assert_eq!(
        out,
        "id,status,amount,ordered_at|shipped|shipped,returned|2|2|3"
    );
    let out = render_with(
        &j,
        "{% set t = run_query('select * from main.orders') %}\
         {%- for row in t.rows %}{{ row.id }}:{{ row[2] }};{% endfor %}\
         {{- t.columns[0].values() | sum }}|{% for row in t %}{{ row['status'] }} {% endfor %}",
        &adapter,
    );
    assert_eq!(out, "1:10.5;2:3;3|shipped returned ");
    assert!(
        adapter
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|s| s == "select * from main.orders")
    );
    // A failing query names the SQL.
    let a: Arc<dyn Adapter> = adapter.clone();
    let e = try_render(&j, "{% do run_query('select fail here') %}", Some(a)).unwrap_err();
    assert!(e.contains("syntax error at `fail`"), "{e}");
    assert!(e.contains("select fail here"), "{e}");
}

#[test]
fn without_an_adapter_execute_is_false_and_queries_are_empty() {
    let j = fixture(Vec::new());
    assert_eq!(
        render(
            &j,
            "{{ execute }}|{% set t = run_query('select 1') %}{% for r in t %}x{% endfor %}|{{ adapter.get_columns_in_relation(this) | length }}|{{ adapter.get_relation(database=none, schema='main', identifier='orders') is none }}"
        ),
        "False||0|True"
    );
}

#[test]
fn columns_and_relations_have_dbt_attributes() {
    let j = fixture(Vec::new());
    let adapter = Arc::new(MemoryAdapter::with_orders());
    let out = render_with(
        &j,
        "{% for c in adapter.get_columns_in_relation(api.Relation.create(schema='main', identifier='orders')) -%}\
         {{ c.name }} {{ c.quoted }} {{ c.data_type }} {{ c.is_number() }} {{ c.is_string() }} {{ c.is_integer() }} {{ c.is_numeric() }} {{ c.is_float() }};\
         {% endfor %}",
        &adapter,
    );
    assert_eq!(
        out,
        "id \"id\" bigint True False True False False;\
         status \"status\" varchar False True False False False;\
         amount \"amount\" decimal(10,2) True False False True False;\
         ordered_at \"ordered_at\" timestamp False False False False False;"
    );
    let out = render_with(
        &j,
        "{% set r = api.Relation.create(database='lake', schema='main', identifier='Orders') %}\
         {{ r }}|{{ r.schema }}|{{ r.identifier }}|{{ r.database }}|{{ r.include(schema=false) }}|{{ r.quote(identifier=true).render() }}\
         |{% set v = adapter.get_relation(database='lake', schema='main', identifier='v_orders') %}{{ v.type }} {{ v.is_view }} {{ v.is_table }}\
         |{{ load_relation(this) is none }}|{{ adapter.get_missing_columns(api.Relation.create(schema='main', identifier='orders'), 'main.v_orders') | map(attribute='name') | join(',') }}\
         |{{ adapter.quote('x') }}|{{ this.identifier }}",
        &adapter,
    );
    assert_eq!(
        out,
        "main.\"Orders\"|main|Orders|lake|\"Orders\"|\"main\".\"Orders\"|view True False|True|status,amount,ordered_at|\"x\"|m"
    );
}

#[test]
fn python_helpers_and_modules() {
    let root = package(
        "shop",
        &[(
            "macros/py.sql",
            "{% macro many(first) %}{{ first }}+{{ varargs | join('+') }} {{ kwargs.k }}{% endmacro %}\n\
             {% macro wrap() %}[{{ caller() }}]{% endmacro %}",
        )],
    );
    let j = Jinja::new(&globals(Vec::new()), &[root]).unwrap();
    assert_eq!(render(&j, "{{ many(1, 2, 3, k='v') }}"), "1+2+3 v");
    assert_eq!(
        render(&j, "{% call wrap() %}body {{ 1 + 1 }}{% endcall %}"),
        "[body 2]"
    );
    assert_eq!(
        render(
            &j,
            "{{ 'a,b'.split(',') | length }} {{ ' x '.strip() }} {{ 'ab'.startswith('a') }} {{ '{}-{}'.format(1, 2) }} {{ {'k': 1}.items() | list | length }}"
        ),
        "2 x True 1-2 1"
    );
    assert_eq!(
        render(
            &j,
            "{{ modules.re.sub('[0-9]+', 'N', 'a1b22') }} {{ modules.datetime.datetime(2024, 1, 2).strftime('%Y/%m/%d') }} {{ fromjson('{\"a\": [1]}').a[0] }} {{ local_md5('') }} {{ zip([1, 2], ['a', 'b']) | length }}"
        ),
        "aNbN 2024/01/02 1 d41d8cd98f00b204e9800998ecf8427e 2"
    );
    assert_eq!(
        render(
            &j,
            "{% set ns = namespace(n=0) %}{% for i in [1,2] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}"
        ),
        "3"
    );
}

#[test]
fn errors_name_the_macro_file_line_and_chain() {
    let j = fixture(Vec::new());
    let e = try_render(&j, "select 1\n{{ greetings.calls_broken() }}", None).unwrap_err();
    assert!(
        e.contains("dbt_packages/greetings/macros/helpers.sql:4"),
        "{e}"
    );
    assert!(e.contains("no_such_macro"), "{e}");
    assert!(
        e.contains("greetings.calls_broken → greetings.broken"),
        "{e}"
    );
    assert!(e.contains("models/m.sql"), "{e}");
    let e = try_render(&j, "{{ greetings.gret('x') }}", None).unwrap_err();
    assert!(e.contains("package `greetings` has no macro `gret`"), "{e}");
    assert!(e.contains("did you mean `greetings.greet`"), "{e}");
    let e = try_render(&j, "{{ adapter.rename_relation(this, this) }}", None).unwrap_err();
    assert!(e.contains("not supported by Lakeforge"), "{e}");
    let e = try_render(
        &j,
        "{{ exceptions.raise_compiler_error('bad input') }}",
        None,
    )
    .unwrap_err();
    assert!(e.contains("Compilation Error: bad input"), "{e}");
    assert!(e.contains("models/m.sql:1"), "{e}");
}

#[test]
fn call_macro_from_rust_sees_the_adapter_and_this() {
    let j = fixture(Vec::new());
    let adapter: Arc<dyn Adapter> = Arc::new(MemoryAdapter::with_orders());
    let root = package(
        "shop",
        &[(
            "macros/ops.sql",
            "{% macro count_orders(schema) %}{% set t = run_query('select * from ' ~ schema ~ '.orders') %}{{ return(t.rows | length) }}{% endmacro %}\n{% macro where_am_i() %}{{ this }}{% endmacro %}",
        )],
    );
    let j2 = Jinja::new(&globals(Vec::new()), &[root]).unwrap();
    let n = j2
        .call_macro(
            None,
            "count_orders",
            &[Value::from("main")],
            Vec::new(),
            MacroCall {
                file: "run-operation",
                adapter: Some(adapter),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(n.as_i64(), Some(2));
    let here = j2
        .call_macro(
            None,
            "where_am_i",
            &[],
            Vec::new(),
            MacroCall {
                this: Some(Relation::new("main", "t")),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(here.to_string(), "main.t");
    let v = j
        .call_macro(
            Some("greetings"),
            "greet",
            &[],
            vec![("name".into(), Value::from("kw"))],
            MacroCall::default(),
        )
        .unwrap();
    assert_eq!(v.to_string(), "hello kw");
    assert!(j.has_macro(Some("greetings"), "default__greet"));
    assert!(!j.has_macro(None, "default__greet"));
    assert!(j.has_macro(None, "dateadd"));
    let e = j
        .call_macro(
            Some("nope"),
            "x",
            &[],
            Vec::new(),
            MacroCall {
                file: "on-run-end",
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("no package `nope`"), "{e}");
}
