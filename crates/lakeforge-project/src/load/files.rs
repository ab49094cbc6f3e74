//! Finding a project's files: which files under which folders, in a stable order, and the
//! names dbt derives from their paths (node name, fqn) and contents (checksum).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{ProjectError, Result};

/// (relative path, contents) of files under `dirs` with one of `exts`, in a stable order.
pub(super) fn read_files(
    root: &Path,
    dirs: &[String],
    exts: &[&str],
) -> Result<Vec<(String, String)>> {
    list_files(root, dirs, exts)?
        .into_iter()
        .map(|(rel, abs)| {
            let text = std::fs::read_to_string(&abs).map_err(|e| ProjectError::io(&abs, e))?;
            Ok((rel, text))
        })
        .collect()
}

pub(super) fn list_files(
    root: &Path,
    dirs: &[String],
    exts: &[&str],
) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for dir in dirs {
        let base = root.join(dir);
        if !base.is_dir() {
            continue;
        }
        for entry in walkdir::WalkDir::new(&base).sort_by_file_name() {
            let entry = entry.map_err(|e| ProjectError::io(&base, e.into()))?;
            let p = entry.path();
            let matches = p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e));
            if entry.file_type().is_file() && matches {
                let rel = p
                    .strip_prefix(root)
                    .unwrap_or(p)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, p.to_path_buf()));
            }
        }
    }
    Ok(out)
}

pub(crate) fn checksum(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// fqn = project name, folders below the resource path, node name.
pub(crate) fn fqn_of(project: &str, path: &str, roots: &[String], name: &str) -> Vec<String> {
    let mut fqn = vec![project.to_string()];
    let rel = roots
        .iter()
        .find_map(|r| path.strip_prefix(&format!("{}/", r.trim_end_matches('/'))))
        .unwrap_or(path);
    let parts: Vec<&str> = rel.split('/').collect();
    fqn.extend(
        parts[..parts.len().saturating_sub(1)]
            .iter()
            .map(|s| s.to_string()),
    );
    fqn.push(name.to_string());
    fqn
}

pub(super) fn stem(path: &str) -> String {
    Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
