//! `lakeforge show --select X --limit N`: compile a model and print its first rows without
//! writing anything, or run `--inline` SQL with Jinja (ref, source, var) resolved.

use std::process::ExitCode;

use clap::Args;
use lakeforge_engine::StoredKind;
use lakeforge_project::{CompileContext, Materialization};

use super::sql::{Format, print_batches};
use super::{default_threads, load_project, open_engine};
use crate::ProjectArgs;

#[derive(Args, Clone, Debug)]
pub struct ShowArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The model (or seed) to preview.
    #[arg(
        long,
        short = 's',
        conflicts_with = "inline",
        required_unless_present = "inline"
    )]
    pub select: Option<String>,
    /// SQL to preview instead of a model; may use ref(), source() and var().
    #[arg(long)]
    pub inline: Option<String>,
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

pub async fn run(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let project = load_project(&args.project)?;
    let engine = open_engine(&project, default_threads()).await?;
    // As dbt's show, macros may query the lake while the model compiles.
    let compile = CompileContext::new(project.clone()).with_adapter(std::sync::Arc::new(
        lakeforge_engine::EngineAdapter::new(engine.clone()),
    ));
    let sql = match (&args.select, &args.inline) {
        (Some(name), _) => {
            let node = project.node_by_name(name).ok_or_else(|| {
                anyhow::anyhow!("no model or seed named `{name}`\nhint: `lakeforge ls` lists the project's nodes")
            })?;
            if node.resource_type == lakeforge_project::ResourceType::Seed {
                format!("select * from {}", node.relation)
            } else {
                // Ephemeral parents have to exist in the session for the model to plan.
                for id in project.graph.ancestors(&node.unique_id, None) {
                    if let Some(p) = project.nodes.get(&id)
                        && p.config.materialized == Materialization::Ephemeral
                    {
                        let c = compile.compile(p, false)?;
                        engine
                            .register_ephemeral(&p.path, &p.relation, &c.sql)
                            .await?;
                    }
                }
                let incremental = node.config.materialized == Materialization::Incremental
                    && engine.stored(&node.relation) == Some(StoredKind::Table);
                compile.compile(node, incremental)?.sql
            }
        }
        (None, Some(inline)) => compile.compile_inline(inline)?,
        (None, None) => unreachable!("clap requires --select or --inline"),
    };
    super::load_scoring_models(&args.project, &engine, &sql).await?;
    let (schema, batches) = engine
        .query(
            "show",
            &format!(
                "select * from (\n{sql}\n) lakeforge_show limit {}",
                args.limit
            ),
        )
        .await?;
    print_batches(&schema, &batches, args.format)?;
    Ok(ExitCode::SUCCESS)
}
