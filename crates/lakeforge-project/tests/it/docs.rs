//! Docs blocks and `doc()`: a project and an installed package each with `{% docs %}` blocks,
//! descriptions of every kind of YAML entry that call `doc()` resolved at load and written to
//! manifest.json's `docs`, and the load errors (an unknown name, a name defined twice).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lakeforge_project::{LoadOptions, Project};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

const PROPS: &str = r#"version: 2
models:
  - name: orders
    description: '{{ doc("orders") }}'
    columns:
      - name: status
        description: "Status: {{ doc('status') }}"
      - name: id
        description: "{{ doc('docs_pkg', 'shared') }}"
      - name: plain
        description: "no Jinja here"
seeds:
  - name: raw_orders
    description: "{{ doc('shared') }}"
sources:
  - name: shop
    description: "{{ doc('pkg_only') }}"
    tables:
      - name: payments
        description: "{{ doc('orders') }} (source)"
        columns:
          - name: amount
            description: "{{ doc('status') }}"
"#;

/// The root project `shop` with docs in models/ (and one under a custom docs-path when
/// `docs_paths` is given), and the package `docs_pkg` installed beside it.
fn project(dir: &Path, props: &str, docs_paths: Option<&str>) -> PathBuf {
    let pkg = dir.join("docs_pkg");
    write(
        &pkg,
        "dbt_project.yml",
        "name: docs_pkg\nversion: '1.0'\nconfig-version: 2\n",
    );
    write(
        &pkg,
        "macros/docs.md",
        "{% docs shared %}Defined by the package.{% enddocs %}\n{% docs pkg_only %}Only in the package.{% enddocs %}\n",
    );
    let root = dir.join("shop");
    let extra = docs_paths
        .map(|p| format!("docs-paths: [{p}]\n"))
        .unwrap_or_default();
    write(
        &root,
        "dbt_project.yml",
        &format!("name: shop\nversion: '1.0'\nconfig-version: 2\n{extra}"),
    );
    write(&root, "packages.yml", "packages:\n  - local: ../docs_pkg\n");
    write(
        &root,
        "models/orders.sql",
        "select 1 as id, 'open' as status, 2 as plain\n",
    );
    write(&root, "seeds/raw_orders.csv", "id\n1\n");
    write(
        &root,
        "models/docs/orders.md",
        "# Orders\n\n{% docs orders %}\nOne row per **order**.\n\n- placed online\n{% enddocs %}\n\n{% docs shared %}Defined by the project.{% enddocs %}\n",
    );
    write(
        &root,
        "docs/status.md",
        "{% docs status %}`open` or `shipped`{% enddocs %}\n",
    );
    write(&root, "models/schema.yml", props);
    std::fs::create_dir_all(root.join("dbt_packages")).unwrap();
    std::os::unix::fs::symlink(&pkg, root.join("dbt_packages/docs_pkg")).unwrap();
    root
}

fn load(root: &Path) -> lakeforge_project::Result<Project> {
    Project::load(root, &LoadOptions::default())
}

#[test]
fn doc_calls_in_descriptions_resolve_to_docs_blocks_of_the_project_and_its_packages() {
    let dir = tempfile::tempdir().unwrap();
    let root = project(dir.path(), PROPS, Some("models, docs"));
    let p = load(&root).unwrap();

    let ids: Vec<&str> = p.docs.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        [
            "doc.docs_pkg.pkg_only",
            "doc.docs_pkg.shared",
            "doc.shop.orders",
            "doc.shop.shared",
            "doc.shop.status"
        ]
    );
    let orders = &p.nodes["model.shop.orders"];
    assert_eq!(
        orders.description,
        "One row per **order**.\n\n- placed online"
    );
    let column = |name: &str| {
        orders
            .columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.description.clone())
            .unwrap()
    };
    assert_eq!(column("status"), "Status: `open` or `shipped`");
    assert_eq!(column("id"), "Defined by the package.");
    assert_eq!(column("plain"), "no Jinja here");
    // doc('name') finds the root project's block before a package's of the same name.
    assert_eq!(
        p.nodes["seed.shop.raw_orders"].description,
        "Defined by the project."
    );
    let payments = &p.sources["source.shop.shop.payments"];
    assert_eq!(
        payments.description,
        "One row per **order**.\n\n- placed online (source)"
    );
    assert_eq!(payments.columns[0].description, "`open` or `shipped`");

    let m = lakeforge_project::manifest::manifest_json(&p, &HashMap::new());
    let doc = &m["docs"]["doc.shop.orders"];
    assert_eq!(doc["name"], "orders");
    assert_eq!(doc["package_name"], "shop");
    assert_eq!(doc["resource_type"], "doc");
    assert_eq!(doc["path"], "models/docs/orders.md");
    assert_eq!(doc["original_file_path"], "models/docs/orders.md");
    assert_eq!(
        doc["block_contents"],
        "One row per **order**.\n\n- placed online"
    );
    let pkg_doc = &m["docs"]["doc.docs_pkg.shared"];
    assert_eq!(pkg_doc["path"], "dbt_packages/docs_pkg/macros/docs.md");
    assert_eq!(pkg_doc["original_file_path"], "macros/docs.md");
    assert_eq!(
        m["nodes"]["model.shop.orders"]["columns"]["status"]["description"],
        "Status: `open` or `shipped`"
    );
}

#[test]
fn without_docs_paths_blocks_are_read_from_the_resource_paths_only() {
    let dir = tempfile::tempdir().unwrap();
    // docs/status.md is outside every default path: doc('status') has nothing to find.
    let root = project(dir.path(), PROPS, None);
    let err = load(&root).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "models/schema.yml: the description of column `status` of model `orders` calls doc('status'), but no docs block has that name"
        ),
        "{err}"
    );
    assert!(
        err.contains("hint: the docs blocks are: `orders`, `pkg_only`, `shared`"),
        "{err}"
    );
}

#[test]
fn an_unknown_doc_name_is_an_error_naming_the_file_the_entry_and_a_close_name() {
    let dir = tempfile::tempdir().unwrap();
    let props = "version: 2\nsources:\n  - name: shop\n    tables:\n      - name: payments\n        columns:\n          - name: amount\n            description: \"{{ doc('stats') }}\"\n";
    let root = project(dir.path(), props, Some("models, docs"));
    let err = load(&root).unwrap_err().to_string();
    assert!(
        err.starts_with("models/schema.yml: the description of column `amount` of source table `shop.payments` calls doc('stats')"),
        "{err}"
    );
    assert!(err.contains("hint: did you mean `status`?"), "{err}");

    // doc(package, name) looks in that package only.
    let props = "version: 2\nmodels:\n  - name: orders\n    description: \"{{ doc('docs_pkg', 'orders') }}\"\n";
    let dir = tempfile::tempdir().unwrap();
    let root = project(dir.path(), props, Some("models, docs"));
    let err = load(&root).unwrap_err().to_string();
    assert!(
        err.contains("the description of model `orders` calls doc('docs_pkg', 'orders')"),
        "{err}"
    );
    assert!(
        err.contains("the docs blocks are: `pkg_only`, `shared`"),
        "{err}"
    );
}

#[test]
fn a_docs_name_defined_twice_in_one_package_names_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = project(dir.path(), PROPS, Some("models, docs"));
    write(
        &root,
        "docs/again.md",
        "{% docs orders %}Again.{% enddocs %}\n",
    );
    let err = load(&root).unwrap_err().to_string();
    assert!(
        err.starts_with("docs/again.md: docs block `orders` is defined twice in package `shop`: in models/docs/orders.md and here"),
        "{err}"
    );
}
