//! Jinja rendering of models, tests and YAML snippets with minijinja, exposing the functions dbt
//! users write: ref(), source(), config(), var(), env_var(), is_incremental(), this, target,
//! and the macros found under macro-paths.
//!
//! A node is rendered twice: once while the project loads (parse mode: ref/source/config calls
//! are recorded, relations are placeholders) and once before it runs (compile mode: every ref
//! resolves to its real relation, and is_incremental() knows whether the table exists).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Kwargs, Object, Value};
use minijinja::{Environment, ErrorKind, State, UndefinedBehavior};

use crate::config::ConfigLayer;
use crate::error::{ProjectError, Result};
use crate::node::Relation;

const MACROS_TEMPLATE: &str = "__lakeforge_macros__";
const CAPTURE_KEY: &str = "__lakeforge_capture";
/// Context keys holding a unit test's `overrides:` of var() and env_var().
pub const VAR_OVERRIDES: &str = "__lakeforge_var_overrides";
pub const ENV_OVERRIDES: &str = "__lakeforge_env_overrides";

/// How ref() and source() resolve while compiling.
pub trait RelationResolver: Send + Sync {
    fn resolve_ref(
        &self,
        package: Option<&str>,
        name: &str,
    ) -> std::result::Result<Relation, String>;
    fn resolve_source(&self, source: &str, table: &str) -> std::result::Result<Relation, String>;
}

/// What one render recorded about the node.
#[derive(Debug, Default, Clone)]
pub struct Captured {
    /// (package, name) of every ref() call.
    pub refs: Vec<(Option<String>, String)>,
    /// (source, table) of every source() call.
    pub sources: Vec<(String, String)>,
    /// Keys passed to config().
    pub config: ConfigLayer,
}

/// Per-render inputs.
pub struct RenderRequest<'a> {
    /// Template name used in error messages: the path relative to the project root.
    pub file: &'a str,
    pub source: &'a str,
    /// `None` renders in parse mode.
    pub resolver: Option<Arc<dyn RelationResolver>>,
    pub this: Option<Relation>,
    pub is_incremental: bool,
}

#[derive(Debug)]
struct Capture {
    state: Mutex<Captured>,
    resolver: Option<Arc<dyn RelationResolver>>,
}

impl fmt::Debug for dyn RelationResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RelationResolver")
    }
}

impl Object for Capture {}

/// A relation as Jinja sees it: renders as `schema.identifier`, with dbt's attributes.
#[derive(Debug)]
struct RelationValue(Relation);

