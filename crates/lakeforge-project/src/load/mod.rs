//! Loading a project folder into a typed graph: finds seeds, models, macros, tests and
//! properties files, renders every SQL file once in parse mode to learn its refs and config,
//! resolves configs and relations, and checks that every ref points somewhere and that the
//! graph has no cycle.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{ProjectError, Result};
use crate::graph::Graph;
use crate::jinja::Jinja;
use crate::node::{Node, ResourceType, SourceTable, TestKind};
use crate::settings::{DbtProjectFile, Target, read_yaml, resolve_target};

mod docs;
mod files;
mod generic;
mod macros;
mod naming;
mod nodes;
mod props;
mod resolve;
mod scope;

pub use docs::Doc;
pub(crate) use files::{checksum, fqn_of};
pub use nodes::schema_for;
pub(crate) use resolve::{RefIndex, find_source};
pub(crate) use scope::Scope;

use generic::generic_test_node;
use macros::build_jinja;
use nodes::{Ctx, scope_nodes};
use props::{build_sources, read_props};
use resolve::{cli_vars, push_unique, resolve_source_id};
use scope::scopes;

/// Options that come from the command line.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--vars` as YAML text.
    pub vars: Option<String>,
    /// `--target`.
    pub target: Option<String>,
    /// `--profiles-dir`.
    pub profiles_dir: Option<PathBuf>,
    /// `--profile`.
    pub profile: Option<String>,
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
    /// The `{% docs %}` blocks of the project and its packages, by unique id
    /// (`doc.<package>.<name>`); descriptions have their `doc()` calls resolved already.
    pub docs: Arc<BTreeMap<String, Doc>>,
    /// The docs blocks (unique ids) the descriptions of each node or source used, by its
    /// unique id.
    pub docs_used: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Semantic models, metrics, saved queries and time spines (saved queries are nodes too).
    pub semantic: crate::semantic::SemanticLayer,
    pub(crate) jinja: Arc<Jinja>,
    /// Name → unique id of what a ref() from the root project reaches.
    pub(crate) by_name: HashMap<String, String>,
    /// Refable nodes by package, for ref() from any package.
    pub(crate) refs: RefIndex,
    /// The root project, then each installed package.
    pub(crate) scopes: Vec<Scope>,
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

pub(crate) struct RawNode {
    pub(crate) node: Node,
    pub(crate) refs: Vec<(Option<String>, String)>,
    pub(crate) sources: Vec<(String, String)>,
}

