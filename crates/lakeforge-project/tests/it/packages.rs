//! A project with an installed local package: the package's macros, models, seeds, generic
//! tests and vars load as dbt loads them, the root project configures the package's models,
//! ref('pkg', 'm') reaches them, and a declared package that is not installed stops the load.

use std::path::Path;
use std::sync::Arc;

use lakeforge_project::{CompileContext, LoadOptions, Project};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A package of our own: a macro, two models (one in a sub-folder), a seed, a generic test in
/// tests/generic and one in macro-paths, vars global and scoped, and configs for its models.
fn write_package(dir: &Path) {
    write(
        dir,
        "dbt_project.yml",
        "name: shop_utils\nversion: '1.0'\nconfig-version: 2\n\
         vars:\n  greeting: hello-from-pkg\n  currency: eur\n  shop_utils:\n    scoped: pkg-scoped\n\
         models:\n  shop_utils:\n    +materialized: table\n    staging:\n      +schema: util\n",
    );
    write(
        dir,
        "macros/money.sql",
        "{% macro cents_to_dollars(col) %}({{ col }} / 100.0){% endmacro %}\n",
    );
    write(
        dir,
        "macros/positive.sql",
        "{% test positive(model, column_name) %}\nselect * from {{ model }} where {{ column_name }} <= 0\n{% endtest %}\n",
    );
    write(
        dir,
        "tests/generic/is_even.sql",
        "{% test is_even(model, column_name) %}\nselect * from {{ model }} where {{ column_name }} % 2 = 1\n{% endtest %}\n",
    );
    write(
        dir,
        "models/util_numbers.sql",
        "select 2 as id, '{{ var(\"greeting\") }}' as greeting, '{{ var(\"scoped\") }}' as scoped, '{{ var(\"currency\") }}' as currency\n",
    );
    write(
        dir,
        "models/staging/util_stage.sql",
        "select * from {{ ref('util_numbers') }} join {{ ref('util_codes') }} using (id)\n",
    );
    write(
        dir,
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: util_numbers\n    columns:\n      - name: id\n        tests: [not_null]\n",
    );
    write(dir, "seeds/util_codes.csv", "id,code\n2,b\n");
}

/// The root project `shop`, with `shop_utils` declared as a local package and installed as
/// `lakeforge deps` installs one (a link in dbt_packages/).
fn shop(dir: &Path, install: bool) -> std::path::PathBuf {
    write_package(&dir.join("shop_utils"));
    let root = dir.join("shop");
    write(
        &root,
        "dbt_project.yml",
        "name: shop\nversion: '1.0'\nconfig-version: 2\n\
         vars:\n  greeting: hello-from-root-global\n  shop_utils:\n    currency: usd\n\
         models:\n  shop_utils:\n    staging:\n      +materialized: view\n",
    );
    write(
        &root,
        "packages.yml",
        "packages:\n  - local: ../shop_utils\n",
    );
    write(
        &root,
        "models/orders.sql",
        "select {{ shop_utils.cents_to_dollars('amount') }} as dollars, n.id\nfrom {{ ref('shop_utils', 'util_numbers') }} n join {{ ref('util_codes') }} c using (id)\n",
    );
    write(
        &root,
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n        tests:\n          - shop_utils.is_even\n          - positive\n",
    );
    if install {
        std::fs::create_dir_all(root.join("dbt_packages")).unwrap();
        std::os::unix::fs::symlink(dir.join("shop_utils"), root.join("dbt_packages/shop_utils"))
            .unwrap();
    }
    root
}

fn load(root: &Path) -> lakeforge_project::Result<Project> {
    Project::load(root, &LoadOptions::default())
}

