//! Compilation: turning a node into the SQL that runs, with every ref() and source() resolved
//! to its relation and generic tests expanded into queries that return failing rows.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::json_to_plain_string;
use crate::error::{ProjectError, Result, suggest};
use crate::jinja::{RelationResolver, RenderRequest};
use crate::node::{Node, Relation, ResourceType, TestKind, quote_ident};
use crate::project::Project;

/// The result of compiling one node.
#[derive(Debug, Clone)]
pub struct CompiledNode {
    pub unique_id: String,
    /// SQL to run; for seeds, empty.
    pub sql: String,
}

/// Everything needed to compile nodes of one project; cheap to share between threads.
#[derive(Clone)]
pub struct CompileContext {
    project: Arc<Project>,
    resolver: Arc<ProjectResolver>,
}

struct ProjectResolver {
    refs: HashMap<String, Relation>,
    sources: HashMap<(String, String), Relation>,
}

impl RelationResolver for ProjectResolver {
    fn resolve_ref(
        &self,
        _package: Option<&str>,
        name: &str,
    ) -> std::result::Result<Relation, String> {
        self.refs.get(name).cloned().ok_or_else(|| {
            let hint = suggest(name, self.refs.keys().map(String::as_str))
                .map(|s| format!("\nhint: did you mean `{s}`?"))
                .unwrap_or_default();
            format!("ref('{name}') is not a model, seed or snapshot of this project{hint}")
        })
    }

    fn resolve_source(&self, source: &str, table: &str) -> std::result::Result<Relation, String> {
        self.sources
            .get(&(source.to_string(), table.to_string()))
            .cloned()
            .ok_or_else(|| {
                format!("source('{source}', '{table}') is not declared in any properties YAML file")
            })
    }
}

impl CompileContext {
    pub fn new(project: Arc<Project>) -> Self {
        let refs = project
            .nodes
            .values()
            .filter(|n| matches!(n.resource_type, ResourceType::Model | ResourceType::Seed))
            .map(|n| (n.name.clone(), n.relation.clone()))
            .collect();
        let sources = project
            .sources
            .values()
            .map(|s| ((s.source_name.clone(), s.name.clone()), s.relation.clone()))
            .collect();
        CompileContext {
            project,
            resolver: Arc::new(ProjectResolver { refs, sources }),
        }
    }

    pub fn project(&self) -> &Arc<Project> {
        &self.project
    }

    /// Compile a node. `is_incremental` is what is_incremental() returns: the caller knows
    /// whether the target table exists and whether this is a full refresh.
    pub fn compile(&self, node: &Node, is_incremental: bool) -> Result<CompiledNode> {
        let sql = match (&node.resource_type, &node.test) {
            (ResourceType::Seed, _) => String::new(),
            (
                ResourceType::Test,
                Some(TestKind::Generic {
                    name,
                    column,
                    attached_to,
                    args,
                }),
            ) => self.generic_test_sql(node, name, column.as_deref(), attached_to, args)?,
            _ => {
                let (sql, _) = self.project.jinja.render(RenderRequest {
                    file: &node.path,
                    source: &node.raw_code,
                    resolver: Some(self.resolver.clone()),
                    this: Some(node.relation.clone()),
                    is_incremental,
                })?;
                sql
            }
        };
        Ok(CompiledNode {
            unique_id: node.unique_id.clone(),
            sql: sql.trim().trim_end_matches(';').trim().to_string(),
        })
    }

    /// Compile SQL typed on the command line (`lakeforge show --inline`).
    pub fn compile_inline(&self, sql: &str) -> Result<String> {
        let (sql, _) = self.project.jinja.render(RenderRequest {
            file: "<inline>",
            source: sql,
            resolver: Some(self.resolver.clone()),
            this: None,
            is_incremental: false,
        })?;
        Ok(sql.trim().trim_end_matches(';').trim().to_string())
    }

