//! One SQL text from a macro or a hook, run against the lake. Queries go to DataFusion as
//! `lakeforge sql` runs them; the DDL and DML dbt macros and hooks write (`create table ... as`,
//! `create view`, `drop`, `insert into`, `delete`, `update`, `truncate`, `create schema`) are
//! parsed here and become the lake's own operations, each one Delta commit, because the lake's
//! catalog is folders of Delta tables that DataFusion cannot create or change by itself.

use std::sync::Arc;

use datafusion::logical_expr::Expr;
use datafusion::prelude::DataFrame;
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{
    AssignmentTarget, CreateTable, CreateView, Delete, FromTable, Ident, Insert, ObjectName,
    ObjectNamePart, ObjectType, Statement, TableFactor, TableObject, TableWithJoins, Truncate,
    Update,
};
use lakeforge_project::Relation;
use lakeforge_project::adapter::QueryResult;

use crate::error::{EngineError, Result};
use crate::lake::StoredKind;
use crate::session::{CATALOG, Engine};

/// Run every statement of `sql` in order; the result is the last one's. `context` names the
/// caller in errors.
pub(crate) async fn run(
    engine: &Engine,
    context: &str,
    sql: &str,
    fetch: bool,
) -> Result<QueryResult> {
    let statements = DFParser::parse_sql(sql).map_err(|e| EngineError::sql(context, e))?;
    let single = statements.len() == 1;
    let mut last = QueryResult::default();
    for statement in statements {
        last = match statement {
            DfStatement::Statement(s) => {
                // One statement runs as written; of several, each is printed back by the parser.
                let text = if single {
                    sql.to_string()
                } else {
                    s.to_string()
                };
                one(engine, context, *s, &text, fetch).await?
            }
            other => query(engine, context, &other.to_string(), fetch).await?,
        };
    }
    Ok(last)
}

async fn one(
    engine: &Engine,
    context: &str,
    statement: Statement,
    text: &str,
    fetch: bool,
) -> Result<QueryResult> {
    let w = Writer { engine, context };
    match statement {
        Statement::CreateTable(ct) => w.create_table(ct).await,
        Statement::CreateView(cv) => w.create_view(cv).await,
        Statement::Drop {
            object_type,
            if_exists,
            names,
            cascade,
            ..
        } => w.drop(object_type, if_exists, &names, cascade).await,
        // A schema is a folder, made by the first write into it.
        Statement::CreateSchema { .. } => Ok(QueryResult::default()),
        Statement::Insert(ins) => w.insert(ins).await,
        Statement::Delete(d) => w.delete(d).await,
        Statement::Update(u) => w.update(u).await,
        Statement::Truncate(t) => w.truncate(t).await,
        _ => query(engine, context, text, fetch).await,
    }
}

async fn query(engine: &Engine, context: &str, sql: &str, fetch: bool) -> Result<QueryResult> {
    let (schema, batches) = engine.query(context, sql).await?;
    let n: usize = batches.iter().map(|b| b.num_rows()).sum();
    Ok(QueryResult {
        columns: super::cells::columns(schema.fields()),
        rows: if fetch {
            super::cells::rows(&batches).map_err(|m| EngineError::sql(context, m))?
        } else {
            Vec::new()
        },
        rows_affected: Some(n as u64),
    })
}

fn affected(rows: Option<u64>) -> QueryResult {
    QueryResult {
        rows_affected: rows,
        ..QueryResult::default()
    }
}

struct Writer<'a> {
    engine: &'a Engine,
    context: &'a str,
}

