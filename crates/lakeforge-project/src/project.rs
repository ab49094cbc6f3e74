//! Loading a project folder into a typed graph: finds seeds, models, macros, tests and
//! properties files, renders every SQL file once in parse mode to learn its refs and config,
//! resolves configs and relations, and checks that every ref points somewhere and that the
//! graph has no cycle.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::config::{build_config, hierarchy_layer, json_to_plain_string, merge, yaml_to_json};
use crate::error::{ProjectError, Result, suggest};
use crate::graph::Graph;
use crate::jinja::{Jinja, JinjaGlobals, MacroPackage, RenderRequest};
use crate::node::{
    ColumnInfo, Materialization, Node, Relation, ResourceType, SourceTable, TestKind,
};
use crate::properties::{ColumnProps, PropertiesFile, ResourceProps, TestDecl, config_layer};
use crate::settings::{DbtProjectFile, Target, read_yaml, resolve_target};

/// Options that come from the command line.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--vars` as YAML text.
    pub vars: Option<String>,
    /// `--target`.
    pub target: Option<String>,
}

/// A loaded project: every node with its resolved config, and the graph between them.
pub struct Project {
    pub root: PathBuf,
    pub name: String,
    pub file: DbtProjectFile,
    pub target: Target,
    /// Nodes by unique id.
    pub nodes: BTreeMap<String, Node>,
    pub sources: BTreeMap<String, SourceTable>,
    pub graph: Graph,
    pub vars: BTreeMap<String, serde_json::Value>,
    /// A manifest of an earlier run to compare with (`--state DIR`), for `state:` selection.
    pub state: Option<crate::state::StateManifest>,
    pub(crate) jinja: Arc<Jinja>,
    /// Model/seed name → unique id, for ref().
    pub(crate) by_name: HashMap<String, String>,
}

impl std::fmt::Debug for Project {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project")
            .field("root", &self.root)
            .field("name", &self.name)
            .field("nodes", &self.nodes.len())
            .finish()
    }
}

struct RawNode {
    node: Node,
    refs: Vec<(Option<String>, String)>,
    sources: Vec<(String, String)>,
}