    /// Where `lakeforge compile` writes a node's SQL: target/compiled/<project>/<path>.
    pub fn compiled_path(&self, node: &Node) -> PathBuf {
        let mut p = self
            .project
            .target_dir()
            .join("compiled")
            .join(&self.project.name)
            .join(&node.path);
        if let (ResourceType::Test, Some(TestKind::Generic { .. })) =
            (&node.resource_type, &node.test)
        {
            p = p.join(format!("{}.sql", node.name));
        }
        p
    }

    fn relation_of(&self, unique_id: &str) -> Option<Relation> {
        self.project
            .nodes
            .get(unique_id)
            .map(|n| n.relation.clone())
            .or_else(|| {
                self.project
                    .sources
                    .get(unique_id)
                    .map(|s| s.relation.clone())
            })
    }

    fn generic_test_sql(
        &self,
        node: &Node,
        name: &str,
        column: Option<&str>,
        attached_to: &str,
        args: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Result<String> {
        let err = |message: String| ProjectError::Config {
            path: node.path.clone().into(),
            message,
        };
        let relation = self.relation_of(attached_to).ok_or_else(|| {
            err(format!(
                "test `{}` is attached to unknown node `{attached_to}`",
                node.name
            ))
        })?;
        let model = match &node.config.where_clause {
            Some(w) => format!("(select * from {relation} where {w}) dbt_subquery"),
            None => relation.to_string(),
        };
        let column_arg = args.get("column_name").map(json_to_plain_string);
        let col = || -> Result<String> {
            column
                .map(str::to_string)
                .or(column_arg.clone())
                .map(|c| quote_ident(&c))
                .ok_or_else(|| err(format!("test `{name}` on `{attached_to}` needs a column\nhint: declare it under a column's tests, or pass column_name")))
        };
        let short = name.rsplit('.').next().unwrap_or(name);
        Ok(match short {
            "not_null" => format!("select {c} from {model} where {c} is null", c = col()?),
            "unique" => format!(
                "select {c} as unique_field, count(*) as n_records from {model} where {c} is not null group by {c} having count(*) > 1",
                c = col()?
            ),
            "accepted_values" => {
                let values = match args.get("values") {
                    Some(serde_json::Value::Array(a)) if !a.is_empty() => a.clone(),
                    _ => {
                        return Err(err(format!(
                            "test accepted_values on `{}` needs a non-empty `values:` list",
                            node.name
                        )));
                    }
                };
                let quote = args.get("quote").and_then(|q| q.as_bool()).unwrap_or(true);
                let list: Vec<String> = values
                    .iter()
                    .map(|v| {
                        let s = json_to_plain_string(v);
                        if quote {
                            format!("'{}'", s.replace('\'', "''"))
                        } else {
                            s
                        }
                    })
                    .collect();
                format!(
                    "select value_field, count(*) as n_records from (select {c} as value_field from {model}) all_values where value_field is not null and cast(value_field as varchar) not in ({}) group by value_field",
                    list.iter()
                        .map(|v| if quote {
                            v.clone()
                        } else {
                            format!("cast({v} as varchar)")
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                    c = col()?
                )
            }
            "relationships" => {
                let to = args.get("to").map(json_to_plain_string).ok_or_else(|| {
                    err(format!("test relationships on `{}` needs `to:`", node.name))
                })?;
                let field = args.get("field").map(json_to_plain_string).ok_or_else(|| {
                    err(format!(
                        "test relationships on `{}` needs `field:`",
                        node.name
                    ))
                })?;
                let (to_rel, _) = self.project.jinja.render(RenderRequest {
                    file: &node.path,
                    source: &format!("{{{{ {to} }}}}"),
                    resolver: Some(self.resolver.clone()),
                    this: None,
                    is_incremental: false,
                })?;
                format!(
                    "select child.from_field from (select {c} as from_field from {model} where {c} is not null) child left join (select {f} as to_field from {to_rel}) parent on child.from_field = parent.to_field where parent.to_field is null",
                    c = col()?,
                    f = quote_ident(&field),
                )
            }
            other => {
                return Err(err(format!(
                    "unknown generic test `{other}` on `{}`\nhint: built-in tests are not_null, unique, accepted_values, relationships",
                    attached_to.rsplit('.').next().unwrap_or(attached_to)
                )));
            }
        })
    }
}
