//! The `adapter` object of dbt's context: dispatch, quoting, and the lake's relations and
//! columns through the render's [`crate::adapter::Adapter`].

use std::sync::Arc;

use minijinja::value::{Kwargs, Object, Value, from_args};
use minijinja::{Error, ErrorKind, State};

use crate::adapter::Column;
use crate::node::Relation;

use super::super::functions::render_data;
use super::super::macros::MacroFn;
use super::super::{ADAPTER_TYPE, PARENT_ADAPTER_TYPES, invalid, lock};
use super::column::column_value;
use super::relation::{Rel, kind_str, rel_of, relation_value};
use super::table::{Table, response_value};

#[derive(Debug)]
pub(super) struct AdapterObj;

impl AdapterObj {
    pub(super) fn load_relation(state: &State, rel: &Value) -> Result<Value, Error> {
        let r = rel_of(rel).ok_or_else(|| invalid(format!("`{rel}` is not a relation")))?;
        let (Some(schema), Some(identifier)) = (r.schema, r.identifier) else {
            return Ok(Value::from(()));
        };
        get_relation(state, &schema, &identifier)
    }
}

fn get_relation(state: &State, schema: &str, identifier: &str) -> Result<Value, Error> {
    let data = render_data(state, "adapter.get_relation")?;
    let Some(adapter) = &data.adapter else {
        return Ok(Value::from(()));
    };
    match adapter
        .get_relation(schema, identifier)
        .map_err(|e| invalid(e.to_string()))?
    {
        Some(kind) => {
            let mut r = Rel::from_relation(&Relation::new(schema, identifier));
            r.kind = Some(kind_str(kind));
            Ok(Value::from_object(r))
        }
        None => Ok(Value::from(())),
    }
}

fn columns_of(state: &State, rel: &Value) -> Result<Vec<Column>, Error> {
    let data = render_data(state, "adapter.get_columns_in_relation")?;
    let Some(adapter) = &data.adapter else {
        return Ok(Vec::new());
    };
    let r = rel_of(rel)
        .and_then(|r| r.relation())
        .ok_or_else(|| invalid(format!("`{rel}` is not a relation (schema.identifier)")))?;
    adapter
        .get_columns_in_relation(&r)
        .map_err(|e| invalid(e.to_string()))
}

pub(crate) fn execute(state: &State, sql: &str, fetch: bool) -> Result<Value, Error> {
    let data = render_data(state, "adapter.execute")?;
    let Some(adapter) = &data.adapter else {
        return Ok(Value::from(vec![
            Value::from(()),
            Value::from_object(Table::empty()),
        ]));
    };
    let result = adapter.execute(sql, fetch).map_err(|m| {
        invalid(format!(
            "query failed: {m}\n  SQL: {}",
            sql.trim().chars().take(500).collect::<String>()
        ))
    })?;
    Ok(Value::from(vec![
        response_value(&result),
        Value::from_object(Table::new(&result)),
    ]))
}