impl Object for RelationValue {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "schema" => Some(Value::from(self.0.schema.clone())),
            "identifier" | "name" | "table" => Some(Value::from(self.0.identifier.clone())),
            "database" => Some(Value::from("lake")),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A relation as a Jinja value (renders as `schema.identifier`, with dbt's attributes).
pub fn relation_value(r: &Relation) -> Value {
    Value::from_object(RelationValue(r.clone()))
}

/// The Jinja environment of one project: its macros, vars and target.
pub struct Jinja {
    env: Environment<'static>,
    macro_names: std::collections::HashSet<String>,
    /// `{% from ... import ... %}` put in front of every template so macros are callable by name.
    import_prefix: String,
}

/// Variables and target visible to templates.
#[derive(Debug, Clone, Default)]
pub struct JinjaGlobals {
    pub vars: BTreeMap<String, serde_json::Value>,
    pub target_name: String,
    pub target_schema: String,
    pub threads: usize,
    pub project_name: String,
}

impl Jinja {
    /// Build the environment. `macro_files` are (path, source) pairs from macro-paths.
    pub fn new(globals: &JinjaGlobals, macro_files: &[(String, String)]) -> Result<Self> {
        let mut env = base_environment();
        let vars = Arc::new(globals.vars.clone());
        env.add_function("var", move |state: &State, name: String, default: Option<Value>| {
            // A unit test's `overrides: vars:` win over the project's vars.
            if let Some(v) = state
                .lookup(VAR_OVERRIDES)
                .and_then(|o| o.get_attr(&name).ok())
                .filter(|v| !v.is_undefined())
            {
                return Ok(v);
            }
            match vars.get(&name) {
                Some(v) => Ok(Value::from_serialize(v)),
                None => default.ok_or_else(|| {
                    minijinja::Error::new(
                        ErrorKind::InvalidOperation,
                        format!(
                            "required var `{name}` is not set\nhint: add it under `vars:` in dbt_project.yml, pass --vars '{{{name}: ...}}', or give var() a default"
                        ),
                    )
                }),
            }
        });
        env.add_global(
            "target",
            Value::from_serialize(serde_json::json!({
                "name": globals.target_name,
                "schema": globals.target_schema,
                "type": "lakeforge",
                "database": "lake",
                "threads": globals.threads,
                "profile_name": globals.project_name,
            })),
        );
        env.add_global("project_name", Value::from(globals.project_name.clone()));

        // Every macro file becomes part of one template so macros can call each other.
        let mut all = String::new();
        let mut names = Vec::new();
        let macro_re = regex::Regex::new(r"\{%-?\s*macro\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(").unwrap();
        for (path, src) in macro_files {
            let src = &generic_tests_as_macros(src);
            env.add_template_owned(path.clone(), src.clone())
                .map_err(|e| jinja_error(path, src, 0, e))?;
            names.extend(macro_re.captures_iter(src).map(|c| c[1].to_string()));
            all.push_str(src);
            all.push('\n');
        }
        env.add_template_owned(MACROS_TEMPLATE, all)
            .map_err(|e| jinja_error("macros", "", 0, e))?;
        let import_prefix = if names.is_empty() {
            String::new()
        } else {
            format!(
                "{{% from \"{MACROS_TEMPLATE}\" import {} %}}",
                names.join(", ")
            )
        };
        let macro_names = names.iter().cloned().collect();
        Ok(Jinja {
            env,
            macro_names,
            import_prefix,
        })
    }

    /// Whether a macro of this name is defined under macro-paths (generic tests defined with
    /// `{% test name(...) %}` are macros named `test_<name>`).
    pub fn has_macro(&self, name: &str) -> bool {
        self.macro_names.contains(name)
    }

    /// Render a template, returning the text and what it recorded.
    pub fn render(&self, req: RenderRequest<'_>) -> Result<(String, Captured)> {
        self.render_with(req, BTreeMap::new())
    }

    /// Render with extra context variables (e.g. a generic test's `model` and arguments).
    pub fn render_with(
        &self,
        req: RenderRequest<'_>,
        extra: BTreeMap<String, Value>,
    ) -> Result<(String, Captured)> {
        let capture = Arc::new(Capture {
            state: Mutex::new(Captured::default()),
            resolver: req.resolver.clone(),
        });
        let source = format!("{}{}", self.import_prefix, req.source);
        let this = match &req.this {
            Some(r) => Value::from_object(RelationValue(r.clone())),
            None => Value::UNDEFINED,
        };
        let mut ctx: BTreeMap<String, Value> = extra;
        ctx.insert("this".into(), this);
        ctx.insert("execute".into(), Value::from(req.resolver.is_some()));
        ctx.insert(
            "__lakeforge_incremental".into(),
            Value::from(req.is_incremental),
        );
        ctx.insert(CAPTURE_KEY.into(), Value::from_dyn_object(capture.clone()));
        let ctx = Value::from(ctx);
        let out = self
            .env
            .render_named_str(req.file, &source, ctx)
            .map_err(|e| jinja_error(req.file, &source, self.import_prefix.len(), e))?;
        let captured = capture.state.lock().unwrap().clone();
        Ok((out, captured))
    }
}

/// dbt's generic tests are written `{% test name(model, column_name) %}...{% endtest %}`;
/// they become macros named `test_<name>`, which is also how dbt names them internally.
fn generic_tests_as_macros(src: &str) -> String {
    let open = regex::Regex::new(r"\{%(-?)\s*test\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(").unwrap();
    let close = regex::Regex::new(r"\{%(-?)\s*endtest\s*(-?)%\}").unwrap();
    let s = open.replace_all(src, "{%${1} macro test_${2}(");
    close.replace_all(&s, "{%${1} endmacro ${2}%}").into_owned()
}

/// An environment with dbt's functions that need no project (used for profiles.yml too).
fn base_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.add_function("env_var", |state: &State, name: String, default: Option<String>| {
        if let Some(v) = state
            .lookup(ENV_OVERRIDES)
            .and_then(|o| o.get_attr(&name).ok())
            .filter(|v| !v.is_undefined())
        {
            return Ok(v.to_string());
        }
        match std::env::var(&name) {
            Ok(v) => Ok(v),
            Err(_) => default.ok_or_else(|| {
                minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    format!("environment variable `{name}` is not set\nhint: export it, or give env_var() a default"),
                )
            }),
        }
    });
    env.add_function("ref", ref_fn);
    env.add_function("source", source_fn);
    env.add_function("config", config_fn);
    env.add_function("is_incremental", |state: &State| -> bool {
        state
            .lookup("__lakeforge_incremental")
            .is_some_and(|v| v.is_true())
    });
    env.add_function(
        "log",
        |msg: Value, kwargs: Kwargs| -> std::result::Result<String, minijinja::Error> {
            let info: Option<bool> = kwargs.get("info")?;
            kwargs.assert_all_used()?;
            if info.unwrap_or(false) {
                eprintln!("{msg}");
            }
            Ok(String::new())
        },
    );
    env.add_filter("as_bool", |v: Value| -> bool {
        match v.as_str() {
            Some(s) => matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "1"),
            None => v.is_true(),
        }
    });
    env.add_filter(
        "as_number",
        |v: Value| -> std::result::Result<Value, minijinja::Error> {
            if v.is_number() {
                return Ok(v);
            }
            let s = v.to_string();
            s.trim()
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| s.trim().parse::<f64>().map(Value::from))
                .map_err(|_| {
                    minijinja::Error::new(
                        ErrorKind::InvalidOperation,
                        format!("`{s}` is not a number"),
                    )
                })
        },
    );
    env.add_filter("as_text", |v: Value| v.to_string());
    env
}

