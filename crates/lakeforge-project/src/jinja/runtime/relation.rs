//! dbt's relation objects (`this`, `ref()`, `api.Relation.create`, `adapter.get_relation`):
//! optional database/schema/identifier, a type when known, include and quote policies.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Kwargs, Object, Value, from_args};
use minijinja::{Error, ErrorKind, State};

use crate::adapter::RelationKind;
use crate::node::{Relation, quote_ident};

/// dbt's relation object: optional parts, a type when known, and which parts render.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rel {
    pub database: Option<String>,
    pub schema: Option<String>,
    pub identifier: Option<String>,
    pub kind: Option<&'static str>,
    pub include_schema: bool,
    pub include_identifier: bool,
    pub include_database: bool,
    /// Relations from `this`/ref render unquoted plain names; quote() forces quotes.
    pub force_quote: bool,
}

impl Rel {
    pub fn from_relation(r: &Relation) -> Self {
        Rel {
            database: Some("lake".into()),
            schema: Some(r.schema.clone()),
            identifier: Some(r.identifier.clone()),
            kind: None,
            include_schema: true,
            include_identifier: true,
            include_database: false,
            force_quote: false,
        }
    }

    /// The schema and identifier, for adapter calls.
    pub fn relation(&self) -> Option<Relation> {
        Some(Relation::new(
            self.schema.clone()?,
            self.identifier.clone()?,
        ))
    }

    pub(super) fn render_text(&self) -> String {
        let q = |s: &str| {
            if self.force_quote {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                quote_ident(s)
            }
        };
        // The lake is the only database: it is never written in SQL.
        let mut parts = Vec::new();
        if self.include_schema
            && let Some(s) = &self.schema
        {
            parts.push(q(s));
        }
        if self.include_identifier
            && let Some(i) = &self.identifier
        {
            parts.push(q(i));
        }
        parts.join(".")
    }
}

/// A relation as a Jinja value (renders as `schema.identifier`, with dbt's attributes).
pub(crate) fn relation_value(r: &Relation) -> Value {
    Value::from_object(Rel::from_relation(r))
}

pub(super) fn rel_of(v: &Value) -> Option<Rel> {
    if let Some(r) = v.downcast_object_ref::<Rel>() {
        return Some(r.clone());
    }
    // A string `schema.table` (or a subquery, which has no parts).
    let s = v.as_str()?;
    let parts: Vec<&str> = s.split('.').map(|p| p.trim_matches('"')).collect();
    match parts.as_slice() {
        [schema, table] => Some(Rel::from_relation(&Relation::new(*schema, *table))),
        [_, schema, table] => Some(Rel::from_relation(&Relation::new(*schema, *table))),
        _ => None,
    }
}

fn opt_str(v: &Option<String>) -> Value {
    match v {
        Some(s) => Value::from(s.clone()),
        None => Value::from(()),
    }
}

impl Object for Rel {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "database" => opt_str(&self.database),
            "schema" => opt_str(&self.schema),
            "identifier" | "name" | "table" => opt_str(&self.identifier),
            "type" => self.kind.map(Value::from).unwrap_or(Value::from(())),
            "is_table" => Value::from(self.kind == Some("table")),
            "is_view" => Value::from(self.kind == Some("view")),
            "is_cte" => Value::from(false),
            "is_materialized_view" => Value::from(false),
            "path" => Value::from_serialize(serde_json::json!({
                "database": self.database, "schema": self.schema, "identifier": self.identifier,
            })),
            "quote_character" => Value::from("\""),
            "include_policy" => Value::from_serialize(serde_json::json!({
                "database": self.include_database, "schema": self.include_schema,
                "identifier": self.include_identifier,
            })),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let (_, kwargs): (&[Value], Kwargs) = from_args(args)?;
        let flag = |k: &str| -> Result<Option<bool>, Error> { kwargs.get::<Option<bool>>(k) };
        let mut r = (**self).clone();
        match method {
            "include" => {
                if let Some(d) = flag("database")? {
                    r.include_database = d;
                }
                if let Some(s) = flag("schema")? {
                    r.include_schema = s;
                }
                if let Some(i) = flag("identifier")? {
                    r.include_identifier = i;
                }
            }
            "quote" => {
                let any = ["database", "schema", "identifier"]
                    .iter()
                    .map(|k| flag(k))
                    .collect::<Result<Vec<_>, _>>()?;
                r.force_quote = any.iter().any(|f| *f == Some(true));
            }
            "render" => return Ok(Value::from(self.render_text())),
            "without_identifier" => r.include_identifier = false,
            "incorporate" => {
                let path: Option<Value> = kwargs.get("path")?;
                if let Some(p) = path {
                    for (k, slot) in [
                        ("database", &mut r.database),
                        ("schema", &mut r.schema),
                        ("identifier", &mut r.identifier),
                    ] {
                        if let Ok(v) = p.get_attr(k)
                            && !v.is_undefined()
                        {
                            *slot = v.as_str().map(str::to_string);
                        }
                    }
                }
                let kind: Option<String> = kwargs.get("type")?;
                if let Some(k) = kind {
                    r.kind = kind_name(&k);
                }
            }
            "replace_path" => {
                for k in ["database", "schema", "identifier"] {
                    let v: Option<String> = kwargs.get(k)?;
                    if let Some(v) = v {
                        match k {
                            "database" => r.database = Some(v),
                            "schema" => r.schema = Some(v),
                            _ => r.identifier = Some(v),
                        }
                    }
                }
            }
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        }
        // Keywords not read above are dbt's quoting policies and the like: accepted.
        Ok(Value::from_object(r))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render_text())
    }
}

fn kind_name(k: &str) -> Option<&'static str> {
    match k {
        "table" => Some("table"),
        "view" => Some("view"),
        "cte" => Some("cte"),
        "materialized_view" => Some("materialized_view"),
        _ => None,
    }
}

pub(super) fn kind_str(k: RelationKind) -> &'static str {
    match k {
        RelationKind::Table => "table",
        RelationKind::View => "view",
    }
}

/// `api`: `api.Relation.create(...)`, `api.Column.create(...)`.
#[derive(Debug)]
pub(super) struct Api;

impl Object for Api {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "Relation" => Some(Value::from_object(RelationApi)),
            "Column" => Some(Value::from_object(super::column::ColumnApi)),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct RelationApi;

impl Object for RelationApi {
    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "create" => {
                let (_, kwargs): (&[Value], Kwargs) = from_args(args)?;
                let s = |k: &str| -> Result<Option<String>, Error> {
                    let v: Option<Value> = kwargs.get(k)?;
                    Ok(v.filter(|v| !v.is_none()).map(|v| v.to_string()))
                };
                let kind = s("type")?;
                // Quoting and include policies are accepted; the lake decides quoting.
                let _: Option<Value> = kwargs.get("quote_policy")?;
                let _: Option<Value> = kwargs.get("include_policy")?;
                Ok(Value::from_object(Rel {
                    database: s("database")?,
                    schema: s("schema")?,
                    identifier: s("identifier")?,
                    kind: kind.as_deref().and_then(kind_name),
                    include_schema: true,
                    include_identifier: true,
                    include_database: false,
                    force_quote: false,
                }))
            }
            "add_ephemeral_prefix" => {
                let (name,): (String,) = from_args(args)?;
                Ok(Value::from(format!("__dbt__cte__{name}")))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}