impl Project {
    /// Load the project whose `dbt_project.yml` is in `dir`.
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Project> {
        let root = dir.canonicalize().map_err(|e| ProjectError::io(dir, e))?;
        let project_path = root.join("dbt_project.yml");
        if !project_path.is_file() {
            return Err(ProjectError::NotAProject { dir: root });
        }
        let file: DbtProjectFile = read_yaml(&project_path)?;
        let target = resolve_target(&root, &file, opts.target.as_deref())?;
        let vars = resolve_vars(&file, opts.vars.as_deref())?;

        // Generic tests may live in macro-paths or, as dbt allows, in <test-path>/generic/.
        let generic_dirs: Vec<String> = file
            .test_paths
            .iter()
            .map(|t| format!("{}/generic", t.trim_end_matches('/')))
            .collect();
        let mut macro_files = read_files(&root, &file.macro_paths, &["sql"])?;
        macro_files.extend(read_files(&root, &generic_dirs, &["sql"])?);
        let globals = JinjaGlobals {
            vars: vars.clone(),
            target_name: target.name.clone(),
            target_schema: target.schema.clone(),
            threads: target.threads.unwrap_or(1),
            project_name: file.name.clone(),
            dispatch: Vec::new(),
        };
        let root_macros = MacroPackage {
            name: file.name.clone(),
            files: macro_files,
        };
        let jinja = Arc::new(Jinja::new(&globals, &[root_macros])?);

        let mut props = PropsIndex::default();
        for dirs in [&file.model_paths, &file.seed_paths, &file.snapshot_paths] {
            for (path, text) in read_files(&root, dirs, &["yml", "yaml"])? {
                let parsed: PropertiesFile = serde_yaml::from_str(&text)
                    .map_err(|e| ProjectError::yaml(root.join(&path), e))?;
                props.add(&path, parsed);
            }
        }

        let mut raw: Vec<RawNode> = Vec::new();
        for (path, text) in read_files(&root, &file.model_paths, &["sql"])? {
            raw.push(parse_sql_node(
                &jinja,
                &file,
                &target,
                &props,
                ResourceType::Model,
                path,
                text,
            )?);
        }
        for (path, _) in list_files(&root, &file.seed_paths, &["csv"])? {
            let text = std::fs::read(root.join(&path))
                .map_err(|e| ProjectError::io(root.join(&path), e))?;
            raw.push(seed_node(&file, &target, &props, path, &text)?);
        }
        for (path, text) in read_files(&root, &file.test_paths, &["sql"])? {
            if generic_dirs
                .iter()
                .any(|g| path.starts_with(&format!("{g}/")))
            {
                continue;
            }
            raw.push(parse_sql_node(
                &jinja,
                &file,
                &target,
                &props,
                ResourceType::Test,
                path,
                text,
            )?);
        }

        for (path, text) in read_files(&root, &file.snapshot_paths, &["sql"])? {
            let (name, body) = crate::snapshot::parse_block(&path, &text)?;
            let yaml = props
                .snapshots
                .iter()
                .find(|(_, p)| p.name == name && p.relation.is_none())
                .map(|(_, p)| p);
            raw.push(snapshot_node(
                &jinja, &file, &target, path, name, body, &text, yaml,
            )?);
        }
        for (path, p) in &props.snapshots {
            let Some(relation) = &p.relation else {
                continue;
            };
            let body = crate::snapshot::relation_sql(path, &p.name, relation)?;
            raw.push(snapshot_node(
                &jinja,
                &file,
                &target,
                path.clone(),
                p.name.clone(),
                body,
                relation,
                Some(p),
            )?);
        }

        let sources = build_sources(&file.name, &root, &target, &props)?;

        // Names must be unique among models and seeds: ref() finds nodes by name.
        let mut by_name: HashMap<String, String> = HashMap::new();
        for r in &raw {
            if r.node.resource_type == ResourceType::Test {
                continue;
            }
            if let Some(first) = by_name.insert(r.node.name.clone(), r.node.unique_id.clone()) {
                let other = raw
                    .iter()
                    .find(|x| x.node.unique_id == first)
                    .map(|x| x.node.path.clone())
                    .unwrap_or(first);
                return Err(ProjectError::DuplicateNode {
                    name: r.node.name.clone(),
                    first: other,
                    second: r.node.path.clone(),
                });
            }
        }

        let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
        let disabled: HashMap<String, String> = raw
            .iter()
            .filter(|r| !r.node.config.enabled)
            .map(|r| (r.node.name.clone(), r.node.path.clone()))
            .collect();
        for r in raw.into_iter().filter(|r| r.node.config.enabled) {
            let mut node = r.node;
            for (package, name) in &r.refs {
                check_package(&file.name, &node.path, package.as_deref())?;
                let id = resolve_name(&by_name, &disabled, &node.path, name)?;
                push_unique(&mut node.depends_on, id);
            }
            for (src, table) in &r.sources {
                let id = resolve_source_id(&sources, &node.path, src, table)?;
                push_unique(&mut node.depends_on, id);
            }
            nodes.insert(node.unique_id.clone(), node);
        }

        // Generic tests declared in properties YAML become test nodes of their own.
        let mut tests = Vec::new();
        for (decl_path, owner, column, decl) in props.test_decls(&by_name, &sources) {
            let test = generic_test_node(
                &jinja,
                &file,
                &target,
                &decl_path,
                &owner,
                column.as_deref(),
                decl,
            )?;
            tests.push((test, owner));
        }
        for (mut test, _owner) in tests {
            let mut deps = Vec::new();
            for dep in &test.depends_on {
                let id = if dep.starts_with("source.") || nodes.contains_key(dep) {
                    dep.clone()
                } else if let Some(name) = dep.strip_prefix("ref:") {
                    resolve_name(&by_name, &disabled, &test.path, name)?
                } else if let Some(pair) = dep.strip_prefix("source:") {
                    let (s, t) = pair.split_once('.').unwrap_or((pair, ""));
                    resolve_source_id(&sources, &test.path, s, t)?
                } else {
                    continue;
                };
                push_unique(&mut deps, id);
            }
            // A test of a disabled model is dropped with its model.
            if deps
                .iter()
                .any(|d| !d.starts_with("source.") && !nodes.contains_key(d))
            {
                continue;
            }
            test.depends_on = deps;
            nodes.insert(test.unique_id.clone(), test);
        }

        let scope = crate::unit_test::UnitTestScope {
            project: &file.name,
            root: &root,
            test_paths: &file.test_paths,
            nodes: &nodes,
            by_name: &by_name,
            sources: &sources,
        };
        let mut unit_tests = Vec::new();
        for (path, props) in &props.unit_tests {
            if let Some(node) = scope.node(path, props)? {
                if unit_tests
                    .iter()
                    .any(|n: &Node| n.unique_id == node.unique_id)
                {
                    return Err(ProjectError::Config {
                        path: path.into(),
                        message: format!(
                            "unit test `{}` of model `{}` is declared twice",
                            node.name, props.model
                        ),
                    });
                }
                unit_tests.push(node);
            }
        }
        for node in unit_tests {
            nodes.insert(node.unique_id.clone(), node);
        }

        // ML models: nodes after the relation they learn from; SQL models that score with
        // predict('name', ...) wait for them.
        let ml_scope = crate::ml_model::MlModelScope {
            project: &file.name,
            schema: &target.schema,
            nodes: &nodes,
            by_name: &by_name,
            sources: &sources,
        };
        let mut ml_nodes: Vec<Node> = Vec::new();
        for (path, props) in &props.ml_models {
            let Some(node) = ml_scope.node(path, props)? else {
                continue;
            };
            let clash = by_name
                .get(&node.name)
                .and_then(|id| nodes.get(id))
                .map(|n| n.path.clone())
                .or_else(|| {
                    ml_nodes
                        .iter()
                        .find(|m| m.name == node.name)
                        .map(|m| m.path.clone())
                });
            if let Some(first) = clash {
                return Err(ProjectError::DuplicateNode {
                    name: node.name.clone(),
                    first,
                    second: node.path.clone(),
                });
            }
            ml_nodes.push(node);
        }
        let ml_ids: HashMap<String, String> = ml_nodes
            .iter()
            .map(|n| (n.name.clone(), n.unique_id.clone()))
            .collect();
        if !ml_ids.is_empty() {
            for node in nodes.values_mut() {
                if node.resource_type != ResourceType::Model {
                    continue;
                }
                for name in crate::ml_model::predicted_models(&node.raw_code) {
                    if let Some(id) = ml_ids.get(&name) {
                        push_unique(&mut node.depends_on, id.clone());
                    }
                }
            }
        }
        for node in ml_nodes {
            by_name.insert(node.name.clone(), node.unique_id.clone());
            nodes.insert(node.unique_id.clone(), node);
        }

        let graph = Graph::build(&nodes, &sources)?;
        Ok(Project {
            root,
            name: file.name.clone(),
            file,
            target,
            nodes,
            sources,
            graph,
            vars,
            state: None,
            jinja,
            by_name,
        })
    }

