//! Compilation: turning a node into the SQL that runs, with every ref() and source() resolved
//! to its relation and generic tests expanded into queries that return failing rows.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::adapter::Adapter;
use crate::error::{ProjectError, Result, suggest};
use crate::generic_tests;
use crate::jinja::{
    ENV_OVERRIDES, MacroCall, RelationResolver, RenderRequest, ResolveError, TestCall,
    VAR_OVERRIDES,
};
use crate::load::Project;
use crate::node::{ColumnInfo, Node, Relation, ResourceType, TestKind};
use crate::unit_test::{Fixture, UnitInput, UnitTestDef};

/// A row-level data test as a condition on one row (see [`CompileContext::row_checks`]).
#[derive(Debug, Clone)]
pub struct RowCheck {
    pub test_id: String,
    pub name: String,
    /// SQL that is true for a failing row.
    pub predicate: String,
    /// When set, the test counts distinct failing values of this column instead of rows.
    pub distinct_values_of: Option<String>,
    /// The predicate reads another table (relationships).
    pub uses_subquery: bool,
}

/// The result of compiling one node.
#[derive(Debug, Clone)]
pub struct CompiledNode {
    pub unique_id: String,
    /// SQL to run; for seeds, empty.
    pub sql: String,
}

/// What running a unit test needs: the model's SQL and the rows standing in for its inputs.
#[derive(Debug, Clone)]
pub struct UnitTestPlan {
    /// Name of the tested model.
    pub model: String,
    pub sql: String,
    pub inputs: Vec<UnitTestInput>,
    pub expect: Fixture,
}

/// One given input: the relation it replaces, the input as written, and its rows.
#[derive(Debug, Clone)]
pub struct UnitTestInput {
    pub relation: Relation,
    pub input: UnitInput,
    pub fixture: Fixture,
    /// Where the input's column types come from when its relation is not in the lake.
    pub shape: InputShape,
}

/// The columns an input would have, known without the lake.
#[derive(Debug, Clone)]
pub enum InputShape {
    /// A seed: typed from its CSV file (absolute `path`) as `lakeforge seed` would type it.
    Seed {
        path: PathBuf,
        rel: String,
        /// The seed's `delimiter:` as written (lakeforge-seed reads it as `lakeforge seed` does).
        delimiter: Option<String>,
        column_types: std::collections::BTreeMap<String, String>,
    },
    /// The columns declared in properties YAML, possibly none.
    Declared(Vec<ColumnInfo>),
}

/// A test that fails for every key value (a column or a combination) found more than once.
#[derive(Debug, Clone)]
pub struct DuplicateKeyCheck {
    /// What the test reads: a relation, or a subquery applying the test's `where`.
    pub from: String,
    /// The key columns, quoted as SQL identifiers where needed.
    pub columns: Vec<String>,
    /// `unique` ignores nulls; `unique_combination_of_columns` counts them as values.
    pub skip_nulls: bool,
}

/// Everything needed to compile nodes of one project; cheap to share between threads.
#[derive(Clone)]
pub struct CompileContext {
    project: Arc<Project>,
    /// ref()/source() as the root project resolves them.
    resolver: Arc<ProjectResolver>,
    /// The same for each installed package's nodes (dbt searches the caller's package second).
    package_resolvers: HashMap<String, Arc<ProjectResolver>>,
    /// The database macros query while compiling; `None` renders as dbt does at parse time.
    adapter: Option<Arc<dyn Adapter>>,
    /// dbt's `graph` (nodes, sources, ... as in manifest.json), built the first time a template
    /// reads it ([`LazyGraph`]).
    graph: minijinja::Value,
}

/// dbt's `graph` variable, built from the project the first time a template reads one of its
/// keys. Building it serializes the whole project (a manifest), which took 15% of compiling a
/// 2,000-model project, and most projects never read it; the packages that do (auditing or
/// documenting a project through `graph.nodes.values()`) see the same map as before.
#[derive(Debug)]
struct LazyGraph {
    project: Arc<Project>,
    value: std::sync::OnceLock<minijinja::Value>,
}

