//! Errors raised while reading a project: every variant names the file (and line where known)
//! at fault, and its message ends with what to do about it.

use std::path::PathBuf;

/// Everything that can go wrong between a project folder on disk and a typed graph of nodes.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("Failed to read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "No dbt_project.yml in {dir}\nhint: run the command inside a project folder, pass --project-dir, or create one with `lakeforge init`"
    )]
    NotAProject { dir: PathBuf },

    #[error("Invalid YAML in {path}{}: {message}\nhint: fix the file; YAML is indentation-sensitive", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Yaml {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },

    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },

    #[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Jinja {
        file: String,
        line: Option<usize>,
        message: String,
    },

    #[error(
        "{node} refers to `{target}`, which is not a model, seed or snapshot of this project{}",
        hint_suffix(suggestion)
    )]
    UnknownRef {
        node: String,
        target: String,
        suggestion: Option<String>,
    },

    #[error(
        "{node} refers to source `{source_name}.{table}`, which is not declared{}",
        hint_suffix(suggestion)
    )]
    UnknownSource {
        node: String,
        source_name: String,
        table: String,
        suggestion: Option<String>,
    },

    #[error(
        "Two nodes are both named `{name}`: {first} and {second}\nhint: rename one of the files; names must be unique within a project"
    )]
    DuplicateNode {
        name: String,
        first: String,
        second: String,
    },

    #[error(
        "Dependency cycle: {}\nhint: a model cannot depend on itself, directly or through others; remove one of these ref() calls",
        path.join(" -> ")
    )]
    Cycle { path: Vec<String> },

    #[error("Invalid selector `{selector}`: {message}")]
    Selector { selector: String, message: String },

    #[error(
        "{} declared in {} {} not installed in {}: {}\nhint: run `lakeforge deps`{}",
        if missing.len() == 1 { "A package" } else { "Packages" },
        file.display(),
        if missing.len() == 1 { "is" } else { "are" },
        install_path.display(),
        missing.join(", "),
        if *stale_lock { " (the declaration changed since package-lock.yml was written)" } else { "" }
    )]
    PackagesNotInstalled {
        /// packages.yml or dependencies.yml.
        file: PathBuf,
        install_path: PathBuf,
        /// Each package missing, in words: `dbt_utils (hub package dbt-labs/dbt_utils)`.
        missing: Vec<String>,
        /// package-lock.yml exists but was resolved from another declaration.
        stale_lock: bool,
    },

    #[error("Invalid --vars: {message}\nhint: pass YAML, e.g. --vars '{{start_date: 2024-01-01}}'")]
    Vars { message: String },
}

/// `\nhint: did you mean `x`?` when there is a close name, else nothing.
pub(crate) fn hint_suffix(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("\nhint: did you mean `{s}`?"),
        None => String::new(),
    }
}

impl ProjectError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ProjectError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn yaml(path: impl Into<PathBuf>, err: serde_yaml::Error) -> Self {
        ProjectError::Yaml {
            path: path.into(),
            line: err.location().map(|l| l.line()),
            message: err.to_string(),
        }
    }
}

/// The closest of `candidates` to `name`, when one is close enough to be a likely typo.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

pub type Result<T, E = ProjectError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            suggest("stg_order", ["stg_orders", "customers"]),
            Some("stg_orders".into())
        );
        assert_eq!(suggest("zzz", ["stg_orders", "customers"]), None);
    }
}