    /// The folder compiled SQL, manifest.json and run_results.json go to.
    pub fn target_dir(&self) -> PathBuf {
        self.root.join(&self.file.target_path)
    }

    pub fn node(&self, unique_id: &str) -> Option<&Node> {
        self.nodes.get(unique_id)
    }

    /// Find a model or seed by name.
    pub fn node_by_name(&self, name: &str) -> Option<&Node> {
        self.by_name.get(name).and_then(|id| self.nodes.get(id))
    }
}

fn push_unique(v: &mut Vec<String>, id: String) {
    if !v.contains(&id) {
        v.push(id);
    }
}

fn check_package(project: &str, path: &str, package: Option<&str>) -> Result<()> {
    match package {
        Some(p) if p != project => Err(ProjectError::Config {
            path: path.into(),
            message: format!(
                "ref() names package `{p}`, but packages are not supported; this project is `{project}`\nhint: copy the package's models into this project, or drop the package argument"
            ),
        }),
        _ => Ok(()),
    }
}

fn resolve_name(
    by_name: &HashMap<String, String>,
    disabled: &HashMap<String, String>,
    from: &str,
    name: &str,
) -> Result<String> {
    if let Some(id) = by_name.get(name) {
        return Ok(id.clone());
    }
    if let Some(path) = disabled.get(name) {
        return Err(ProjectError::Config {
            path: from.into(),
            message: format!(
                "ref('{name}') points to a disabled node ({path})\nhint: enable it, or disable this node too"
            ),
        });
    }
    Err(ProjectError::UnknownRef {
        node: from.to_string(),
        target: name.to_string(),
        suggestion: suggest(name, by_name.keys().map(String::as_str)),
    })
}

