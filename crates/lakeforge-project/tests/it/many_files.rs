//! A project of many SQL files, which load parses on every core: each node is the one its own
//! file declares, and of several broken files the error names the first in file order, as a
//! one-by-one parse would.

use std::path::Path;

use lakeforge_project::{LoadOptions, Project};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn project(root: &Path, models: usize) {
    write(
        root,
        "dbt_project.yml",
        "name: many\nversion: '1.0'\nconfig-version: 2\n",
    );
    for i in 0..models {
        let body = if i == 0 {
            "select 0 as id\n".to_string()
        } else {
            format!(
                "{{{{ config(materialized='table', tags=['t{i}']) }}}}\nselect id + {i} as id from {{{{ ref('m{:03}') }}}}\n",
                i - 1
            )
        };
        write(root, &format!("models/m{i:03}.sql"), &body);
    }
}

#[test]
fn every_node_has_its_own_files_refs_and_config() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), 300);
    let p = Project::load(dir.path(), &LoadOptions::default()).unwrap();
    for i in 1..300 {
        let n = &p.nodes[&format!("model.many.m{i:03}")];
        assert_eq!(n.path, format!("models/m{i:03}.sql"));
        assert_eq!(n.depends_on, vec![format!("model.many.m{:03}", i - 1)]);
        assert_eq!(n.config.tags, vec![format!("t{i}")]);
        assert!(n.raw_code.contains(&format!("id + {i} as id")));
    }
}

#[test]
fn of_several_broken_files_the_first_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), 300);
    for i in [41, 150, 299] {
        write(
            dir.path(),
            &format!("models/m{i:03}.sql"),
            "select {{ 1 + }} as broken\n",
        );
    }
    for _ in 0..5 {
        let err = Project::load(dir.path(), &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("models/m041.sql"), "{err}");
        assert!(!err.contains("m150") && !err.contains("m299"), "{err}");
    }
}
