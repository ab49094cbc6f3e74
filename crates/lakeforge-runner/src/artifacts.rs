//! Files a run leaves in target/: each node's compiled SQL as it runs, then manifest.json and
//! run_results.json once the run is done. Two runs of one project at once write the same
//! paths: each file is written under a name of its own and renamed over the old one, so a
//! reader (or the other run) sees one whole version, never two interleaved.

use std::collections::HashMap;
use std::path::Path;

use lakeforge_project::{CompileContext, Node, Project};

use crate::plan::Command;
use crate::results::RunSummary;
use crate::{Result, RunnerError};

/// Write `bytes` to `path` through a temporary file beside it and one rename.
pub(crate) fn write_atomic(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    let io = |source| RunnerError::Io {
        path: path.into(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    if let Err(e) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// The SQL a node runs, under target/compiled/ as dbt writes it, before it runs.
pub(crate) fn write_compiled(compile: &CompileContext, node: &Node, sql: &str) -> Result<()> {
    write_if_changed(&compile.compiled_path(node), format!("{sql}\n"))
}

/// Write `text` to `path` (making its folder), unless the file already holds it. Most runs
/// compile most nodes to what they compiled to last time, and rewriting a file costs a create
/// and a rename, which on disks that discard freed blocks (virtual machines, SSDs mounted with
/// `discard`) was most of a 2,000-model compile's time.
fn write_if_changed(path: &Path, text: String) -> Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| RunnerError::Io {
            path: dir.into(),
            source: e,
        })?;
    }
    write_atomic(path, text)
}

/// manifest.json (with the SQL each node compiled to) and, unless the command only compiled,
/// run_results.json.
pub(crate) fn write_artifacts(
    project: &Project,
    summary: &RunSummary,
    command: Command,
    args: &serde_json::Value,
) -> Result<()> {
    let dir = project.target_dir();
    std::fs::create_dir_all(&dir).map_err(|e| RunnerError::Io {
        path: dir.clone(),
        source: e,
    })?;
    let compiled: HashMap<&str, &str> = summary
        .results
        .iter()
        .filter_map(|r| Some((r.unique_id.as_str(), r.compiled_code.as_deref()?)))
        .collect();
    let manifest = lakeforge_project::manifest::Manifest::new(project, &compiled);
    write_json(&dir.join("manifest.json"), &manifest)?;
    if command != Command::Compile {
        write_json(
            &dir.join("run_results.json"),
            &summary.run_results_json(command.as_str(), args),
        )?;
    }
    Ok(())
}

/// Compact, as dbt writes its artifacts: a 2,000-model manifest is 30% smaller than indented
/// and quicker to write and to read back.
pub(crate) fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    // Our values have string keys and finite numbers, so this does not fail in practice.
    let text = serde_json::to_vec(value).map_err(|e| RunnerError::Io {
        path: path.into(),
        source: e.into(),
    })?;
    write_atomic(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_file_is_not_rewritten() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("compiled/shop/models/orders.sql");
        let inode = || std::fs::metadata(&path).unwrap().ino();
        write_if_changed(&path, "select 1\n".into()).unwrap();
        let first = inode();
        write_if_changed(&path, "select 1\n".into()).unwrap();
        assert_eq!(inode(), first, "the same text was written again");
        write_if_changed(&path, "select 2\n".into()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "select 2\n");
        assert_ne!(
            inode(),
            first,
            "a changed text is written through a new file"
        );
    }

    #[test]
    fn concurrent_writers_leave_one_whole_file_and_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run_results.json");
        let writers: Vec<_> = (0..4)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    // Different lengths, so an interleaving would show.
                    let text =
                        format!("{{\"writer\": {i}, \"pad\": \"{}\"}}", "x".repeat(i * 1000));
                    for _ in 0..50 {
                        write_atomic(&path, &text).unwrap();
                    }
                    text
                })
            })
            .collect();
        let texts: Vec<String> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(texts.contains(&last), "a mixed file: {last:.80}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "temporary files left behind");

        let err = write_atomic(&dir.path().join("no/such/folder/x.json"), "{}").unwrap_err();
        assert!(err.to_string().contains("no/such/folder/x.json"), "{err}");
    }
}
