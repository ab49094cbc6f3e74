//! The database half of dbt's Jinja runtime as Jinja objects: `adapter` (dispatch, columns,
//! relations, execute), `api.Relation`/`api.Column`, relation and column objects, agate-like
//! tables, `load_result`/`store_result`. Every database access goes through the
//! [`crate::adapter::Adapter`] of the render; without one (parsing), calls return empty results
//! as dbt's do while it parses.

mod adapter_obj;
mod column;
mod relation;
mod table;

use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, State};

use super::functions::render_data;
use super::lock;
use adapter_obj::AdapterObj;
use relation::Api;
pub(crate) use relation::relation_value;
use table::Table;

pub(crate) fn add_globals(env: &mut Environment<'static>) {
    env.add_global("adapter", Value::from_object(AdapterObj));
    env.add_global("api", Value::from_object(Api));
    env.add_function("load_result", load_result);
    env.add_function("store_result", store_result);
    env.add_function("load_relation", |state: &State, rel: Value| {
        AdapterObj::load_relation(state, &rel)
    });
}

/// `store_result(name, response, agate_table)`: what `{% call statement(name) %}` keeps.
fn store_result(state: &State, name: String, kwargs: Kwargs) -> Result<String, Error> {
    let data = render_data(state, "store_result")?;
    let response: Option<Value> = kwargs.get("response")?;
    let table: Option<Value> = kwargs.get("agate_table")?;
    let table = table
        .filter(|t| !t.is_none())
        .unwrap_or_else(|| Value::from_object(Table::empty()));
    let data_rows = table
        .downcast_object_ref::<Table>()
        .map(Table::data_value)
        .unwrap_or_default();
    let result = Value::from_iter([
        ("response", response.unwrap_or(Value::from(()))),
        ("table", table),
        ("data", data_rows),
    ]);
    lock(&data.results).insert(name, result);
    Ok(String::new())
}

/// `load_result(name)`: a statement's result, `none` when it did not run.
fn load_result(state: &State, name: String) -> Result<Value, Error> {
    let data = render_data(state, "load_result")?;
    if let Some(v) = lock(&data.results).get(&name) {
        return Ok(v.clone());
    }
    if data.adapter.is_none() {
        // While parsing statements do not run; dbt's parse-time values absorb any use.
        return Ok(Value::from_object(super::pycompat::ParseValue));
    }
    Ok(Value::from(()))
}