#[test]
fn a_packages_nodes_load_with_its_configs_under_the_root_projects() {
    let dir = tempfile::tempdir().unwrap();
    let project = load(&shop(dir.path(), true)).unwrap();
    assert_eq!(project.packages().collect::<Vec<_>>(), ["shop_utils"]);

    let numbers = &project.nodes["model.shop_utils.util_numbers"];
    assert_eq!(numbers.fqn, ["shop_utils", "util_numbers"]);
    assert_eq!(
        numbers.path,
        "dbt_packages/shop_utils/models/util_numbers.sql"
    );
    assert_eq!(numbers.package(), "shop_utils");
    assert_eq!(numbers.config.materialized.as_str(), "table");

    // The package's `+schema: util` stays; the root project's `+materialized: view` wins.
    let stage = &project.nodes["model.shop_utils.util_stage"];
    assert_eq!(stage.fqn, ["shop_utils", "staging", "util_stage"]);
    assert_eq!(stage.config.materialized.as_str(), "view");
    assert_eq!(
        stage.relation.schema,
        format!("{}_util", project.target.schema)
    );
    assert_eq!(
        stage.depends_on,
        [
            "model.shop_utils.util_numbers",
            "seed.shop_utils.util_codes"
        ]
    );
    assert!(project.nodes.contains_key("seed.shop_utils.util_codes"));

    // The root project's model reaches the package's by ref('pkg', 'm') and by bare name.
    let orders = &project.nodes["model.shop.orders"];
    assert_eq!(
        orders.depends_on,
        [
            "model.shop_utils.util_numbers",
            "seed.shop_utils.util_codes"
        ]
    );

    // Generic tests: the package's own YAML, and the root's naming the package's tests with
    // and without its namespace.
    let tests: Vec<&str> = project
        .nodes
        .values()
        .filter(|n| n.resource_type.as_str() == "test")
        .map(|n| n.unique_id.as_str())
        .collect();
    assert!(
        tests
            .iter()
            .any(|t| t.starts_with("test.shop_utils.not_null_util_numbers_id.")),
        "{tests:?}"
    );
    assert!(
        tests
            .iter()
            .any(|t| t.starts_with("test.shop.shop_utils_is_even_orders_id.")),
        "{tests:?}"
    );
    assert!(
        tests
            .iter()
            .any(|t| t.starts_with("test.shop.positive_orders_id.")),
        "{tests:?}"
    );
}

#[test]
fn package_nodes_compile_with_the_packages_macros_and_vars() {
    let dir = tempfile::tempdir().unwrap();
    let project = Arc::new(load(&shop(dir.path(), true)).unwrap());
    let ctx = CompileContext::new(project.clone());
    let schema = &project.target.schema;

    let orders = ctx
        .compile(&project.nodes["model.shop.orders"], false)
        .unwrap();
    assert!(
        orders.sql.contains("(amount / 100.0) as dollars"),
        "{}",
        orders.sql
    );
    assert!(
        orders.sql.contains(&format!(
            "{schema}.util_numbers n join {schema}.util_codes c"
        )),
        "{}",
        orders.sql
    );

    // var(): the root's `vars: {shop_utils: ...}` over the package's own; the root's global
    // var over the package's global; the package's scoped var.
    let numbers = ctx
        .compile(&project.nodes["model.shop_utils.util_numbers"], false)
        .unwrap();
    assert_eq!(
        numbers.sql,
        "select 2 as id, 'hello-from-root-global' as greeting, 'pkg-scoped' as scoped, 'usd' as currency"
    );
    assert!(
        ctx.compiled_path(&project.nodes["model.shop_utils.util_numbers"])
            .ends_with("compiled/shop_utils/models/util_numbers.sql")
    );

    let even = project
        .nodes
        .values()
        .find(|n| {
            n.unique_id
                .starts_with("test.shop.shop_utils_is_even_orders_id.")
        })
        .unwrap();
    let sql = ctx.compile(even, false).unwrap().sql;
    assert!(
        sql.contains(&format!("from {schema}.orders where id % 2 = 1")),
        "{sql}"
    );
}

#[test]
fn a_declared_package_that_is_not_installed_stops_the_load() {
    let dir = tempfile::tempdir().unwrap();
    let root = shop(dir.path(), false);
    let err = load(&root).unwrap_err().to_string();
    assert!(err.contains("shop_utils (local ../shop_utils)"), "{err}");
    assert!(err.contains("hint: run `lakeforge deps`"), "{err}");
}

