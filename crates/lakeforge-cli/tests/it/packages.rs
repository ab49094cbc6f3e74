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
    let text = std::fs::read_to_string(p.path().join("target/run_results.json")).unwrap();
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    let test = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["unique_id"]
                .as_str()
                .unwrap()
                .starts_with("test.shop.pkg_tools_at_least_totals_total")
        })
        .unwrap_or_else(|| panic!("the package's generic test did not run: {text}"));
    assert_eq!(test["status"], "pass", "{test}");
}
