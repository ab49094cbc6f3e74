//! Macros of every package, indexed once per load, and how a call to one runs.
//!
//! Each `{% macro %}` of a file becomes a compiled template of its own (the file's other text
//! blanked, so line numbers stay the file's). A macro therefore never captures its siblings as
//! minijinja macros: every name it uses resolves through the context of its package
//! (`context.rs`), and every call of a macro evaluates its own template. That gives dbt's
//! namespaces (a package's macros first, then the root project's, then dbt's), lets `return()`
//! end exactly one call (a sentinel error caught here, the value in the call's state), and gives
//! macros `varargs`/`kwargs`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, OnceLock};

use minijinja::value::{Kwargs, Object, Value};
use minijinja::{Environment, Error, ErrorKind, State};

use crate::error::{ProjectError, Result};

use super::context::{RenderCtx, RenderData};
use super::{BUILTIN_PACKAGE, JinjaGlobals, MacroPackage, invalid, lock, rewrite};

/// Marks the error `return()` raises to end a macro call early; its value is in the call's
/// temps under [`RETURN_SLOT`].
pub(crate) const RETURN_MARKER: &str = "__lakeforge_return__";
pub(crate) const RETURN_SLOT: &str = "__lakeforge_return_value";

/// dbt's global macros, written by Lakeforge (namespace `dbt`).
const BUILTIN_FILES: &[(&str, &str)] = &[
    ("builtin/core.sql", include_str!("builtin/core.sql")),
    ("builtin/cross_db.sql", include_str!("builtin/cross_db.sql")),
    ("builtin/types.sql", include_str!("builtin/types.sql")),
    ("builtin/helpers.sql", include_str!("builtin/helpers.sql")),
];

/// One macro: where it lives and which template holds it.
#[derive(Debug)]
pub(crate) struct MacroDef {
    pub package: String,
    pub name: String,
    pub template: String,
    /// The body uses `varargs` or `kwargs`: extra arguments are collected instead of refused.
    pub takes_extra: bool,
    /// Argument names, read from the compiled macro the first time they are needed.
    args: OnceLock<Vec<String>>,
}

/// Every package's macros, and the dispatch configuration.
#[derive(Debug)]
pub(crate) struct MacroIndex {
    pub root: String,
    /// Package names in load order (root first, `dbt` last).
    pub packages: Vec<String>,
    macros: HashMap<String, HashMap<String, Arc<MacroDef>>>,
    /// `dispatch:` of the root project: macro namespace → packages to search.
    pub dispatch: HashMap<String, Vec<String>>,
}

impl MacroIndex {
    pub fn get(&self, package: &str, name: &str) -> Option<&Arc<MacroDef>> {
        self.macros.get(package)?.get(name)
    }

    /// An unqualified name as seen from `package`: its own macros, the root project's, dbt's.
    pub fn resolve(&self, package: &str, name: &str) -> Option<&Arc<MacroDef>> {
        self.get(package, name)
            .or_else(|| self.get(&self.root, name))
            .or_else(|| self.get(BUILTIN_PACKAGE, name))
    }

    pub fn has_package(&self, name: &str) -> bool {
        self.macros.contains_key(name)
    }

    /// Names of the macros of a package (for suggestions in errors).
    pub fn names(&self, package: &str) -> impl Iterator<Item = &str> {
        self.macros
            .get(package)
            .into_iter()
            .flat_map(|m| m.keys().map(String::as_str))
    }

    /// Where `adapter.dispatch(name, namespace)` looks, in order, as dbt-core does: the
    /// project's `dispatch:` search order for the namespace, else the root project then the
    /// namespace for an installed package, else the namespace alone; `None` searches as an
    /// unqualified call from `current` would.
    pub fn search_packages(&self, namespace: Option<&str>) -> Vec<Option<String>> {
        match namespace {
            None => vec![None],
            Some(ns) => match self.dispatch.get(ns) {
                Some(order) if !order.is_empty() => order.iter().cloned().map(Some).collect(),
                _ if ns != BUILTIN_PACKAGE && ns != self.root && self.has_package(ns) => {
                    vec![Some(self.root.clone()), Some(ns.to_string())]
                }
                // dbt's own macros: a project overrides them by defining the same name.
                _ if ns == BUILTIN_PACKAGE => {
                    vec![Some(self.root.clone()), Some(ns.to_string())]
                }
                _ => vec![Some(ns.to_string())],
            },
        }
    }
}

