//! dbt's docs blocks: `{% docs name %}...{% enddocs %}` in the `.md` files under each
//! package's docs-paths, read before properties YAML so that the `doc('name')` and
//! `doc('package', 'name')` calls in its descriptions resolve while the project loads (dbt
//! renders descriptions as Jinja with `doc` in scope). The blocks go to manifest.json's `docs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use minijinja::Value;
use serde::Serialize;

use crate::error::{ProjectError, Result, suggest};
use crate::jinja::{Jinja, RenderRequest};

use super::Scope;
use super::files::read_files;
use super::props::PropsIndex;

/// One docs block, as manifest.json lists it under `docs` (keyed by `doc.<package>.<name>`).
#[derive(Debug, Clone, Serialize)]
pub struct Doc {
    /// The block's text between its tags, trimmed (Markdown, shown as written).
    pub block_contents: String,
    pub name: String,
    /// The file relative to its package's folder.
    pub original_file_path: String,
    pub package_name: String,
    /// The file relative to the root project's folder.
    pub path: String,
    pub resource_type: &'static str,
    pub unique_id: String,
}

/// Every docs block of the root project and its packages, by unique id.
pub(super) fn read_docs(root: &Path, scopes: &[Scope]) -> Result<BTreeMap<String, Doc>> {
    let mut docs: BTreeMap<String, Doc> = BTreeMap::new();
    for scope in scopes {
        let f = &scope.file;
        let dirs: Vec<String> = match &f.docs_paths {
            Some(paths) => paths.clone(),
            None => [
                &f.model_paths,
                &f.seed_paths,
                &f.snapshot_paths,
                &f.analysis_paths,
                &f.macro_paths,
                &f.test_paths,
            ]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
        };
        // Paths may nest or repeat (`models` and `models/docs`): each file is read once.
        let mut seen = BTreeSet::new();
        for (path, text) in read_files(root, &dirs, &["md"])? {
            if !seen.insert(path.clone()) {
                continue;
            }
            for (name, contents) in parse_blocks(&path, &text)? {
                let unique_id = format!("doc.{}.{name}", scope.name);
                if let Some(first) = docs.get(&unique_id) {
                    return Err(ProjectError::Config {
                        path: path.into(),
                        message: format!(
                            "docs block `{name}` is defined twice in package `{}`: in {} and here\nhint: rename or remove one of them",
                            scope.name, first.path
                        ),
                    });
                }
                docs.insert(
                    unique_id.clone(),
                    Doc {
                        block_contents: contents,
                        name,
                        original_file_path: scope.own_path(&path).to_string(),
                        package_name: scope.name.clone(),
                        path: path.clone(),
                        resource_type: "doc",
                        unique_id,
                    },
                );
            }
        }
    }
    Ok(docs)
}

/// The (name, trimmed contents) of each docs block of one file. Text outside blocks is
/// ignored, as dbt ignores it.
fn parse_blocks(path: &str, text: &str) -> Result<Vec<(String, String)>> {
    static OPEN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    static CLOSE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let open = OPEN.get_or_init(|| crate::literal_regex(r"\{%-?\s*docs(?:\s+([^%]*?))?\s*-?%\}"));
    let close = CLOSE.get_or_init(|| crate::literal_regex(r"\{%-?\s*enddocs\b[^%]*-?%\}"));
    let bad = |at: usize, message: String| ProjectError::Config {
        path: format!("{path}:{}", line_of(text, at)).into(),
        message,
    };
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(m) = open.captures_at(text, rest) {
        let whole = m.get(0).map_or(rest..rest, |g| g.range());
        let name = m.get(1).map_or("", |g| g.as_str()).trim();
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(bad(
                whole.start,
                format!(
                    "`{}` does not name its docs block with one word\nhint: write `{{% docs my_name %}}` (letters, digits and `_`)",
                    &text[whole.clone()]
                ),
            ));
        }
        let Some(end) = close.find_at(text, whole.end) else {
            return Err(bad(
                whole.start,
                format!("docs block `{name}` is not closed\nhint: end it with `{{% enddocs %}}`"),
            ));
        };
        let body = &text[whole.end..end.start()];
        if let Some(inner) = open.find(body) {
            return Err(bad(
                whole.end + inner.start(),
                format!(
                    "a docs block starts inside docs block `{name}`\nhint: close `{name}` with `{{% enddocs %}}` first"
                ),
            ));
        }
        out.push((name.to_string(), body.trim().to_string()));
        rest = end.end();
    }
    Ok(out)
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

/// Renders the descriptions of properties YAML with `doc()` in scope.
pub(super) struct DocResolver<'a> {
    pub(super) docs: Arc<BTreeMap<String, Doc>>,
    pub(super) jinja: &'a Jinja,
    /// The root project's name: doc('x') looks there first, as dbt does.
    pub(super) root: &'a str,
    /// The docs blocks each node's or source's descriptions used, by its unique id.
    pub(super) used: Mutex<BTreeMap<String, BTreeSet<String>>>,
}