impl Object for AdapterObj {
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn call_method(
        self: &Arc<Self>,
        state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "dispatch" => dispatch(state, args),
            "type" => Ok(Value::from(ADAPTER_TYPE)),
            "quote" => {
                let (s,): (String,) = from_args(args)?;
                Ok(Value::from(format!("\"{}\"", s.replace('"', "\"\""))))
            }
            "quote_as_configured" => {
                let (s, _): (String, Option<String>) = from_args(args)?;
                Ok(Value::from(s))
            }
            "quote_seed_column" => {
                let (s, q): (String, Option<bool>) = from_args(args)?;
                Ok(Value::from(if q == Some(false) {
                    s
                } else {
                    format!("\"{}\"", s.replace('"', "\"\""))
                }))
            }
            "get_columns_in_relation" => {
                let (rel,): (Value,) = from_args(args)?;
                Ok(Value::from(
                    columns_of(state, &rel)?
                        .iter()
                        .map(column_value)
                        .collect::<Vec<_>>(),
                ))
            }
            "get_columns_in_table" => {
                let (schema, table): (String, String) = from_args(args)?;
                let rel = relation_value(&Relation::new(schema, table));
                Ok(Value::from(
                    columns_of(state, &rel)?
                        .iter()
                        .map(column_value)
                        .collect::<Vec<_>>(),
                ))
            }
            "get_missing_columns" => {
                let (from, to): (Value, Value) = from_args(args)?;
                let target: Vec<String> = columns_of(state, &to)?
                    .into_iter()
                    .map(|c| c.name.to_lowercase())
                    .collect();
                Ok(Value::from(
                    columns_of(state, &from)?
                        .iter()
                        .filter(|c| !target.contains(&c.name.to_lowercase()))
                        .map(column_value)
                        .collect::<Vec<_>>(),
                ))
            }
            "get_relation" => {
                let (pos, kwargs): (&[Value], Kwargs) = from_args(args)?;
                let get = |i: usize, k: &str| -> Result<Option<String>, Error> {
                    let v: Option<Value> = kwargs.get(k)?;
                    Ok(v.or_else(|| pos.get(i).cloned())
                        .filter(|v| !v.is_none() && !v.is_undefined())
                        .map(|v| v.to_string()))
                };
                let _database = get(0, "database")?;
                let (Some(schema), Some(identifier)) = (get(1, "schema")?, get(2, "identifier")?)
                else {
                    return Err(invalid(
                        "adapter.get_relation needs a schema and an identifier",
                    ));
                };
                get_relation(state, &schema, &identifier)
            }
            "load_relation" => {
                let (rel,): (Value,) = from_args(args)?;
                Self::load_relation(state, &rel)
            }
            "list_relations_without_caching" | "list_relations" => {
                let (pos, kwargs): (&[Value], Kwargs) = from_args(args)?;
                let rel: Option<Value> = kwargs.get("schema_relation")?;
                let schema = rel
                    .or_else(|| pos.first().cloned())
                    .and_then(|v| {
                        rel_of(&v)
                            .and_then(|r| r.schema)
                            .or_else(|| v.get_attr("schema").ok().map(|s| s.to_string()))
                    })
                    .ok_or_else(|| invalid("list_relations needs a schema relation"))?;
                let data = render_data(state, "adapter.list_relations")?;
                let Some(adapter) = &data.adapter else {
                    return Ok(Value::from(Vec::<Value>::new()));
                };
                let rels = adapter
                    .list_relations(&schema)
                    .map_err(|e| invalid(e.to_string()))?;
                Ok(Value::from(
                    rels.into_iter()
                        .map(|(name, kind)| {
                            let mut r = Rel::from_relation(&Relation::new(schema.clone(), name));
                            r.kind = Some(kind_str(kind));
                            Value::from_object(r)
                        })
                        .collect::<Vec<_>>(),
                ))
            }
            "check_schema_exists" => {
                let (_db, schema): (Value, String) = from_args(args)?;
                let data = render_data(state, "adapter.check_schema_exists")?;
                Ok(Value::from(match &data.adapter {
                    Some(a) => !a
                        .list_relations(&schema)
                        .map_err(|e| invalid(e.to_string()))?
                        .is_empty(),
                    None => false,
                }))
            }
            "execute" => {
                let (pos, kwargs): (&[Value], Kwargs) = from_args(args)?;
                let sql = pos
                    .first()
                    .map(|v| v.to_string())
                    .or(kwargs.get::<Option<String>>("sql")?)
                    .ok_or_else(|| invalid("adapter.execute needs the SQL to run"))?;
                let _: Option<bool> = kwargs.get("auto_begin")?;
                let fetch: Option<bool> = kwargs.get("fetch")?;
                let fetch = fetch.or_else(|| pos.get(2).map(|v| v.is_true()));
                execute(state, &sql, fetch.unwrap_or(false))
            }
            "drop_relation" => {
                let (rel,): (Value,) = from_args(args)?;
                let r =
                    rel_of(&rel).ok_or_else(|| invalid(format!("`{rel}` is not a relation")))?;
                let kind = r.kind.unwrap_or("table");
                execute(
                    state,
                    &format!("drop {kind} if exists {}", r.render_text()),
                    false,
                )?;
                Ok(Value::from(""))
            }
            "commit" | "begin" | "rollback" | "cache_added" | "cache_dropped" => {
                Ok(Value::from(""))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!(
                    "adapter.{method}() is not supported by Lakeforge\nhint: Lakeforge's adapter answers dispatch, quote, execute, get_columns_in_relation, get_relation, load_relation, get_missing_columns and list_relations_without_caching"
                ),
            )),
        }
    }
}

/// `adapter.dispatch(name, macro_namespace)`: the first of `<adapter>__name`,
/// `<parent>__name`, `default__name` found in the namespace's search order.
fn dispatch(state: &State, args: &[Value]) -> Result<Value, Error> {
    let (pos, kwargs): (&[Value], Kwargs) = from_args(args)?;
    let name = match pos.first() {
        Some(v) => v.to_string(),
        None => kwargs
            .get::<Option<String>>("macro_name")?
            .ok_or_else(|| invalid("adapter.dispatch needs a macro name"))?,
    };
    let namespace: Option<String> = match pos.get(1) {
        Some(v) if !v.is_none() => Some(v.to_string()),
        Some(_) => None,
        None => kwargs
            .get::<Option<Value>>("macro_namespace")?
            .filter(|v| !v.is_none())
            .map(|v| v.to_string()),
    };
    let _: Option<Value> = kwargs.get("packages")?;
    if name.contains('.') {
        return Err(invalid(format!(
            "adapter.dispatch('{name}'): the macro name must not contain a dot\nhint: pass the package as macro_namespace: adapter.dispatch('{}', '{}')",
            name.rsplit('.').next().unwrap_or(&name),
            name.split('.').next().unwrap_or("")
        )));
    }
    let data = render_data(state, "adapter.dispatch")?;
    let index = &data.index;
    // An unqualified search resolves as seen from the package of the calling macro.
    let current = lock(&data.chain)
        .last()
        .and_then(|c| c.split('.').next().map(str::to_string))
        .unwrap_or_else(|| index.root.clone());
    let mut tried = Vec::new();
    for package in index.search_packages(namespace.as_deref()) {
        for prefix in std::iter::once(ADAPTER_TYPE)
            .chain(PARENT_ADAPTER_TYPES.iter().copied())
            .chain(std::iter::once("default"))
        {
            let candidate = format!("{prefix}__{name}");
            let def = match &package {
                Some(p) => index.get(p, &candidate),
                None => index.resolve(&current, &candidate),
            };
            if let Some(def) = def {
                return Ok(MacroFn::value(&data, def));
            }
            tried.push(match &package {
                Some(p) => format!("{p}.{candidate}"),
                None => candidate,
            });
        }
    }
    Err(Error::new(
        ErrorKind::UnknownFunction,
        format!(
            "adapter.dispatch: no implementation of `{name}` in namespace `{}`; searched {}\nhint: {}",
            namespace.as_deref().unwrap_or("(current package)"),
            tried.join(", "),
            if namespace.as_deref() == Some(crate::jinja::BUILTIN_PACKAGE) {
                "this dbt macro is not supported by Lakeforge yet; define `default__".to_string()
                    + &name
                    + "` in your project to provide it"
            } else {
                "check that the package is installed (`lakeforge deps`) and the `dispatch:` search_order in dbt_project.yml".to_string()
            }
        ),
    ))
}