/// Register every macro of every package as a template of its own, and index them.
pub(crate) fn load(
    env: &mut Environment<'static>,
    globals: &JinjaGlobals,
    packages: &[MacroPackage],
) -> Result<MacroIndex> {
    let root = packages
        .first()
        .map(|p| p.name.clone())
        .unwrap_or_else(|| globals.project_name.clone());
    let mut index = MacroIndex {
        root,
        packages: Vec::new(),
        macros: HashMap::new(),
        dispatch: globals
            .dispatch
            .iter()
            .map(|d| (d.macro_namespace.clone(), d.search_order.clone()))
            .collect(),
    };
    let builtin = MacroPackage {
        name: BUILTIN_PACKAGE.to_string(),
        files: BUILTIN_FILES
            .iter()
            .map(|(p, s)| (format!("<lakeforge>/{p}"), s.to_string()))
            .collect(),
    };
    for package in packages.iter().chain(std::iter::once(&builtin)) {
        index.packages.push(package.name.clone());
        let defs = index.macros.entry(package.name.clone()).or_default();
        for (path, src) in &package.files {
            let src = generic_tests_as_macros(src);
            for span in split_macros(&src) {
                let template = format!("{path}::{}", span.name);
                let mut text = "\n".repeat(span.line - 1);
                text.push_str(&rewrite::mutable_literals(&src[span.start..span.end]));
                env.add_template_owned(template.clone(), text)
                    .map_err(|e| ProjectError::Jinja {
                        file: path.clone(),
                        line: e.line(),
                        message: format!(
                            "{}\nhint: fix the macro `{}`; every macro file of a package is read when the project loads",
                            e.detail().unwrap_or(&e.kind().to_string()),
                            span.name
                        ),
                    })?;
                let body = &src[span.start..span.end];
                let takes_extra = word_re().is_match(body);
                // A later definition of the same name in one package wins, as in dbt's flat
                // namespace (dbt refuses duplicates; the last file read is kept here).
                defs.insert(
                    span.name.clone(),
                    Arc::new(MacroDef {
                        package: package.name.clone(),
                        name: span.name,
                        template,
                        takes_extra,
                        args: OnceLock::new(),
                    }),
                );
            }
        }
    }
    Ok(index)
}

fn word_re() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| crate::literal_regex(r"\b(varargs|kwargs)\b"))
}

/// dbt's generic tests are written `{% test name(model, column_name) %}...{% endtest %}`;
/// they become macros named `test_<name>`, which is also how dbt names them internally.
pub(crate) fn generic_tests_as_macros(src: &str) -> String {
    static OPEN: OnceLock<regex::Regex> = OnceLock::new();
    static CLOSE: OnceLock<regex::Regex> = OnceLock::new();
    let open = OPEN
        .get_or_init(|| crate::literal_regex(r"\{%(-?)\s*test\s+([A-Za-z_][A-Za-z0-9_]*)\s*\("));
    let close = CLOSE.get_or_init(|| crate::literal_regex(r"\{%(-?)\s*endtest\s*(-?)%\}"));
    let s = open.replace_all(src, "{%${1} macro test_${2}(");
    close.replace_all(&s, "{%${1} endmacro ${2}%}").into_owned()
}

/// A top-level `{% macro %}...{% endmacro %}` of a file.
#[derive(Debug, PartialEq)]
struct MacroSpan {
    name: String,
    start: usize,
    end: usize,
    /// 1-based line of `start`.
    line: usize,
}

