//! The context a template or macro is evaluated against: one object that answers every name
//! lookup as dbt's namespaces do for the package being rendered (the render's variables, then
//! the package's own macros, the root project's, dbt's built-ins, then package names as
//! namespaces). Everything one render shares (what it recorded, statement results, the adapter,
//! the macro chain for errors) lives in [`RenderData`], shared by every macro call it makes.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::State;
use minijinja::value::{Object, Value};

use crate::adapter::Adapter;
use crate::config::ConfigLayer;

use super::RelationResolver;
use super::macros::{MacroFn, MacroIndex, Namespace};

/// Context key under which templates reach the render's shared data.
pub(crate) const RENDER_KEY: &str = "__lakeforge_render";

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

#[derive(Debug)]
pub(crate) struct Capture {
    pub state: Mutex<Captured>,
    pub resolver: Option<Arc<dyn RelationResolver>>,
}

/// Everything shared by one render (or one call from Rust) and all macro calls it makes.
#[derive(Debug)]
pub(crate) struct RenderData {
    pub index: Arc<MacroIndex>,
    /// The environment macros run in (see `Jinja::macro_env`).
    pub macro_env: Arc<minijinja::Environment<'static>>,
    pub capture: Capture,
    pub adapter: Option<Arc<dyn Adapter>>,
    /// `this`, `execute`, extras given by the caller.
    pub vars: BTreeMap<String, Value>,
    /// `{% call statement(name) %}` results, for load_result(name).
    pub results: Mutex<BTreeMap<String, Value>>,
    /// Macros being called, outermost first (`dbt_utils.star`).
    pub chain: Mutex<Vec<String>>,
    /// The chain when the first error was raised, for its message.
    pub error_chain: Mutex<Option<Vec<String>>>,
}

impl Object for RenderData {}

impl RenderData {
    /// The render data of the template being evaluated.
    pub fn of(state: &State) -> Option<Arc<RenderData>> {
        state
            .lookup(RENDER_KEY)
            .and_then(|v| v.downcast_object::<RenderData>())
    }
}

/// The root context of a template or macro: name lookups as seen from `package`.
pub(crate) struct RenderCtx {
    pub data: Arc<RenderData>,
    pub package: String,
    /// Names of this call only (`varargs`, `kwargs`).
    pub locals: BTreeMap<String, Value>,
}

impl fmt::Debug for RenderCtx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<context of {}>", self.package)
    }
}

impl RenderCtx {
    pub fn new(data: Arc<RenderData>, package: String) -> Self {
        RenderCtx {
            data,
            package,
            locals: BTreeMap::new(),
        }
    }
}

impl Object for RenderCtx {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        if let Some(v) = self.locals.get(key) {
            return Some(v.clone());
        }
        if key == RENDER_KEY {
            return Some(Value::from_dyn_object(self.data.clone()));
        }
        if let Some(v) = self.data.vars.get(key) {
            return Some(v.clone());
        }
        if key == "context" {
            return Some(Value::from_object(ContextDict(self.clone())));
        }
        let index = &self.data.index;
        if let Some(def) = index.resolve(&self.package, key) {
            return Some(MacroFn::value(&self.data, def));
        }
        if index.has_package(key) {
            return Some(Value::from_object(Namespace {
                data: self.data.clone(),
                package: key.to_string(),
            }));
        }
        None
    }
}

/// dbt's `context` variable: every name the template can see, looked up by key
/// (`context['my_macro']`, `context.get('x')`).
#[derive(Debug)]
struct ContextDict(Arc<RenderCtx>);

impl Object for ContextDict {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.get_value(key)
    }

    fn call_method(
        self: &Arc<Self>,
        state: &State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, minijinja::Error> {
        match method {
            "get" => {
                let (key, default): (String, Option<Value>) = minijinja::value::from_args(args)?;
                Ok(self
                    .0
                    .get_value(&Value::from(key.as_str()))
                    .or_else(|| {
                        state
                            .env()
                            .globals()
                            .find(|(k, _)| *k == key)
                            .map(|(_, v)| v)
                    })
                    .unwrap_or_else(|| default.unwrap_or(Value::from(()))))
            }
            _ => Err(minijinja::Error::from(minijinja::ErrorKind::UnknownMethod)),
        }
    }
}
