//! A model or snapshot node: its compiled SQL is written to the lake by the engine's
//! `materialize` (table, view, incremental, ephemeral, snapshot history) between its pre- and
//! post-hooks. Before the write, the ML models its SQL scores with are loaded and rows failing
//! a quarantine check are routed aside; after the commit, the table goes to each destination
//! of its `export:`.

use lakeforge_engine::materialize;
use lakeforge_project::hooks::HookKind;
use lakeforge_project::{Materialization, Node};

use super::compile::CompiledSql;
use super::{NodeEnv, note_hooks};
use crate::hooks::run_node_hooks;
use crate::results::NodeResult;
use crate::{Result, RunnerError};

pub(super) async fn run(
    env: &NodeEnv,
    node: &Node,
    compiled: CompiledSql,
    result: &mut NodeResult,
) -> Result<()> {
    let engine = env.engine.as_ref();
    let compile = &env.compile;
    let hooked = node.config.materialized != Materialization::Ephemeral;
    let mut hooks = 0;
    if hooked {
        hooks += run_node_hooks(
            &env.adapter,
            compile,
            node,
            HookKind::PreHook,
            compiled.incremental,
        )
        .await?;
    }
    let mut sql = compiled.sql;
    // Models this SQL scores with are resolved (aliases, now) and loaded first; the
    // lineage edge to each records the version used.
    let scored = crate::train::load_scoring_models(&env.engine, env.meta.as_ref(), &sql)
        .await
        .map_err(|e| RunnerError::Scoring {
            path: node.path.clone(),
            source: Box::new(e),
        })?;
    for (_, name, version) in scored {
        let id = format!("ml_model.{}.{}", compile.project().name, name);
        if let Some(edge) = result.upstream.iter_mut().find(|e| e.upstream == id) {
            edge.upstream_version = Some(version);
        }
    }
    if node.config.materialized != Materialization::Ephemeral
        && lakeforge_engine::quarantine::enabled(node)
    {
        let checks = compile.row_checks(node)?;
        let (good, quarantined) =
            lakeforge_engine::quarantine::split(engine, node, &sql, &checks).await?;
        result.quarantined = Some(quarantined);
        sql = good;
    }
    let outcome = materialize(engine, node, &sql, env.full_refresh).await?;
    result.message = outcome.action.to_string();
    result.rows_affected = outcome.rows;
    result.delta_version = outcome.version;
    if hooked {
        hooks += run_node_hooks(
            &env.adapter,
            compile,
            node,
            HookKind::PostHook,
            compiled.incremental,
        )
        .await?;
    }
    note_hooks(result, hooks);
    export(env, node, result).await
}

/// After the Delta commit, write the table to each destination of the model's `export:`.
async fn export(env: &NodeEnv, node: &Node, result: &mut NodeResult) -> Result<()> {
    let Some(config) = node.config.raw.get("export") else {
        return Ok(());
    };
    let project = env.compile.project();
    let specs =
        lakeforge_engine::export::parse_exports(config, &project.root, &project.target.connections)
            .map_err(|e| RunnerError::ExportConfig {
                path: node.path.clone(),
                message: lakeforge_project::error_text(&e),
            })?;
    for spec in specs {
        let rows = lakeforge_engine::export::export(&env.engine, &node.relation, &spec)
            .await
            .map_err(|source| RunnerError::Export {
                relation: node.relation.to_string(),
                version: result.delta_version,
                source: Box::new(source),
            })?;
        result
            .message
            .push_str(&format!(", exported {rows} rows to {}", spec.destination()));
    }
    Ok(())
}
