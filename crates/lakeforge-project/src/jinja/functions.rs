//! dbt's context functions that need no database: ref/source/config (recorded while parsing,
//! resolved while compiling), var/env_var, is_incremental, log/print, return, and the filters
//! dbt adds. `base_environment` is also what profiles.yml and packages.yml render with.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Kwargs, Rest, Value};
use minijinja::{Environment, ErrorKind, State, UndefinedBehavior};

use crate::node::Relation;

use super::context::RenderData;
use super::{
    ADAPTER_TYPE, ENV_OVERRIDES, JinjaGlobals, RelationResolver, ResolveError, VAR_OVERRIDES,
    invalid, lock, macros, runtime,
};

/// An environment with dbt's functions that need no project (used for profiles.yml too).
pub(crate) fn base_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.set_recursion_limit(1000);
    env.add_function("env_var", |state: &State, name: String, default: Option<Value>| {
        if let Some(v) = state
            .lookup(ENV_OVERRIDES)
            .and_then(|o| o.get_attr(&name).ok())
            .filter(|v| !v.is_undefined())
        {
            return Ok(v.to_string());
        }
        match std::env::var(&name) {
            Ok(v) => Ok(v),
            Err(_) => default.map(|d| d.to_string()).ok_or_else(|| {
                invalid(format!("environment variable `{name}` is not set\nhint: export it, or give env_var() a default"))
            }),
        }
    });
    env.add_function("ref", ref_fn);
    env.add_function("source", source_fn);
    env.add_global("config", Value::from_object(ConfigFn));
    env.add_function("is_incremental", |state: &State| -> bool {
        state
            .lookup("__lakeforge_incremental")
            .is_some_and(|v| v.is_true())
    });
    env.add_function("log", log_fn);
    env.add_function("print", |msg: Value| {
        eprintln!("{msg}");
        String::new()
    });
    env.add_function("return", macros::return_fn);
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
                .map_err(|_| invalid(format!("`{s}` is not a number")))
        },
    );
    env.add_filter("as_text", |v: Value| v.to_string());
    env.add_filter("as_native", |v: Value| v);
    env
}

/// The project's vars as var() reads them.
pub(crate) type Vars = Arc<BTreeMap<String, serde_json::Value>>;

/// Globals that depend on the project: var(), target, project_name.
pub(crate) fn add_project_globals(
    env: &mut Environment<'static>,
    globals: &JinjaGlobals,
    vars: Vars,
) {
    // The default is taken as given, `none` included (`var('x', none)` is none, as in dbt).
    env.add_function(
        "var",
        move |state: &State, name: String, rest: Rest<Value>| {
            let default = match rest.as_slice() {
                [] => None,
                [d] => Some(d.clone()),
                _ => return Err(invalid("var() takes a name and at most one default")),
            };
            var_value(&vars, state.lookup(VAR_OVERRIDES), &name, default)
        },
    );
    env.add_global(
        "target",
        Value::from_serialize(serde_json::json!({
            "name": globals.target_name,
            "schema": globals.target_schema,
            "type": ADAPTER_TYPE,
            "database": "lake",
            "threads": globals.threads,
            "profile_name": globals.project_name,
        })),
    );
    env.add_global("project_name", Value::from(globals.project_name.clone()));
}

/// What var(`name`, `default`) returns: a unit test's or a package's `overrides` (the
/// `VAR_OVERRIDES` context value) win over the project's vars.
pub(crate) fn var_value(
    vars: &BTreeMap<String, serde_json::Value>,
    overrides: Option<Value>,
    name: &str,
    default: Option<Value>,
) -> Result<Value, minijinja::Error> {
    if let Some(v) = overrides
        .and_then(|o| o.get_attr(name).ok())
        .filter(|v| !v.is_undefined())
    {
        return Ok(v);
    }
    match vars.get(name) {
        Some(v) => Ok(Value::from_serialize(v)),
        None => default.ok_or_else(|| {
            invalid(format!(
                "required var `{name}` is not set\nhint: add it under `vars:` in dbt_project.yml, pass --vars '{{{name}: ...}}', or give var() a default"
            ))
        }),
    }
}