impl Writer<'_> {
    fn err(&self, message: impl Into<String>) -> EngineError {
        EngineError::sql_message(self.context, message)
    }

    fn default_schema(&self) -> String {
        self.engine.default_schema()
    }

    /// `t`, `schema.t` or `lake.schema.t`, with unquoted names folded to lower case as
    /// DataFusion folds them in queries.
    fn relation(&self, name: &ObjectName) -> Result<Relation> {
        let parts = name
            .0
            .iter()
            .map(|p| match p {
                ObjectNamePart::Identifier(i) => Ok(ident(i)),
                _ => Err(self.err(format!("`{name}` is not a table name"))),
            })
            .collect::<Result<Vec<_>>>()?;
        match parts.as_slice() {
            [t] => Ok(Relation::new(self.default_schema(), t)),
            [s, t] => Ok(Relation::new(s, t)),
            [c, s, t] if c == CATALOG => Ok(Relation::new(s, t)),
            _ => Err(self.err(format!(
                "`{name}` does not name a relation of the lake\nhint: write `schema.table` (the database is `{CATALOG}`)"
            ))),
        }
    }

    async fn stored(&self, relation: &Relation) -> Result<Option<StoredKind>> {
        self.engine.lake().stored_now(relation).await
    }

    async fn plan(&self, sql: &str) -> Result<DataFrame> {
        self.engine.dataframe(self.context, sql).await
    }

    /// The existing table a DML statement writes; a view or a missing name is refused.
    async fn table(&self, name: &ObjectName, verb: &str) -> Result<Relation> {
        let relation = self.relation(name)?;
        match self.stored(&relation).await? {
            Some(StoredKind::Table) => Ok(relation),
            Some(StoredKind::View) => Err(self.err(format!(
                "cannot {verb} {relation}: it is a view\nhint: views are stored queries; change the tables they read"
            ))),
            None => Err(self.err(format!(
                "cannot {verb} {relation}: no such table\nhint: create it first (`create table {relation} as select ...`)"
            ))),
        }
    }

    async fn create_table(&self, ct: CreateTable) -> Result<QueryResult> {
        let relation = self.relation(&ct.name)?;
        let existing = self.stored(&relation).await?;
        if existing.is_some() && !ct.or_replace {
            if ct.if_not_exists {
                return Ok(QueryResult::default());
            }
            return Err(self.err(format!(
                "{relation} already exists\nhint: use `create or replace table`, or `create table if not exists`"
            )));
        }
        if ct.like.is_some() || ct.clone.is_some() {
            return Err(self.err("`create table ... like/clone` is not supported by Lakeforge\nhint: use `create table ... as select * from ... limit 0`"));
        }
        let df = match &ct.query {
            Some(q) => self.plan(&q.to_string()).await?,
            None if ct.columns.is_empty() => {
                return Err(self.err(format!(
                    "create table {relation} names no columns and no query"
                )));
            }
            None => {
                // An empty table of the declared types.
                let columns = ct
                    .columns
                    .iter()
                    .map(|c| {
                        format!(
                            "cast(null as {}) as {}",
                            c.data_type,
                            lakeforge_project::quote_ident(&ident(&c.name))
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                self.plan(&format!("select {columns} where false")).await?
            }
        };
        let df = crate::write::normalize::for_delta(df, self.context)?;
        let outcome =
            crate::write::materialize::overwrite(self.engine, &relation, df, "CREATE TABLE", None)
                .await?;
        if existing == Some(StoredKind::View) {
            self.engine.lake().remove_view(&relation).await?;
        }
        Ok(affected(outcome.rows))
    }

    async fn create_view(&self, cv: CreateView) -> Result<QueryResult> {
        let relation = self.relation(&cv.name)?;
        if cv.materialized {
            return Err(self.err("materialized views are not supported by Lakeforge\nhint: create a table (`create table ... as select ...`)"));
        }
        let existing = self.stored(&relation).await?;
        if existing.is_some() && !cv.or_replace {
            if cv.if_not_exists {
                return Ok(QueryResult::default());
            }
            return Err(self.err(format!(
                "{relation} already exists\nhint: use `create or replace view`"
            )));
        }
        let sql = cv.query.to_string();
        // Plan first: a view that does not plan must not replace a working one.
        self.plan(&sql).await?;
        self.engine.lake().write_view(&relation, &sql).await?;
        if existing == Some(StoredKind::Table) {
            self.engine.lake().remove_table(&relation).await?;
        }
        Ok(QueryResult::default())
    }

    async fn drop(
        &self,
        object_type: ObjectType,
        if_exists: bool,
        names: &[ObjectName],
        cascade: bool,
    ) -> Result<QueryResult> {
        let lake = self.engine.lake();
        for name in names {
            if object_type == ObjectType::Schema {
                let schema = match name.0.as_slice() {
                    [ObjectNamePart::Identifier(i)] => ident(i),
                    _ => return Err(self.err(format!("`{name}` is not a schema of the lake"))),
                };
                let members = lake.table_names(&schema);
                if members.is_empty() && !if_exists && !lake.schema_names().contains(&schema) {
                    return Err(self.err(format!("schema {schema} does not exist")));
                }
                if !members.is_empty() && !cascade {
                    return Err(self.err(format!(
                        "schema {schema} holds {} relation(s)\nhint: `drop schema {schema} cascade` drops them too",
                        members.len()
                    )));
                }
                for t in members {
                    let relation = Relation::new(&schema, t);
                    lake.remove_view(&relation).await?;
                    lake.remove_table(&relation).await?;
                }
                continue;
            }
            let relation = self.relation(name)?;
            let existing = self.stored(&relation).await?;
            match (object_type, existing) {
                (_, None) if if_exists => {}
                (ObjectType::Table | ObjectType::View, None) => {
                    return Err(self.err(format!("{relation} does not exist")));
                }
                (ObjectType::Table, Some(StoredKind::Table)) => {
                    lake.remove_table(&relation).await?
                }
                (ObjectType::View, Some(StoredKind::View)) => lake.remove_view(&relation).await?,
                (ObjectType::Table, Some(StoredKind::View)) => {
                    return Err(self.err(format!(
                        "{relation} is a view, not a table\nhint: use `drop view`"
                    )));
                }
                (ObjectType::View, Some(StoredKind::Table)) => {
                    return Err(self.err(format!(
                        "{relation} is a table, not a view\nhint: use `drop table`"
                    )));
                }
                (other, _) => {
                    return Err(self.err(format!("`drop {other}` is not supported by Lakeforge")));
                }
            }
        }
        Ok(QueryResult::default())
    }

    async fn insert(&self, ins: Insert) -> Result<QueryResult> {
        let TableObject::TableName(name) = &ins.table else {
            return Err(self.err("insert into a table function is not supported"));
        };
        let relation = self.table(name, "insert into").await?;
        let Some(source) = &ins.source else {
            return Err(self.err(format!("insert into {relation} needs a query or VALUES")));
        };
        let target = self
            .plan(&format!("select * from {relation}"))
            .await?
            .schema()
            .as_arrow()
            .clone();
        let names: Vec<String> = if ins.columns.is_empty() {
            target.fields().iter().map(|f| f.name().clone()).collect()
        } else {
            ins.columns
                .iter()
                .map(|c| match c.0.last() {
                    Some(ObjectNamePart::Identifier(i)) => ident(i),
                    _ => c.to_string(),
                })
                .collect()
        };
        for n in &names {
            if target.field_with_name(n).is_err() {
                return Err(self.err(format!("{relation} has no column `{n}`")));
            }
        }
        let df = self.plan(&source.to_string()).await?;
        let given = df.schema().columns();
        if given.len() != names.len() {
            return Err(self.err(format!(
                "insert into {relation}: the query gives {} column(s) for {} target column(s)",
                given.len(),
                names.len()
            )));
        }
        // Values go to the target columns by position, as in SQL; then the table's shape.
        let renamed = given
            .into_iter()
            .zip(&names)
            .map(|(c, n)| Expr::Column(c).alias(n))
            .collect::<Vec<_>>();
        let df = df
            .select(renamed)
            .map_err(|e| EngineError::sql(self.context, e))?;
        let df = crate::write::materialize::conform(df, &target, self.context)?;
        let outcome = if ins.overwrite {
            crate::write::materialize::overwrite(self.engine, &relation, df, "INSERT", None).await?
        } else {
            crate::write::materialize::append_rows(self.engine, &relation, df).await?
        };
        Ok(affected(outcome.rows))
    }

    /// The one plain table a DELETE or UPDATE names.
    fn single_table<'t>(&self, tables: &'t [TableWithJoins], verb: &str) -> Result<&'t ObjectName> {
        match tables {
            [TableWithJoins {
                relation: TableFactor::Table { name, alias: None, .. },
                joins,
            }] if joins.is_empty() => Ok(name),
            _ => Err(self.err(format!(
                "{verb} supports one table without an alias or joins in Lakeforge\nhint: move the other tables into a subquery-free `where` on the table's own columns"
            ))),
        }
    }

    async fn delete(&self, d: Delete) -> Result<QueryResult> {
        let tables = match &d.from {
            FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
        };
        if d.using.is_some() || !d.tables.is_empty() {
            return Err(self.err("delete ... using is not supported by Lakeforge"));
        }
        let name = self.single_table(tables, "delete")?;
        let relation = self.table(name, "delete from").await?;
        self.delete_where(&relation, d.selection.map(|e| e.to_string()))
            .await
    }

    async fn delete_where(
        &self,
        relation: &Relation,
        predicate: Option<String>,
    ) -> Result<QueryResult> {
        let table = self
            .engine
            .lake()
            .open_table(relation, None)
            .await
            .map_err(|e| EngineError::delta(relation, e))?;
        let mut builder = table
            .delete()
            .with_session_state(Arc::new(self.engine.context().state()));
        if let Some(p) = predicate {
            builder = builder.with_predicate(p);
        }
        let (_, metrics) = builder.await.map_err(|e| EngineError::delta(relation, e))?;
        Ok(affected(metrics.num_deleted_rows.map(|n| n as u64)))
    }

    async fn update(&self, u: Update) -> Result<QueryResult> {
        if u.from.is_some() {
            return Err(self.err("update ... from is not supported by Lakeforge"));
        }
        let name = self.single_table(std::slice::from_ref(&u.table), "update")?;
        let relation = self.table(name, "update").await?;
        let table = self
            .engine
            .lake()
            .open_table(&relation, None)
            .await
            .map_err(|e| EngineError::delta(&relation, e))?;
        let mut builder = table
            .update()
            .with_session_state(Arc::new(self.engine.context().state()));
        for a in &u.assignments {
            let AssignmentTarget::ColumnName(column) = &a.target else {
                return Err(self.err("update with a tuple of columns is not supported"));
            };
            let column = match column.0.last() {
                Some(ObjectNamePart::Identifier(i)) => ident(i),
                _ => column.to_string(),
            };
            builder = builder.with_update(column, a.value.to_string());
        }
        if let Some(p) = &u.selection {
            builder = builder.with_predicate(p.to_string());
        }
        let (_, metrics) = builder
            .await
            .map_err(|e| EngineError::delta(&relation, e))?;
        Ok(affected(Some(metrics.num_updated_rows as u64)))
    }

    async fn truncate(&self, t: Truncate) -> Result<QueryResult> {
        let mut rows = 0;
        for target in &t.table_names {
            let relation = self.relation(&target.name)?;
            if t.if_exists && self.stored(&relation).await?.is_none() {
                continue;
            }
            let relation = self.table(&target.name, "truncate").await?;
            rows += self
                .delete_where(&relation, None)
                .await?
                .rows_affected
                .unwrap_or(0);
        }
        Ok(affected(Some(rows)))
    }
}

fn ident(i: &Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}