fn capture_of(state: &State) -> Option<Arc<Capture>> {
    state
        .lookup(CAPTURE_KEY)
        .and_then(|v| v.downcast_object::<Capture>())
}

fn ref_fn(
    state: &State,
    a: String,
    b: Option<String>,
    kwargs: Kwargs,
) -> std::result::Result<Value, minijinja::Error> {
    // ref('model', version=2): versions are accepted and ignored.
    let _: Option<Value> = kwargs.get("version")?;
    let _: Option<Value> = kwargs.get("v")?;
    let (package, name) = match b {
        Some(b) => (Some(a), b),
        None => (None, a),
    };
    let Some(capture) = capture_of(state) else {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            "ref() is not available here",
        ));
    };
    capture
        .state
        .lock()
        .unwrap()
        .refs
        .push((package.clone(), name.clone()));
    let relation = match &capture.resolver {
        Some(r) => r
            .resolve_ref(package.as_deref(), &name)
            .map_err(|m| minijinja::Error::new(ErrorKind::InvalidOperation, m))?,
        None => Relation::new("__ref__", name),
    };
    Ok(Value::from_object(RelationValue(relation)))
}

fn source_fn(
    state: &State,
    source: String,
    table: String,
) -> std::result::Result<Value, minijinja::Error> {
    let Some(capture) = capture_of(state) else {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            "source() is not available here",
        ));
    };
    capture
        .state
        .lock()
        .unwrap()
        .sources
        .push((source.clone(), table.clone()));
    let relation = match &capture.resolver {
        Some(r) => r
            .resolve_source(&source, &table)
            .map_err(|m| minijinja::Error::new(ErrorKind::InvalidOperation, m))?,
        None => Relation::new(format!("__source__{source}"), table),
    };
    Ok(Value::from_object(RelationValue(relation)))
}

fn config_fn(state: &State, kwargs: Kwargs) -> std::result::Result<String, minijinja::Error> {
    if let Some(capture) = capture_of(state) {
        let mut captured = capture.state.lock().unwrap();
        for key in kwargs.args() {
            let value: Value = kwargs.get(key)?;
            let json = serde_json::to_value(&value).unwrap_or(serde_json::Value::Null);
            captured.config.insert(key.replace('-', "_"), json);
        }
    }
    Ok(String::new())
}

/// Render a standalone text (profiles.yml) with env_var() only.
pub(crate) fn render_standalone(text: &str, file: &str) -> Result<String> {
    let mut env = base_environment();
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.render_named_str(file, text, ())
        .map_err(|e| jinja_error(file, text, 0, e))
}

