//! A project using a package of our own, end to end: before `lakeforge deps` every command
//! stops naming the missing package; after it, `ls` lists the package's nodes and `build`
//! builds them and the project's model that refs them and calls the package's macro, with the
//! package's generic test.

use std::path::Path;

use crate::common::Project;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// The package `pkg_tools` in `dir`: a macro, a model reading a seed, a generic test, a var.
fn write_package(dir: &Path) {
    write(
        dir,
        "dbt_project.yml",
        "name: pkg_tools\nversion: '1.0'\nconfig-version: 2\nvars:\n  pkg_tools:\n    factor: 10\n\
         models:\n  pkg_tools:\n    +materialized: table\n",
    );
    write(
        dir,
        "macros/scale.sql",
        "{% macro scaled(col) %}({{ col }} * {{ var('factor') }}){% endmacro %}\n",
    );
    write(
        dir,
        "macros/tests.sql",
        "{% test at_least(model, column_name, value) %}\nselect * from {{ model }} where {{ column_name }} < {{ value }}\n{% endtest %}\n",
    );
    write(dir, "seeds/pkg_numbers.csv", "id,n\n1,3\n2,4\n");
    write(
        dir,
        "models/pkg_scaled.sql",
        "select id, {{ scaled('n') }} as n from {{ ref('pkg_numbers') }}\n",
    );
}

fn project_with_package() -> (Project, tempfile::TempDir) {
    let p = Project {
        dir: tempfile::tempdir().unwrap(),
    };
    let pkg = tempfile::tempdir().unwrap();
    write_package(pkg.path());
    p.write(
        "dbt_project.yml",
        "name: shop\nversion: '1.0'\nprofile: shop\nvars:\n  shop:\n    factor: 2\n",
    );
    p.write(
        "packages.yml",
        &format!("packages:\n  - local: {}\n", pkg.path().display()),
    );
    p.write(
        "models/totals.sql",
        "select sum(n) as total, sum({{ pkg_tools.scaled('n') }}) as root_scaled from {{ ref('pkg_tools', 'pkg_scaled') }}\n",
    );
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: totals\n    columns:\n      - name: total\n        tests:\n          - pkg_tools.at_least:\n              value: 70\n",
    );
    (p, pkg)
}

/// The entry of run_results.json whose unique id starts with `prefix`.
fn run_result(p: &Project, prefix: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(p.path().join("target/run_results.json")).unwrap();
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    results["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["unique_id"].as_str().unwrap().starts_with(prefix))
        .cloned()
        .unwrap_or_else(|| panic!("no result for {prefix} in {text}"))
}

#[test]
fn a_package_is_required_then_loaded_and_built() {
    let (p, _pkg) = project_with_package();
    let run = p.run(&["ls"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("pkg_tools (local "), "{}", run.stderr);
    assert!(
        run.stderr.contains("hint: run `lakeforge deps`"),
        "{}",
        run.stderr
    );

    p.run(&["deps"]).ok();
    let ls = p.run(&["ls"]).ok().stdout;
    for fqn in [
        "pkg_tools.pkg_scaled",
        "pkg_tools.pkg_numbers",
        "shop.totals",
    ] {
        assert!(ls.lines().any(|l| l == fqn), "{fqn} missing from\n{ls}");
    }
    let only_pkg = p.run(&["ls", "--select", "package:pkg_tools"]).ok().stdout;
    assert!(!only_pkg.contains("shop.totals"), "{only_pkg}");

    p.run(&["build"]).ok();
    // The package's nodes see its scoped var (10); the project's, its own scoped one (2).
    assert_eq!(
        p.sql("select total, root_scaled from totals"),
        "total,root_scaled\n70,140\n"
    );
    let test = run_result(&p, "test.shop.pkg_tools_at_least_totals_total");
    assert_eq!(test["status"], "pass", "{test}");
}

/// A package's generic test written as dbt_utils writes its own: dispatched, `config(fail_calc=)`
/// in the implementation, a `ref()` argument used as a relation, a list argument appended to,
/// column names compared as sets; and the SQL dbt packages emit that DataFusion lacks (`mod`,
/// a text default beside a date in `coalesce`, `dbt.dateadd` with a negative count).
#[test]
fn package_tests_get_rendered_arguments_and_their_macros_config() {
    let (p, pkg) = project_with_package();
    write(
        pkg.path(),
        "macros/same_count.sql",
        "{% test same_count(model, compare_model, group_by_columns=[]) %}\n\
         {{ return(adapter.dispatch('test_same_count', 'pkg_tools')(model, compare_model, group_by_columns)) }}\n\
         {% endtest %}\n\
         {% macro default__test_same_count(model, compare_model, group_by_columns) %}\n\
         {{ config(fail_calc='sum(diff)') }}\n\
         {% if not execute %}{{ return('') }}{% endif %}\n\
         {% set groups = group_by_columns %}{% do groups.append('one') %}\n\
         {% set mine = adapter.get_columns_in_relation(model) | map(attribute='name') | map('lower') %}\n\
         {% set theirs = adapter.get_columns_in_relation(compare_model) | map(attribute='name') | map('lower') %}\n\
         {% if set(mine) != set(theirs) %}{{ exceptions.raise_compiler_error('columns differ') }}{% endif %}\n\
         -- groups: {{ groups | join(',') }}\n\
         select abs((select count(*) from {{ model }}) - (select count(*) from {{ compare_model }})) as diff\n\
         {% endmacro %}\n",
    );
    p.write(
        "models/totals_copy.sql",
        "select root_scaled, total from {{ ref('totals') }}\n",
    );
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: totals\n    data_tests:\n      - pkg_tools.same_count:\n          compare_model: ref('totals_copy')\n          group_by_columns: ['total']\n",
    );
    p.write(
        "models/dialect.sql",
        "select mod(7, 3) as m, coalesce(cast(null as date), '2099-01-01') as d, \
         {{ dbt.dateadd('hour', -3, \"timestamp '2021-01-01 10:00:00'\") }} as t\n",
    );
    p.run(&["deps"]).ok();
    p.run(&["build"]).ok();
    assert_eq!(
        p.sql("select m, cast(d as varchar) as d, cast(t as varchar) as t from dialect"),
        "m,d,t\n1,2099-01-01,2021-01-01T07:00:00\n"
    );
    let result = run_result(&p, "test.shop.pkg_tools_same_count");
    // The macro's `fail_calc` (sum(diff) = 0) makes it pass; dbt's default count(*) = 1 would not.
    assert_eq!(result["status"], "pass", "{result}");
    let sql = result["compiled_code"].as_str().unwrap_or_default();
    assert!(sql.contains("-- groups: total,one"), "{sql}");
    assert!(sql.contains("totals_copy"), "{sql}");
}