/// The keys of `graph`, as dbt's.
const GRAPH_KEYS: &[&str] = &[
    "nodes",
    "sources",
    "macros",
    "metrics",
    "semantic_models",
    "saved_queries",
    "exposures",
    "groups",
];

impl LazyGraph {
    fn value(&self) -> &minijinja::Value {
        self.value.get_or_init(|| {
            let mut manifest = crate::manifest::manifest_json(&self.project, &HashMap::new());
            let mut graph = serde_json::Map::new();
            for key in GRAPH_KEYS {
                let v = match manifest.get_mut(*key) {
                    Some(v) => v.take(),
                    None => serde_json::json!({}),
                };
                graph.insert(key.to_string(), v);
            }
            minijinja::Value::from_serialize(graph)
        })
    }
}

impl minijinja::value::Object for LazyGraph {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        self.value()
            .get_item(key)
            .ok()
            .filter(|v| !v.is_undefined())
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Str(GRAPH_KEYS)
    }
}

/// ref() and source() of the nodes of one package (or of the root project), in dbt's search
/// order: the root project, then that package, then the other packages.
struct ProjectResolver {
    project: Arc<Project>,
    package: String,
}

impl RelationResolver for ProjectResolver {
    fn resolve_ref(
        &self,
        package: Option<&str>,
        name: &str,
    ) -> std::result::Result<Relation, ResolveError> {
        let refable = |id: &String| {
            self.project.nodes.get(id).filter(|n| {
                matches!(
                    n.resource_type,
                    ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
                )
            })
        };
        if let Some(n) = self
            .project
            .refs
            .find(&self.package, package, name)
            .and_then(refable)
        {
            return Ok(n.relation.clone());
        }
        Err(ResolveError::Ref {
            package: package.map(str::to_string),
            name: name.to_string(),
            suggestion: suggest(name, self.project.by_name.keys().map(String::as_str)),
        })
    }

    fn resolve_source(
        &self,
        source: &str,
        table: &str,
    ) -> std::result::Result<Relation, ResolveError> {
        crate::load::find_source(
            &self.project.sources,
            &self.project.refs,
            &self.package,
            source,
            table,
        )
        .map(|s| s.relation.clone())
        .ok_or_else(|| ResolveError::Source {
            source_name: source.to_string(),
            table: table.to_string(),
        })
    }
}

impl CompileContext {
    pub fn new(project: Arc<Project>) -> Self {
        let resolver = |package: &str| {
            Arc::new(ProjectResolver {
                project: project.clone(),
                package: package.to_string(),
            })
        };
        let package_resolvers = project
            .packages()
            .map(|p| (p.to_string(), resolver(p)))
            .collect();
        let graph = minijinja::Value::from_object(LazyGraph {
            project: project.clone(),
            value: std::sync::OnceLock::new(),
        });
        CompileContext {
            resolver: resolver(&project.name),
            package_resolvers,
            project,
            adapter: None,
            graph,
        }
    }