fn log_fn(msg: Value, info: Option<bool>, kwargs: Kwargs) -> Result<String, minijinja::Error> {
    let info = match info {
        Some(i) => Some(i),
        None => kwargs.get("info")?,
    };
    kwargs.assert_all_used()?;
    if info.unwrap_or(false) {
        eprintln!("{msg}");
    }
    Ok(String::new())
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
    let data = render_data(state, "ref")?;
    lock(&data.capture.state)
        .refs
        .push((package.clone(), name.clone()));
    let relation = ref_relation(data.capture.resolver.as_deref(), package.as_deref(), &name)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(runtime::relation_value(&relation))
}

/// The relation ref() returns: the resolver's while compiling, a placeholder while parsing.
pub(crate) fn ref_relation(
    resolver: Option<&dyn RelationResolver>,
    package: Option<&str>,
    name: &str,
) -> Result<Relation, ResolveError> {
    match resolver {
        Some(r) => r.resolve_ref(package, name),
        None => Ok(Relation::new("__ref__", name)),
    }
}

/// The relation source() returns: the resolver's while compiling, a placeholder while parsing.
pub(crate) fn source_relation(
    resolver: Option<&dyn RelationResolver>,
    source: &str,
    table: &str,
) -> Result<Relation, ResolveError> {
    match resolver {
        Some(r) => r.resolve_source(source, table),
        None => Ok(Relation::new(format!("__source__{source}"), table)),
    }
}

fn source_fn(
    state: &State,
    source: String,
    table: String,
) -> std::result::Result<Value, minijinja::Error> {
    let data = render_data(state, "source")?;
    lock(&data.capture.state)
        .sources
        .push((source.clone(), table.clone()));
    let relation = source_relation(data.capture.resolver.as_deref(), &source, &table)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(runtime::relation_value(&relation))
}

/// dbt's `config`: called, it records the node's config (`{{ config(materialized='table') }}`);
/// `config.get(key, default)` and `config.require(key)` read the config the node has so far
/// (its `model.config`, then what this render recorded), as macros and materializations do.
#[derive(Debug)]
struct ConfigFn;

impl minijinja::value::Object for ConfigFn {
    fn call(
        self: &Arc<Self>,
        state: &State<'_, '_>,
        args: &[Value],
    ) -> std::result::Result<Value, minijinja::Error> {
        let (kwargs,): (Kwargs,) = minijinja::value::from_args(args)?;
        if let Some(data) = RenderData::of(state) {
            let mut captured = lock(&data.capture.state);
            for key in kwargs.args() {
                let value: Value = kwargs.get(key)?;
                let json = serde_json::to_value(&value).unwrap_or(serde_json::Value::Null);
                record_config(&mut captured, key, json);
            }
        }
        Ok(Value::from(""))
    }

    fn call_method(
        self: &Arc<Self>,
        state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> std::result::Result<Value, minijinja::Error> {
        let (key, default): (String, Option<Value>) = minijinja::value::from_args(args)?;
        let found = RenderData::of(state).and_then(|data| {
            let recorded = lock(&data.capture.state).config.get(&key).cloned();
            recorded.map(Value::from_serialize).or_else(|| {
                data.vars
                    .get("model")
                    .and_then(|m| m.get_attr("config").ok())
                    .and_then(|c| c.get_attr(&key).ok())
                    .filter(|v| !v.is_undefined() && !v.is_none())
            })
        });
        match (method, found) {
            ("get", found) => Ok(found.or(default).unwrap_or(Value::from(()))),
            ("require", Some(v)) => Ok(v),
            ("require", None) => Err(invalid(format!(
                "required config `{key}` is not set\nhint: set it with config({key}=...) or in dbt_project.yml"
            ))),
            _ => Err(minijinja::Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// What config(`key`=`value`) records.
pub(crate) fn record_config(captured: &mut super::Captured, key: &str, value: serde_json::Value) {
    captured.config.insert(key.replace('-', "_"), value);
}

pub(crate) fn render_data(state: &State, what: &str) -> Result<Arc<RenderData>, minijinja::Error> {
    RenderData::of(state).ok_or_else(|| invalid(format!("{what}() is not available here")))
}
