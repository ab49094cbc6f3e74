//! One node per SQL file, CSV seed or snapshot: its fqn, its config from the `models:`/`seeds:`/
//! `snapshots:` hierarchy, properties YAML and `config()`, and the relation it builds.

use crate::config::{build_config, json_to_plain_string, merge};
use crate::error::{ProjectError, Result};
use crate::jinja::{Captured, Jinja, RenderRequest};
use crate::node::{ColumnInfo, Materialization, Node, Relation, ResourceType, TestKind};
use crate::properties::{ColumnProps, ResourceProps, config_layer};
use crate::settings::{DbtProjectFile, Target};

use super::RawNode;
use super::files::{checksum, fqn_of, list_files, read_files, stem};
use super::macros::generic_dirs;
use super::props::PropsIndex;
use super::scope::{Scope, Tree};

/// What building the nodes of one scope (the root project or a package) needs.
pub(super) struct Ctx<'a> {
    pub scope: &'a Scope,
    /// The root project's dbt_project.yml, whose trees configure every scope's nodes.
    pub root: &'a DbtProjectFile,
    pub target: &'a Target,
    pub jinja: &'a Jinja,
    pub props: &'a PropsIndex,
    /// Every scope's name, the root project first.
    pub packages: &'a [String],
}

impl Ctx<'_> {
    /// Render in parse mode (refs are placeholders) to learn a node's refs, sources and config.
    pub fn parse(&self, file: &str, source: &str) -> Result<Captured> {
        let (_, captured) = self.jinja.render_with(
            RenderRequest {
                file,
                source,
                package: Some(self.scope.name.as_str()).filter(|_| !self.scope.is_root),
                ..Default::default()
            },
            self.scope.render_extra(),
        )?;
        Ok(captured)
    }

    fn unique_id(&self, prefix: &str, name: &str) -> String {
        format!("{prefix}.{}.{name}", self.scope.name)
    }
}

/// dbt's default generate_schema_name: a custom schema is appended to the target schema.
pub fn schema_for(target: &Target, custom: Option<&str>) -> String {
    match custom {
        Some(c) if !c.trim().is_empty() => format!("{}_{}", target.schema, c.trim()),
        _ => target.schema.clone(),
    }
}

pub(super) fn columns_of(props: Option<&ResourceProps>) -> Vec<ColumnInfo> {
    props
        .map(|p| p.columns.iter().map(column_info).collect())
        .unwrap_or_default()
}

pub(super) fn column_info(c: &ColumnProps) -> ColumnInfo {
    ColumnInfo {
        name: c.name.clone(),
        description: c.description.clone().unwrap_or_default(),
        data_type: c.data_type.clone(),
    }
}