fn resolve_source_id(
    sources: &BTreeMap<String, SourceTable>,
    from: &str,
    source: &str,
    table: &str,
) -> Result<String> {
    if let Some(s) = sources
        .values()
        .find(|s| s.source_name == source && s.name == table)
    {
        return Ok(s.unique_id.clone());
    }
    let names: Vec<String> = sources
        .values()
        .map(|s| format!("{}.{}", s.source_name, s.name))
        .collect();
    Err(ProjectError::UnknownSource {
        node: from.to_string(),
        source_name: source.to_string(),
        table: table.to_string(),
        suggestion: suggest(
            &format!("{source}.{table}"),
            names.iter().map(String::as_str),
        ),
    })
}

/// Project vars (top-level and under the project's name), overridden by `--vars`.
fn resolve_vars(
    file: &DbtProjectFile,
    cli: Option<&str>,
) -> Result<BTreeMap<String, serde_json::Value>> {
    let mut vars = BTreeMap::new();
    for (k, v) in &file.vars {
        if k == &file.name && v.is_mapping() {
            continue;
        }
        vars.insert(k.clone(), yaml_to_json(v));
    }
    if let Some(serde_yaml::Value::Mapping(m)) = file.vars.get(&file.name) {
        for (k, v) in m {
            if let Some(k) = k.as_str() {
                vars.insert(k.to_string(), yaml_to_json(v));
            }
        }
    }
    if let Some(text) = cli.filter(|t| !t.trim().is_empty()) {
        let parsed: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| ProjectError::Vars {
                message: e.to_string(),
            })?;
        let serde_json::Value::Object(m) = yaml_to_json(&parsed) else {
            return Err(ProjectError::Vars {
                message: format!("expected a mapping, got `{text}`"),
            });
        };
        vars.extend(m);
    }
    Ok(vars)
}

/// (relative path, contents) of files under `dirs` with one of `exts`, in a stable order.
fn read_files(root: &Path, dirs: &[String], exts: &[&str]) -> Result<Vec<(String, String)>> {
    list_files(root, dirs, exts)?
        .into_iter()
        .map(|(rel, abs)| {
            let text = std::fs::read_to_string(&abs).map_err(|e| ProjectError::io(&abs, e))?;
            Ok((rel, text))
        })
        .collect()
}

fn list_files(root: &Path, dirs: &[String], exts: &[&str]) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for dir in dirs {
        let base = root.join(dir);
        if !base.is_dir() {
            continue;
        }
        for entry in walkdir::WalkDir::new(&base).sort_by_file_name() {
            let entry = entry.map_err(|e| ProjectError::io(&base, e.into()))?;
            let p = entry.path();
            let matches = p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e));
            if entry.file_type().is_file() && matches {
                let rel = p
                    .strip_prefix(root)
                    .unwrap_or(p)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, p.to_path_buf()));
            }
        }
    }
    Ok(out)
}

