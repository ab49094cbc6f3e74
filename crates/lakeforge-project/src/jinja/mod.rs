//! Jinja rendering of models, tests, hooks and YAML snippets with minijinja: dbt's runtime as
//! macros in real projects and packages expect it (ref/source/config/var, `this`, `execute`,
//! `adapter`, `return()`, `run_query`, statements, relations, per-package macro namespaces and
//! `adapter.dispatch`).
//!
//! A node is rendered twice: once while the project loads (parse mode: ref/source/config calls
//! are recorded, relations are placeholders, no adapter so `execute` is false) and once before it
//! runs (compile mode: every ref resolves to its real relation, is_incremental() knows whether
//! the table exists, and with an adapter macros may query the lake). A node whose only Jinja is
//! ref/source/config/var with literal arguments is spliced both times without minijinja
//! (`simple.rs`), with the same text and the same recorded calls.
//!
//! The flow inside: [`Jinja::new`] splits every macro file of every package into one compiled
//! template per macro (`macros.rs`), once per load. A render evaluates the node's template
//! against a context object (`context.rs`) that resolves names the way dbt does for the package
//! being rendered; each macro call evaluates that macro's own template (so a macro's `return()`
//! ends that call only). `functions.rs` holds dbt's context functions, `runtime.rs` the database
//! side (adapter, relations, columns, agate-like tables), `pycompat.rs` Python's methods and
//! mutable lists/dicts, `modules.rs` dbt's `modules`/`exceptions`/serialisation helpers,
//! `rewrite.rs` the source rewrite that makes list and dict literals mutable, `builtin/` dbt's
//! global macros in DataFusion SQL, `errors.rs` error messages.

mod context;
mod errors;
mod functions;
mod macros;
mod modules;
mod pycompat;
mod rewrite;
mod runtime;
mod simple;
mod test_call;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use crate::adapter::Adapter;
use crate::error::Result;
use crate::node::Relation;

pub use context::Captured;
use context::{Capture, RenderCtx, RenderData};
use macros::MacroIndex;
pub(crate) use modules::md5_hex;
pub use test_call::TestCall;

/// An error in what a template asked for (an argument, a name, a value): minijinja's
/// `InvalidOperation`, which the runtime shows with the file, line and macro chain.
pub(crate) fn invalid(message: impl Into<String>) -> minijinja::Error {
    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, message.into())
}

/// The data behind one of the runtime's mutexes. They guard short pushes and copies; a panic
/// in one already failed its render, so what it left is as good as anything to go on with.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Context keys holding a unit test's `overrides:` of var() and env_var().
pub const VAR_OVERRIDES: &str = "__lakeforge_var_overrides";
pub const ENV_OVERRIDES: &str = "__lakeforge_env_overrides";

/// The adapter type Lakeforge reports as `target.type` and `adapter.type()`, and the adapter it
/// inherits macros from: `adapter.dispatch` tries `lakeforge__x`, then `postgres__x` (DataFusion's
/// SQL is close to PostgreSQL's), then `default__x`.
pub const ADAPTER_TYPE: &str = "lakeforge";
pub const PARENT_ADAPTER_TYPES: &[&str] = &["postgres"];
/// The namespace of dbt's global macros (`dbt.dateadd(...)`), which Lakeforge writes itself.
pub const BUILTIN_PACKAGE: &str = "dbt";

/// How ref() and source() resolve while compiling.
pub trait RelationResolver: Send + Sync {
    fn resolve_ref(
        &self,
        package: Option<&str>,
        name: &str,
    ) -> std::result::Result<Relation, ResolveError>;
    fn resolve_source(
        &self,
        source: &str,
        table: &str,
    ) -> std::result::Result<Relation, ResolveError>;
}

/// A ref() or source() that names nothing; the Jinja runtime adds the file and line of the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "{} is not a model, seed or snapshot of this project or its packages{}",
        match package { Some(p) => format!("ref('{p}', '{name}')"), None => format!("ref('{name}')") },
        crate::error::hint_suffix(suggestion)
    )]
    Ref {
        package: Option<String>,
        name: String,
        suggestion: Option<String>,
    },

    #[error("source('{source_name}', '{table}') is not declared in any properties YAML file")]
    Source { source_name: String, table: String },
}

impl std::fmt::Debug for dyn RelationResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelationResolver")
    }
}

/// Per-render inputs.
#[derive(Default)]
pub struct RenderRequest<'a> {
    /// Template name used in error messages: the path relative to the project root.
    pub file: &'a str,
    pub source: &'a str,
    /// `None` renders in parse mode.
    pub resolver: Option<Arc<dyn RelationResolver>>,
    pub this: Option<Relation>,
    pub is_incremental: bool,
    /// The database macros may query; `None` while parsing (dbt's `execute` is false then).
    pub adapter: Option<Arc<dyn Adapter>>,
    /// The package the node belongs to (its macros are found first); `None` for the root project.
    pub package: Option<&'a str>,
}

