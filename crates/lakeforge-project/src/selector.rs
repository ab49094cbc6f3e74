//! Node selection as dbt users type it: names, `+x`, `x+`, `2+x`, `x+1`, `@x`, `tag:`,
//! `path:`, `config.<key>:`, `resource_type:`, `source:`, `fqn:`, `test_type:`, `unit_test:`, wildcards;
//! space-separated arguments are a union, comma-joined ones an intersection, and `--exclude`
//! removes. Tests attached to selected nodes are selected with them (dbt's eager indirect
//! selection).

use std::collections::BTreeSet;

use crate::error::{ProjectError, Result};
use crate::load::Project;
use crate::node::{ResourceType, TestKind};

/// Resolve `--select` and `--exclude` to unique ids of nodes (sources are never returned).
pub fn select(
    project: &Project,
    select: &[String],
    exclude: &[String],
) -> Result<BTreeSet<String>> {
    let mut chosen: BTreeSet<String> = if select.iter().all(|s| s.trim().is_empty()) {
        project.nodes.keys().cloned().collect()
    } else {
        union(project, select)?
    };
    chosen.retain(|id| project.nodes.contains_key(id));
    add_attached_tests(project, &mut chosen);
    if !exclude.iter().all(|s| s.trim().is_empty()) {
        let excluded = union(project, exclude)?;
        chosen.retain(|id| !excluded.contains(id));
    }
    Ok(chosen)
}

/// The criteria of `--select` (each space-separated argument) that match no node, so a command
/// can warn about them as dbt does instead of quietly running nothing.
pub fn unmatched(project: &Project, select: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for arg in select.iter().flat_map(|a| a.split_whitespace()) {
        let hits = union(project, std::slice::from_ref(&arg.to_string()))?;
        if !hits.iter().any(|id| project.nodes.contains_key(id)) {
            out.push(arg.to_string());
        }
    }
    Ok(out)
}

fn union(project: &Project, args: &[String]) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for arg in args.iter().flat_map(|a| a.split_whitespace()) {
        let mut parts = arg.split(',').filter(|p| !p.is_empty());
        let first = parts
            .next()
            .map(|p| atom(project, p))
            .transpose()?
            .unwrap_or_default();
        let mut acc = first;
        for p in parts {
            let s = atom(project, p)?;
            acc.retain(|id| s.contains(id));
        }
        out.extend(acc);
    }
    Ok(out)
}

fn add_attached_tests(project: &Project, chosen: &mut BTreeSet<String>) {
    let tests: Vec<String> = project
        .nodes
        .values()
        .filter(|n| {
            matches!(n.resource_type, ResourceType::Test | ResourceType::UnitTest)
                && !chosen.contains(&n.unique_id)
        })
        .filter(|n| n.depends_on.iter().any(|d| chosen.contains(d)))
        .map(|n| n.unique_id.clone())
        .collect();
    chosen.extend(tests);
}

struct Atom<'a> {
    at: bool,
    up: Option<Option<usize>>,
    down: Option<Option<usize>>,
    method: Option<&'a str>,
    value: &'a str,
}

fn parse_atom(s: &str) -> Result<Atom<'_>> {
    let bad = |m: &str| ProjectError::Selector {
        selector: s.to_string(),
        message: m.to_string(),
    };
    let mut rest = s;
    let at = rest.starts_with('@');
    if at {
        rest = &rest[1..];
    }
    let mut up = None;
    if let Some(pos) = rest.find('+')
        && rest[..pos].chars().all(|c| c.is_ascii_digit())
        && !rest[..pos].contains(':')
    {
        let n = &rest[..pos];
        up = Some(if n.is_empty() {
            None
        } else {
            Some(n.parse().map_err(|_| bad("bad depth"))?)
        });
        rest = &rest[pos + 1..];
    }
    let mut down = None;
    if let Some(pos) = rest.rfind('+') {
        let n = &rest[pos + 1..];
        if n.chars().all(|c| c.is_ascii_digit()) {
            down = Some(if n.is_empty() {
                None
            } else {
                Some(n.parse().map_err(|_| bad("bad depth"))?)
            });
            rest = &rest[..pos];
        }
    }
    if at && (up.is_some() || down.is_some()) {
        return Err(bad("`@` cannot be combined with `+`"));
    }
    if rest.is_empty() {
        return Err(bad("nothing to select"));
    }
    let (method, value) = match rest.split_once(':') {
        Some((m, v)) => (Some(m), v),
        None => (None, rest),
    };
    Ok(Atom {
        at,
        up,
        down,
        method,
        value,
    })
}

fn atom(project: &Project, s: &str) -> Result<BTreeSet<String>> {
    let a = parse_atom(s)?;
    let base = matches(project, &a, s)?;
    let mut out = base.clone();
    for id in &base {
        if let Some(depth) = a.up {
            out.extend(project.graph.ancestors(id, depth));
        }
        if let Some(depth) = a.down {
            out.extend(project.graph.descendants(id, depth));
        }
        if a.at {
            for d in project.graph.descendants(id, None) {
                out.extend(project.graph.ancestors(&d, None));
                out.insert(d);
            }
        }
    }
    Ok(out)
}

fn glob_match(pattern: &str, s: &str) -> bool {
    if !pattern.contains('*') && !pattern.contains('?') {
        return pattern == s;
    }
    let mut re = String::from("^");
    for c in pattern.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(s))
}