pub(crate) fn checksum(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// fqn = project name, folders below the resource path, node name.
fn fqn_of(project: &str, path: &str, roots: &[String], name: &str) -> Vec<String> {
    let mut fqn = vec![project.to_string()];
    let rel = roots
        .iter()
        .find_map(|r| path.strip_prefix(&format!("{}/", r.trim_end_matches('/'))))
        .unwrap_or(path);
    let parts: Vec<&str> = rel.split('/').collect();
    fqn.extend(
        parts[..parts.len().saturating_sub(1)]
            .iter()
            .map(|s| s.to_string()),
    );
    fqn.push(name.to_string());
    fqn
}

fn stem(path: &str) -> String {
    Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// dbt's default generate_schema_name: a custom schema is appended to the target schema.
pub fn schema_for(target: &Target, custom: Option<&str>) -> String {
    match custom {
        Some(c) if !c.trim().is_empty() => format!("{}_{}", target.schema, c.trim()),
        _ => target.schema.clone(),
    }
}

fn columns_of(props: Option<&ResourceProps>) -> Vec<ColumnInfo> {
    props
        .map(|p| p.columns.iter().map(column_info).collect())
        .unwrap_or_default()
}

fn column_info(c: &ColumnProps) -> ColumnInfo {
    ColumnInfo {
        name: c.name.clone(),
        description: c.description.clone().unwrap_or_default(),
        data_type: c.data_type.clone(),
    }
}

fn parse_sql_node(
    jinja: &Jinja,
    file: &DbtProjectFile,
    target: &Target,
    props: &PropsIndex,
    kind: ResourceType,
    path: String,
    text: String,
) -> Result<RawNode> {
    let name = stem(&path);
    let (_, captured) = jinja.render(RenderRequest {
        file: &path,
        source: &text,
        ..Default::default()
    })?;
    let (roots, tree, default_mat, prefix) = match kind {
        ResourceType::Test => (
            &file.test_paths,
            &file.data_tests,
            Materialization::Test,
            "test",
        ),
        _ => (
            &file.model_paths,
            &file.models,
            Materialization::View,
            "model",
        ),
    };
    let fqn = fqn_of(&file.name, &path, roots, &name);
    let resource_props = if kind == ResourceType::Model {
        props.models.get(&name)
    } else {
        None
    };
    let mut layer = hierarchy_layer(tree, &fqn);
    if let Some(p) = resource_props {
        merge(&mut layer, &config_layer(&p.1.config));
    }
    merge(&mut layer, &captured.config);
    let config = build_config(layer, default_mat, &path)?;
    let relation = Relation::new(
        schema_for(target, config.schema.as_deref()),
        config.alias.clone().unwrap_or_else(|| name.clone()),
    );
    let node = Node {
        unique_id: format!("{prefix}.{}.{}", file.name, name),
        name,
        resource_type: kind,
        path,
        fqn,
        description: resource_props
            .and_then(|p| p.1.description.clone())
            .unwrap_or_default(),
        columns: columns_of(resource_props.map(|p| &p.1)),
        checksum: checksum(text.as_bytes()),
        config,
        relation,
        raw_code: text,
        depends_on: Vec::new(),
        test: (kind == ResourceType::Test).then_some(TestKind::Singular),
        ml_model: None,
        snapshot: None,
    };
    Ok(RawNode {
        node,
        refs: captured.refs,
        sources: captured.sources,
    })
}

/// A snapshot node from its SQL (the block's body, or the SELECT of a YAML `relation:`). Its
/// table is `target_schema` exactly when given (dbt's legacy config), else the schema dbt would
/// derive from `schema`.
#[allow(clippy::too_many_arguments)]
fn snapshot_node(
    jinja: &Jinja,
    file: &DbtProjectFile,
    target: &Target,
    path: String,
    name: String,
    body: String,
    checksum_of: &str,
    yaml: Option<&ResourceProps>,
) -> Result<RawNode> {
    let (_, captured) = jinja.render(RenderRequest {
        file: &path,
        source: &body,
        ..Default::default()
    })?;
    let fqn = fqn_of(&file.name, &path, &file.snapshot_paths, &name);
    let mut layer = hierarchy_layer(&file.snapshots, &fqn);
    if let Some(p) = yaml {
        merge(&mut layer, &config_layer(&p.config));
    }
    merge(&mut layer, &captured.config);
    let mut config = build_config(layer, Materialization::Snapshot, &path)?;
    if config.materialized != Materialization::Snapshot {
        return Err(ProjectError::Config {
            path: path.into(),
            message: format!(
                "snapshot `{name}` cannot be materialized as `{}`\nhint: remove `materialized` from the snapshot's config",
                config.materialized.as_str()
            ),
        });
    }
    config.materialized = Materialization::Snapshot;
    let spec = crate::snapshot::spec(&config, &path, &name)?;
    let schema = match config.raw.get("target_schema").filter(|v| !v.is_null()) {
        Some(s) => json_to_plain_string(s),
        None => schema_for(target, config.schema.as_deref()),
    };
    let relation = Relation::new(schema, config.alias.clone().unwrap_or_else(|| name.clone()));
    let node = Node {
        unique_id: format!("snapshot.{}.{}", file.name, name),
        name,
        resource_type: ResourceType::Snapshot,
        path,
        fqn,
        description: yaml.and_then(|p| p.description.clone()).unwrap_or_default(),
        columns: columns_of(yaml),
        checksum: checksum(checksum_of.as_bytes()),
        config,
        relation,
        raw_code: body,
        depends_on: Vec::new(),
        test: None,
        ml_model: None,
        snapshot: Some(Box::new(spec)),
    };
    Ok(RawNode {
        node,
        refs: captured.refs,
        sources: captured.sources,
    })
}

fn seed_node(
    file: &DbtProjectFile,
    target: &Target,
    props: &PropsIndex,
    path: String,
    bytes: &[u8],
) -> Result<RawNode> {
    let name = stem(&path);
    let fqn = fqn_of(&file.name, &path, &file.seed_paths, &name);
    let resource_props = props.seeds.get(&name);
    let mut layer = hierarchy_layer(&file.seeds, &fqn);
    if let Some(p) = resource_props {
        merge(&mut layer, &config_layer(&p.1.config));
    }
    let config = build_config(layer, Materialization::Seed, &path)?;
    let relation = Relation::new(
        schema_for(target, config.schema.as_deref()),
        config.alias.clone().unwrap_or_else(|| name.clone()),
    );
    Ok(RawNode {
        node: Node {
            unique_id: format!("seed.{}.{}", file.name, name),
            name,
            resource_type: ResourceType::Seed,
            path,
            fqn,
            description: resource_props
                .and_then(|p| p.1.description.clone())
                .unwrap_or_default(),
            columns: columns_of(resource_props.map(|p| &p.1)),
            checksum: checksum(bytes),
            config,
            relation,
            raw_code: String::new(),
            depends_on: Vec::new(),
            test: None,
            ml_model: None,
            snapshot: None,
        },
        refs: Vec::new(),
        sources: Vec::new(),
    })
}

fn build_sources(
    project: &str,
    root: &Path,
    target: &Target,
    props: &PropsIndex,
) -> Result<BTreeMap<String, SourceTable>> {
    let mut out = BTreeMap::new();
    for (path, source) in &props.sources {
        for table in &source.tables {
            let unique_id = format!("source.{project}.{}.{}", source.name, table.name);
            let mut raw = serde_json::Map::new();
            for (k, v) in source.rest.iter().chain(table.rest.iter()) {
                raw.insert(k.clone(), yaml_to_json(v));
            }
            let database = crate::database::parse(source, table, &target.connections, path)?;
            // A database table is queried in the lake's catalog under the source's own name
            // (`shop_db.orders`): its `schema:` and `identifier:` name it in the database.
            let relation = match &database {
                Some(_) => Relation::new(source.name.clone(), table.name.clone()),
                None => Relation::new(
                    source.schema.clone().unwrap_or_else(|| source.name.clone()),
                    table
                        .identifier
                        .clone()
                        .unwrap_or_else(|| table.name.clone()),
                ),
            };
            let st = SourceTable {
                unique_id: unique_id.clone(),
                source_name: source.name.clone(),
                name: table.name.clone(),
                relation,
                description: table
                    .description
                    .clone()
                    .or_else(|| source.description.clone())
                    .unwrap_or_default(),
                columns: table.columns.iter().map(column_info).collect(),
                path: path.clone(),
                loaded_at_field: table
                    .loaded_at_field
                    .clone()
                    .or_else(|| source.loaded_at_field.clone()),
                external: match raw.get("external") {
                    Some(v) => Some(crate::external::parse(
                        v,
                        root,
                        path,
                        &format!("source `{}.{}`", source.name, table.name),
                    )?),
                    None => None,
                },
                database,
                raw: serde_json::Value::Object(raw),
            };
            if out.insert(unique_id.clone(), st).is_some() {
                return Err(ProjectError::Config {
                    path: path.into(),
                    message: format!(
                        "source table `{}.{}` is declared twice",
                        source.name, table.name
                    ),
                });
            }
        }
    }
    Ok(out)
}

/// Properties from every YAML file, by resource name, with the file each came from.
#[derive(Default)]
struct PropsIndex {
    models: HashMap<String, (String, ResourceProps)>,
    seeds: HashMap<String, (String, ResourceProps)>,
    sources: Vec<(String, crate::properties::SourceProps)>,
    unit_tests: Vec<(String, crate::unit_test::UnitTestProps)>,
    ml_models: Vec<(String, crate::ml_model::MlModelProps)>,
    /// `snapshots:` entries: with `relation:` a snapshot of their own, else properties of the
    /// SQL snapshot of that name.
    snapshots: Vec<(String, ResourceProps)>,
}

impl PropsIndex {
    fn add(&mut self, path: &str, file: PropertiesFile) {
        for m in file.models {
            self.models.insert(m.name.clone(), (path.to_string(), m));
        }
        for s in file.seeds {
            self.seeds.insert(s.name.clone(), (path.to_string(), s));
        }
        for s in file.sources {
            self.sources.push((path.to_string(), s));
        }
        for u in file.unit_tests {
            self.unit_tests.push((path.to_string(), u));
        }
        for m in file.ml_models {
            self.ml_models.push((path.to_string(), m));
        }
        for s in file.snapshots {
            self.snapshots.push((path.to_string(), s));
        }
    }

    /// Every declared generic test: (yaml path, owner unique id, column, declaration).
    fn test_decls(
        &self,
        by_name: &HashMap<String, String>,
        sources: &BTreeMap<String, SourceTable>,
    ) -> Vec<(String, String, Option<String>, serde_yaml::Value)> {
        let mut out = Vec::new();
        let mut push_resource = |path: &str, owner: &str, r: &ResourceProps| {
            for t in &r.tests {
                out.push((path.to_string(), owner.to_string(), None, t.clone()));
            }
            for c in &r.columns {
                for t in &c.tests {
                    out.push((
                        path.to_string(),
                        owner.to_string(),
                        Some(c.name.clone()),
                        t.clone(),
                    ));
                }
            }
        };
        let mut names: Vec<&String> = self.models.keys().chain(self.seeds.keys()).collect();
        names.sort();
        for name in names {
            let Some(owner) = by_name.get(name) else {
                continue;
            };
            let (path, r) = self
                .models
                .get(name)
                .or_else(|| self.seeds.get(name))
                .expect("name from keys");
            push_resource(path, owner, r);
        }
        for (path, s) in &self.sources {
            for t in &s.tables {
                let owner = format!(
                    "source.{}",
                    sources
                        .values()
                        .find(|x| x.source_name == s.name && x.name == t.name)
                        .map(|x| x.unique_id.trim_start_matches("source.").to_string())
                        .unwrap_or_default()
                );
                let as_resource = ResourceProps {
                    name: t.name.clone(),
                    description: None,
                    config: None,
                    columns: t.columns.clone(),
                    tests: t.tests.clone(),
                    relation: None,
                };
                push_resource(path, &owner, &as_resource);
            }
        }
        out
    }
}

fn generic_test_node(
    jinja: &Jinja,
    file: &DbtProjectFile,
    target: &Target,
    decl_path: &str,
    owner: &str,
    column: Option<&str>,
    value: serde_yaml::Value,
) -> Result<Node> {
    let decl = TestDecl::parse(&value, Path::new(decl_path))?;
    let owner_name = owner.rsplit('.').next().unwrap_or(owner).to_string();
    let short_test = decl
        .test_name
        .rsplit('.')
        .next()
        .unwrap_or(&decl.test_name)
        .to_string();
    let mut depends_on = vec![owner.to_string()];
    let mut args = decl.args.clone();
    // relationships' `to:` is Jinja (`ref('customers')`); render it to learn the dependency.
    for (_, v) in args.iter_mut() {
        if let serde_json::Value::String(s) = v
            && (s.contains("ref(") || s.contains("source("))
        {
            let (_, captured) = jinja.render(RenderRequest {
                file: decl_path,
                source: &format!("{{{{ {s} }}}}"),
                ..Default::default()
            })?;
            for (_, name) in captured.refs {
                depends_on.push(format!("ref:{name}"));
            }
            for (s, t) in captured.sources {
                depends_on.push(format!("source:{s}.{t}"));
            }
        }
    }
    let name = decl.custom_name.clone().unwrap_or_else(|| {
        let mut n = format!("{short_test}_{owner_name}");
        if let Some(c) = column {
            n.push('_');
            n.push_str(c);
        }
        let extra: Vec<String> = args
            .iter()
            .filter(|(k, _)| *k != "column_name" && *k != "model")
            .map(|(_, v)| match v {
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(json_to_plain_string)
                    .collect::<Vec<_>>()
                    .join("__"),
                other => json_to_plain_string(other),
            })
            .collect();
        if !extra.is_empty() {
            n.push_str("__");
            n.push_str(&extra.join("__"));
        }
        sanitize_name(&n.replace(['\'', '"'], ""))
    });
    let fqn = vec![file.name.clone(), name.clone()];
    let mut layer = hierarchy_layer(&file.data_tests, &fqn);
    merge(&mut layer, &decl.config);
    let config = build_config(layer, Materialization::Test, decl_path)?;
    let hash = &checksum(format!("{owner}|{column:?}|{value:?}").as_bytes())[..10];
    Ok(Node {
        unique_id: format!("test.{}.{}.{}", file.name, name, hash),
        relation: Relation::new(schema_for(target, Some("dbt_test__audit")), name.clone()),
        name,
        resource_type: ResourceType::Test,
        path: decl_path.to_string(),
        fqn,
        description: String::new(),
        columns: Vec::new(),
        config,
        raw_code: String::new(),
        depends_on,
        test: Some(TestKind::Generic {
            name: decl.test_name,
            column: column.map(str::to_string),
            attached_to: owner.to_string(),
            args,
        }),
        checksum: hash.to_string(),
        ml_model: None,
        snapshot: None,
    })
}

fn sanitize_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.len() > 80 {
        let h = checksum(s.as_bytes());
        out.truncate(60);
        out.push('_');
        out.push_str(&h[..12]);
    }
    out
}