impl Project {
    /// Load the project whose `dbt_project.yml` is in `dir`, with the packages installed for it.
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Project> {
        let root = dir.canonicalize().map_err(|e| ProjectError::io(dir, e))?;
        let project_path = root.join("dbt_project.yml");
        if !project_path.is_file() {
            return Err(ProjectError::NotAProject { dir: root });
        }
        let file: DbtProjectFile = read_yaml(&project_path)?;
        let flags = crate::profiles::ProfileFlags {
            profiles_dir: opts.profiles_dir.clone(),
            profile: opts.profile.clone(),
            target: opts.target.clone(),
        };
        let mut target = resolve_target(&root, &file, &flags)?;
        let scopes = scopes(&root, &file, &cli_vars(opts.vars.as_deref())?)?;
        let vars = scopes[0].vars.clone();
        let jinja = Arc::new(build_jinja(&root, &scopes, &target)?);

        let names: Vec<String> = scopes.iter().map(|s| s.name.clone()).collect();
        let docs = docs::DocResolver {
            docs: Arc::new(docs::read_docs(&root, &scopes)?),
            jinja: &jinja,
            root: &file.name,
            used: Default::default(),
        };
        let mut props = Vec::with_capacity(scopes.len());
        let mut raw: Vec<RawNode> = Vec::new();
        for scope in &scopes {
            let mut index = read_props(&root, &scope.file)?;
            docs.resolve(scope, &mut index)?;
            let ctx = Ctx {
                scope,
                root: &file,
                target: &target,
                jinja: &jinja,
                props: &index,
                packages: &names,
            };
            raw.extend(scope_nodes(&ctx, &root)?);
            props.push(index);
        }
        // Outputs of profiles.yml other than the target's are rendered only when a source or
        // an export names them as a connection.
        let named = crate::profiles::named_connections(
            props.iter().flat_map(|p| p.sources.iter().map(|(_, s)| s)),
            raw.iter().map(|r| &r.node),
        );
        target.connect_profile_outputs(&root, named)?;
        let mut sources = BTreeMap::new();
        for (scope, index) in scopes.iter().zip(&props) {
            sources.extend(build_sources(&scope.name, &root, &target, index)?);
        }

        // Names are unique among a package's enabled models, seeds and snapshots: ref() finds
        // nodes by (package, name).
        let mut refs = RefIndex::new(names.clone());
        for r in &raw {
            let n = &r.node;
            if n.resource_type == ResourceType::Test {
                continue;
            }
            if !n.config.enabled {
                refs.insert_disabled(n.package(), &n.name, &n.path);
            } else if let Some(first) = refs.insert(n.package(), &n.name, &n.unique_id) {
                let other = raw
                    .iter()
                    .find(|x| x.node.unique_id == first)
                    .map(|x| x.node.path.clone())
                    .unwrap_or(first);
                return Err(ProjectError::DuplicateNode {
                    name: n.name.clone(),
                    first: other,
                    second: n.path.clone(),
                });
            }
        }

        let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
        for r in raw.into_iter().filter(|r| r.node.config.enabled) {
            let mut node = r.node;
            let package = node.package().to_string();
            for (target_pkg, name) in &r.refs {
                let id = refs.resolve(&package, &node.path, target_pkg.as_deref(), name)?;
                push_unique(&mut node.depends_on, id);
            }
            for (src, table) in &r.sources {
                let id = resolve_source_id(&sources, &refs, &package, &node.path, src, table)?;
                push_unique(&mut node.depends_on, id);
            }
            nodes.insert(node.unique_id.clone(), node);
        }

        naming::apply(&jinja, &scopes, &mut nodes)?;

        // Generic tests declared in properties YAML become test nodes of their own.
        for (scope, index) in scopes.iter().zip(&props) {
            let ctx = Ctx {
                scope,
                root: &file,
                target: &target,
                jinja: &jinja,
                props: index,
                packages: &names,
            };
            let own = refs.in_package(&scope.name);
            for (decl_path, owner, column, decl) in index.test_decls(&own, &scope.name) {
                let r = generic_test_node(&ctx, &decl_path, &owner, column.as_deref(), decl)?;
                if let Some(test) = test_with_deps(r, &refs, &sources, &nodes)? {
                    nodes.insert(test.unique_id.clone(), test);
                }
            }
        }

        let mut by_name = refs.root_view();
        let root_props = &props[0];
        let scope = crate::unit_test::UnitTestScope {
            project: &file.name,
            root: &root,
            test_paths: &file.test_paths,
            nodes: &nodes,
            by_name: &by_name,
            sources: &sources,
        };
        let mut unit_tests = Vec::new();
        for (path, props) in &root_props.unit_tests {
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
        for (path, props) in &root_props.ml_models {
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
            refs.insert(&file.name, &node.name, &node.unique_id);
            by_name.insert(node.name.clone(), node.unique_id.clone());
            nodes.insert(node.unique_id.clone(), node);
        }

        let semantic = crate::semantic::load(
            &crate::semantic::Scope {
                project: &file.name,
                model_paths: &file.model_paths,
                by_name: &by_name,
            },
            &root_props.semantic,
            root_props.models.values().map(|(p, m)| (p.as_str(), m)),
            &mut nodes,
        )?;

        let graph = Graph::build(&nodes, &sources)?;
        let docs_used = docs.used.into_inner().unwrap_or_else(|e| e.into_inner());
        let docs = docs.docs;
        Ok(Project {
            docs,
            docs_used,
            semantic,
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
            refs,
            scopes,
        })
    }

    /// The folder compiled SQL, manifest.json and run_results.json go to.
    pub fn target_dir(&self) -> PathBuf {
        self.root.join(&self.file.target_path)
    }

    /// Where `lakeforge compile` writes a node's SQL: target/compiled/<project>/<path>.
    pub fn compiled_path(&self, node: &Node) -> PathBuf {
        // A package's node goes under the package's name, at its path inside the package.
        let scope = self.scope_of(node);
        let p = self
            .target_dir()
            .join("compiled")
            .join(&scope.name)
            .join(scope.own_path(&node.path));
        // Tests declared in YAML get a file of their own under the YAML file's path, as in dbt:
        // a generic test's is named by its short name (its relation), which stays under 64
        // characters however long its arguments make its full name.
        match &node.test {
            Some(TestKind::Generic { .. }) => p.join(format!("{}.sql", node.relation.identifier)),
            Some(TestKind::Unit(_)) => p.join(format!("{}.sql", node.name)),
            _ => p,
        }
    }

    pub fn node(&self, unique_id: &str) -> Option<&Node> {
        self.nodes.get(unique_id)
    }

    /// The scope (root project or package) a node belongs to.
    pub(crate) fn scope_of(&self, node: &Node) -> &Scope {
        let package = node.package();
        self.scopes
            .iter()
            .find(|s| s.name == package)
            .unwrap_or(&self.scopes[0])
    }

    /// The names of the installed packages, in load order.
    pub fn packages(&self) -> impl Iterator<Item = &str> {
        self.scopes.iter().skip(1).map(|s| s.name.as_str())
    }

    /// Find a model or seed by name.
    pub fn node_by_name(&self, name: &str) -> Option<&Node> {
        self.by_name.get(name).and_then(|id| self.nodes.get(id))
    }
}

/// A generic test with its dependencies resolved: the tested node and what its arguments
/// ref() or source(). `None` when it tests or refers to a disabled node (dropped with it, as
/// dbt disables such tests).
fn test_with_deps(
    r: RawNode,
    refs: &RefIndex,
    sources: &BTreeMap<String, SourceTable>,
    nodes: &BTreeMap<String, Node>,
) -> Result<Option<Node>> {
    let mut test = r.node;
    let package = test.package().to_string();
    let owner = test.depends_on.clone();
    if owner
        .iter()
        .any(|d| !d.starts_with("source.") && !nodes.contains_key(d))
    {
        return Ok(None);
    }
    for (target_pkg, name) in &r.refs {
        if refs.is_disabled(&package, target_pkg.as_deref(), name) {
            return Ok(None);
        }
        let id = refs.resolve(&package, &test.path, target_pkg.as_deref(), name)?;
        push_unique(&mut test.depends_on, id);
    }
    for (src, table) in &r.sources {
        let id = resolve_source_id(sources, refs, &package, &test.path, src, table)?;
        push_unique(&mut test.depends_on, id);
    }
    Ok(Some(test))
}
