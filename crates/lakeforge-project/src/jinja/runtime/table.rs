//! Query results as agate tables, which dbt's `run_query` and `load_result` return: `.rows`,
//! `.columns` (by position or name, with `.values()`), `.column_names`, iteration over rows.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

use crate::adapter::{Cell, QueryResult};

fn cell_value(c: &Cell) -> Value {
    match c {
        Cell::Null => Value::from(()),
        Cell::Bool(b) => Value::from(*b),
        Cell::Int(i) => Value::from(*i),
        Cell::Float(f) => Value::from(*f),
        Cell::Decimal(s) => s
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| s.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::from(s.clone())),
        Cell::Text(s) | Cell::Date(s) | Cell::Timestamp(s) => Value::from(s.clone()),
    }
}

/// A query result as agate's Table: `.rows`, `.columns`, `.column_names`, iteration.
#[derive(Debug)]
pub(crate) struct Table {
    names: Vec<String>,
    types: Vec<String>,
    rows: Vec<Arc<Row>>,
}

impl Table {
    pub(super) fn new(result: &QueryResult) -> Self {
        let names: Arc<Vec<String>> =
            Arc::new(result.columns.iter().map(|c| c.name.clone()).collect());
        Table {
            names: names.to_vec(),
            types: result.columns.iter().map(|c| c.data_type.clone()).collect(),
            rows: result
                .rows
                .iter()
                .map(|r| {
                    Arc::new(Row {
                        names: names.clone(),
                        values: r.iter().map(cell_value).collect(),
                    })
                })
                .collect(),
        }
    }

    pub(super) fn empty() -> Self {
        Table {
            names: Vec::new(),
            types: Vec::new(),
            rows: Vec::new(),
        }
    }

    fn rows_value(&self) -> Value {
        Value::from(
            self.rows
                .iter()
                .map(|r| Value::from_dyn_object(r.clone()))
                .collect::<Vec<_>>(),
        )
    }

    /// Rows as plain lists (load_result's `data`).
    pub(super) fn data_value(&self) -> Value {
        Value::from(
            self.rows
                .iter()
                .map(|r| Value::from(r.values.clone()))
                .collect::<Vec<_>>(),
        )
    }
}

impl Object for Table {
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Iterable
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str() {
            Some("rows") => Some(self.rows_value()),
            Some("columns") => Some(Value::from_object(Columns(self.clone()))),
            Some("column_names") => Some(Value::from(self.names.clone())),
            Some("column_types") => Some(Value::from(self.types.clone())),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.rows
                .iter()
                .map(|r| Value::from_dyn_object(r.clone()))
                .collect(),
        )
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.rows.len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "print_table" => Ok(Value::from("")),
            "__len__" => Ok(Value::from(self.rows.len())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// One row: indexable by position or column name, iterable over its values.
#[derive(Debug)]
struct Row {
    names: Arc<Vec<String>>,
    values: Vec<Value>,
}

impl Object for Row {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return self.values.get(i).cloned();
        }
        let name = key.as_str()?;
        let i = self.names.iter().position(|n| n == name)?;
        self.values.get(i).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.values.len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "keys" => Ok(Value::from(self.names.to_vec())),
            "values" => Ok(Value::from(self.values.clone())),
            "items" => Ok(Value::from(
                self.names
                    .iter()
                    .zip(&self.values)
                    .map(|(n, v)| Value::from(vec![Value::from(n.clone()), v.clone()]))
                    .collect::<Vec<_>>(),
            )),
            "dict" => Ok(Value::from_iter(
                self.names.iter().cloned().zip(self.values.iter().cloned()),
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `table.columns`: by position or name; each has `.name` and `.values()`.
#[derive(Debug)]
struct Columns(Arc<Table>);

impl Columns {
    fn column(&self, i: usize) -> Value {
        Value::from_object(TableColumn {
            table: self.0.clone(),
            index: i,
        })
    }
}

impl Object for Columns {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return (i < self.0.names.len()).then(|| self.column(i));
        }
        let name = key.as_str()?;
        let i = self.0.names.iter().position(|n| n == name)?;
        Some(self.column(i))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.names.len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "keys" => Ok(Value::from(self.0.names.clone())),
            "values" => Ok(Value::from(
                (0..self.0.names.len())
                    .map(|i| self.column(i))
                    .collect::<Vec<_>>(),
            )),
            "items" => Ok(Value::from(
                (0..self.0.names.len())
                    .map(|i| {
                        Value::from(vec![Value::from(self.0.names[i].clone()), self.column(i)])
                    })
                    .collect::<Vec<_>>(),
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[derive(Debug)]
struct TableColumn {
    table: Arc<Table>,
    index: usize,
}

impl TableColumn {
    fn values(&self) -> Vec<Value> {
        self.table
            .rows
            .iter()
            .map(|r| r.values.get(self.index).cloned().unwrap_or_default())
            .collect()
    }
}

impl Object for TableColumn {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Iterable
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str() {
            Some("name") => Some(Value::from(self.table.names[self.index].clone())),
            Some("data_type") => Some(Value::from(self.table.types[self.index].clone())),
            _ => key.as_usize().and_then(|i| self.values().get(i).cloned()),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.values())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "values" => Ok(Value::from(self.values())),
            "values_distinct" => {
                let mut seen = Vec::new();
                for v in self.values() {
                    if !seen.contains(&v) {
                        seen.push(v);
                    }
                }
                Ok(Value::from(seen))
            }
            "values_without_nulls" => Ok(Value::from(
                self.values()
                    .into_iter()
                    .filter(|v| !v.is_none())
                    .collect::<Vec<_>>(),
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// dbt's AdapterResponse.
pub(super) fn response_value(result: &QueryResult) -> Value {
    Value::from_serialize(serde_json::json!({
        "_message": "OK",
        "code": "OK",
        "rows_affected": result.rows_affected.unwrap_or(result.rows.len() as u64),
    }))
}