/// What a macro called from Rust can see (the same things a node render has).
#[derive(Default)]
pub struct MacroCall<'a> {
    /// Who is calling, for error messages (a node's path, `on-run-start`, `run-operation`).
    pub file: &'a str,
    pub adapter: Option<Arc<dyn Adapter>>,
    pub this: Option<Relation>,
    pub resolver: Option<Arc<dyn RelationResolver>>,
    /// Extra context variables (`model`, a hook's `results`...).
    pub extra: BTreeMap<String, Value>,
}

/// The macro files of one package (or of the root project, always `packages[0]`).
#[derive(Debug, Clone, Default)]
pub struct MacroPackage {
    pub name: String,
    /// (path relative to the project root, used in errors; file source).
    pub files: Vec<(String, String)>,
}

/// One entry of the root dbt_project.yml's `dispatch:`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchConfig {
    pub macro_namespace: String,
    pub search_order: Vec<String>,
}

/// Variables and target visible to templates.
#[derive(Debug, Clone, Default)]
pub struct JinjaGlobals {
    pub vars: BTreeMap<String, serde_json::Value>,
    pub target_name: String,
    pub target_schema: String,
    pub threads: usize,
    pub project_name: String,
    pub dispatch: Vec<DispatchConfig>,
}

/// The Jinja environment of one project: its packages' macros, vars and target. Built once per
/// load; rendering never re-parses macros.
pub struct Jinja {
    /// Renders nodes: a name that is not defined fails when printed (a typo in a model is
    /// caught here, not as odd SQL), but `{% if x %}` on one is false.
    env: Environment<'static>,
    /// Runs macros with jinja2's default undefined, as dbt does at run time: an argument the
    /// caller left out prints as an empty string (packages rely on it).
    macro_env: Arc<Environment<'static>>,
    index: Arc<MacroIndex>,
    /// The project's vars (var() reads them; so do templates rendered without minijinja).
    vars: functions::Vars,
}

impl Jinja {
    /// Build the environment. `packages[0]` is the root project; dbt's global macros are added
    /// as the package `dbt`.
    pub fn new(globals: &JinjaGlobals, packages: &[MacroPackage]) -> Result<Self> {
        let mut env = functions::base_environment();
        env.set_auto_escape_callback(|_| AutoEscape::None);
        let vars: functions::Vars = Arc::new(globals.vars.clone());
        functions::add_project_globals(&mut env, globals, vars.clone());
        runtime::add_globals(&mut env);
        modules::add_globals(&mut env);
        pycompat::install(&mut env);
        let index = macros::load(&mut env, globals, packages)?;
        let mut macro_env = env.clone();
        macro_env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        Ok(Jinja {
            env,
            macro_env: Arc::new(macro_env),
            index: Arc::new(index),
            vars,
        })
    }

    /// Whether a macro is defined: in `package`, or (for `None`) as the root project sees it
    /// (its own macros, then dbt's). Generic tests defined with `{% test name(...) %}` are
    /// macros named `test_<name>`.
    pub fn has_macro(&self, package: Option<&str>, name: &str) -> bool {
        match package {
            Some(p) => self.index.get(p, name).is_some(),
            None => self.index.resolve(&self.index.root, name).is_some(),
        }
    }

    /// Render a template, returning the text and what it recorded.
    pub fn render(&self, req: RenderRequest<'_>) -> Result<(String, Captured)> {
        self.render_with(req, BTreeMap::new())
    }

    /// Render with extra context variables (e.g. a generic test's `model` and arguments).
    /// Templates whose only Jinja is ref/source/config/var with literal arguments are spliced
    /// without minijinja (`simple.rs`), with the same result.
    pub fn render_with(
        &self,
        req: RenderRequest<'_>,
        extra: BTreeMap<String, Value>,
    ) -> Result<(String, Captured)> {
        if let Some(done) = simple::parse(req.source).and_then(|t| {
            let package = req.package.unwrap_or(&self.index.root);
            self.render_simple(&t, package, req.resolver.as_deref(), &extra)
        }) {
            return Ok(done);
        }
        self.render_full(req, extra)
    }

    /// Render a template parsed by `simple.rs`, answering each call as the runtime's functions
    /// do. `None` when minijinja must render it: a name the template uses means something else
    /// here (a macro or context value called `ref`, ...), or a call fails, whose error message
    /// (with the file and line) the full render gives.
    fn render_simple(
        &self,
        template: &simple::Simple<'_>,
        package: &str,
        resolver: Option<&dyn RelationResolver>,
        extra: &BTreeMap<String, Value>,
    ) -> Option<(String, Captured)> {
        let shadowed = |name: &str| {
            extra.contains_key(name)
                || self.index.resolve(package, name).is_some()
                || self.index.has_package(name)
        };
        let mut out = String::new();
        let mut captured = Captured::default();
        for piece in &template.pieces {
            match piece {
                simple::Piece::Text(t) => out.push_str(t),
                simple::Piece::Ref { package, name } => {
                    if shadowed("ref") {
                        return None;
                    }
                    captured
                        .refs
                        .push((package.map(str::to_string), name.to_string()));
                    let r = functions::ref_relation(resolver, *package, name).ok()?;
                    out.push_str(&runtime::relation_value(&r).to_string());
                }
                simple::Piece::Source { source, table } => {
                    if shadowed("source") {
                        return None;
                    }
                    captured
                        .sources
                        .push((source.to_string(), table.to_string()));
                    let r = functions::source_relation(resolver, source, table).ok()?;
                    out.push_str(&runtime::relation_value(&r).to_string());
                }
                simple::Piece::Config(args) => {
                    if shadowed("config") {
                        return None;
                    }
                    for (key, value) in args {
                        functions::record_config(&mut captured, key, value.to_json());
                    }
                }
                simple::Piece::Var { name, default } => {
                    if shadowed("var") {
                        return None;
                    }
                    let v = functions::var_value(
                        &self.vars,
                        extra.get(VAR_OVERRIDES).cloned(),
                        name,
                        default.as_ref().map(simple::Literal::to_value),
                    )
                    .ok()?;
                    out.push_str(&v.to_string());
                }
            }
        }
        Some((out, captured))
    }

