//! A generic test defined with `{% test %}` (the project's or a package's, e.g.
//! `dbt_utils.equality`) called as dbt calls it: which macro it is, its YAML arguments rendered
//! first (`compare_model: ref('x')` arrives as a relation, lists and dicts as mutable Python
//! values), and what the macro records with `config()` (dbt_utils' `fail_calc`) returned with
//! its SQL. The loader calls it once without an adapter to learn that config, as dbt does at
//! parse time; the compiler calls it with the adapter for the SQL.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use minijinja::value::{Kwargs, Value};

use crate::error::Result;

use super::context::{Captured, RenderCtx, RenderData};
use super::{Jinja, MacroCall, errors, lock, macros, pycompat};

/// One call of a test macro: the tested model, column and the declaration's arguments.
pub struct TestCall<'a> {
    pub package: &'a str,
    pub macro_name: &'a str,
    /// `model`: the tested relation (or the filtered subquery when the test has `where`).
    pub model: Value,
    pub column: Option<&'a str>,
    pub args: &'a BTreeMap<String, serde_json::Value>,
}

impl Jinja {
    /// The macro of a generic test named in YAML: `pkg.name` is `test_name` of that package;
    /// an unqualified name is looked up in the root project, then the declaring package, then
    /// every installed package in load order (dbt's search for tests).
    pub fn find_test_macro(&self, name: &str, own_package: &str) -> Option<(String, String)> {
        if let Some((ns, short)) = name.split_once('.') {
            let macro_name = format!("test_{short}");
            return self
                .has_macro(Some(ns), &macro_name)
                .then(|| (ns.to_string(), macro_name));
        }
        let macro_name = format!("test_{name}");
        std::iter::once(self.index.root.as_str())
            .chain(std::iter::once(own_package))
            .chain(self.index.packages.iter().map(String::as_str))
            .find(|p| self.has_macro(Some(p), &macro_name))
            .map(|p| (p.to_string(), macro_name))
    }

    /// Call a test macro; returns its SQL (the macro's value as text) and what it recorded.
    pub fn call_test_macro(
        &self,
        call: TestCall<'_>,
        ctx: MacroCall<'_>,
    ) -> Result<(String, Captured)> {
        let file = ctx.file;
        let data = self.call_data(ctx);
        let Some(def) = self.index.get(call.package, call.macro_name) else {
            return Err(errors::unknown_macro(
                file,
                &self.index,
                Some(call.package),
                call.macro_name,
            ));
        };
        let fail = |e| errors::jinja_error(&self.macro_env, file, "", &data, e);
        let mut kwargs = vec![("model".to_string(), call.model)];
        if let Some(c) = call.column {
            kwargs.push(("column_name".to_string(), Value::from(c)));
        }
        for (k, v) in call.args.iter().filter(|(k, _)| *k != "column_name") {
            kwargs.push((
                k.clone(),
                self.test_argument(&data, call.package, v).map_err(fail)?,
            ));
        }
        let args = [Value::from(Kwargs::from_iter(kwargs))];
        let value = macros::invoke(&data, def, &args, None).map_err(fail)?;
        let captured = lock(&data.capture.state).clone();
        Ok((value.to_string(), captured))
    }

    /// A YAML argument as the macro sees it, as dbt renders test arguments: a string that is a
    /// `ref()`/`source()`/`var()`/`env_var()`/`doc()` call is evaluated to its value (a
    /// relation, not its text), a string with Jinja in it is rendered, lists and dicts become
    /// mutable (`group_by_columns.append(...)`), anything else is kept.
    fn test_argument(
        &self,
        data: &Arc<RenderData>,
        package: &str,
        value: &serde_json::Value,
    ) -> std::result::Result<Value, minijinja::Error> {
        let ctx = || Value::from_object(RenderCtx::new(data.clone(), package.to_string()));
        Ok(match value {
            serde_json::Value::String(s) if context_call_re().is_match(s) => {
                self.env.compile_expression(s.trim())?.eval(ctx())?
            }
            serde_json::Value::String(s) if s.contains("{{") || s.contains("{%") => {
                Value::from(self.env.render_str(s, ctx())?)
            }
            serde_json::Value::Array(items) => pycompat::mutable_list(
                items
                    .iter()
                    .map(|v| self.test_argument(data, package, v))
                    .collect::<std::result::Result<_, _>>()?,
            ),
            serde_json::Value::Object(map) => pycompat::mutable_dict(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.test_argument(data, package, v)?)))
                    .collect::<std::result::Result<Vec<_>, minijinja::Error>>()?,
            ),
            other => Value::from_serialize(other),
        })
    }
}

/// dbt evaluates an argument that is one call of these context functions.
fn context_call_re() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| crate::literal_regex(r"(?s)^\s*(env_var|ref|var|source|doc)\s*\(.+\)\s*$"))
}