/// Turn a minijinja error into one naming the file, line and (for undefined values) the name.
fn jinja_error(file: &str, source: &str, prefix_len: usize, err: minijinja::Error) -> ProjectError {
    let mut message = match err.detail() {
        Some(d) => d.to_string(),
        None => err.kind().to_string(),
    };
    if err.kind() == ErrorKind::UndefinedError
        && let Some(range) = err.range()
        && let Some(snippet) = source.get(range)
    {
        let _ = prefix_len;
        message = format!(
            "`{}` is undefined\nhint: check the spelling; variables come from var(), macros from macro-paths",
            snippet.trim()
        );
    } else if err.kind() == ErrorKind::UnknownFunction
        && let Some(range) = err.range()
        && let Some(snippet) = source.get(range)
    {
        let name = snippet.split('(').next().unwrap_or(snippet).trim();
        message = format!(
            "unknown function or macro `{name}`\nhint: define it under macro-paths, or check the spelling"
        );
    } else if let Some(cause) = std::error::Error::source(&err) {
        message = format!("{message}: {cause}");
    }
    ProjectError::Jinja {
        file: err.name().unwrap_or(file).to_string(),
        line: err.line(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jinja(macros: &[(&str, &str)]) -> Jinja {
        let globals = JinjaGlobals {
            vars: [("limit".to_string(), serde_json::json!(10))].into(),
            target_name: "dev".into(),
            target_schema: "main".into(),
            threads: 2,
            project_name: "shop".into(),
        };
        let files: Vec<(String, String)> = macros
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        Jinja::new(&globals, &files).unwrap()
    }

    fn parse(j: &Jinja, src: &str) -> Result<(String, Captured)> {
        j.render(RenderRequest {
            file: "models/m.sql",
            source: src,
            resolver: None,
            this: None,
            is_incremental: false,
        })
    }

    #[test]
    fn records_refs_sources_and_config() {
        let j = jinja(&[]);
        let (_, c) = parse(
            &j,
            "{{ config(materialized='table', tags=['x']) }}select * from {{ ref('a') }} join {{ ref('pkg', 'b') }} join {{ source('shop', 'orders') }}",
        )
        .unwrap();
        assert_eq!(
            c.refs,
            vec![(None, "a".into()), (Some("pkg".into()), "b".into())]
        );
        assert_eq!(c.sources, vec![("shop".into(), "orders".into())]);
        assert_eq!(c.config["materialized"], "table");
    }

    #[test]
    fn macros_vars_and_filters() {
        let j = jinja(&[(
            "macros/m.sql",
            "{% macro cents(col) %}({{ col }} / 100.0){% endmacro %}",
        )]);
        let (out, _) = parse(
            &j,
            "select {{ cents('amount') }}, {{ var('limit') }}, {{ var('x', 'd') | upper }}",
        )
        .unwrap();
        assert_eq!(out, "select (amount / 100.0), 10, D");
    }

    #[test]
    fn undefined_names_are_reported_with_line() {
        let j = jinja(&[("macros/m.sql", "{% macro a() %}1{% endmacro %}")]);
        let e = parse(&j, "select 1\nfrom {{ nope }}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("models/m.sql:2"), "{e}");
        assert!(e.contains("`nope` is undefined"), "{e}");
        let e = parse(&j, "select {{ var('missing') }}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("required var `missing`"), "{e}");
    }

    #[test]
    fn generic_test_blocks_become_macros() {
        let j = jinja(&[(
            "tests/generic/positive.sql",
            "{% test positive(model, column_name) %}select * from {{ model }} where {{ column_name }} <= 0{% endtest %}",
        )]);
        assert!(j.has_macro("test_positive"));
        let (out, _) = parse(&j, "{{ test_positive('t', 'x') }}").unwrap();
        assert_eq!(out, "select * from t where x <= 0");
    }

    #[test]
    fn is_incremental_and_this() {
        let j = jinja(&[]);
        let (out, _) = j
            .render(RenderRequest {
                file: "m.sql",
                source: "{% if is_incremental() %}where x > (select max(x) from {{ this }}){% endif %}",
                resolver: None,
                this: Some(Relation::new("main", "m")),
                is_incremental: true,
            })
            .unwrap();
        assert_eq!(out, "where x > (select max(x) from main.m)");
    }
}