/// The top-level macros of a file, skipping comments and nested macros.
fn split_macros(src: &str) -> Vec<MacroSpan> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        crate::literal_regex(r"(?s)\{#.*?#\}|\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\}|\{%-?\s*macro\s+([A-Za-z_][A-Za-z0-9_]*)|\{%-?\s*endmacro\b[^%]*%\}")
    });
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut open: Option<(String, usize)> = None;
    for m in re.captures_iter(src) {
        // Group 0, the whole match, is always there.
        let Some(whole) = m.get(0) else { continue };
        let text = whole.as_str();
        if text.starts_with("{#") || !text.contains("macro") {
            continue;
        }
        if let Some(name) = m.get(1) {
            if depth == 0 {
                open = Some((name.as_str().to_string(), whole.start()));
            }
            depth += 1;
        } else if depth > 0 {
            depth -= 1;
            if depth == 0
                && let Some((name, start)) = open.take()
            {
                let line = src[..start].matches('\n').count() + 1;
                out.push(MacroSpan {
                    name,
                    start,
                    end: whole.end(),
                    line,
                });
            }
        }
    }
    out
}

/// A macro as a Jinja value: calling it runs the macro as seen from its own package.
pub(crate) struct MacroFn {
    data: Arc<RenderData>,
    def: Arc<MacroDef>,
}

impl MacroFn {
    pub fn value(data: &Arc<RenderData>, def: &Arc<MacroDef>) -> Value {
        Value::from_object(MacroFn {
            data: data.clone(),
            def: def.clone(),
        })
    }
}

impl fmt::Debug for MacroFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<macro {}.{}>", self.def.package, self.def.name)
    }
}

impl Object for MacroFn {
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" => Some(Value::from(self.def.name.clone())),
            "package_name" => Some(Value::from(self.def.package.clone())),
            _ => None,
        }
    }

    fn call(self: &Arc<Self>, state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        invoke(&self.data, &self.def, args, Some(state))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<macro {}.{}>", self.def.package, self.def.name)
    }
}

/// A package's macros as a namespace: `dbt_utils.star(...)`.
#[derive(Debug)]
pub(crate) struct Namespace {
    pub data: Arc<RenderData>,
    pub package: String,
}

impl Object for Namespace {
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let def = self.data.index.get(&self.package, key.as_str()?)?;
        Some(MacroFn::value(&self.data, def))
    }

    fn call_method(
        self: &Arc<Self>,
        state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match self.data.index.get(&self.package, method) {
            Some(def) => invoke(&self.data, def, args, Some(state)),
            None => Err(super::errors::unknown_in_namespace(
                &self.data.index,
                &self.package,
                method,
            )),
        }
    }
}