pub(super) fn parse_sql_node(
    ctx: &Ctx<'_>,
    kind: ResourceType,
    path: String,
    text: String,
) -> Result<RawNode> {
    let name = stem(&path);
    let captured = ctx.parse(&path, &text)?;
    let file = &ctx.scope.file;
    let (roots, tree, default_mat, prefix) = match kind {
        ResourceType::Test => (&file.test_paths, Tree::Tests, Materialization::Test, "test"),
        _ => (
            &file.model_paths,
            Tree::Models,
            Materialization::View,
            "model",
        ),
    };
    let fqn = fqn_of(&file.name, &path, roots, &name);
    let resource_props = if kind == ResourceType::Model {
        ctx.props.models.get(&name)
    } else {
        None
    };
    let mut layer = ctx.scope.layer(ctx.root, tree, &fqn);
    if let Some(p) = resource_props {
        merge(&mut layer, &config_layer(&p.1.config));
    }
    merge(&mut layer, &captured.config);
    let config = build_config(layer, default_mat, &path)?;
    let relation = Relation::new(
        schema_for(ctx.target, config.schema.as_deref()),
        config.alias.clone().unwrap_or_else(|| name.clone()),
    );
    let node = Node {
        unique_id: ctx.unique_id(prefix, &name),
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
pub(super) fn snapshot_node(
    ctx: &Ctx<'_>,
    path: String,
    name: String,
    body: String,
    checksum_of: &str,
    yaml: Option<&ResourceProps>,
) -> Result<RawNode> {
    let captured = ctx.parse(&path, &body)?;
    let file = &ctx.scope.file;
    let fqn = fqn_of(&file.name, &path, &file.snapshot_paths, &name);
    let mut layer = ctx.scope.layer(ctx.root, Tree::Snapshots, &fqn);
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
        None => schema_for(ctx.target, config.schema.as_deref()),
    };
    let relation = Relation::new(schema, config.alias.clone().unwrap_or_else(|| name.clone()));
    let node = Node {
        unique_id: ctx.unique_id("snapshot", &name),
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

pub(super) fn seed_node(ctx: &Ctx<'_>, path: String, checksum: String) -> Result<RawNode> {
    let name = stem(&path);
    let file = &ctx.scope.file;
    let fqn = fqn_of(&file.name, &path, &file.seed_paths, &name);
    let resource_props = ctx.props.seeds.get(&name);
    let mut layer = ctx.scope.layer(ctx.root, Tree::Seeds, &fqn);
    if let Some(p) = resource_props {
        merge(&mut layer, &config_layer(&p.1.config));
    }
    let config = build_config(layer, Materialization::Seed, &path)?;
    let relation = Relation::new(
        schema_for(ctx.target, config.schema.as_deref()),
        config.alias.clone().unwrap_or_else(|| name.clone()),
    );
    Ok(RawNode {
        node: Node {
            unique_id: ctx.unique_id("seed", &name),
            name,
            resource_type: ResourceType::Seed,
            path,
            fqn,
            description: resource_props
                .and_then(|p| p.1.description.clone())
                .unwrap_or_default(),
            columns: columns_of(resource_props.map(|p| &p.1)),
            checksum,
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

/// Seeds larger than this are not read when the project loads (dbt's limit too): hashing a
/// 400 MB seed on every command cost a second.
const HASHED_SEED_BYTES: u64 = 1024 * 1024;

/// The checksum `--state` and `--changed` compare: a seed's contents, or for one over
/// [`HASHED_SEED_BYTES`] its path, size and modification time (dbt compares only the path of
/// those, so an edited large seed goes unnoticed there).
fn seed_checksum(path: &str, abs: &std::path::Path) -> Result<String> {
    let meta = std::fs::metadata(abs).map_err(|e| ProjectError::io(abs, e))?;
    if meta.len() <= HASHED_SEED_BYTES {
        let bytes = std::fs::read(abs).map_err(|e| ProjectError::io(abs, e))?;
        return Ok(checksum(&bytes));
    }
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    Ok(checksum(
        format!("{path}\0{}\0{modified}", meta.len()).as_bytes(),
    ))
}

/// Parse SQL files into nodes on every core: rendering each file's Jinja is most of a
/// project's load. Nodes keep the files' order, and an error is the first file's in that order,
/// as a one-by-one parse would report it.
fn parse_sql_nodes(
    ctx: &Ctx<'_>,
    kind: ResourceType,
    files: Vec<(String, String)>,
) -> Result<Vec<RawNode>> {
    use rayon::prelude::*;
    let parsed: Vec<Result<RawNode>> = files
        .into_par_iter()
        .map(|(path, text)| parse_sql_node(ctx, kind, path, text))
        .collect();
    parsed.into_iter().collect()
}

/// Every model, seed, singular test and snapshot of one scope, in a stable order.
pub(super) fn scope_nodes(ctx: &Ctx<'_>, root: &std::path::Path) -> Result<Vec<RawNode>> {
    let file = &ctx.scope.file;
    let mut raw = parse_sql_nodes(
        ctx,
        ResourceType::Model,
        read_files(root, &file.model_paths, &["sql"])?,
    )?;
    for (path, abs) in list_files(root, &file.seed_paths, &["csv"])? {
        let hash = seed_checksum(&path, &abs)?;
        raw.push(seed_node(ctx, path, hash)?);
    }
    let generic_dirs = generic_dirs(ctx.scope);
    let mut tests = read_files(root, &file.test_paths, &["sql"])?;
    tests.retain(|(path, _)| {
        !generic_dirs
            .iter()
            .any(|g| path.starts_with(&format!("{g}/")))
    });
    raw.extend(parse_sql_nodes(ctx, ResourceType::Test, tests)?);
    for (path, text) in read_files(root, &file.snapshot_paths, &["sql"])? {
        let (name, body) = crate::snapshot::parse_block(&path, &text)?;
        let yaml = ctx
            .props
            .snapshots
            .iter()
            .find(|(_, p)| p.name == name && p.relation.is_none())
            .map(|(_, p)| p);
        raw.push(snapshot_node(ctx, path, name, body, &text, yaml)?);
    }
    for (path, p) in &ctx.props.snapshots {
        let Some(relation) = &p.relation else {
            continue;
        };
        let body = crate::snapshot::relation_sql(path, &p.name, relation)?;
        raw.push(snapshot_node(
            ctx,
            path.clone(),
            p.name.clone(),
            body,
            relation,
            Some(p),
        )?);
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small seed is hashed by its contents; a large one by its size and modification time,
    /// which an edit changes.
    #[test]
    fn large_seeds_are_hashed_by_their_file_and_small_ones_by_contents() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small.csv");
        std::fs::write(&small, "a\n1\n").unwrap();
        assert_eq!(
            seed_checksum("seeds/small.csv", &small).unwrap(),
            checksum(b"a\n1\n")
        );

        let large = dir.path().join("large.csv");
        let rows = "a\n".to_string() + &"1\n".repeat(HASHED_SEED_BYTES as usize);
        std::fs::write(&large, &rows).unwrap();
        let before = seed_checksum("seeds/large.csv", &large).unwrap();
        assert_ne!(before, checksum(rows.as_bytes()));
        assert_eq!(seed_checksum("seeds/large.csv", &large).unwrap(), before);
        std::fs::write(&large, rows + "2\n").unwrap();
        assert_ne!(seed_checksum("seeds/large.csv", &large).unwrap(), before);
    }
}