#[test]
fn ref_to_an_unknown_package_or_model_names_both() {
    let dir = tempfile::tempdir().unwrap();
    let root = shop(dir.path(), true);
    write(
        &root,
        "models/bad.sql",
        "select * from {{ ref('shop_util', 'util_numbers') }}\n",
    );
    let err = load(&root).unwrap_err().to_string();
    assert!(err.contains("models/bad.sql"), "{err}");
    assert!(err.contains("package `shop_util`"), "{err}");
    assert!(err.contains("shop, shop_utils"), "{err}");

    write(
        &root,
        "models/bad.sql",
        "select * from {{ ref('shop_utils', 'orders') }}\n",
    );
    let err = load(&root).unwrap_err().to_string();
    assert!(err.contains("`shop_utils.orders`"), "{err}");
}

#[test]
fn a_disabled_package_model_is_gone_and_its_tests_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = shop(dir.path(), true);
    write(
        &root,
        "dbt_project.yml",
        "name: shop\nversion: '1.0'\nmodels:\n  shop_utils:\n    staging:\n      +enabled: false\n",
    );
    let project = load(&root).unwrap();
    assert!(!project.nodes.contains_key("model.shop_utils.util_stage"));
    assert!(project.nodes.contains_key("model.shop_utils.util_numbers"));
}

#[test]
fn naming_overrides_of_the_root_and_of_a_package() {
    let dir = tempfile::tempdir().unwrap();
    let root = shop(dir.path(), true);
    write(
        &root,
        "macros/naming.sql",
        "{% macro generate_schema_name(custom_schema_name, node) -%}\n{%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}\n{%- endmacro %}\n",
    );
    write(
        &dir.path().join("shop_utils"),
        "macros/alias.sql",
        "{% macro generate_alias_name(custom_alias_name, node) %}{{ return('u_' ~ node.name) }}{% endmacro %}\n",
    );
    let project = load(&root).unwrap();
    let schema = &project.target.schema;
    // The root's generate_schema_name names the package's nodes too (it has none of its own).
    let stage = &project.nodes["model.shop_utils.util_stage"].relation;
    assert_eq!(
        (stage.schema.as_str(), stage.identifier.as_str()),
        ("util", "u_util_stage")
    );
    let codes = &project.nodes["seed.shop_utils.util_codes"].relation;
    assert_eq!(
        (codes.schema.as_str(), codes.identifier.as_str()),
        (schema.as_str(), "u_util_codes")
    );
    // The package's generate_alias_name is for its own nodes only.
    assert_eq!(
        project.nodes["model.shop.orders"].relation.identifier,
        "orders"
    );
}

#[test]
fn compiled_macros_see_the_project_as_dbts_graph() {
    let dir = tempfile::tempdir().unwrap();
    let root = shop(dir.path(), true);
    write(
        &root,
        "models/inventory.sql",
        "{% set models = [] %}{% for n in graph.nodes.values() | selectattr('resource_type', 'equalto', 'model') %}\
         {% do models.append(n.package_name ~ '.' ~ n.name) %}{% endfor %}\
         select '{{ models | sort | join(',') }}' as models, {{ graph.sources | length }} as sources\n",
    );
    let project = Arc::new(load(&root).unwrap());
    let ctx = CompileContext::new(project.clone());
    let sql = ctx
        .compile(&project.nodes["model.shop.inventory"], false)
        .unwrap()
        .sql;
    assert_eq!(
        sql,
        "select 'shop.inventory,shop.orders,shop_utils.util_numbers,shop_utils.util_stage' as models, 0 as sources"
    );

    // `graph`, built when a template first reads it, is a mapping with dbt's keys.
    write(
        &root,
        "models/graph_keys.sql",
        "select '{{ graph | list | sort | join(',') }}' as keys, {{ graph is mapping }} as m, {{ graph.nope is undefined }} as u\n",
    );
    let project = Arc::new(load(&root).unwrap());
    let ctx = CompileContext::new(project.clone());
    let sql = ctx
        .compile(&project.nodes["model.shop.graph_keys"], false)
        .unwrap()
        .sql;
    assert_eq!(
        sql,
        "select 'exposures,groups,macros,metrics,nodes,saved_queries,semantic_models,sources' as keys, True as m, True as u"
    );
}