    /// Render with minijinja.
    fn render_full(
        &self,
        req: RenderRequest<'_>,
        extra: BTreeMap<String, Value>,
    ) -> Result<(String, Captured)> {
        let package = req.package.unwrap_or(&self.index.root).to_string();
        let data = self.render_data(
            req.file,
            req.resolver,
            req.this,
            req.adapter,
            req.is_incremental,
            extra,
        );
        let source = rewrite::mutable_literals(req.source);
        let ctx = RenderCtx::new(data.clone(), package);
        let out = self
            .env
            .render_named_str(req.file, &source, Value::from_object(ctx))
            .map_err(|e| errors::jinja_error(&self.env, req.file, &source, &data, e))?;
        let captured = lock(&data.capture.state).clone();
        Ok((out, captured))
    }

    /// Call a macro as dbt does from Python: `package` `None` finds it as the root project
    /// would (its own macros, then dbt's). Returns the macro's `return()` value, or its rendered
    /// text as a string.
    pub fn call_macro(
        &self,
        package: Option<&str>,
        name: &str,
        args: &[Value],
        kwargs: Vec<(String, Value)>,
        ctx: MacroCall<'_>,
    ) -> Result<Value> {
        let file = ctx.file;
        let data = self.call_data(ctx);
        let def = match package {
            Some(p) => self.index.get(p, name),
            None => self.index.resolve(&self.index.root, name),
        };
        let Some(def) = def else {
            return Err(errors::unknown_macro(file, &self.index, package, name));
        };
        let mut all: Vec<Value> = args.to_vec();
        if !kwargs.is_empty() {
            all.push(Value::from(minijinja::value::Kwargs::from_iter(kwargs)));
        }
        macros::invoke(&data, def, &all, None)
            .map_err(|e| errors::jinja_error(&self.macro_env, file, "", &data, e))
    }

    /// The render data of a macro called from Rust.
    fn call_data(&self, ctx: MacroCall<'_>) -> Arc<RenderData> {
        self.render_data(
            ctx.file,
            ctx.resolver,
            ctx.this,
            ctx.adapter,
            false,
            ctx.extra,
        )
    }

    fn render_data(
        &self,
        file: &str,
        resolver: Option<Arc<dyn RelationResolver>>,
        this: Option<Relation>,
        adapter: Option<Arc<dyn Adapter>>,
        is_incremental: bool,
        extra: BTreeMap<String, Value>,
    ) -> Arc<RenderData> {
        let mut vars: BTreeMap<String, Value> = extra;
        vars.insert(
            "this".into(),
            match &this {
                Some(r) => runtime::relation_value(r),
                None => Value::UNDEFINED,
            },
        );
        vars.insert("execute".into(), Value::from(adapter.is_some()));
        // While parsing, dbt's `model` already has the node's name and package.
        vars.entry("model".into()).or_insert_with(|| {
            let name = std::path::Path::new(file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Value::from_serialize(serde_json::json!({
                "name": name,
                "package_name": self.index.root,
                "original_file_path": file,
                "config": {},
            }))
        });
        vars.insert(
            "__lakeforge_incremental".into(),
            Value::from(is_incremental),
        );
        Arc::new(RenderData {
            index: self.index.clone(),
            macro_env: self.macro_env.clone(),
            capture: Capture {
                state: Mutex::new(Captured::default()),
                resolver,
            },
            adapter,
            vars,
            results: Mutex::new(BTreeMap::new()),
            chain: Mutex::new(Vec::new()),
            error_chain: Mutex::new(None),
        })
    }
}

/// A relation as a Jinja value (renders as `schema.identifier`, with dbt's attributes).
pub fn relation_value(r: &Relation) -> Value {
    runtime::relation_value(r)
}

/// Render a standalone text (profiles.yml, packages.yml) with env_var() only.
pub(crate) fn render_standalone(text: &str, file: &str) -> Result<String> {
    let mut env = functions::base_environment();
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.render_named_str(file, text, ())
        .map_err(|e| errors::plain_error(file, e))
}

#[cfg(test)]
mod tests;
