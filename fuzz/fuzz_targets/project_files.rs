//! Fuzz target: a project's own files, as a user writes them. The input is split at NUL bytes
//! into a properties YAML file, a model's SQL (with Jinja) and a seed CSV; the project is
//! loaded (YAML parsing, Jinja in parse mode, configs, tests, the graph) and every node is
//! compiled (Jinja in compile mode, generic tests expanded). Errors are fine; a panic, a hang
//! or unbounded memory is a finding.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use lakeforge_project::compile::CompileContext;
use lakeforge_project::{LoadOptions, Project};
use libfuzzer_sys::fuzz_target;

/// One project folder per process, rewritten for each input: creating a folder per input
/// would make the filesystem, not the code under test, the bottleneck.
fn project_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("lakeforge-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("models")).expect("temp folder");
        std::fs::create_dir_all(dir.join("seeds")).expect("temp folder");
        std::fs::write(
            dir.join("dbt_project.yml"),
            "name: fuzz\nversion: '1.0'\nprofile: fuzz\nvars:\n  limit: 3\n",
        )
        .expect("temp file");
        std::fs::write(dir.join("models/base.sql"), "select 1 as id, 'a' as name\n")
            .expect("temp file");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0);
    let yaml = parts.next().unwrap_or_default();
    let sql = parts.next().unwrap_or_default();
    let csv = parts.next().unwrap_or_default();
    let dir = project_dir();
    std::fs::write(dir.join("models/schema.yml"), yaml).expect("write");
    std::fs::write(dir.join("models/m.sql"), sql).expect("write");
    std::fs::write(dir.join("seeds/s.csv"), csv).expect("write");
    let Ok(project) = Project::load(dir, &LoadOptions::default()) else {
        return;
    };
    let compile = CompileContext::new(std::sync::Arc::new(project));
    for node in compile.project().nodes.values() {
        let _ = compile.compile(node, false);
    }
});