/// What the `doc()` calls of one description found (unique ids) and the first call that
/// found nothing (package, name).
#[derive(Default)]
struct Calls {
    found: BTreeSet<String>,
    missing: Option<(Option<String>, String)>,
}

impl DocResolver<'_> {
    /// Replace every description of `index` (one package's YAML) by its rendering.
    pub(super) fn resolve(&self, scope: &Scope, index: &mut PropsIndex) -> Result<()> {
        let package = &scope.name;
        let each = |path: &str, owner: &str, what: String, text: &mut Option<String>| match text {
            Some(t) => self.render(scope, path, &[owner], &what, t),
            None => Ok(()),
        };
        for (kind, entries) in [("model", &mut index.models), ("seed", &mut index.seeds)] {
            for (name, (path, r)) in entries.iter_mut() {
                let owner = format!("{kind}.{package}.{name}");
                each(path, &owner, format!("{kind} `{name}`"), &mut r.description)?;
                for c in &mut r.columns {
                    let what = format!("column `{}` of {kind} `{name}`", c.name);
                    each(path, &owner, what, &mut c.description)?;
                }
            }
        }
        for (path, r) in &mut index.snapshots {
            let owner = format!("snapshot.{package}.{}", r.name);
            each(
                path,
                &owner,
                format!("snapshot `{}`", r.name),
                &mut r.description,
            )?;
            for c in &mut r.columns {
                let what = format!("column `{}` of snapshot `{}`", c.name, r.name);
                each(path, &owner, what, &mut c.description)?;
            }
        }
        for (path, s) in &mut index.sources {
            // A source's own description is shown with each of its tables.
            let tables: Vec<String> = s
                .tables
                .iter()
                .map(|t| format!("source.{package}.{}.{}", s.name, t.name))
                .collect();
            if let Some(t) = &mut s.description {
                let owners: Vec<&str> = tables.iter().map(String::as_str).collect();
                self.render(scope, path, &owners, &format!("source `{}`", s.name), t)?;
            }
            for (t, owner) in s.tables.iter_mut().zip(&tables) {
                let table = format!("source table `{}.{}`", s.name, t.name);
                each(path, owner, table.clone(), &mut t.description)?;
                for c in &mut t.columns {
                    let what = format!("column `{}` of {table}", c.name);
                    each(path, owner, what, &mut c.description)?;
                }
            }
        }
        for (path, m) in &mut index.ml_models {
            let owner = format!("ml_model.{package}.{}", m.name);
            each(
                path,
                &owner,
                format!("ML model `{}`", m.name),
                &mut m.description,
            )?;
        }
        for (path, u) in &mut index.unit_tests {
            let owner = format!("unit_test.{package}.{}.{}", u.model, u.name);
            each(
                path,
                &owner,
                format!("unit test `{}`", u.name),
                &mut u.description,
            )?;
        }
        Ok(())
    }

    /// Render one description in place. Text without Jinja is left as it is (it renders to
    /// itself), so most descriptions cost nothing.
    fn render(
        &self,
        scope: &Scope,
        path: &str,
        owners: &[&str],
        what: &str,
        text: &mut String,
    ) -> Result<()> {
        if !(text.contains("{{") || text.contains("{%") || text.contains("{#")) {
            return Ok(());
        }
        let calls: Arc<Mutex<Calls>> = Arc::default();
        let mut extra = scope.render_extra();
        extra.insert("doc".to_string(), self.doc_function(&scope.name, &calls));
        let rendered = self.jinja.render_with(
            RenderRequest {
                file: path,
                source: text,
                package: Some(scope.name.as_str()).filter(|_| !scope.is_root),
                ..Default::default()
            },
            extra,
        );
        let calls = std::mem::take(&mut *crate::jinja::lock(&calls));
        if let Some((package, name)) = calls.missing {
            return Err(self.unknown(path, what, package.as_deref(), &name));
        }
        *text = rendered?.0;
        if !calls.found.is_empty() {
            let mut used = crate::jinja::lock(&self.used);
            for owner in owners {
                used.entry(owner.to_string())
                    .or_default()
                    .extend(calls.found.iter().cloned());
            }
        }
        Ok(())
    }

    /// `doc(name)` / `doc(package, name)` for a description of `package`'s YAML.
    fn doc_function(&self, package: &str, calls: &Arc<Mutex<Calls>>) -> Value {
        let docs = self.docs.clone();
        let order = [self.root.to_string(), package.to_string()];
        let calls = calls.clone();
        Value::from_function(
            move |first: String,
                  second: Option<String>|
                  -> std::result::Result<String, minijinja::Error> {
                let (package, name) = match second {
                    Some(name) => (Some(first), name),
                    None => (None, first),
                };
                let mut calls = crate::jinja::lock(&calls);
                match lookup(&docs, &order, package.as_deref(), &name) {
                    Some(doc) => {
                        calls.found.insert(doc.unique_id.clone());
                        Ok(doc.block_contents.clone())
                    }
                    None => {
                        calls.missing.get_or_insert((package, name.clone()));
                        Err(crate::jinja::invalid(format!(
                            "no docs block named `{name}`"
                        )))
                    }
                }
            },
        )
    }

    fn unknown(&self, path: &str, what: &str, package: Option<&str>, name: &str) -> ProjectError {
        let names: Vec<&str> = self
            .docs
            .values()
            .filter(|d| package.is_none_or(|p| d.package_name == p))
            .map(|d| d.name.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let call = match package {
            Some(p) => format!("doc('{p}', '{name}')"),
            None => format!("doc('{name}')"),
        };
        let hint = match (suggest(name, names.iter().copied()), names.is_empty()) {
            (Some(s), _) => format!("did you mean `{s}`? The docs blocks are: {}", list(&names)),
            (None, false) => format!("the docs blocks are: {}", list(&names)),
            (None, true) => "define it in a `.md` file under the docs-paths (models/ by default): `{% docs name %}...{% enddocs %}`".to_string(),
        };
        ProjectError::Config {
            path: path.into(),
            message: format!(
                "the description of {what} calls {call}, but no docs block has that name\nhint: {hint}"
            ),
        }
    }
}