fn matches(project: &Project, a: &Atom<'_>, raw: &str) -> Result<BTreeSet<String>> {
    let v = a.value;
    let mut out = BTreeSet::new();
    match a.method {
        None | Some("fqn") => {
            for n in project.nodes.values() {
                let fqn = n.fqn.join(".");
                let hit = glob_match(v, &n.name)
                    || glob_match(v, &fqn)
                    || fqn.ends_with(&format!(".{v}"))
                    || (n.fqn.len() > 1
                        && v.contains('.')
                        && fqn.starts_with(&format!("{}.{v}.", project.name)))
                    || (a.method.is_none()
                        && (v.contains('/') || v.ends_with(".sql"))
                        && path_match(v, &n.path))
                    || (n.fqn.len() > 1
                        && n.fqn[1..n.fqn.len() - 1].iter().any(|f| f == v)
                        && !v.contains('.'));
                if hit {
                    out.insert(n.unique_id.clone());
                }
            }
            if a.method.is_none() && v == project.name {
                out.extend(project.nodes.keys().cloned());
            }
        }
        Some("tag") => {
            out.extend(
                project
                    .nodes
                    .values()
                    .filter(|n| n.config.tags.iter().any(|t| glob_match(v, t)))
                    .map(|n| n.unique_id.clone()),
            );
        }
        Some("path") | Some("file") => {
            out.extend(
                project
                    .nodes
                    .values()
                    .filter(|n| path_match(v, &n.path))
                    .map(|n| n.unique_id.clone()),
            );
        }
        Some("resource_type") => {
            out.extend(
                project
                    .nodes
                    .values()
                    .filter(|n| n.resource_type.as_str() == v)
                    .map(|n| n.unique_id.clone()),
            );
            if v == "source" {
                out.extend(project.sources.keys().cloned());
            }
        }
        Some("package") => {
            out.extend(
                project
                    .nodes
                    .values()
                    .filter(|n| glob_match(v, n.package()))
                    .map(|n| n.unique_id.clone()),
            );
        }
        Some("source") => {
            let (src, table) = v.split_once('.').unwrap_or((v, "*"));
            out.extend(
                project
                    .sources
                    .values()
                    .filter(|s| glob_match(src, &s.source_name) && glob_match(table, &s.name))
                    .map(|s| s.unique_id.clone()),
            );
        }
        Some("test_type") => {
            out.extend(
                project
                    .nodes
                    .values()
                    .filter(|n| {
                        matches!(
                            (&n.test, v),
                            (Some(TestKind::Generic { .. }), "generic")
                                | (Some(TestKind::Singular), "singular")
                                | (Some(TestKind::Unit(_)), "unit")
                                | (Some(TestKind::Generic { .. } | TestKind::Singular), "data")
                        )
                    })
                    .map(|n| n.unique_id.clone()),
            );
        }
        Some("unit_test") => {
            out.extend(
                project
                    .nodes
                    .values()
                    .filter(|n| n.resource_type == ResourceType::UnitTest && glob_match(v, &n.name))
                    .map(|n| n.unique_id.clone()),
            );
        }
        Some("state") => {
            let Some(state) = &project.state else {
                return Err(ProjectError::Selector {
                    selector: raw.to_string(),
                    message: "`state:` compares with an earlier run's manifest\nhint: pass --state DIR, a folder holding the manifest.json of that run (e.g. a copy of its target/)".into(),
                });
            };
            let pick = |n: &crate::node::Node| -> Option<bool> {
                let change = state.change(n);
                Some(match v {
                    "new" => change == crate::state::Change::New,
                    "modified" => change != crate::state::Change::Same,
                    "modified.body" => matches!(
                        change,
                        crate::state::Change::New
                            | crate::state::Change::Body
                            | crate::state::Change::Both
                    ),
                    "modified.configs" => matches!(
                        change,
                        crate::state::Change::Configs | crate::state::Change::Both
                    ),
                    "unmodified" => change == crate::state::Change::Same,
                    "old" => change != crate::state::Change::New,
                    _ => return None,
                })
            };
            for n in project.nodes.values() {
                match pick(n) {
                    Some(true) => {
                        out.insert(n.unique_id.clone());
                    }
                    Some(false) => {}
                    None => {
                        return Err(ProjectError::Selector {
                            selector: raw.to_string(),
                            message: format!(
                                "unknown state `{v}`\nhint: use state:modified, state:new, state:modified.body, state:modified.configs, state:unmodified or state:old"
                            ),
                        });
                    }
                }
            }
        }
        Some("test_name") => {
            out.extend(
                project
                    .nodes
                    .values()
                    .filter(|n| matches!(&n.test, Some(TestKind::Generic { name, .. }) if glob_match(v, name)))
                    .map(|n| n.unique_id.clone()),
            );
        }
        Some(m) if m.starts_with("config.") => {
            let key = &m["config.".len()..];
            out.extend(
                project
                    .nodes
                    .values()
                    .filter(|n| match n.config.raw.get(key) {
                        Some(serde_json::Value::Array(a)) => a
                            .iter()
                            .any(|x| glob_match(v, &crate::config::json_to_plain_string(x))),
                        Some(x) => glob_match(v, &crate::config::json_to_plain_string(x)),
                        None => {
                            key == "materialized" && glob_match(v, n.config.materialized.as_str())
                        }
                    })
                    .map(|n| n.unique_id.clone()),
            );
        }
        Some(m) => {
            return Err(ProjectError::Selector {
                selector: raw.to_string(),
                message: format!(
                    "unknown selector method `{m}`\nhint: use tag:, path:, config.<key>:, resource_type:, source:, fqn:, test_type:, test_name:, unit_test: or state:"
                ),
            });
        }
    }
    Ok(out)
}

fn path_match(pattern: &str, path: &str) -> bool {
    let p = pattern.trim_end_matches('/');
    glob_match(p, path) || path.starts_with(&format!("{p}/")) || path == p
}
