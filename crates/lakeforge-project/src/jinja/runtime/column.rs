//! dbt's Column objects (`adapter.get_columns_in_relation`, `api.Column.create`): the name,
//! the type as Lakeforge spells it, and the type predicates macros branch on.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Object, Value, from_args};
use minijinja::{Error, ErrorKind, State};

use crate::adapter::Column;
use crate::jinja::invalid;

/// dbt's Column: name, type and the type predicates macros branch on.
#[derive(Debug, Clone)]
pub(crate) struct ColumnObj {
    pub name: String,
    pub dtype: String,
}

impl ColumnObj {
    fn base(&self) -> String {
        let t = self.dtype.trim().to_ascii_lowercase();
        t.split('(').next().unwrap_or(&t).trim().to_string()
    }
    fn is_string(&self) -> bool {
        matches!(
            self.base().as_str(),
            "varchar"
                | "text"
                | "string"
                | "char"
                | "character varying"
                | "character"
                | "utf8"
                | "largeutf8"
                | "utf8view"
                | "bpchar"
                | "nvarchar"
        )
    }
    fn is_integer(&self) -> bool {
        matches!(
            self.base().as_str(),
            "int"
                | "integer"
                | "bigint"
                | "smallint"
                | "tinyint"
                | "int2"
                | "int4"
                | "int8"
                | "int16"
                | "int32"
                | "int64"
                | "uint8"
                | "uint16"
                | "uint32"
                | "uint64"
                | "serial"
                | "bigserial"
                | "smallserial"
                | "int unsigned"
                | "bigint unsigned"
        )
    }
    fn is_float(&self) -> bool {
        matches!(
            self.base().as_str(),
            "float"
                | "real"
                | "double"
                | "double precision"
                | "float4"
                | "float8"
                | "float16"
                | "float32"
                | "float64"
        )
    }
    fn is_numeric(&self) -> bool {
        matches!(
            self.base().as_str(),
            "numeric" | "decimal" | "decimal128" | "decimal256"
        )
    }
    /// `varchar(n)`'s n; unbounded strings have none.
    fn char_size(&self) -> Option<i64> {
        if !self.is_string() {
            return None;
        }
        let inner = self.dtype.split_once('(')?.1.split(')').next()?;
        inner.trim().parse().ok()
    }
    fn precision_scale(&self) -> (Option<i64>, Option<i64>) {
        if !self.is_numeric() {
            return (None, None);
        }
        let Some(inner) = self
            .dtype
            .split_once('(')
            .and_then(|x| x.1.split(')').next())
        else {
            return (None, None);
        };
        let mut it = inner.split(',').map(|p| p.trim().parse::<i64>().ok());
        (it.next().flatten(), it.next().flatten())
    }
}

pub(super) fn column_value(c: &Column) -> Value {
    Value::from_object(ColumnObj {
        name: c.name.clone(),
        dtype: c.data_type.clone(),
    })
}

impl Object for ColumnObj {
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let opt = |v: Option<i64>| v.map(Value::from).unwrap_or(Value::from(()));
        Some(match key.as_str()? {
            "name" | "column" => Value::from(self.name.clone()),
            "quoted" => Value::from(format!("\"{}\"", self.name.replace('"', "\"\""))),
            "dtype" | "data_type" => Value::from(self.dtype.clone()),
            "char_size" => opt(self.char_size()),
            "numeric_precision" => opt(self.precision_scale().0),
            "numeric_scale" => opt(self.precision_scale().1),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        Ok(match method {
            "is_string" => Value::from(self.is_string()),
            "is_number" => Value::from(self.is_integer() || self.is_float() || self.is_numeric()),
            "is_numeric" => Value::from(self.is_numeric()),
            "is_float" => Value::from(self.is_float()),
            "is_integer" => Value::from(self.is_integer()),
            "string_size" => {
                if !self.is_string() {
                    return Err(invalid(format!(
                        "string_size() called on column `{}` of type {}, which is not a string",
                        self.name, self.dtype
                    )));
                }
                Value::from(self.char_size().unwrap_or(256))
            }
            "string_type" => {
                let (size,): (i64,) = from_args(args)?;
                Value::from(format!("varchar({size})"))
            }
            "numeric_type" => {
                let (dtype, p, s): (String, Option<i64>, Option<i64>) = from_args(args)?;
                match (p, s) {
                    (Some(p), Some(s)) => Value::from(format!("{dtype}({p},{s})")),
                    _ => Value::from(dtype),
                }
            }
            "literal" => {
                let (v,): (Value,) = from_args(args)?;
                Value::from(format!("cast({v} as {})", self.dtype))
            }
            "can_expand_to" => Value::from(false),
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        })
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Column {} ({})>", self.name, self.dtype)
    }
}

#[derive(Debug)]
pub(super) struct ColumnApi;

impl Object for ColumnApi {
    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "create" => {
                let (name, dtype): (String, String) = from_args(args)?;
                Ok(Value::from_object(ColumnObj { name, dtype }))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}