/// Run one macro call: evaluate the macro's template against its package's context, call it,
/// and turn a `return()` into the call's value.
pub(crate) fn invoke(
    data: &Arc<RenderData>,
    def: &Arc<MacroDef>,
    args: &[Value],
    outer: Option<&State>,
) -> Result<Value, Error> {
    let (mut positional, mut kwargs): (Vec<Value>, BTreeMap<String, Value>) = match args
        .last()
        .filter(|v| v.is_kwargs())
        .and_then(|v| Kwargs::try_from(v.clone()).ok())
    {
        Some(kw) => (
            args[..args.len() - 1].to_vec(),
            kw.args()
                .map(|k| (k.to_string(), kw.peek::<Value>(k).unwrap_or_default()))
                .collect(),
        ),
        None => (args.to_vec(), BTreeMap::new()),
    };
    // A `{% call %}` body is a macro of the caller's template state, which this call's state
    // cannot run: render it now, in the caller's state, and hand the text over.
    if let Some(caller) = kwargs.get("caller").cloned()
        && caller.downcast_object_ref::<CallerText>().is_none()
    {
        let Some(outer) = outer else {
            return Err(invalid(
                "a `caller` cannot be passed from outside a template",
            ));
        };
        let text = caller.call(outer, &[])?;
        kwargs.insert(
            "caller".into(),
            Value::from_object(CallerText(text.to_string())),
        );
    }
    let tmpl = data.macro_env.get_template(&def.template)?;
    let mut ctx = RenderCtx::new(data.clone(), def.package.clone());
    if def.takes_extra {
        let names = def.args.get_or_init(|| argument_names(&tmpl, data, def));
        let extra_pos = positional.split_off(positional.len().min(names.len()));
        let extra_kw: BTreeMap<String, Value> = kwargs
            .iter()
            .filter(|(k, _)| !names.contains(k) && k.as_str() != "caller")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        kwargs.retain(|k, _| !extra_kw.contains_key(k));
        ctx.locals
            .insert("varargs".into(), super::pycompat::mutable_list(extra_pos));
        ctx.locals
            .insert("kwargs".into(), super::pycompat::mutable_dict(extra_kw));
    }
    let mut call_args = positional;
    if !kwargs.is_empty() {
        call_args.push(Value::from(Kwargs::from_iter(kwargs)));
    }
    lock(&data.chain).push(format!("{}.{}", def.package, def.name));
    let result = (|| {
        let captured = tmpl.render_captured(Value::from_object(ctx))?;
        let state = captured.state();
        let mac = state
            .lookup(&def.name)
            .ok_or_else(|| invalid(format!("macro `{}` vanished from its template", def.name)))?;
        match mac.call(state, &call_args) {
            Ok(v) => Ok(v),
            Err(e) if is_return(&e) => Ok(state.get_temp(RETURN_SLOT).unwrap_or_default()),
            Err(e) => Err(e),
        }
    })();
    let mut chain = lock(&data.chain);
    if result.is_err() {
        let mut first = lock(&data.error_chain);
        if first.is_none() {
            *first = Some(chain.clone());
        }
    }
    chain.pop();
    result
}

fn is_return(e: &Error) -> bool {
    e.kind() == ErrorKind::InvalidOperation && e.detail() == Some(RETURN_MARKER)
}

/// `return(value)`: ends the macro call with a value.
pub(crate) fn return_fn(state: &State, value: Option<Value>) -> Result<Value, Error> {
    state.set_temp(RETURN_SLOT, value.unwrap_or(Value::from(())));
    Err(invalid(RETURN_MARKER))
}

fn argument_names(
    tmpl: &minijinja::Template<'_, '_>,
    data: &Arc<RenderData>,
    def: &MacroDef,
) -> Vec<String> {
    let ctx = RenderCtx::new(data.clone(), def.package.clone());
    tmpl.render_captured(Value::from_object(ctx))
        .ok()
        .and_then(|c| c.state().lookup(&def.name))
        .and_then(|m| m.get_attr("arguments").ok())
        .and_then(|a| {
            a.try_iter()
                .ok()
                .map(|i| i.map(|v| v.to_string()).collect())
        })
        .unwrap_or_default()
}

/// The rendered body of a `{% call %}` block, callable as `caller()`.
#[derive(Debug)]
pub(crate) struct CallerText(String);

impl Object for CallerText {
    fn call(self: &Arc<Self>, _state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        if !args.is_empty() {
            return Err(invalid(
                "caller() with arguments is not supported by Lakeforge\nhint: pass the values to the called macro instead",
            ));
        }
        Ok(Value::from(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_top_level_macros_with_lines() {
        let src = "{# {% macro no() %} #}\n{% macro a(x) %}\n{% macro inner() %}{% endmacro %}\n{% endmacro %}\n\n{%- macro b() -%}b{%- endmacro -%}";
        let spans = split_macros(src);
        let names: Vec<_> = spans.iter().map(|s| (s.name.as_str(), s.line)).collect();
        assert_eq!(names, vec![("a", 2), ("b", 6)]);
        assert!(src[spans[1].start..spans[1].end].ends_with("endmacro -%}"));
    }
}