/// dbt's search for `doc(name)`: the root project, then the package of the description, then
/// any package; `doc(package, name)` looks in that package only.
fn lookup<'d>(
    docs: &'d BTreeMap<String, Doc>,
    order: &[String; 2],
    package: Option<&str>,
    name: &str,
) -> Option<&'d Doc> {
    if let Some(p) = package {
        return docs.get(&format!("doc.{p}.{name}"));
    }
    order
        .iter()
        .find_map(|p| docs.get(&format!("doc.{p}.{name}")))
        .or_else(|| docs.values().find(|d| d.name == name))
}

fn list(names: &[&str]) -> String {
    const SHOWN: usize = 20;
    let mut out: Vec<String> = names.iter().take(SHOWN).map(|n| format!("`{n}`")).collect();
    if names.len() > SHOWN {
        out.push(format!("and {} more", names.len() - SHOWN));
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_read_with_their_names_and_trimmed_contents() {
        let text = "intro ignored\n{% docs orders %}\nOne row per **order**.\n\n- a\n{% enddocs %}\n\n{%- docs status_42 -%}Status{%- enddocs -%}\n";
        let blocks = parse_blocks("models/docs.md", text).unwrap();
        assert_eq!(
            blocks,
            vec![
                (
                    "orders".to_string(),
                    "One row per **order**.\n\n- a".to_string()
                ),
                ("status_42".to_string(), "Status".to_string()),
            ]
        );
    }

    #[test]
    fn malformed_blocks_are_errors_naming_the_file_and_line() {
        let unclosed = parse_blocks("models/d.md", "x\n{% docs a %}\ntext")
            .unwrap_err()
            .to_string();
        assert!(
            unclosed.starts_with("models/d.md:2: docs block `a` is not closed"),
            "{unclosed}"
        );
        assert!(
            unclosed.contains("hint: end it with `{% enddocs %}`"),
            "{unclosed}"
        );
        let nameless = parse_blocks("models/d.md", "{% docs %}x{% enddocs %}")
            .unwrap_err()
            .to_string();
        assert!(
            nameless.contains("does not name its docs block"),
            "{nameless}"
        );
        let two_words = parse_blocks("models/d.md", "{% docs a b %}x{% enddocs %}")
            .unwrap_err()
            .to_string();
        assert!(
            two_words.contains("does not name its docs block"),
            "{two_words}"
        );
        let nested = parse_blocks("models/d.md", "{% docs a %}\n{% docs b %}x{% enddocs %}")
            .unwrap_err()
            .to_string();
        assert!(
            nested.starts_with("models/d.md:2: a docs block starts inside docs block `a`"),
            "{nested}"
        );
    }

    fn doc(package: &str, name: &str) -> (String, Doc) {
        let unique_id = format!("doc.{package}.{name}");
        let d = Doc {
            block_contents: format!("{name} of {package}"),
            name: name.into(),
            original_file_path: "models/d.md".into(),
            package_name: package.into(),
            path: "models/d.md".into(),
            resource_type: "doc",
            unique_id: unique_id.clone(),
        };
        (unique_id, d)
    }

    #[test]
    fn doc_looks_in_the_root_project_then_the_package_then_anywhere() {
        let docs: BTreeMap<String, Doc> = [
            doc("root", "shared"),
            doc("pkg", "shared"),
            doc("pkg", "own"),
            doc("other", "far"),
        ]
        .into_iter()
        .collect();
        let order = ["root".to_string(), "pkg".to_string()];
        let found = |p: Option<&str>, n: &str| {
            lookup(&docs, &order, p, n).map(|d| d.block_contents.clone())
        };
        assert_eq!(found(None, "shared").as_deref(), Some("shared of root"));
        assert_eq!(
            found(Some("pkg"), "shared").as_deref(),
            Some("shared of pkg")
        );
        assert_eq!(found(None, "own").as_deref(), Some("own of pkg"));
        assert_eq!(found(None, "far").as_deref(), Some("far of other"));
        assert_eq!(found(Some("root"), "far"), None);
        assert_eq!(found(None, "nowhere"), None);
    }
}
