//! dbt's hooks as a project declares them: `pre-hook`/`post-hook` in a node's config (every
//! layer's hooks kept, in order, see `config.rs`) and `on-run-start`/`on-run-end` in
//! dbt_project.yml. Each is SQL with Jinja, rendered only when it runs
//! ([`crate::CompileContext::render_hook`]); lakeforge-runner executes them around nodes and
//! runs.

use std::fmt;

use crate::error::{ProjectError, Result};
use crate::load::Project;
use crate::node::Node;

/// Which hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    PreHook,
    PostHook,
    OnRunStart,
    OnRunEnd,
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HookKind::PreHook => "pre-hook",
            HookKind::PostHook => "post-hook",
            HookKind::OnRunStart => "on-run-start",
            HookKind::OnRunEnd => "on-run-end",
        })
    }
}

/// One hook to run: its unrendered SQL and where it was declared, for errors.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    pub kind: HookKind,
    /// 1-based position among the hooks of its kind.
    pub index: usize,
    pub sql: String,
    /// `models/orders.sql` or `dbt_project.yml`.
    pub origin: String,
}

impl Hook {
    /// `post-hook #2 of models/orders.sql`, as errors and logs name it.
    pub fn label(&self) -> String {
        format!("{} #{} of {}", self.kind, self.index, self.origin)
    }
}

/// A node's `pre-hook`s or `post-hook`s, in the order they run.
pub fn node_hooks(node: &Node, kind: HookKind) -> Result<Vec<Hook>> {
    let key = match kind {
        HookKind::PreHook => "pre_hook",
        HookKind::PostHook => "post_hook",
        _ => return Ok(Vec::new()),
    };
    let value = node
        .config
        .raw
        .get(key)
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    hooks_of(&value, kind, &node.path)
}

/// dbt_project.yml's `on-run-start` or `on-run-end` hooks.
pub fn run_hooks(project: &Project, kind: HookKind) -> Result<Vec<Hook>> {
    let value = match kind {
        HookKind::OnRunStart => &project.file.on_run_start,
        HookKind::OnRunEnd => &project.file.on_run_end,
        _ => return Ok(Vec::new()),
    };
    hooks_of(&crate::config::yaml_to_json(value), kind, "dbt_project.yml")
}

/// A hook value: a string, `{sql: ..., transaction: ...}`, or a list of those.
fn hooks_of(value: &serde_json::Value, kind: HookKind, origin: &str) -> Result<Vec<Hook>> {
    let items: Vec<&serde_json::Value> = match value {
        serde_json::Value::Null => Vec::new(),
        serde_json::Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for item in items {
        let sql = match item {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Object(o) => match o.get("sql") {
                Some(serde_json::Value::String(s)) => s.clone(),
                _ => return Err(bad(kind, origin, item)),
            },
            serde_json::Value::Null => continue,
            _ => return Err(bad(kind, origin, item)),
        };
        if sql.trim().is_empty() {
            continue;
        }
        out.push(Hook {
            kind,
            index: out.len() + 1,
            sql,
            origin: origin.to_string(),
        });
    }
    Ok(out)
}

fn bad(kind: HookKind, origin: &str, item: &serde_json::Value) -> ProjectError {
    ProjectError::Config {
        path: origin.into(),
        message: format!(
            "`{kind}` must be SQL text, `{{sql: ..., transaction: ...}}` or a list of them, not {item}\nhint: write `{kind}: \"insert into ... \"`"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_are_strings_mappings_or_lists() {
        let v = serde_json::json!(["select 1", {"sql": "select 2", "transaction": false}, ""]);
        let hooks = hooks_of(&v, HookKind::PostHook, "models/a.sql").unwrap();
        assert_eq!(
            hooks.iter().map(|h| h.sql.as_str()).collect::<Vec<_>>(),
            ["select 1", "select 2"]
        );
        assert_eq!(hooks[1].label(), "post-hook #2 of models/a.sql");
        let one = hooks_of(&serde_json::json!("select 3"), HookKind::PreHook, "x").unwrap();
        assert_eq!(one.len(), 1);
        let err = hooks_of(
            &serde_json::json!([3]),
            HookKind::OnRunEnd,
            "dbt_project.yml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("dbt_project.yml") && err.contains("`on-run-end` must be SQL text"));
    }
}