    /// The package whose macros a node's Jinja sees first: `None` for the root project's.
    fn package_of<'a>(&self, node: &'a Node) -> Option<&'a str> {
        Some(node.package()).filter(|p| *p != self.project.name)
    }

    /// What a render of `node` adds to the context: a package's vars for a package's node, and
    /// (`with_model`) dbt's `model` variable.
    fn node_extra(
        &self,
        node: &Node,
        with_model: bool,
    ) -> std::collections::BTreeMap<String, minijinja::Value> {
        let mut extra = self.project.scope_of(node).render_extra();
        // While compiling, macros see the whole project as dbt's `graph` (packages that audit
        // or document a project iterate `graph.nodes.values()`); parsing sees an empty one.
        extra.insert("graph".to_string(), self.graph.clone());
        if with_model {
            extra.insert("model".to_string(), model_value(node));
        }
        extra
    }

    /// The resolver of ref()/source() calls written in `node`'s package.
    fn resolver_for(&self, node: &Node) -> Arc<ProjectResolver> {
        self.package_resolvers
            .get(node.package())
            .unwrap_or(&self.resolver)
            .clone()
    }

    /// Lets macros reach the database while nodes compile (`run_query`, `statement`,
    /// `adapter.get_columns_in_relation`, ...), as dbt does when `execute` is true.
    pub fn with_adapter(mut self, adapter: Arc<dyn Adapter>) -> Self {
        self.adapter = Some(adapter);
        self
    }

    /// The adapter given with [`CompileContext::with_adapter`], if any.
    pub fn adapter(&self) -> Option<&Arc<dyn Adapter>> {
        self.adapter.as_ref()
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
            (ResourceType::UnitTest, Some(TestKind::Unit(def))) => self.unit_test_sql(node, def)?,
            _ => {
                let (sql, _) = self.project.jinja.render_with(
                    RenderRequest {
                        file: &node.path,
                        source: &node.raw_code,
                        resolver: Some(self.resolver_for(node)),
                        this: Some(node.relation.clone()),
                        is_incremental,
                        adapter: self.adapter.clone(),
                        package: self.package_of(node),
                    },
                    self.node_extra(node, true),
                )?;
                sql
            }
        };
        Ok(CompiledNode {
            unique_id: node.unique_id.clone(),
            sql: sql.trim().trim_end_matches(';').trim().to_string(),
        })
    }

    /// Render a hook's SQL as the model it belongs to renders (`this`, `ref`, `source`, macros,
    /// `is_incremental()`); `node` is `None` for `on-run-start`/`on-run-end`, which have no
    /// `this`.
    pub fn render_hook(
        &self,
        hook: &crate::hooks::Hook,
        node: Option<&Node>,
        is_incremental: bool,
    ) -> Result<String> {
        let file = format!("{} ({} #{})", hook.origin, hook.kind, hook.index);
        let extra = match node {
            Some(n) => [("model".to_string(), model_value(n))].into(),
            None => std::collections::BTreeMap::new(),
        };
        let (sql, _) = self.project.jinja.render_with(
            RenderRequest {
                file: &file,
                source: &hook.sql,
                resolver: Some(self.resolver.clone()),
                this: node.map(|n| n.relation.clone()),
                is_incremental,
                adapter: self.adapter.clone(),
                package: None,
            },
            extra,
        )?;
        Ok(sql.trim().to_string())
    }

    /// Call a macro as `lakeforge run-operation` does: `name` is `macro` or `package.macro`,
    /// `args` its keyword arguments (dbt's `--args`). Returns the macro's `return()` value, or
    /// what it rendered.
    pub fn run_operation(
        &self,
        name: &str,
        args: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Result<minijinja::Value> {
        let (package, macro_name) = match name.split_once('.') {
            Some((p, m)) => (Some(p), m),
            None => (None, name),
        };
        let kwargs = args
            .iter()
            .map(|(k, v)| (k.clone(), minijinja::Value::from_serialize(v)))
            .collect();
        self.project.jinja.call_macro(
            package,
            macro_name,
            &[],
            kwargs,
            crate::jinja::MacroCall {
                file: "run-operation",
                adapter: self.adapter.clone(),
                this: None,
                resolver: Some(self.resolver.clone()),
                extra: std::collections::BTreeMap::new(),
            },
        )
    }

    /// A unit test's plan: the tested model's SQL rendered with the test's overrides, and the
    /// relation each given input stands in for.
    pub fn compile_unit_test(&self, node: &Node) -> Result<UnitTestPlan> {
        let Some(TestKind::Unit(def)) = &node.test else {
            return Err(self.unit_error(node, format!("{} is not a unit test", node.unique_id)));
        };
        let model = self.unit_test_model(node, def)?;
        let mut inputs = Vec::new();
        for g in &def.given {
            let relation = match &g.input {
                UnitInput::This => model.relation.clone(),
                UnitInput::Ref { name } => self
                    .resolver
                    .resolve_ref(None, name)
                    .map_err(|e| self.unit_error(node, e.to_string()))?,
                UnitInput::Source { source, table } => self
                    .resolver
                    .resolve_source(source, table)
                    .map_err(|e| self.unit_error(node, e.to_string()))?,
            };
            let upstream = match &g.input {
                UnitInput::This => Some(model),
                UnitInput::Ref { name } => self.project.node_by_name(name),
                UnitInput::Source { .. } => None,
            };
            let shape = match upstream {
                Some(n) if n.resource_type == ResourceType::Seed => InputShape::Seed {
                    path: self.project.root.join(&n.path),
                    rel: n.path.clone(),
                    delimiter: n.config.delimiter.clone(),
                    column_types: n.config.column_types.clone(),
                },
                Some(n) => InputShape::Declared(n.columns.clone()),
                None => InputShape::Declared(
                    self.project
                        .sources
                        .values()
                        .find(|s| s.relation == relation)
                        .map(|s| s.columns.clone())
                        .unwrap_or_default(),
                ),
            };
            inputs.push(UnitTestInput {
                relation,
                input: g.input.clone(),
                fixture: g.fixture.clone(),
                shape,
            });
        }
        Ok(UnitTestPlan {
            model: model.name.clone(),
            sql: self.compile(node, false)?.sql,
            inputs,
            expect: def.expect.clone(),
        })
    }

    fn unit_test_model(&self, node: &Node, def: &UnitTestDef) -> Result<&Node> {
        self.project
            .nodes
            .get(&def.model)
            .ok_or_else(|| self.unit_error(node, format!("model {} is gone", def.model)))
    }

    fn unit_error(&self, node: &Node, message: String) -> ProjectError {
        ProjectError::Config {
            path: node.path.clone().into(),
            message: format!("unit test `{}`: {message}", node.name),
        }
    }

    /// The tested model rendered with the unit test's `overrides:` (is_incremental() is false
    /// unless overridden, as in dbt).
    fn unit_test_sql(&self, node: &Node, def: &UnitTestDef) -> Result<String> {
        let model = self.unit_test_model(node, def)?;
        let mut extra = std::collections::BTreeMap::new();
        extra.insert(
            VAR_OVERRIDES.to_string(),
            minijinja::Value::from_serialize(&def.overrides.vars),
        );
        extra.insert(
            ENV_OVERRIDES.to_string(),
            minijinja::Value::from_serialize(&def.overrides.env_vars),
        );
        let (sql, _) = self.project.jinja.render_with(
            RenderRequest {
                file: &model.path,
                source: &model.raw_code,
                resolver: Some(self.resolver.clone()),
                this: Some(model.relation.clone()),
                is_incremental: def.overrides.is_incremental.unwrap_or(false),
                adapter: self.adapter.clone(),
                package: None,
            },
            extra,
        )?;
        Ok(sql)
    }

    /// Compile SQL typed on the command line (`lakeforge show --inline`).
    pub fn compile_inline(&self, sql: &str) -> Result<String> {
        let (sql, _) = self.project.jinja.render(RenderRequest {
            file: "<inline>",
            source: sql,
            resolver: Some(self.resolver.clone()),
            adapter: self.adapter.clone(),
            ..Default::default()
        })?;
        Ok(sql.trim().trim_end_matches(';').trim().to_string())
    }

    /// Where `lakeforge compile` writes a node's SQL (see [`Project::compiled_path`]).
    pub fn compiled_path(&self, node: &Node) -> PathBuf {
        self.project.compiled_path(node)
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

    /// For a `unique` or `unique_combination_of_columns` test (built in, not overridden by a
    /// project macro), what it checks: the rows it reads and the key columns. The engine can
    /// count duplicate keys without SQL's hash aggregation when the keys are integers.
    pub fn duplicate_key_check(&self, node: &Node) -> Option<DuplicateKeyCheck> {
        let Some(TestKind::Generic {
            name,
            column,
            attached_to,
            args,
        }) = &node.test
        else {
            return None;
        };
        let short = name.rsplit('.').next().unwrap_or(name);
        if self.test_macro(node, name).is_some() {
            return None;
        }
        let input = generic_tests::TestInput {
            model: String::new(),
            column: column.clone(),
            args,
        };
        let (columns, skip_nulls) = match short {
            "unique" | "expect_column_values_to_be_unique" => {
                (vec![input.column_ident().ok()?], true)
            }
            "unique_combination_of_columns" => {
                (input.column_list("combination_of_columns").ok()?, false)
            }
            _ => return None,
        };
        let relation = self.relation_of(attached_to)?;
        let from = match &node.config.where_clause {
            Some(w) => format!("(select * from {relation} where {w}) dbt_subquery"),
            None => relation.to_string(),
        };
        Some(DuplicateKeyCheck {
            from,
            columns,
            skip_nulls,
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
        let on = attached_to.rsplit('.').next().unwrap_or(attached_to);
        let err = |message: String| ProjectError::Config {
            path: node.path.clone().into(),
            message: format!(
                "test `{name}` on `{on}`{}: {message}",
                column.map(|c| format!(".{c}")).unwrap_or_default()
            ),
        };
        let relation = self
            .relation_of(attached_to)
            .ok_or_else(|| err(format!("`{attached_to}` is not a node of this project")))?;
        let model = match &node.config.where_clause {
            Some(w) => format!("(select * from {relation} where {w}) dbt_subquery"),
            None => relation.to_string(),
        };
        let short = name.rsplit('.').next().unwrap_or(name);
        // A `{% test %}` of the project or a package wins over a built-in of the same name, as
        // in dbt.
        if let Some((package, macro_name)) = self.test_macro(node, name) {
            return self.custom_test_sql(
                node,
                &package,
                &macro_name,
                &relation,
                &model,
                column,
                args,
            );
        }
        if !generic_tests::is_builtin(short) {
            return Err(err(format!(
                "no such generic test\nhint: built-in tests are {}; or define it with {{% test {short}(model, column_name) %}} under macro-paths or tests/generic",
                generic_tests::BUILTIN.join(", ")
            )));
        }
        let input = generic_tests::TestInput {
            model,
            column: column.map(str::to_string),
            args,
        };
        let render_to = |to: &str| self.render_expression(node, to);
        generic_tests::builtin_sql(short, &input, &render_to).map_err(|e| err(e.to_string()))
    }

    /// Render a Jinja expression written in YAML (a relationships test's `to: ref('x')`).
    fn render_expression(&self, node: &Node, expr: &str) -> Result<String> {
        self.project
            .jinja
            .render_with(
                RenderRequest {
                    file: &node.path,
                    source: &format!("{{{{ {expr} }}}}"),
                    resolver: Some(self.resolver_for(node)),
                    adapter: self.adapter.clone(),
                    package: self.package_of(node),
                    ..Default::default()
                },
                self.node_extra(node, false),
            )
            .map(|(s, _)| s)
    }

    /// Row-level checks of a model's generic tests (the SQL condition true for a failing row),
    /// for the model's `quarantine` option and for counting tests in one scan. Tests over groups or whole tables
    /// and project-defined tests are not row-level and are left out.
    pub fn row_checks(&self, model: &Node) -> Result<Vec<RowCheck>> {
        let mut out = Vec::new();
        for test in self.project.nodes.values() {
            let Some(TestKind::Generic {
                name,
                column,
                attached_to,
                args,
            }) = &test.test
            else {
                continue;
            };
            if attached_to != &model.unique_id || test.config.where_clause.is_some() {
                continue;
            }
            let short = name.rsplit('.').next().unwrap_or(name);
            if self.test_macro(test, name).is_some() {
                continue;
            }
            let input = generic_tests::TestInput {
                model: String::new(),
                column: column.clone(),
                args,
            };
            let render_to = |to: &str| self.render_expression(test, to);
            if let Some(pred) = generic_tests::row_failure_predicate(short, &input, &render_to) {
                let pred = pred.map_err(|message| ProjectError::Config {
                    path: test.path.clone().into(),
                    message: format!("test `{}`: {message}", test.name),
                })?;
                let short_owned = short.to_string();
                out.push(RowCheck {
                    test_id: test.unique_id.clone(),
                    name: test.name.clone(),
                    predicate: pred,
                    // accepted_values reports failing values, not failing rows.
                    distinct_values_of: matches!(
                        short_owned.as_str(),
                        "accepted_values" | "expect_column_values_to_be_in_set"
                    )
                    .then(|| column.clone())
                    .flatten()
                    .map(|c| crate::node::quote_ident(&c)),
                    uses_subquery: short_owned == "relationships",
                });
            }
        }
        Ok(out)
    }

    /// The `{% test %}` macro a generic test of `node` names, as (package, macro): with a
    /// namespace (`dbt_utils.x`) that package's `test_x`; without, as dbt finds test macros,
    /// the root project's, then the node's own package's, then any package's. `None` leaves
    /// the test to Lakeforge's built-ins.
    fn test_macro(&self, node: &Node, name: &str) -> Option<(String, String)> {
        self.project.jinja.find_test_macro(name, node.package())
    }

    /// Render a generic test defined with `{% test %}`: `model` is the relation (filtered by
    /// `where`), `column_name` the column, the other arguments by name.
    #[allow(clippy::too_many_arguments)]
    fn custom_test_sql(
        &self,
        node: &Node,
        package: &str,
        macro_name: &str,
        relation: &Relation,
        model: &str,
        column: Option<&str>,
        args: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Result<String> {
        let model_value = if node.config.where_clause.is_some() {
            minijinja::Value::from(model.to_string())
        } else {
            crate::jinja::relation_value(relation)
        };
        let (sql, _) = self.project.jinja.call_test_macro(
            TestCall {
                package,
                macro_name,
                model: model_value,
                column,
                args,
            },
            MacroCall {
                file: &node.path,
                adapter: self.adapter.clone(),
                this: None,
                resolver: Some(self.resolver_for(node)),
                extra: self.node_extra(node, false),
            },
        )?;
        Ok(sql)
    }
}

/// dbt's `model` variable for a node: what macros read from it (name, package, ids, config).
/// Serialized straight from the node (a serde_json value first cost a tenth of a compile); the
/// fields are in alphabetical order, as a JSON object of them was.
pub(crate) fn model_value(node: &Node) -> minijinja::Value {
    #[derive(serde::Serialize)]
    struct DependsOn<'a> {
        nodes: &'a [String],
    }
    #[derive(serde::Serialize)]
    struct Model<'a> {
        alias: &'a str,
        config: &'a crate::NodeConfig,
        database: &'static str,
        depends_on: DependsOn<'a>,
        description: &'a str,
        fqn: &'a [String],
        name: &'a str,
        original_file_path: &'a str,
        package_name: &'a str,
        path: &'a str,
        raw_code: &'a str,
        resource_type: &'static str,
        schema: &'a str,
        unique_id: &'a str,
    }
    minijinja::Value::from_serialize(Model {
        alias: &node.relation.identifier,
        config: &node.config,
        database: "lake",
        depends_on: DependsOn {
            nodes: &node.depends_on,
        },
        description: &node.description,
        fqn: &node.fqn,
        name: &node.name,
        original_file_path: &node.path,
        package_name: node.fqn.first().map_or("", String::as_str),
        path: &node.path,
        raw_code: &node.raw_code,
        resource_type: node.resource_type.as_str(),
        schema: &node.relation.schema,
        unique_id: &node.unique_id,
    })
}
